"""The busiest public reads, answered before routing from what the process already holds:
``GET /v1/frameworks/{slug}`` (the current document), ``GET /v1/indicators`` (search over
the current versions) and the CASE binding's single-object reads (a CFPackage, CFDocument,
CFItem and the others by ``sourcedId``, CASE 1.0's two, and ``/ims/case/uri/{sourcedId}``).

When the answer is bytes already made (``catalogue.CurrentDocuments``, filled by the route
itself; ``published.PublishedIndicators``, whose page needs nothing from the database once a
query text has been ranked; ``case.provider.ProviderIndex`` while it is fresh), routing, dependency solving and a database session would cost
several times more than the answer. Everything else (a key to check, a cross-origin browser
request, a parameter the route must judge, a slug or query not cached yet or expired) goes to
the route, which gives the same bytes and headers. Request ids, access logs, metrics and rate
limits still apply: this runs inside those middlewares.
"""

import re
import uuid
from urllib.parse import parse_qsl

from fastapi.routing import APIRoute
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from app.core.errors import ProblemError
from app.core.http_cache import matches_if_none_match, strong_etag
from app.frameworks.case import provider
from app.frameworks.case import router as case_routes
from app.frameworks.case import v1p0 as case_v1p0_routes
from app.frameworks.catalogue import CurrentDocuments
from app.frameworks.published import IndicatorFilter, PublishedIndicators
from app.frameworks.router import CURRENT_CACHE, router

PREFIX = "/v1/frameworks/"
TEMPLATE = "/v1/frameworks/{slug}"
SEARCH = "/v1/indicators"
CACHE_CONTROL = CURRENT_CACHE.encode()
CASE_PREFIX = "/ims/case/"
CASE_CACHE_CONTROL = case_routes.CACHE.encode()

# What the route itself accepts (app/frameworks/router.py); anything else goes to the route.
_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_LIMIT = re.compile(r"[0-9]{1,3}")
_POLARITIES = frozenset({"positive", "negative"})


def _route(path: str) -> BaseRoute:
    # The route itself, so that logs and metrics name the template as for a routed request.
    return next(
        route
        for route in router.routes
        if isinstance(route, APIRoute) and route.path == path and "GET" in (route.methods or ())
    )


def _case_routes() -> dict[str, BaseRoute]:
    """Each single-object CASE operation's route, by operation."""
    routes = [
        *case_routes.router.routes,
        *case_routes.resolver_router.routes,
        *case_v1p0_routes.router.routes,
    ]
    found: dict[str, BaseRoute] = {}
    for route in routes:
        if not isinstance(route, APIRoute) or not route.path.endswith("/{sourcedId}"):
            continue
        read = provider.single_read(route.path.replace("{sourcedId}", str(uuid.UUID(int=0))))
        if read is not None:
            found[read[0]] = route
    return found


def _search_parameters(
    query_string: bytes,
) -> tuple[IndicatorFilter, str | None, str | None, int] | None:
    """(filter, q, cursor, limit) when every parameter is one the route would take as it is."""
    seen: dict[str, str] = {}
    try:
        pairs = parse_qsl(
            query_string.decode("latin-1"), keep_blank_values=True, strict_parsing=False
        )
    except ValueError:
        return None
    for name, value in pairs:
        if name in seen:
            return None
        seen[name] = value
    if not seen.keys() <= {"q", "framework", "polarity", "cursor", "limit"}:
        return None
    q = seen.get("q")
    framework = seen.get("framework")
    polarity = seen.get("polarity")
    cursor = seen.get("cursor")
    limit_text = seen.get("limit", "50")
    if (
        (q is not None and len(q) > 200)
        or (framework is not None and (len(framework) > 100 or not _SLUG.fullmatch(framework)))
        or (polarity is not None and polarity not in _POLARITIES)
        or (cursor is not None and len(cursor) > 2048)
        or not _LIMIT.fullmatch(limit_text)
    ):
        return None
    limit = int(limit_text)
    if not 1 <= limit <= 200:
        return None
    return IndicatorFilter(framework=framework, polarity=polarity), q, cursor, limit


class PublishedReadFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.document_route = _route(TEMPLATE)
        self.search_route = _route(SEARCH)
        self.case_routes = _case_routes()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            path: str = scope["path"]
            if path == SEARCH:
                if await self._search(scope, send):
                    return
            elif path.startswith(PREFIX) and "/" not in path[len(PREFIX) :]:
                documents: CurrentDocuments | None = getattr(
                    scope["app"].state, "current_documents", None
                )
                if documents is not None and await self._document(
                    documents, path[len(PREFIX) :], scope, send
                ):
                    return
            elif path.startswith(CASE_PREFIX) and await self._case(path, scope, send):
                return
        await self.app(scope, receive, send)

    async def _case(self, path: str, scope: Scope, send: Send) -> bool:
        index: provider.ProviderIndex | None = getattr(scope["app"].state, "case_index", None)
        if index is None or scope["query_string"]:
            return False
        read = provider.single_read(path)
        if read is None:
            return False
        anonymous, if_none_match = _anonymous(scope)
        if not anonymous:
            return False
        operation, identifier = read
        served = index.answer_if_fresh(
            operation, identifier, str(scope["app"].state.settings.public_root)
        )
        if served is None:
            return False
        scope["route"] = self.case_routes[operation]
        await _answer(send, served.body, served.etag, if_none_match, CASE_CACHE_CONTROL)
        return True

    async def _document(
        self, documents: CurrentDocuments, slug: str, scope: Scope, send: Send
    ) -> bool:
        anonymous, if_none_match = _anonymous(scope)
        if not anonymous:
            return False
        document = documents.get(slug)
        if document is None:
            return False
        scope["route"] = self.document_route
        await _answer(send, document.body, document.etag, if_none_match)
        return True

    async def _search(self, scope: Scope, send: Send) -> bool:
        published: PublishedIndicators | None = getattr(
            scope["app"].state, "published_indicators", None
        )
        if published is None:
            return False
        anonymous, if_none_match = _anonymous(scope)
        if not anonymous:
            return False
        parameters = _search_parameters(scope["query_string"])
        if parameters is None:
            return False
        keep, q, cursor, limit = parameters
        try:
            body = published.page_if_kept(keep, q=q, cursor=cursor, limit=limit)
        except ProblemError:
            return False  # a forged cursor: the route answers with its problem
        if body is None:
            return False
        scope["route"] = self.search_route
        await _answer(send, body, strong_etag(body), if_none_match)
        return True


def _anonymous(scope: Scope) -> tuple[bool, str | None]:
    """Whether the request may be answered here (no key, not cross-origin), and its
    ``If-None-Match``."""
    if_none_match = None
    for name, value in scope["headers"]:
        if name in (b"authorization", b"origin"):
            return False, None
        if name == b"if-none-match":
            if_none_match = value.decode("latin-1")
    return True, if_none_match


async def _answer(
    send: Send,
    body: bytes,
    etag: str,
    if_none_match: str | None,
    cache_control: bytes = CACHE_CONTROL,
) -> None:
    headers = [
        (b"etag", etag.encode()),
        (b"cache-control", cache_control),
        (b"vary", b"Authorization"),
    ]
    if if_none_match and matches_if_none_match(if_none_match, etag):
        await send({"type": "http.response.start", "status": 304, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
        return
    headers += [
        (b"content-length", str(len(body)).encode()),
        (b"content-type", b"application/json"),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
