"""Bring a database to a ready state: schema at head, reference data loaded, admin key present.

Every step is idempotent, so ``cpro serve`` can run it at each start.
"""

import logging

from alembic import command
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.assessments.service import load_reference_policies
from app.auth.service import ensure_admin_key
from app.candidates.program import load_reference_fees
from app.core.database import create_engine, create_sessionmaker
from app.core.schema_version import alembic_config
from app.core.settings import Settings
from app.frameworks.reference import load_reference_frameworks
from app.qualifications.reference import load_example_standards

logger = logging.getLogger(__name__)


def migrate(database_url: str) -> None:
    """``alembic upgrade head`` against ``database_url`` (synchronous; call outside an event loop)."""
    command.upgrade(alembic_config(database_url), "head")


async def load_reference_data(session: AsyncSession) -> None:
    """Load the bundled reference data; a no-op for what is already there."""
    # One writer at a time, so that several processes starting together don't race.
    await session.execute(text("SELECT pg_advisory_xact_lock(7201500615)"))
    await load_reference_frameworks(session)
    # The examples point at framework versions, so they come after the frameworks.
    await load_example_standards(session)
    await load_reference_fees(session)
    await load_reference_policies(session)


async def prepare(database_url: str, settings: Settings) -> None:
    engine = create_engine(database_url, settings)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            await load_reference_data(session)
            if settings.admin_api_key is not None:
                created = await ensure_admin_key(session, settings.admin_api_key.get_secret_value())
                logger.info("admin key from CPRO_ADMIN_API_KEY", extra={"key_created": created})
    finally:
        await engine.dispose()
