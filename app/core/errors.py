"""One exception family for the whole service, rendered as RFC 9457 problem details.

Services raise these; one set of handlers turns them (and FastAPI's own validation and routing
errors) into ``application/problem+json``. A client never sees a stack trace.
"""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DataError, DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "urn:cpro:problem:"


class FieldError(BaseModel):
    """One offending input: where it is and why it was refused."""

    field: str = Field(examples=["body.items[3].email"])
    message: str = Field(examples=["value is not a valid email address"])


class Problem(BaseModel):
    """RFC 9457 problem details. Extra members appear for some problem types."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(examples=["urn:cpro:problem:not-found"])
    title: str = Field(examples=["Not found"])
    status: int = Field(examples=[404])
    detail: str | None = Field(default=None, examples=["No candidate with that id."])
    instance: str | None = Field(default=None, examples=["/v1/candidates/0b9e..."])
    errors: list[FieldError] | None = None
    request_id: str | None = None


class ProblemError(Exception):
    """Base of every error the service reports on purpose."""

    status = 500
    slug = "internal-error"
    title = "Internal server error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        self.extensions = extensions

    def as_member(self) -> dict[str, Any]:
        """The problem as a member of a larger body (per-item outcomes of a batch)."""
        body: dict[str, Any] = {"type": PROBLEM_TYPE_BASE + self.slug, "title": self.title}
        body["status"] = self.status
        if self.detail:
            body["detail"] = self.detail
        if self.errors is not None:
            body["errors"] = [error.model_dump() for error in self.errors]
        return body | self.extensions


class BadRequest(ProblemError):
    status, slug, title = 400, "bad-request", "Bad request"


class Unauthorized(ProblemError):
    status, slug, title = 401, "unauthorized", "Authentication required"

    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": 'Bearer realm="cpro"'})
        super().__init__(detail, **kwargs)


class Forbidden(ProblemError):
    status, slug, title = 403, "forbidden", "Not allowed for this role"


class NotFound(ProblemError):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(ProblemError):
    status, slug, title = 409, "conflict", "Conflict with the current state"


class PreconditionFailed(ProblemError):
    status, slug, title = 412, "precondition-failed", "Precondition failed"


class PayloadTooLarge(ProblemError):
    status, slug, title = 413, "payload-too-large", "Request body too large"


class UnsupportedMediaType(ProblemError):
    status, slug, title = 415, "unsupported-media-type", "Unsupported media type"


class UnprocessableEntity(ProblemError):
    status, slug, title = 422, "validation-error", "The request is not valid"


class ServiceUnavailable(ProblemError):
    status, slug, title = 503, "service-unavailable", "Service unavailable"


_HTTP_SLUGS = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Not allowed for this role"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    409: ("conflict", "Conflict with the current state"),
    413: ("payload-too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    429: ("too-many-requests", "Too many requests"),
}


def problem_response(
    request: Request,
    *,
    status: int,
    slug: str,
    title: str,
    detail: str | None = None,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
    extensions: dict[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + slug,
        "title": title,
        "status": status,
        "instance": request.url.path,
    }
    if detail:
        body["detail"] = detail
    if errors is not None:
        body["errors"] = [error.model_dump() for error in errors]
    request_id = getattr(request.state, "request_id", None)
    if request_id:
        body["request_id"] = request_id
    body.update(extensions or {})
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


def field_path(location: tuple[int | str, ...] | list[int | str]) -> str:
    """``("body", "items", 3, "email")`` -> ``body.items[3].email``."""
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def _validation_errors(exc: RequestValidationError) -> list[FieldError]:
    errors = []
    for error in exc.errors():
        message = str(error.get("msg", "invalid"))
        if error.get("type") == "json_invalid":
            message = "the body is not valid JSON"
        errors.append(FieldError(field=field_path(tuple(error.get("loc", ()))), message=message))
    return errors


async def _handle_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return problem_response(
        request,
        status=exc.status,
        slug=exc.slug,
        title=exc.title,
        detail=exc.detail,
        errors=exc.errors,
        headers=exc.headers,
        extensions=exc.extensions,
    )


async def _handle_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = _validation_errors(exc)
    if any(e.message == "the body is not valid JSON" for e in errors):
        return problem_response(
            request,
            status=400,
            slug="malformed-json",
            title="Malformed JSON",
            detail="The request body could not be parsed as JSON.",
            errors=errors,
        )
    return problem_response(
        request,
        status=422,
        slug="validation-error",
        title="The request is not valid",
        detail=f"{len(errors)} field(s) failed validation.",
        errors=errors,
    )


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this request's path.

    Starlette's own 405 names only the methods of the first route matching the path, but
    ``GET /v1/api-keys`` and ``POST /v1/api-keys`` are two routes: ``Allow`` must list both.
    """
    methods: set[str] = set()
    for context in iter_route_contexts(request.app.routes):
        regex = getattr(context, "path_regex", None)
        if regex is not None and regex.match(request.scope["path"]):
            methods |= set(getattr(context, "methods", None) or ())
    return sorted(methods)


async def _handle_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    slug, title = _HTTP_SLUGS.get(exc.status_code, ("http-error", "HTTP error"))
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else None
    headers = dict(exc.headers or {})
    if exc.status_code == 404 and detail == "Not Found":
        detail = "No such resource or route."
    if exc.status_code == 405:
        methods = allowed_methods(request)
        headers["Allow"] = ", ".join(methods)
        detail = f"{request.method} is not served here; this path serves {', '.join(methods)}."
    return problem_response(
        request,
        status=exc.status_code,
        slug=slug,
        title=title,
        detail=detail,
        headers=headers,
    )


async def _handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
    if is_database_outage(exc):  # raised in a middleware (idempotency keys) rather than a route
        return _outage_response(request, exc)
    request_id = getattr(request.state, "request_id", None)
    logger.exception("unhandled error", extra={"request_id": request_id})
    # The X-Request-ID header is added on the way out, as to every response (app.core.telemetry).
    return problem_response(
        request,
        status=500,
        slug="internal-error",
        title="Internal server error",
        detail="An unexpected error occurred; quote the request_id when reporting it.",
    )


# PostgreSQL's SQLSTATE for a statement cancelled by statement_timeout (or by an operator).
QUERY_CANCELED = "57014"
STATEMENT_TIMEOUT_RETRY_AFTER_SECONDS = 5


# The database went away, is restarting, or has no connection to spare: a passing outage (the
# pool reconnects by itself once it is back), so a 503 the client may retry, never a 500.
DATABASE_RETRY_AFTER_SECONDS = 5
# SQLSTATEs of a server that is shutting down, starting, or full; class 08 is "connection
# exception" (https://www.postgresql.org/docs/current/errcodes-appendix.html).
OUTAGE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300"})


def is_database_outage(exc: BaseException) -> bool:
    """True when ``exc`` means the database cannot be reached now, not that a request is wrong."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, PoolTimeout):
        return True
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        # Refused, reset, unreachable, timed out: what connecting to a stopped server raises.
        if isinstance(current, OSError):
            return True
        code = getattr(current, "sqlstate", None) or getattr(current, "pgcode", None)
        if isinstance(code, str) and (code in OUTAGE_SQLSTATES or code.startswith("08")):
            return True
        current = current.__cause__ or current.__context__
    return False


def _outage_response(request: Request, exc: BaseException) -> JSONResponse:
    # The error's class only: its text may name hosts or sockets.
    logger.warning("database unreachable", extra={"error": type(exc).__name__})
    headers = {"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)}
    return problem_response(
        request,
        status=503,
        slug="service-unavailable",
        title="Service unavailable",
        detail="The database cannot be reached at the moment; retry after `Retry-After` "
        "seconds. A request that got this answer may not have been stored.",
        headers=headers,
    )


async def _handle_outage(request: Request, exc: Exception) -> JSONResponse:
    if not is_database_outage(exc):
        raise exc  # not an outage: on to the last-resort handler
    return _outage_response(request, exc)


# What the database refuses because of the values a request brought, and how that is told: a
# value it cannot take (class 22: out of range, invalid text, untranslatable character) or one a
# constraint forbids is invalid input; a duplicate or a dangling reference conflicts with what is
# stored. The routes check what they can first and say it better; this is the net under them,
# so that input never makes a 500.
INPUT_SQLSTATES: dict[str, tuple[int, str, str, str]] = {
    "22": (
        422,
        "validation-error",
        "The request is not valid",
        "A value cannot be stored as sent.",
    ),
    "23502": (422, "validation-error", "The request is not valid", "A required value is missing."),
    "23514": (
        422,
        "validation-error",
        "The request is not valid",
        "A value is outside what is allowed.",
    ),
    "23505": (409, "conflict", "Conflict with the current state", "It exists already."),
    "23503": (
        409,
        "conflict",
        "Conflict with the current state",
        "It refers to something that does not exist, or something still refers to it.",
    ),
    "23P01": (409, "conflict", "Conflict with the current state", "It overlaps one that exists."),
}


def _input_refusal(exc: DBAPIError) -> tuple[int, str, str, str] | None:
    code = getattr(exc.orig, "pgcode", None) or getattr(exc.orig, "sqlstate", None)
    if isinstance(code, str):
        return INPUT_SQLSTATES.get(code) or INPUT_SQLSTATES.get(code[:2])
    if isinstance(exc, DataError):  # refused by the driver before it reached the server
        return INPUT_SQLSTATES["22"]
    return None


async def _handle_database_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DBAPIError)
    if is_database_outage(exc):
        return _outage_response(request, exc)
    refusal = _input_refusal(exc)
    if refusal is not None:
        status, slug, title, detail = refusal
        # The class of error only: the statement and its parameters may carry personal data.
        logger.warning("database refused input", extra={"error": type(exc.orig).__name__})
        return problem_response(request, status=status, slug=slug, title=title, detail=detail)
    if getattr(exc.orig, "pgcode", None) != QUERY_CANCELED:
        raise exc  # not ours: on to the last-resort handler, as if this one did not exist
    # No statement text or parameters in the log: they may carry personal data.
    logger.warning("statement cancelled (statement_timeout)")
    return problem_response(
        request,
        status=503,
        slug="statement-timeout",
        title="Service unavailable",
        detail="The database took too long to answer and the request was cancelled; "
        "nothing was changed. Retry later.",
        headers={"Retry-After": str(STATEMENT_TIMEOUT_RETRY_AFTER_SECONDS)},
    )


class UnansweredErrors:
    """An exception raised before any response started gets the problem+json 500 of
    ``_handle_unexpected`` (logged once, with the request id); either way it is raised on, for
    the server. Starlette's ``ServerErrorMiddleware`` would call the handler again for an
    exception an inner one had already answered, logging it twice."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if not started:
                response = await _handle_unexpected(Request(scope), exc)
                await response(scope, receive, send)
            raise


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ProblemError, _handle_problem)
    app.add_exception_handler(DBAPIError, _handle_database_error)
    app.add_exception_handler(PoolTimeout, _handle_outage)
    app.add_exception_handler(OSError, _handle_outage)
    app.add_exception_handler(RequestValidationError, _handle_validation)
    app.add_exception_handler(StarletteHTTPException, _handle_http)
    app.add_exception_handler(Exception, _handle_unexpected)


PROBLEM_DESCRIPTIONS = {
    400: "Malformed request (a body that is not JSON, a malformed `Idempotency-Key`).",
    401: "Missing or invalid credentials.",
    403: "The caller's role may not use this operation.",
    404: "No such resource (or not visible to this caller).",
    409: "The request conflicts with the current state (or its `Idempotency-Key` is in use).",
    412: "The `If-Match` precondition failed: the resource changed.",
    413: "The request body is larger than this operation accepts.",
    415: "The body's `Content-Type` is not one this operation takes.",
    422: "Invalid input; `errors` lists each offending field.",
    429: "Too many requests from this key or address; retry after `Retry-After` seconds.",
    500: "An unexpected error; quote `request_id` when reporting it.",
    503: "The database is unreachable or too slow; retry after `Retry-After` seconds.",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries for the problems a route can return."""
    return {
        status: {
            "model": Problem,
            "description": PROBLEM_DESCRIPTIONS.get(status, "Problem details."),
            "content": {PROBLEM_MEDIA_TYPE: {}},
        }
        for status in statuses
    }
