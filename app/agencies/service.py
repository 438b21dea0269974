from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.agencies.models import Agency
from app.audit.service import Identified, record
from app.core.database import utcnow
from app.core.errors import NotFound


async def upsert_agency(
    session: AsyncSession, code: str, name: str, actor: Identified | None = None
) -> tuple[Agency, bool]:
    """Create the agency or rename it; returns it and whether it was created. ``actor``: who
    asked, for the audit trail (None: the service itself)."""
    agency = await session.get(Agency, code, with_for_update=True)
    if agency is None:
        now = utcnow()
        agency = Agency(code=code, name=name, created_at=now, updated_at=now)
        session.add(agency)
        await session.flush()
        await record(session, actor, "agency.create", "agency", code, after={"name": name})
        return agency, True
    if agency.name != name:
        await record(
            session, actor, "agency.rename", "agency", code, {"name": agency.name}, {"name": name}
        )
        agency.name = name
        agency.updated_at = utcnow()
        await session.flush()
    return agency, False


async def get_agency(session: AsyncSession, code: str) -> Agency:
    agency = await session.get(Agency, code)
    if agency is None:
        raise NotFound(f"No agency with code {code!r}.")
    return agency


async def agency_exists(session: AsyncSession, code: str) -> bool:
    return (await session.scalar(select(Agency.code).where(Agency.code == code))) is not None
