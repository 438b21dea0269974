"""Requests per minute per API key, and per client address for calls without a key.

The counters live in PostgreSQL so that every worker process of every host spends one budget:
fixed one-minute windows, one row per caller and window, bumped with a single
``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``. The table is UNLOGGED: counters are worth
nothing after a crash, and skipping the write-ahead log keeps the bump cheap. Callers are kept as
SHA-256 digests, never as keys or addresses. The check runs before routing, so an over-budget
caller costs one statement and never reaches a route. Health probes are exempt.

If the counter cannot be reached the request goes on unlimited: the database being away is for
the routes (and the readiness probe) to report, not for the limiter to turn into 500s.
"""

import hashlib
import logging
import math
import time
from datetime import datetime

from sqlalchemy import Integer, LargeBinary, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Mapped, mapped_column
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from app.core.database import Base
from app.core.errors import problem_response
from app.core.settings import Settings

logger = logging.getLogger(__name__)

EXEMPT_PATHS = frozenset({"/healthz", "/readyz"})
CLEANUP_INTERVAL_SECONDS = 60.0


class RateLimitWindow(Base):
    """How many requests one caller made in one minute."""

    __tablename__ = "rate_limit_window"
    __table_args__ = {"prefixes": ["UNLOGGED"]}

    caller: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(primary_key=True)
    count: Mapped[int] = mapped_column(Integer)


_BUMP = text(
    """
    INSERT INTO rate_limit_window AS w (caller, window_start, count)
    VALUES (:caller, date_trunc('minute', clock_timestamp()), 1)
    ON CONFLICT (caller, window_start) DO UPDATE SET count = w.count + 1
    RETURNING w.count,
        extract(epoch FROM w.window_start + interval '1 minute' - clock_timestamp())
    """
)
_CLEAN = text(
    "DELETE FROM rate_limit_window "
    "WHERE window_start < date_trunc('minute', clock_timestamp()) - interval '1 minute'"
)


def _budget(scope: Scope, settings: Settings) -> tuple[bytes, int, str]:
    """Whose budget a request spends: its caller's digest, the limit, and words for the detail."""
    authorization = dict(scope["headers"]).get(b"authorization")
    if authorization is not None:
        # Keyed by what was presented, before it is checked: an unknown key gets a budget too,
        # and spends it on 401s.
        return hashlib.sha256(b"key:" + authorization).digest(), settings.rate_limit_key, "key"
    client = scope.get("client")
    address = client[0] if client else "unknown"
    return (
        hashlib.sha256(b"address:" + address.encode()).digest(),
        settings.rate_limit_anonymous,
        "client address (calls without a key)",
    )


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._last_cleanup = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        settings: Settings = scope["app"].state.settings
        if not (settings.rate_limit_key or settings.rate_limit_anonymous):
            await self.app(scope, receive, send)
            return
        caller, limit, whose = _budget(scope, settings)
        if limit == 0:
            await self.app(scope, receive, send)
            return
        try:
            count, seconds_left = await self._bump(scope["app"].state.engine, caller)
        except (SQLAlchemyError, OSError):
            logger.warning("rate limit counter unavailable; request not limited")
            await self.app(scope, receive, send)
            return
        if count <= limit:
            await self.app(scope, receive, send)
            return
        # Late in a window the wait can round down to 0: always ask for at least a second.
        retry_after = max(1, math.ceil(seconds_left))
        response = problem_response(
            Request(scope),
            status=429,
            slug="too-many-requests",
            title="Too many requests",
            detail=f"More than {limit} requests a minute from this {whose}; "
            f"retry after {retry_after} s.",
            headers={"Retry-After": str(retry_after)},
        )
        await response(scope, receive, send)

    async def _bump(self, engine: AsyncEngine, caller: bytes) -> tuple[int, float]:
        # Autocommit: one statement is its own transaction, so no BEGIN and COMMIT round trips.
        async with engine.connect() as connection:
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            row = (await connection.execute(_BUMP, {"caller": caller})).one()
            now = time.monotonic()
            if now - self._last_cleanup > CLEANUP_INTERVAL_SECONDS:
                self._last_cleanup = now
                await connection.execute(_CLEAN)
        return int(row[0]), float(row[1])
