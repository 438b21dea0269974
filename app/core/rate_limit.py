"""Requests per minute per API key, and per client address for calls without a key.

The counters live in PostgreSQL so that every worker process of every host spends one budget:
fixed one-minute windows, one row per caller and window, bumped with a single
``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``. The table is UNLOGGED: counters are worth
nothing after a crash, and skipping the write-ahead log keeps the bump cheap. Callers are kept as
SHA-256 digests, never as keys or addresses. The check runs before routing, so an over-budget
caller never reaches a route. Health probes are exempt.

A statement per request would cap the busiest read at a fifth of its speed, so a process takes
requests from the shared budget in leases: it adds up to 64 at once to the counter (at most a
sixteenth of what it last saw left, one at a time near the limit) and admits that many
without asking again. The limit is never exceeded; a caller spread over several processes may
be refused a little early, by at most what the other processes hold unspent (64 each).

If the counter cannot be reached the request goes on unlimited: the database being away is for
the routes (and the readiness probe) to report, not for the limiter to turn into 500s.

Every response to a limited request says where the caller stands, in the fields of the IETF
httpapi rate-limit headers draft (draft-ietf-httpapi-ratelimit-headers-09): ``RateLimit-Policy:
"default";q=<quota>;w=60`` and ``RateLimit: "default";r=<left>;t=<seconds to reset>``. What is
left is counted conservatively: the shared count less what this process holds unspent, so a
caller is never told of more than it has.
"""

import asyncio
import hashlib
import logging
import math
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, LargeBinary, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Mapped, mapped_column
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.database import Base
from app.core.errors import problem_response
from app.core.settings import Settings

logger = logging.getLogger(__name__)

EXEMPT_PATHS = frozenset({"/healthz", "/readyz"})
CLEANUP_INTERVAL_SECONDS = 60.0
WINDOW_SECONDS = 60
POLICY_NAME = "default"
RATE_LIMIT_HEADERS = ("RateLimit", "RateLimit-Policy")


def is_rate_limited(path: str) -> bool:
    """Whether requests to ``path`` spend a caller's budget (all but the health probes)."""
    return path not in EXEMPT_PATHS


def rate_limit_headers(limit: int, remaining: int, seconds_left: float) -> dict[str, str]:
    """The draft's two fields for a caller with ``remaining`` of ``limit`` left."""
    reset = max(0, math.ceil(seconds_left))
    return {
        "RateLimit-Policy": f'"{POLICY_NAME}";q={limit};w={WINDOW_SECONDS}',
        "RateLimit": f'"{POLICY_NAME}";r={max(0, remaining)};t={reset}',
    }


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
    VALUES (:caller, date_trunc('minute', clock_timestamp()), :size)
    ON CONFLICT (caller, window_start) DO UPDATE SET count = w.count + :size
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
    authorization = next((v for k, v in scope["headers"] if k == b"authorization"), None)
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


LEASE_MAX = 64
LEASE_SHARE_OF_REMAINING = 16


@dataclass
class _Lease:
    left: int
    """Requests this process may still admit for the caller without asking the database."""
    expires: float
    """When the window ends (monotonic clock)."""
    counted: int
    """The shared count right after this process's last bump."""


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._last_cleanup = 0.0
        self._leases: dict[bytes, _Lease] = {}
        self._locks: dict[bytes, asyncio.Lock] = {}

    def _spend(self, caller: bytes) -> float | None:
        """Seconds left in the window if the caller's lease had a request to spend, else None."""
        lease = self._leases.get(caller)
        now = time.monotonic()
        if lease is None or lease.left <= 0 or now >= lease.expires:
            return None
        lease.left -= 1
        return lease.expires - now

    def remaining(self, caller: bytes, limit: int) -> int:
        """Requests the caller surely has left: the limit less everything handed out, plus what
        this process holds unspent."""
        lease = self._leases.get(caller)
        if lease is None:
            return limit
        return max(0, limit - lease.counted) + max(0, lease.left)

    async def _admit(self, engine: AsyncEngine, caller: bytes, limit: int) -> tuple[bool, float]:
        """Whether the caller may make one more request now, and the seconds left in the window."""
        seconds_left = self._spend(caller)
        if seconds_left is not None:
            return True, seconds_left
        lease = self._leases.get(caller)
        now = time.monotonic()
        if lease is not None and now < lease.expires and lease.counted >= limit:
            # The whole budget is handed out (counts only grow within a window): refuse without
            # asking, so that a caller over its limit costs the database nothing.
            return False, lease.expires - now
        # One lease at a time per caller in this process; the others wait and spend from it.
        async with self._locks.setdefault(caller, asyncio.Lock()):
            seconds_left = self._spend(caller)
            if seconds_left is not None:
                return True, seconds_left
            lease = self._leases.get(caller)
            current = lease is not None and time.monotonic() < lease.expires
            known = lease.counted if lease is not None and current else 0
            size = max(1, min(LEASE_MAX, (limit - known) // LEASE_SHARE_OF_REMAINING))
            count, seconds_left = await self._bump(engine, caller, size)
            granted = max(0, min(size, limit - (count - size)))
            self._leases[caller] = _Lease(
                left=max(0, granted - 1),
                expires=time.monotonic() + seconds_left,
                counted=count,
            )
            return granted > 0, seconds_left

    def _forget_expired(self) -> None:
        now = time.monotonic()
        for caller in [c for c, lease in self._leases.items() if lease.expires <= now]:
            del self._leases[caller]
        for caller in [c for c, lock in self._locks.items() if not lock.locked()]:
            if caller not in self._leases:
                del self._locks[caller]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_rate_limited(scope["path"]):
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
            admitted, seconds_left = await self._admit(scope["app"].state.engine, caller, limit)
        except (SQLAlchemyError, OSError):
            logger.warning("rate limit counter unavailable; request not limited")
            await self.app(scope, receive, send)
            return
        headers = rate_limit_headers(limit, self.remaining(caller, limit), seconds_left)
        if admitted:
            encoded = [(k.lower().encode(), v.encode()) for k, v in headers.items()]

            async def send_with_headers(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message = {**message, "headers": [*message.get("headers", []), *encoded]}
                await send(message)

            await self.app(scope, receive, send_with_headers)
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
            headers={"Retry-After": str(retry_after), **headers},
        )
        await response(scope, receive, send)

    async def _bump(self, engine: AsyncEngine, caller: bytes, size: int) -> tuple[int, float]:
        # Autocommit: one statement is its own transaction, so no BEGIN and COMMIT round trips.
        async with engine.connect() as connection:
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            row = (await connection.execute(_BUMP, {"caller": caller, "size": size})).one()
            now = time.monotonic()
            if now - self._last_cleanup > CLEANUP_INTERVAL_SECONDS:
                self._last_cleanup = now
                await connection.execute(_CLEAN)
                self._forget_expired()
        return int(row[0]), float(row[1])
