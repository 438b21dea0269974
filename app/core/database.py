"""Engine, sessions and the declarative base shared by every area's models.

One unit of work per request: the session dependency commits when the route returns and rolls
back when it raises; services only ``flush()``.
"""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

import pydantic_core
from fastapi import Depends, Request
from sqlalchemy import MetaData, func, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import DateTime

from app.core.settings import Settings

# Stable constraint names, so that migrations can drop what they created (polar does the same).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: DateTime(timezone=True)}


class CreatedAt:
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


def utcnow() -> datetime:
    return datetime.now(UTC)


def asyncpg_url(url: str) -> str:
    """Turn any ``postgres://`` or ``postgresql://`` URL into the asyncpg dialect's."""
    scheme = urlsplit(url).scheme
    if scheme in ("postgres", "postgresql"):
        return "postgresql+asyncpg" + url[len(scheme) :]
    if scheme == "postgresql+asyncpg":
        return url
    raise ValueError(f"not a PostgreSQL URL (scheme {scheme!r})")


def json_text(value: Any) -> str:
    """JSON as the engine sends JSONB parameters."""
    return pydantic_core.to_json(value).decode()


def create_engine(url: str, settings: Settings) -> AsyncEngine:
    return create_async_engine(
        asyncpg_url(url),
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        pool_pre_ping=True,
        # Bound values are people's names and addresses: never in an exception's text or a log.
        hide_parameters=True,
        # Fail fast while the database is away: the request gets a 503 in seconds, not a hang.
        pool_timeout=settings.db_pool_timeout_seconds,
        # JSONB parameters (results, audit entries, events) encoded by pydantic's Rust encoder:
        # a cohort's release writes thousands of them.
        json_serializer=json_text,
        connect_args={
            "server_settings": server_settings(settings),
            "timeout": settings.db_connect_timeout_seconds,
            "command_timeout": settings.db_command_timeout,
            **(transaction_pooler_args() if settings.db_transaction_pooler else {}),
        },
    )


def server_settings(settings: Settings) -> dict[str, str]:
    """What each connection asks of the server at startup."""
    return {
        "statement_timeout": str(settings.db_statement_timeout_ms),
        "timezone": "UTC",
        "application_name": "cpro-api",
    }


async def plan_each_execution(session: AsyncSession) -> None:
    """Until this transaction ends, every execution of a prepared statement is planned for its
    own parameters.

    After five executions PostgreSQL may switch a cached statement to one generic plan for
    good, costed on the table as it was then. The HRIS sync's row lookup (``agency_code = $1
    AND external_id = ANY($2) ORDER BY id``), first run on an empty table, kept walking the
    primary key of 100,000 rows, 1.3 s a batch: the sync ran at 1,756 candidates a second
    instead of 4,695, depending on when the switch happened. Not for every statement: planning
    a thousand-element array each time cost a 10,000-round release 1.1 s (9.2 s, against 8.0 s
    on generic plans). Transaction-scoped, so fine behind a transaction pooler."""
    await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))


def transaction_pooler_args() -> dict[str, Any]:
    """Behind PgBouncer in transaction mode consecutive statements may reach different server
    connections, so no prepared statement can be cached or reused by name."""
    return {
        "statement_cache_size": 0,
        "prepared_statement_cache_size": 0,
        "prepared_statement_name_func": lambda: f"__cpro_{uuid.uuid4().hex}__",
    }


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's unit of work: committed before the response is sent, or rolled back."""
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with sessionmaker() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            # A request that never touched the database (a cached framework read) has nothing
            # to commit; any query or add() begins a transaction, so this skips no write.
            if session.in_transaction():
                await session.commit()


# scope="function": the commit happens before the response leaves, so a 2xx means "stored".
Session = Annotated[AsyncSession, Depends(get_session, scope="function")]
