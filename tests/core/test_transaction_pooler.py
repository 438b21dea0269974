"""Behind PgBouncer in transaction mode (``CPRO_DB_TRANSACTION_POOLER``) no prepared statement
is cached on a connection, since the next statement may run on another server connection."""

from sqlalchemy import text

from app.core.database import create_engine
from app.core.settings import Settings


async def test_no_prepared_statement_is_kept_on_the_connection(
    settings: Settings, database_url: str
) -> None:
    pooled = create_engine(
        database_url, settings.model_copy(update={"db_transaction_pooler": True})
    )
    plain = create_engine(database_url, settings)
    try:
        kept = {}
        for name, engine in (("pooled", pooled), ("plain", plain)):
            async with engine.connect() as connection:
                for _ in range(3):
                    assert (await connection.execute(text("SELECT 1 + :n"), {"n": 1})).scalar() == 2
                kept[name] = list(
                    (await connection.execute(text("SELECT name FROM pg_prepared_statements")))
                    .scalars()
                    .all()
                )
        # Pooled: only the statement running the check, under a name never reused.
        assert len(kept["pooled"]) == 1 and kept["pooled"][0].startswith("__cpro_")
        assert len(kept["plain"]) > 1  # the check can tell: a cached statement per query
    finally:
        await pooled.dispose()
        await plain.dispose()
