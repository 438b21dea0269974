"""Bulk requests take turns, so that people's reads do not wait behind them.

A batch of a thousand candidates or a cohort's release keeps a process busy for long stretches
(parsing, validating, building rows and answers). Four at once (the benchmark's mixed scenario)
left portal reads queued behind all of them: p99 712-965 ms; two at a time, 259 ms, with the
batches as fast as before; one at a time, 218 ms, but the HRIS sync at half its speed, since
nothing overlaps one batch's Python work with another's time in PostgreSQL (README, Benchmark,
issue 15 second session). So: up to ``CPRO_BULK_CONCURRENCY`` at once while nothing else is
asked of the process, and ``CPRO_BULK_CONCURRENCY_WHEN_BUSY`` while other requests made with
credentials arrive (one in the last ``BUSY_SECONDS``): callers' reads, not anonymous traffic or
probes, which are cheap and must not slow a sync. Machines retry and wait; people should not.

Only a caller with a live API key (or a portal token the service accepts) waits for a turn: the
others (no key, an unknown, revoked or expired one) go on at once without a turn, to the
route's 401, so that connections which never send their bodies cannot hold the turns of the
agencies' systems. The waiting requests have not read their bodies yet: they hold a
connection, not memory or a database session.
"""

import asyncio
import math
from collections import deque

from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp, Receive, Scope, Send

from app.auth.service import is_live_key
from app.auth.tokens import TokenVerifier, looks_like_token
from app.core.errors import ProblemError
from app.core.metrics import BULK_WAITING
from app.core.settings import Settings

BULK_SUFFIXES = (":batch", ":import", ":release")
"""The custom methods that take up to a thousand items (``/v1/agencies/{agency}/candidates:batch``,
``.../candidates:import``, ``/v1/assessments:release``)."""

BUSY_SECONDS = 1.0
"""How long after another request the process counts as busy: longer than the gap between a
portal page and the next one a person or a script asks for."""

CREDENTIALS_CHECKED = "cpro.bulk_credentials_checked"
"""Set in a bulk request's scope when its caller holds a live API key or an accepted portal
token: the bulk workers serve only those (the others are refused in the API process)."""


def is_bulk(scope: Scope) -> bool:
    return bool(scope["method"] == "POST" and scope["path"].endswith(BULK_SUFFIXES))


def _bearer_secret(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, secret = value.decode("latin-1").partition(" ")
            return (secret.strip() or None) if scheme.lower() == "bearer" else None
    return None


async def _holds_live_credentials(scope: Scope) -> bool:
    """A live API key, or a portal token the service accepts (staff release cohorts)."""
    secret = _bearer_secret(scope)
    if secret is None:
        return False
    verifier: TokenVerifier | None = getattr(scope["app"].state, "token_verifier", None)
    if verifier is not None and looks_like_token(secret):
        try:
            verifier.verify(secret)
        except ProblemError:
            return False
        return True
    try:
        async with scope["app"].state.sessionmaker() as session:
            return await is_live_key(session, secret)
    except (SQLAlchemyError, OSError):
        return False  # the route, reached without a turn, reports the database


class BulkLane:
    """At most ``CPRO_BULK_CONCURRENCY`` bulk requests in this process at once (fewer while it
    is busy), the others admitted in the order they came (inside the rate limits: a caller over
    its limit is refused without waiting)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._running = 0
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._busy_until = -math.inf
        self._recheck: asyncio.TimerHandle | None = None
        self._recheck_loop: asyncio.AbstractEventLoop | None = None

    def _limit(self, settings: Settings, now: float) -> float:
        limit = settings.bulk_concurrency or math.inf
        if settings.bulk_concurrency_when_busy and now < self._busy_until:
            return min(limit, settings.bulk_concurrency_when_busy)
        return limit

    def _admit_waiting(self, settings: Settings) -> None:
        loop = asyncio.get_running_loop()
        while self._waiting and self._running < self._limit(settings, loop.time()):
            turn = self._waiting.popleft()
            if not turn.done():  # cancelled: its caller left while waiting
                turn.set_result(None)
                self._running += 1
        if self._recheck_loop is not loop:
            self._recheck = None  # scheduled on a loop that has ended (tests run several)
        if self._waiting and self._busy_until > loop.time() and self._recheck is None:
            # No other request may come to end the wait: the busy time running out does.
            self._recheck = loop.call_at(self._busy_until, self._after_busy, settings)
            self._recheck_loop = loop

    def _after_busy(self, settings: Settings) -> None:
        self._recheck = None
        self._admit_waiting(settings)

    async def _take_turn(self, settings: Settings) -> None:
        loop = asyncio.get_running_loop()
        if not self._waiting and self._running < self._limit(settings, loop.time()):
            self._running += 1
            return
        turn = loop.create_future()
        self._waiting.append(turn)
        BULK_WAITING.inc()
        self._admit_waiting(settings)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                # Admitted just as it was cancelled: give the turn to the next one.
                self._end_turn(settings)
            raise
        finally:
            BULK_WAITING.dec()

    def _end_turn(self, settings: Settings) -> None:
        self._running -= 1
        self._admit_waiting(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            settings: Settings = scope["app"].state.settings
            if is_bulk(scope):
                if await _holds_live_credentials(scope):
                    scope[CREDENTIALS_CHECKED] = True
                    if settings.bulk_concurrency or settings.bulk_concurrency_when_busy:
                        await self._take_turn(settings)
                        try:
                            await self.app(scope, receive, send)
                        finally:
                            self._end_turn(settings)
                        return
            elif any(name == b"authorization" for name, _ in scope["headers"]):
                self._busy_until = asyncio.get_running_loop().time() + BUSY_SECONDS
        await self.app(scope, receive, send)
