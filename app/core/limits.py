"""Ceilings every request obeys: the body size, and the bounds any input value keeps to.

Body bytes: ``Content-Length`` is checked first, but a chunked upload has none and a client may
lie, so the bytes are also counted as they stream in: the request is cut off at the first byte
over the limit, and nothing past it is ever buffered (the idempotency middleware, which keeps a
copy of the body, runs inside this one).

The largest legitimate body is a ``candidates:batch`` of 1,000 records: about 234 KB of compact
JSON for realistic records (290 KB pretty-printed), well inside the 1 MiB default, so that route
needs no limit of its own. A portfolio document upload does: ``own_limit`` gives such a route its
larger ceiling (and the route counts the document's own bytes itself).

Values: a string, array or integer whose schema names no bound of its own gets the one below
(``app/core/input_guard.py`` enforces them, ``app/core/openapi.py`` writes them into the
contract), so that nothing in the contract is unbounded and nothing unbounded reaches the
database.
"""

from collections.abc import Callable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import problem_response

# PostgreSQL's bigint, the widest integer column there is: a larger one can never be stored.
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
# Longest string in a JSON body, and in a query or path parameter, that names no bound itself.
TEXT_MAX_LENGTH = 65_536
PARAMETER_MAX_LENGTH = 512
# Longest array that names no bound itself (the widest batch is 1,000 records).
ARRAY_MAX_ITEMS = 10_000
# Deepest nesting of a JSON body: no request of this API nests more than a handful of levels.
JSON_MAX_DEPTH = 32
# Strings of these formats are short by nature; their bound says so.
FORMAT_MAX_LENGTH = {
    "uuid": 45,  # urn:uuid: plus 36
    "date": 32,
    "date-time": 64,
    "time": 32,
    "duration": 64,
    "email": 320,  # RFC 5321: 64 + @ + 255
    "uri": 2_048,
    "ipv4": 15,
    "ipv6": 45,
}


def string_bound(schema: dict[str, Any], default: int) -> int | None:
    """The length a string of ``schema`` may have when the schema itself names none.

    ``None`` when the schema bounds it already (``maxLength``, ``enum``, ``const``)."""
    if "maxLength" in schema or "enum" in schema or "const" in schema:
        return None
    return FORMAT_MAX_LENGTH.get(str(schema.get("format", "")), default)


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` once the body passes the limit; rendered as a 413 problem."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body exceeds {limit} bytes; send less per request.")
        self.limit = limit


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class BodySizeLimitMiddleware:
    def __init__(
        self, app: ASGIApp, own_limit: Callable[[Scope], int | None] | None = None
    ) -> None:
        self.app = app
        self.own_limit = own_limit
        """The ceiling of a route exempt from ``max_body_bytes`` (None: not exempt)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        exempt = self.own_limit(scope) if self.own_limit is not None else None
        limit: int = exempt if exempt is not None else scope["app"].state.settings.max_body_bytes
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            await self._refuse(scope, receive, send, BodyTooLarge(limit))
            return

        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge as exc:
            # Inside the routes FastAPI turns this into the 413 problem itself; this catches it
            # when a middleware (idempotency) was the one reading the body.
            if started:
                raise
            await self._refuse(scope, receive, send, exc)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, exc: BodyTooLarge) -> None:
        response = problem_response(
            Request(scope),
            status=413,
            slug="payload-too-large",
            title="Request body too large",
            detail=str(exc.detail),
        )
        await response(scope, receive, send)
