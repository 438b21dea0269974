"""What every HTTP request leaves behind: a request id, one access log line, its metrics.

One middleware does all three, outermost, so that each sees the final status (problem
responses and fast-path answers included) and the framework read pays for one wrapper, not
three. Never log paths, query strings, headers or bodies: only the route template.
"""

import itertools
import logging
import os
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core import metrics
from app.core.logging import access_line, request_id_var

ACCESS_LOGGER = "cpro.access"
_ALLOWED_IN_ID = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:")


def valid_request_id(value: str) -> bool:
    return 0 < len(value) <= 128 and _ALLOWED_IN_ID.issuperset(value)


class _RequestIds:
    """32 hex characters: a random per-process prefix and a counter. Unique, not secret
    (a request id is for finding log lines), and without a system call per request."""

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._prefix = os.urandom(8).hex()
        self._counter = itertools.count(int.from_bytes(os.urandom(4)))

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter) & 0xFFFF_FFFF_FFFF_FFFF:016x}"


new_request_id = _RequestIds().next


class RequestTelemetryMiddleware:
    """Honour a sane ``X-Request-ID`` or make one, return it, log one line, count the request
    (``recorded=False``: only the id, behind an API process that logs and counts for it)."""

    def __init__(self, app: ASGIApp, *, recorded: bool = True) -> None:
        self.app = app
        self.logger = logging.getLogger(ACCESS_LOGGER)
        self.recorded = recorded

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                request_id = incoming if valid_request_id(incoming) else None
                break
        request_id = request_id or new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        id_header = (b"x-request-id", request_id.encode("latin-1"))
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), id_header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if self.recorded:
                seconds = time.perf_counter() - started
                route = getattr(scope.get("route"), "path", None)
                metrics.count_request(scope["method"], route or metrics.UNMATCHED, status, seconds)
                access_line(
                    self.logger,
                    request_id,
                    scope["method"],
                    route,
                    status,
                    round(seconds * 1000, 2),
                )
            request_id_var.reset(token)
