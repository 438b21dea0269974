"""Plain async factory functions for test data."""

import uuid

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.agencies.service import upsert_agency
from app.auth.roles import Role
from app.auth.service import create_api_key
from app.core.database import create_sessionmaker


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


async def committed_agency_with_keys(
    engine: AsyncEngine,
) -> tuple[str, dict[str, str], dict[str, str]]:
    """A fresh agency, an admin key and that agency's key, committed for real (live tests)."""
    code = "T" + uuid.uuid4().hex[:10].upper()
    async with create_sessionmaker(engine)() as session, session.begin():
        await upsert_agency(session, code, f"Test agency {code}")
        _, admin = await create_api_key(session, role=Role.admin, name="live admin")
        _, agency = await create_api_key(
            session, role=Role.agency, name="live hris", agency_code=code
        )
    return code, {"Authorization": f"Bearer {admin}"}, {"Authorization": f"Bearer {agency}"}


def person(n: int = 1, **overrides: object) -> dict[str, object]:
    """A valid candidate body (fictional people only)."""
    return {
        "given_name": f"Given{n}",
        "family_name": f"Family{n}",
        "email": f"person{n}@agency.example",
        "position_title": "Supervising Administrative Officer",
        "salary_grade": 22,
        "priority": 2,
    } | overrides
