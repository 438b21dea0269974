"""The busiest request, ``GET /v1/frameworks/{slug}`` without a key, answered before routing.

When the slug's current document is in the process's cache (``catalogue.CurrentDocuments``,
filled by the route itself), the answer is bytes already made: routing, dependency solving and
a database session would cost several times more than the answer. Everything else (a key to
check, a cross-origin browser request, a slug not cached yet or expired) goes to the route,
which gives the same bytes and headers. Request ids, access logs, metrics and rate limits
still apply: this runs inside those middlewares.
"""

from fastapi.routing import APIRoute
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from app.core.http_cache import matches_if_none_match
from app.frameworks.catalogue import CurrentDocuments
from app.frameworks.router import CURRENT_CACHE, router

PREFIX = "/v1/frameworks/"
TEMPLATE = "/v1/frameworks/{slug}"
CACHE_CONTROL = CURRENT_CACHE.encode()


class CurrentDocumentFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # The route itself, so that logs and metrics name the template as for a routed request.
        self.route: BaseRoute = next(
            route
            for route in router.routes
            if isinstance(route, APIRoute)
            and route.path == TEMPLATE
            and "GET" in (route.methods or ())
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            path: str = scope["path"]
            if path.startswith(PREFIX) and "/" not in path[len(PREFIX) :]:
                documents: CurrentDocuments | None = getattr(
                    scope["app"].state, "current_documents", None
                )
                if documents is not None and await self._answer(
                    documents, path[len(PREFIX) :], scope, send
                ):
                    return
        await self.app(scope, receive, send)

    async def _answer(
        self, documents: CurrentDocuments, slug: str, scope: Scope, send: Send
    ) -> bool:
        if_none_match = None
        for name, value in scope["headers"]:
            if name in (b"authorization", b"origin"):
                return False
            if name == b"if-none-match":
                if_none_match = value.decode("latin-1")
        document = documents.get(slug)
        if document is None:
            return False
        scope["route"] = self.route
        headers = [
            (b"etag", document.etag.encode()),
            (b"cache-control", CACHE_CONTROL),
            (b"vary", b"Authorization"),
        ]
        if if_none_match and matches_if_none_match(if_none_match, document.etag):
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return True
        headers += [
            (b"content-length", str(len(document.body)).encode()),
            (b"content-type", b"application/json"),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": document.body})
        return True
