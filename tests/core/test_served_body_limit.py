"""A 413 is readable by clients that write the whole body before reading (Python's ``urllib``,
like many HRIS scripts): ``cpro serve`` reads and discards the rest of a refused body, within a
bound, instead of resetting the connection under the client."""

import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from app.core.limits import LINGER_MAX_BYTES
from tests.served import clean_env, served

SIX_MB = 6 * 1000 * 1000


@pytest.fixture(scope="module")
def base_url(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("served-limits")
    env = clean_env(
        CPRO_DATABASE_URL=database_url,
        CPRO_DATA_DIR=str(workdir / "data"),
        CPRO_RATE_LIMIT_ANONYMOUS="0",
        CPRO_RATE_LIMIT_KEY="0",
        CPRO_RUN_WORKER="false",
    )
    with served(env, workdir) as base:
        yield base


def _post_with_urllib(
    url: str, data: bytes | Iterator[bytes], **headers: str
) -> tuple[int, dict[str, Any]]:
    assert url.startswith("http://127.0.0.1:")
    request = urllib.request.Request(  # noqa: S310 (the served app on loopback)
        url, data=data, method="POST", headers={"Content-Type": "application/json", **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


def _assert_413_problem(status: int, problem: dict[str, Any]) -> None:
    assert status == 413, problem
    assert problem["type"] == "urn:cpro:problem:payload-too-large"
    assert problem["status"] == 413
    assert "1048576 bytes" in problem["detail"]


def test_urllib_sending_6_mb_with_its_length_reads_the_413(base_url: str) -> None:
    # Refused by Content-Length before the body is read; urllib then writes all 6 MB anyway.
    started = time.monotonic()
    status, problem = _post_with_urllib(f"{base_url}/v1/candidates", b"x" * SIX_MB)
    _assert_413_problem(status, problem)
    assert time.monotonic() - started < 10


def _chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        yield b" " * min(size, total - sent)
        sent += size


@pytest.mark.parametrize(
    "headers",
    [{}, {"Idempotency-Key": "lingering-413"}],
    ids=["read-by-the-route", "read-by-the-idempotency-middleware"],
)
def test_urllib_streaming_6_mb_chunked_reads_the_413(
    base_url: str, headers: dict[str, str]
) -> None:
    # No Content-Length: the limit is met while the body streams in, by whoever reads it.
    status, problem = _post_with_urllib(
        f"{base_url}/v1/candidates",
        _chunks(SIX_MB),
        **{"Transfer-Encoding": "chunked", "Authorization": "Bearer cpro_nobody", **headers},
    )
    _assert_413_problem(status, problem)


def test_a_body_past_the_linger_bound_is_cut_off(base_url: str) -> None:
    # The service reads at most LINGER_MAX_BYTES of a refused body, then closes.
    host, port = base_url.removeprefix("http://").split(":")
    declared = 4 * LINGER_MAX_BYTES
    written = 0
    with socket.create_connection((host, int(port)), timeout=15) as connection:
        connection.sendall(
            b"POST /v1/candidates HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {declared}\r\n\r\n".encode()
        )
        chunk = b"x" * (256 * 1024)
        with pytest.raises(OSError):  # reset or broken pipe once the service stops reading
            while written < declared:
                connection.sendall(chunk)
                written += len(chunk)
    assert LINGER_MAX_BYTES <= written < declared, written


BULK = "/v1/agencies/BULK/candidates:batch"


def test_a_bulk_request_too_large_reads_the_413_and_the_connection_closes(base_url: str) -> None:
    # Refused by the bulk worker (the API process passes bulk bodies on unread): its 413 and
    # its "Connection: close" reach the client, as they do for a route served in process.
    host, port = base_url.removeprefix("http://").split(":")
    body = b"x" * SIX_MB
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        connection.sendall(
            f"POST {BULK} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n".encode()
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        answer = b""
        while chunk := connection.recv(65536):  # until the service closes the connection
            answer += chunk
    head, _, rest = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0].startswith("HTTP/1.1 413"), lines
    headers = [line.lower() for line in lines[1:]]
    assert "connection: close" in headers, headers
    _assert_413_problem(413, json.loads(rest))


def test_urllib_sending_6_mb_to_a_bulk_route_reads_the_413(base_url: str) -> None:
    status, problem = _post_with_urllib(f"{base_url}{BULK}", b"x" * SIX_MB)
    _assert_413_problem(status, problem)
