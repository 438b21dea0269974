"""Plain async factory functions for test data."""

from sqlalchemy.ext.asyncio import AsyncSession

from app.agencies.service import upsert_agency
from app.auth.roles import Role
from app.auth.service import create_api_key


async def make_agency(
    session: AsyncSession, code: str = "DOH", name: str = "Department of Health"
) -> str:
    await upsert_agency(session, code, name)
    await session.commit()  # a savepoint release: visible to requests, rolled back after the test
    return code


async def auth_headers(
    session: AsyncSession, role: Role, agency: str | None = None
) -> dict[str, str]:
    """Create a key of ``role`` and return the header that sends it."""
    if role is Role.agency and agency is None:
        agency = await make_agency(session)
    _, secret = await create_api_key(
        session, role=role, name=f"test {role.value}", agency_code=agency
    )
    await session.commit()
    return {"Authorization": f"Bearer {secret}"}
