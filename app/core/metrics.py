"""Prometheus metrics: requests by route template and status, latency, database pool use.

Several worker processes (``cpro serve --workers N``) each count their own requests; ``cpro
serve`` then points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh directory before the workers start,
prometheus_client keeps every process's values in files there, and a scrape of any worker
adds them up. Values that live in the database (the webhook outbox) are read at scrape time
instead, by whoever serves ``/metrics``.
"""

import os
import weakref
from collections.abc import Iterable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.metrics_core import Metric
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

# prometheus_client's own switch: set by `cpro serve --workers N` for its worker processes.
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"

CONTENT_TYPE = CONTENT_TYPE_LATEST

REQUESTS = Counter(
    "cpro_http_requests",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "cpro_http_request_duration_seconds",
    "Time from the request's arrival to the end of its response, by route template.",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
# livesum: a worker that exits takes its connections with it (see `forget_this_process`).
POOL_CHECKED_OUT = Gauge(
    "cpro_db_pool_checked_out",
    "Database connections in use (checked out of the pools), all processes.",
    multiprocess_mode="livesum",
)
POOL_SIZE = Gauge(
    "cpro_db_pool_size",
    "Database connections the pools keep open (without overflow), all processes.",
    multiprocess_mode="livesum",
)

BULK_SERVED_BY = Counter(
    "cpro_bulk_requests",
    "Bulk requests (candidates:batch, candidates:import, assessments:release) by where they "
    "were served: a bulk worker process, or the API process while none was ready.",
    ["served_by"],
)

BULK_WAITING = Gauge(
    "cpro_bulk_requests_waiting",
    "Bulk requests admitted by the rate limits and waiting for their turn "
    "(CPRO_BULK_CONCURRENCY, CPRO_BULK_CONCURRENCY_WHEN_BUSY), all processes.",
    multiprocess_mode="livesum",
)

# A route that matched nothing would otherwise put every probed path into a label of its own.
UNMATCHED = "unmatched"

_instrumented: "weakref.WeakSet[Any]" = weakref.WeakSet()


def instrument_pool(engine: AsyncEngine) -> None:
    """Count the engine's pool in the pool gauges (once per pool, however often called)."""
    pool = engine.sync_engine.pool
    if pool in _instrumented:
        return
    _instrumented.add(pool)
    size = getattr(pool, "size", None)
    POOL_SIZE.inc(size() if callable(size) else 0)

    @event.listens_for(pool, "checkout")
    def _checked_out(*_: Any) -> None:
        POOL_CHECKED_OUT.inc()

    @event.listens_for(pool, "checkin")
    def _checked_in(*_: Any) -> None:
        POOL_CHECKED_OUT.dec()


def uninstrument_pool(engine: AsyncEngine) -> None:
    """Take a disposed engine's pool out of the gauges."""
    pool = engine.sync_engine.pool
    if pool not in _instrumented:
        return
    _instrumented.discard(pool)
    size = getattr(pool, "size", None)
    POOL_SIZE.dec(size() if callable(size) else 0)


def forget_this_process() -> None:
    """On shutdown of a worker process: its live gauges no longer count."""
    if os.environ.get(MULTIPROCESS_ENV):
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


def render(extra: Iterable[Metric] = ()) -> bytes:
    """The exposition text: this process's (or all processes') metrics, then ``extra``."""
    if os.environ.get(MULTIPROCESS_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        text = generate_latest(registry)
    else:
        text = generate_latest(REGISTRY)
    families = list(extra)
    if not families:
        return text

    class _Scraped:
        def collect(self) -> Iterable[Metric]:
            return families

    scraped = CollectorRegistry(auto_describe=False)
    scraped.register(_Scraped())
    return text + generate_latest(scraped)


_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def count_request(method: str, route: str, status: int, seconds: float) -> None:
    """Count one answered request and its latency under its route template."""
    key = (method, route, status)
    children = _children.get(key)
    if children is None:
        # Looked up once per (method, route, status): labels() takes a lock each time.
        children = _children[key] = (
            REQUESTS.labels(method, route, str(status)),
            LATENCY.labels(method, route),
        )
    children[0].inc()
    children[1].observe(seconds)
