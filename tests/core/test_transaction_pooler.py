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
    plain = create_engine(
        database_url, settings.model_copy(update={"db_transaction_pooler": False})
    )
    names = text("SELECT name FROM pg_prepared_statements")
    try:
        kept = {}
        for name, engine in (("pooled", pooled), ("plain", plain)):
            async with engine.connect() as connection:
                # Behind a real PgBouncer (scripts/pgbouncer-test) the server connection is
                # shared, and other clients may have left statements on it: count only new ones.
                before = set((await connection.execute(names)).scalars().all())
                for m in range(3):
                    query = text(f"SELECT {m} + :n")
                    assert (await connection.execute(query, {"n": 1})).scalar() == m + 1
                after = set((await connection.execute(names)).scalars().all())
                kept[name] = sorted(after - before)
        # Pooled: only the statement running the check, under a name never reused.
        assert len(kept["pooled"]) == 1 and kept["pooled"][0].startswith("__cpro_"), kept
        assert len(kept["plain"]) >= 3, kept  # the check can tell: a cached one per query
    finally:
        await pooled.dispose()
        await plain.dispose()
