"""Each execution of a prepared statement is planned for its own parameters (``CUSTOM_PLANS``
in ``app/core/database.py``): a generic plan chosen while a table was small stays for good."""

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.database import CUSTOM_PLANS, server_settings
from app.core.settings import Settings

LOOKUP = (
    "SELECT id FROM candidate WHERE agency_code = $1 AND external_id = ANY($2) "
    "ORDER BY id FOR UPDATE"
)


async def test_the_sixth_execution_is_still_planned_for_its_parameters(
    session: AsyncSession, settings: Settings
) -> None:
    if settings.db_transaction_pooler:
        # Unnamed statements are planned each time; PgBouncer refuses the startup parameter.
        assert "plan_cache_mode" not in server_settings(settings)
        return
    assert (await session.scalar(text("SHOW plan_cache_mode"))) == CUSTOM_PLANS["plan_cache_mode"]
    await session.execute(text(f"PREPARE cpro_plan_probe(varchar, varchar[]) AS {LOOKUP}"))
    try:
        for _ in range(8):
            await session.execute(text("EXECUTE cpro_plan_probe('BA01', '{E-1,E-2}')"))
        plan = "\n".join(
            (
                await session.execute(text("EXPLAIN EXECUTE cpro_plan_probe('BA02', '{E-3,E-4}')"))
            ).scalars()
        )
    finally:
        await session.execute(text("DEALLOCATE cpro_plan_probe"))
    assert "$1" not in plan and "$2" not in plan, plan
    assert "E-3" in plan, plan
