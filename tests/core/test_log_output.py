"""The log stream itself: JSON lines on stderr, warnings written at once, the rest within a
moment, nothing lost at shutdown; request ids unique without a system call each."""

import json
import logging
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import pytest

from app.core.logging import FLUSH_SECONDS, JsonFormatter, access_line, configure_logging
from app.core.telemetry import new_request_id, valid_request_id


@pytest.fixture
def stderr_file(tmp_path: Path) -> Iterator[tuple[Path, TextIO]]:
    """A file to stand for stderr; the root logger's handlers are put back afterwards."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    path = tmp_path / "stderr.log"
    with path.open("w") as stream:
        try:
            yield path, stream
        finally:
            for handler in root.handlers:
                handler.close()
            root.handlers[:] = saved_handlers
            root.setLevel(saved_level)


def _configure_on(stream: TextIO, monkeypatch: pytest.MonkeyPatch) -> None:
    # In the test body: pytest puts its own capture back on sys.stderr after fixtures run.
    monkeypatch.setattr(sys, "stderr", stream)
    configure_logging("INFO")


def _shut_down_logging() -> None:
    """What ``logging.shutdown()`` does at exit: every buffered line written out."""
    for handler in logging.getLogger().handlers:
        handler.flush()
        handler.close()


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_warnings_are_written_at_once_and_info_lines_within_the_flush_interval(
    stderr_file: tuple[Path, TextIO], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, stream = stderr_file
    _configure_on(stream, monkeypatch)
    logger = logging.getLogger("cpro.test")

    logger.info("routine", extra={"count": 3})
    logger.warning("attention")
    assert [line["message"] for line in _lines(path)] == ["routine", "attention"]

    logger.info("later")
    deadline = time.monotonic() + 100 * FLUSH_SECONDS  # ends at the first flush, normally
    while len(_lines(path)) < 3 and time.monotonic() < deadline:
        time.sleep(FLUSH_SECONDS / 4)
    last = _lines(path)[-1]
    assert last["message"] == "later" and last["level"] == "INFO"


def test_lines_still_buffered_are_written_when_logging_shuts_down(
    stderr_file: tuple[Path, TextIO], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, stream = stderr_file
    _configure_on(stream, monkeypatch)
    logger = logging.getLogger("cpro.test")
    for n in range(50):
        logger.info("line", extra={"n": n})
    _shut_down_logging()
    assert [line["n"] for line in _lines(path)] == list(range(50))


def test_request_ids_are_32_hex_characters_and_unique() -> None:
    ids = [new_request_id() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 32 and int(i, 16) >= 0 and valid_request_id(i) for i in ids)
    assert not valid_request_id("bad id") and not valid_request_id("x" * 129)
    assert not valid_request_id("")


@pytest.mark.parametrize(
    ("request_id", "method", "route", "status", "duration_ms"),
    [
        ("0123456789abcdef0123456789abcdef", "GET", "/v1/frameworks/{slug}", 200, 0.37),
        ("from-a-proxy:7.x_y", "POST", None, 422, 12.0),
        ("r", "DELETE", '/odd/"quoted"/\\route/é', 500, 1234.56),
        ("r2", "PATCH", "/v1/candidates/{candidate_id}", 304, 1e-05),
    ],
)
def test_an_access_line_written_directly_is_the_line_logging_would_write(
    stderr_file: tuple[Path, TextIO],
    monkeypatch: pytest.MonkeyPatch,
    request_id: str,
    method: str,
    route: str | None,
    status: int,
    duration_ms: float,
) -> None:
    """The configured stream gets, byte for byte, what the formatter makes of the record that
    ``logger.info`` would have made at the same moment."""
    path, stream = stderr_file
    _configure_on(stream, monkeypatch)
    logger = logging.getLogger("cpro.access")
    fields = {"method": method, "route": route, "status": status, "duration_ms": duration_ms}
    moment = 1_796_294_012.034_567
    monkeypatch.setattr(time, "time", lambda: moment)

    def no_record(*args: object, **kwargs: object) -> logging.LogRecord:
        raise AssertionError("the line was to be made without a LogRecord")

    monkeypatch.setattr(logger, "makeRecord", no_record)
    access_line(logger, request_id, method, route, status, duration_ms)
    monkeypatch.undo()
    _shut_down_logging()
    (written,) = path.read_text().splitlines()
    assert json.loads(written)["time"] == "2026-12-03T10:33:32.034567+00:00"
    record = logger.makeRecord(
        logger.name, logging.INFO, "(unknown file)", 0, "request", (), None, extra=fields
    )
    record.created = moment
    record.request_id = request_id
    expected = JsonFormatter().format(record)
    assert written == expected


def test_access_lines_go_through_logging_when_anything_else_listens(
    stderr_file: tuple[Path, TextIO], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, stream = stderr_file
    _configure_on(stream, monkeypatch)
    logger = logging.getLogger("cpro.access")
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    keep = Keep()
    logger.addHandler(keep)
    try:
        access_line(logger, "rid", "GET", "/v1/agencies", 200, 1.5)
    finally:
        logger.removeHandler(keep)
    assert [(r.getMessage(), r.method, r.route, r.status) for r in seen] == [  # type: ignore[attr-defined]
        ("request", "GET", "/v1/agencies", 200)
    ]
    _shut_down_logging()
    assert [line["route"] for line in _lines(path)] == ["/v1/agencies"]  # and the stream too


def test_access_lines_keep_what_a_record_factory_adds(
    stderr_file: tuple[Path, TextIO], monkeypatch: pytest.MonkeyPatch
) -> None:
    """OpenTelemetry's logging instrumentation adds trace ids in a record factory: the line
    written directly would leave them out, so then the record is made."""
    path, stream = stderr_file
    _configure_on(stream, monkeypatch)
    plain = logging.getLogRecordFactory()

    def with_trace(*args: object, **kwargs: object) -> logging.LogRecord:
        record = plain(*args, **kwargs)
        record.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
        return record

    logging.setLogRecordFactory(with_trace)
    try:
        access_line(logging.getLogger("cpro.access"), "rid", "GET", "/v1/agencies", 200, 1.5)
    finally:
        logging.setLogRecordFactory(plain)
    _shut_down_logging()
    (line,) = _lines(path)
    assert line["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert line["request_id"] == "rid" and line["route"] == "/v1/agencies"
