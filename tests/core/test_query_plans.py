"""The HRIS sync's statements are planned for their own parameters each time
(``plan_each_execution`` in ``app/core/database.py``): a generic plan chosen while the table
was small stays for good. Other statements keep PostgreSQL's generic plans."""

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.audit.service import SYSTEM
from app.candidates.schemas import CandidateFields
from app.candidates.service import upsert_many
from app.core.database import plan_each_execution
from tests.factories import make_agency, person

LOOKUP = (
    "SELECT id FROM candidate WHERE agency_code = $1 AND external_id = ANY($2) "
    "ORDER BY id FOR UPDATE"
)


async def _plan_after_eight_runs(session: AsyncSession) -> str:
    await session.execute(text(f"PREPARE cpro_plan_probe(varchar, varchar[]) AS {LOOKUP}"))
    try:
        for _ in range(8):
            await session.execute(text("EXECUTE cpro_plan_probe('BA01', '{E-1,E-2}')"))
        return "\n".join(
            (
                await session.execute(text("EXPLAIN EXECUTE cpro_plan_probe('BA02', '{E-3,E-4}')"))
            ).scalars()
        )
    finally:
        await session.execute(text("DEALLOCATE cpro_plan_probe"))


async def test_after_a_sync_batch_the_lookup_is_planned_for_its_parameters(
    session: AsyncSession,
) -> None:
    agency = await make_agency(session)
    fields = CandidateFields.model_validate(person(1))
    await upsert_many(session, agency, [("PLAN-1", fields)], SYSTEM)
    assert (await session.scalar(text("SHOW plan_cache_mode"))) == "force_custom_plan"
    plan = await _plan_after_eight_runs(session)
    assert "$1" not in plan and "$2" not in plan, plan
    assert "E-3" in plan, plan


async def test_the_setting_ends_with_its_transaction(engine: AsyncEngine) -> None:
    # Other statements keep PostgreSQL's choice: planning thousand-id arrays every time cost a
    # cohort release a tenth of its time.
    async with engine.connect() as connection:
        transaction = await connection.begin()
        await plan_each_execution(AsyncSession(bind=connection))
        assert (await connection.scalar(text("SHOW plan_cache_mode"))) == "force_custom_plan"
        await transaction.rollback()
        assert (await connection.scalar(text("SHOW plan_cache_mode"))) == "auto"
