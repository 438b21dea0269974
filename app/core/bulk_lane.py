"""Bulk requests take turns, so that people's reads do not wait behind them.

A batch of a thousand candidates or a cohort's release keeps the event loop busy for long
stretches (parsing, validating, building rows and answers). Four at once (the benchmark's mixed
scenario) left portal reads queued behind all of them: p99 712-965 ms; two at a time, 259 ms,
with the batches as fast as before; one at a time, 218 ms, but the HRIS sync at half its speed,
since nothing overlaps one batch's Python work with another's time in PostgreSQL
(README, Benchmark, issue 15 second session). Machines retry and wait; people should not. The
waiting requests have not read their bodies yet: they hold a connection, not memory or a
database session.
"""

import asyncio

from starlette.types import ASGIApp, Receive, Scope, Send

from app.core.settings import Settings

BULK_SUFFIXES = (":batch", ":import", ":release")
"""The custom methods that take up to a thousand items (``/v1/agencies/{agency}/candidates:batch``,
``.../candidates:import``, ``/v1/assessments:release``)."""


def is_bulk(scope: Scope) -> bool:
    return bool(scope["method"] == "POST" and scope["path"].endswith(BULK_SUFFIXES))


class BulkLane:
    """At most ``CPRO_BULK_CONCURRENCY`` bulk requests in this process at once, the others
    admitted in the order they came (inside the rate limits: a caller over its limit is refused
    without waiting)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._turns: asyncio.Semaphore | None = None

    def _semaphore(self, settings: Settings) -> asyncio.Semaphore | None:
        if not settings.bulk_concurrency:
            return None
        if self._turns is None:
            self._turns = asyncio.Semaphore(settings.bulk_concurrency)
        return self._turns

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and is_bulk(scope):
            turns = self._semaphore(scope["app"].state.settings)
            if turns is not None:
                async with turns:
                    await self.app(scope, receive, send)
                return
        await self.app(scope, receive, send)
