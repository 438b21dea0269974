"""Assembles the application: settings, database, error handling, routers. No rules live here."""

import asyncio
import contextlib
import gc
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute
from starlette.middleware import Middleware
from starlette.types import ASGIApp

from app.agencies.router import router as agencies_router
from app.assessments.list_router import router as assessment_lists_router
from app.assessments.router import router as assessments_router
from app.audit.router import router as audit_router
from app.auth.dependencies import key_use
from app.auth.router import router as api_keys_router
from app.auth.tokens import TokenVerifier
from app.background import run_background
from app.candidates.acceptance_router import router as acceptance_router
from app.candidates.program_router import router as candidate_program_router
from app.candidates.router import router as candidates_router
from app.certificates.list_router import router as certificate_lists_router
from app.certificates.router import router as certificates_router
from app.core import health, metrics
from app.core.bulk_lane import BulkLane
from app.core.bulk_process import BulkForwarding, BulkProcess
from app.core.claim_owner import ClaimOwner
from app.core.database import create_engine, create_sessionmaker
from app.core.docs import install_docs
from app.core.embedded import start_embedded_postgres
from app.core.errors import UnansweredErrors, install_problem_handlers
from app.core.idempotency import IdempotencyMiddleware
from app.core.input_guard import check_input
from app.core.limits import BodySizeLimitMiddleware
from app.core.logging import configure_logging
from app.core.openapi import install_contract, operation_id
from app.core.rate_limit import RATE_LIMIT_HEADERS, RateLimitMiddleware, is_rate_limited
from app.core.settings import Settings, get_settings
from app.core.telemetry import RequestTelemetryMiddleware
from app.frameworks.case.router import resolver_router as case_resolver_router
from app.frameworks.case.router import router as case_router
from app.frameworks.case.v1p0 import router as case_v1p0_router
from app.frameworks.exchange_router import router as exchange_router
from app.frameworks.fast_read import PublishedReadFastPath
from app.frameworks.router import router as frameworks_router
from app.integrations.metrics import router as metrics_router
from app.integrations.router import router as integrations_router
from app.orientation.router import router as orientation_router
from app.portfolios.router import document_upload_limit
from app.portfolios.router import router as portfolios_router
from app.privacy.router import router as privacy_router
from app.progress.router import router as progress_router
from app.qualifications.router import router as qualifications_router
from app.reports.router import router as reports_router

DESCRIPTION = """
The system of record behind the Philippine Civil Service Commission's Leadership and Management
Certification Program (CPro) and other public-service leadership competency frameworks.

**Authentication.** Send an API key as `Authorization: Bearer <key>`. Each operation says which
roles may call it: `admin`, `staff` (CPro program staff), `assessor`, `agency` (an agency's HRIS,
bound to one agency) and `reader` (integrators). Published frameworks are readable without a key.

**Errors** are RFC 9457 problem details (`application/problem+json`) with `type`, `title`,
`status`, `detail`, and for invalid input an `errors` list naming each offending field.

**Lists** return `{"items": [...], "next_cursor": "..." | null}`; pass `next_cursor` back as
`cursor` to get the next page. `limit` is 1 to 200 (default 50).

**Limits.** Request bodies up to 1 MiB (larger: 413), but for a portfolio document upload
(20 MiB by default, `CPRO_MAX_DOCUMENT_BYTES`). Requests per minute per API key, and per
client address without a key, are limited (over it: 429 with `Retry-After`); a query the database
cancels for taking too long is a 503 with `Retry-After`. Bulk requests (`candidates:batch`,
`candidates:import`, `assessments:release`) take turns: each API process runs a few at a time
(two by default), the others wait for theirs, so allow for the wait in a client's timeout.

**Times** are UTC, ISO 8601. **Money** is a decimal string in Philippine pesos.
"""

ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    api_keys_router,
    agencies_router,
    frameworks_router,
    exchange_router,
    qualifications_router,
    candidates_router,
    candidate_program_router,
    acceptance_router,
    orientation_router,
    progress_router,
    portfolios_router,
    assessments_router,
    assessment_lists_router,
    certificates_router,
    certificate_lists_router,
    reports_router,
    integrations_router,
    case_router,
    case_v1p0_router,
    case_resolver_router,
    privacy_router,
    audit_router,
)

TAGS = [
    {"name": "Health", "description": "Liveness and readiness probes for load balancers."},
    {"name": "API keys", "description": "Keys for machine callers. Admin only."},
    {
        "name": "Data privacy",
        "description": "Data Privacy Act of 2012 requests: a candidate's personal data in one "
        "document, and erasure.",
    },
    {
        "name": "Audit",
        "description": "The append-only audit trail: who changed or read what, when. Admin only.",
    },
    {"name": "Agencies", "description": "Government agencies whose HRIS systems sync candidates."},
    {
        "name": "Frameworks",
        "description": "Competency frameworks: versions, clusters, competencies, elements, levels "
        "and behavioural indicators, transcribed from their source documents. Published versions "
        "are public and cacheable (`ETag`, `If-None-Match`).",
    },
    {
        "name": "CASE 1.1",
        "description": "The 1EdTech CASE 1.1 REST binding (read side) for published and retired "
        "framework versions: all twelve operations, service discovery, and `/ims/case/uri/{sourcedId}`, "
        "which resolves any published CASE object. No key needed; errors are the binding's "
        "`imsx_StatusInfo`, not problem details.",
    },
    {
        "name": "CASE 1.0",
        "description": "CASE 1.0 clients: CFDocuments and CFPackages without the 1.1-only "
        "`caseVersion`; the other operations redirect (308) to their 1.1 paths.",
    },
    {
        "name": "Portfolios",
        "description": "The CPro portfolio: evidence entries per competency with their "
        "documents (PDF, PNG, JPEG, DOCX), built by the candidate and submitted as an immutable "
        "snapshot that an assessment round reviews.",
    },
    {
        "name": "Qualification standards",
        "description": "Job qualification standards: a position and the level it requires in "
        "competencies of a published framework version, and the indicators that follow from it.",
    },
]


class CproApi(FastAPI):
    """FastAPI with front layers around its own middleware stack.

    FastAPI puts its error, exception-telemetry and body-limit middlewares outside every added
    one. The front layers (request id, access line and metrics; CORS; rate limits; the
    published-read fast path) go outside those instead, so that a cached read answered by the
    fast path passes through one error wrapper only: the three were a fifth of its cost. That
    wrapper, just inside CORS, answers anything the rate limits or the fast path raise with
    the same problem+json 500 (and request id) as a route's.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # Outermost first: outside the front's error wrapper, then inside it.
        self.outer_middleware: list[Middleware] = []
        self.front_middleware: list[Middleware] = []

    def build_middleware_stack(self) -> ASGIApp:
        app = super().build_middleware_stack()
        layers = [*self.outer_middleware, Middleware(UnansweredErrors), *self.front_middleware]
        for cls, args, kwargs in reversed(layers):
            app = cls(app, *args, **kwargs)
        return app


BULK_WORKER_START_SECONDS = 30.0


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    owns_engine = getattr(app.state, "engine", None) is None
    if owns_engine:
        url = (
            settings.database_url.get_secret_value()
            if settings.database_url
            else start_embedded_postgres(settings.data_dir)
        )
        if settings.bulk_process:
            # First, so that they start while this process does.
            app.state.bulk_processes = [BulkProcess(url) for _ in range(settings.bulk_workers)]
            for bulk_process in app.state.bulk_processes:
                bulk_process.start()
        app.state.engine = create_engine(url, settings)
        app.state.sessionmaker = create_sessionmaker(app.state.engine)
        # Idempotency-Key claims made here are known dead seconds after this process dies.
        app.state.claim_owner = ClaimOwner(url, settings)
        await asyncio.to_thread(app.state.claim_owner.start)
    if owns_engine:
        metrics.instrument_pool(app.state.engine)
    if owns_engine:
        # A worker thread (a cohort's decisions, a batch's validation) keeps the GIL up to the
        # switch interval before the event loop gets it back; 1 ms instead of 5 lets the loop
        # answer reads in between (mixed benchmark, one bulk request at a time: portal p99
        # 225 -> 143 ms).
        sys.setswitchinterval(0.001)
        # What exists now (modules, routes, mappers, schemas: ~200,000 objects) lives as long as
        # the process; frozen, the cyclic collector stops rescanning it, which made large
        # batches stall. Collected first, so that no startup garbage is kept for good.
        gc.collect()
        gc.freeze()
    stop_worker = asyncio.Event()
    worker = (
        asyncio.create_task(run_background(app.state.sessionmaker, settings, stop_worker))
        if settings.run_worker and owns_engine
        else None
    )
    if app.state.bulk_processes:
        # Ready with its bulk workers, as a rule; without them (served here) if they are slow.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(BULK_WORKER_START_SECONDS):
                await asyncio.gather(*(w.wait_ready() for w in app.state.bulk_processes))
    try:
        yield
    finally:
        stop_worker.set()
        if worker is not None:
            await worker
        if app.state.bulk_processes:
            await asyncio.gather(*(w.stop() for w in app.state.bulk_processes))
            app.state.bulk_processes = []
        if owns_engine:
            await asyncio.to_thread(app.state.claim_owner.stop)
            metrics.uninstrument_pool(app.state.engine)
            await app.state.engine.dispose()
            metrics.forget_this_process()


def create_app(settings: Settings | None = None, *, behind_front: bool = False) -> FastAPI:
    """The API. ``behind_front``: a bulk worker's (``app.core.bulk_process``), which the API
    process in front of it has already given its request id, access line, metrics, CORS,
    rate limits and bulk turn."""
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    app = CproApi(
        title="CPro Competency API",
        version="1.0.0",
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        license_info={"name": "Proprietary - Civil Service Commission"},
        telemetry=None
        if settings.opentelemetry
        else {"tracing": False, "metrics": False, "logs": False},
        # Served by install_docs from app/static, not from a CDN.
        docs_url=None,
        redoc_url=None,
        # Before every route: NUL bytes, surrogates, lax types, unbounded values (422), 415.
        dependencies=[Depends(check_input)],
    )
    app.state.settings = settings
    app.state.bulk_processes = []
    # Where the input guard leaves a refusal for the route's own guard to raise, after 401/403.
    app.state.guarded = lambda route: key_use(route) != "none"
    # Built here so that a missing or unusable token key stops the service at start.
    app.state.token_verifier = TokenVerifier.from_settings(settings)
    install_problem_handlers(app)
    # Middlewares added later run first. Idempotency innermost: it replays whole responses.
    app.add_middleware(IdempotencyMiddleware)
    # Outside idempotency, which buffers bodies.
    app.add_middleware(BodySizeLimitMiddleware, own_limit=document_upload_limit)
    # The front layers, outermost first, run before FastAPI's own (see CproApi). Outside the
    # front's error wrapper: the request id, access line and metrics see every final status.
    app.outer_middleware.append(Middleware(RequestTelemetryMiddleware, recorded=not behind_front))
    if settings.cors_origins and not behind_front:
        # Outside the limits, so that a browser can read a 413 or 429 too.
        app.outer_middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                allow_methods=["*"],
                allow_headers=["*"],
                expose_headers=[
                    "ETag",
                    "X-Request-ID",
                    "Retry-After",
                    *RATE_LIMIT_HEADERS,
                    # A portal page downloading or uploading a portfolio document reads these.
                    "Content-Disposition",
                    "Location",
                    "Deprecation",
                    "Sunset",
                ],
            )
        )
    if not behind_front:
        # Inside it: rate limiting before routing and before the body is read.
        app.front_middleware.append(Middleware(RateLimitMiddleware))
        # Bulk requests take turns, admitted callers only, before their bodies are read; then
        # go to the bulk worker process, when there is one.
        app.front_middleware.append(Middleware(BulkLane))
        app.front_middleware.append(Middleware(BulkForwarding, routes=api_routes()))
        # Cached framework documents, searches and CASE reads for callers without a key:
        # inside rate limits, logs, metrics.
        app.front_middleware.append(Middleware(PublishedReadFastPath))
    for router in ROUTERS:
        app.include_router(router)
    app.include_router(metrics_router)
    install_contract(app, key_use=key_use, rate_limited=is_rate_limited)
    install_docs(app)
    return app


def create_bulk_worker_app() -> FastAPI:
    return create_app(behind_front=True)


def api_routes() -> list[APIRoute]:
    """Every operation the app serves, in the order the contract lists them."""
    return [route for router in ROUTERS for route in router.routes if isinstance(route, APIRoute)]
