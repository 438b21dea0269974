"""Ceilings every request obeys: the body size, and the bounds any input value keeps to.

Body bytes: ``Content-Length`` is checked first, but a chunked upload has none and a client may
lie, so the bytes are also counted as they stream in: the request is cut off at the first byte
over the limit, and nothing past it is ever buffered (the idempotency middleware, which keeps a
copy of the body, runs inside this one).

The largest legitimate body is a ``candidates:batch`` of 1,000 records: about 234 KB of compact
JSON for realistic records (290 KB pretty-printed), well inside the 1 MiB default, so that route
needs no limit of its own; ``BodySizeLimitMiddleware(route_limits=...)`` gives a route another.

A refused body is not simply cut off: many clients (Python's ``urllib``, most HRIS scripts)
write the whole body before they read anything, and a server that closes with unread bytes
makes the kernel reset the connection, so they see ``Connection reset by peer`` instead of the
413. As nginx's lingering close does, the 413 is written first and the rest of the body then
read and discarded, up to ``LINGER_MAX_BYTES`` or ``LINGER_MAX_SECONDS``; the connection is
closed after that (``Connection: close``). A portfolio document upload
has ``own_limit``: its larger ceiling (and the route counts the document's own bytes itself).

Values: a string, array or integer whose schema names no bound of its own gets the one below
(``app/core/input_guard.py`` enforces them, ``app/core/openapi.py`` writes them into the
contract), so that nothing in the contract is unbounded and nothing unbounded reaches the
database.
"""

import re
from collections.abc import Callable, Sequence
from typing import Any

import anyio
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import problem_response

# How much of a refused body is read and thrown away so that the client gets to read the 413.
LINGER_MAX_BYTES = 16 * 1024 * 1024
LINGER_MAX_SECONDS = 10.0

# PostgreSQL's bigint, the widest integer column there is: a larger one can never be stored.
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
# Longest string in a JSON body, and in a query or path parameter, that names no bound itself.
TEXT_MAX_LENGTH = 65_536
PARAMETER_MAX_LENGTH = 512
# A whole non-JSON body (a CSV sheet) is one string: bounded by the body limit, whose default
# (``CPRO_MAX_BODY_BYTES``) this is.
RAW_BODY_MAX_LENGTH = 1_048_576
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
    """``route_limits``: ``(path pattern, limit)`` pairs, the first whose pattern matches the
    whole path wins; ``own_limit``: the ceiling of a route exempt from ``max_body_bytes`` (None:
    not exempt), asked first; other paths get ``CPRO_MAX_BODY_BYTES``."""

    def __init__(
        self,
        app: ASGIApp,
        route_limits: Sequence[tuple[str, int]] = (),
        own_limit: Callable[[Scope], int | None] | None = None,
    ) -> None:
        self.app = app
        self.route_limits = [(re.compile(pattern), limit) for pattern, limit in route_limits]
        self.own_limit = own_limit

    def limit_for(self, scope: Scope) -> int:
        if self.own_limit is not None:
            exempt = self.own_limit(scope)
            if exempt is not None:
                return exempt
        for pattern, route_limit in self.route_limits:
            if pattern.fullmatch(scope["path"]):
                return route_limit
        default: int = scope["app"].state.settings.max_body_bytes
        return default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            await self._refuse(scope, receive, send, BodyTooLarge(limit))
            return

        received = 0
        refused = False

        async def counting_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    raise BodyTooLarge(limit)
            return message

        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            if refused:
                # Inside the routes FastAPI renders the 413 itself: linger all the same.
                await _lingering_send(message, receive, send)
                return
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge as exc:
            # A middleware (idempotency) was the one reading the body.
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

        async def lingering(message: Message) -> None:
            await _lingering_send(message, receive, send)

        await response(scope, receive, lingering)


async def _lingering_send(message: Message, receive: Receive, send: Send) -> None:
    """Send a refusal, but hold back its end until the rest of the request body is read."""
    if message["type"] == "http.response.start":
        headers = [(n, v) for n, v in message.get("headers", []) if n.lower() != b"connection"]
        await send({**message, "headers": [*headers, (b"connection", b"close")]})
    elif message["type"] == "http.response.body" and not message.get("more_body", False):
        # The whole answer is on its way to the client, but not "complete": until it is, the
        # server still hands this request's body to the app, which reads and drops it.
        await send({**message, "more_body": True})
        await _discard_body(receive)
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    else:
        await send(message)


async def _discard_body(receive: Receive) -> None:
    discarded = 0
    with anyio.move_on_after(LINGER_MAX_SECONDS):
        while discarded < LINGER_MAX_BYTES:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            discarded += len(message.get("body", b""))
            if not message.get("more_body", False):
                return
