"""Alembic environment, async: the URL comes from the caller or from CPRO settings."""

import asyncio

from alembic import context
from sqlalchemy.ext.asyncio import create_async_engine

from app.core.database import asyncpg_url, transaction_pooler_args
from app.core.embedded import start_embedded_postgres
from app.core.settings import get_settings
from app.models import Base

config = context.config
target_metadata = Base.metadata


def _database_url() -> str:
    url = config.attributes.get("database_url")
    if url:
        return str(url)
    settings = get_settings()
    if settings.database_url:
        return settings.database_url.get_secret_value()
    return start_embedded_postgres(settings.data_dir)


# Reflection drops an expression index's COLLATE, so autogenerate would report these as changed
# on every run; tests/candidates/test_list_plans.py checks that the plans use them.
COLLATED_EXPRESSION_INDEXES = frozenset({"ix_candidate_family_name_key"})


def _compared(
    item: object, name: str | None, kind: str, reflected: bool, compare_to: object
) -> bool:
    return not (kind == "index" and name in COLLATED_EXPRESSION_INDEXES)


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        compare_type=True,
        compare_server_default=True,
        include_object=_compared,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_online() -> None:
    # Through PgBouncer in transaction mode, no statement cached by a name another client reuses.
    pooled = get_settings().db_transaction_pooler
    engine = create_async_engine(
        asyncpg_url(_database_url()), connect_args=transaction_pooler_args() if pooled else {}
    )
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=asyncpg_url(_database_url()), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_online())
