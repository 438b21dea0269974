"""``cpro serve`` hands bulk requests to its bulk worker process (``app.core.bulk_process``):
answered as before, logged and counted once by the API process, served by the API process
itself while the worker is away, and the worker never outlives its API process."""

import asyncio
import http.client
import json
import os
import re
import shutil
import signal
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import Receive, Scope, Send

from app.core.bulk_lane import CREDENTIALS_CHECKED
from app.core.bulk_process import BulkForwarding, BulkProcess, least_busy
from app.main import api_routes
from tests.factories import committed_agency_with_keys, person
from tests.served import Served, children_of, clean_env, serving

READY = re.compile(r"bulk worker ready \(pid (\d+)\)")


@dataclass
class Caller:
    agency: str
    admin: dict[str, str]
    hris: dict[str, str]


@pytest.fixture
async def caller(engine: AsyncEngine) -> Caller:
    return Caller(*await committed_agency_with_keys(engine))


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str]:
    return clean_env(
        CPRO_DATABASE_URL=database_url,
        CPRO_DATA_DIR=str(tmp_path / "data"),
        CPRO_RUN_WORKER="false",
        CPRO_RATE_LIMIT_ANONYMOUS="0",
        CPRO_RATE_LIMIT_KEY="0",
        # One worker, so that "the worker" is one process; two: the test of their own below.
        CPRO_BULK_WORKERS="1",
    )


@pytest.fixture
def server(env: dict[str, str], tmp_path: Path) -> Iterator[Served]:
    with serving(env, tmp_path) as served:
        yield served


def _log_lines(served: Served) -> list[dict[str, object]]:
    lines = []
    for raw in served.log.read_text().splitlines():
        if raw.startswith("{"):
            lines.append(json.loads(raw))
    return lines


def _worker_pids(served: Served, wait_for: int = 1, timeout: float = 60) -> list[int]:
    """The pids the API process has said ready, once there are ``wait_for`` of them."""
    deadline = time.monotonic() + timeout
    while True:
        pids = [int(m.group(1)) for m in READY.finditer(served.log.read_text())]
        if len(pids) >= wait_for or time.monotonic() > deadline:
            assert len(pids) >= wait_for, served.log.read_text()[-3000:]
            return pids
        time.sleep(0.1)


def _served_by(base: str, headers: dict[str, str]) -> dict[str, float]:
    text = httpx.get(f"{base}/metrics", headers=headers).text
    return {
        sample.labels["served_by"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "cpro_bulk_requests_total"
    }


def _gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        # A zombie child of the API process counts as gone once it is reaped; read its state.
        try:
            if Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
                return True
        except FileNotFoundError:
            return True
        time.sleep(0.1)
    return False


def _batch(base: str, caller: Caller, first: int, **headers: str) -> httpx.Response:
    items = [person(n, external_id=f"BW-{n}") for n in range(first, first + 3)]
    return httpx.post(
        f"{base}/v1/agencies/{caller.agency}/candidates:batch",
        json={"items": items},
        headers=caller.hris | headers,
        timeout=30,
    )


def test_a_batch_is_served_by_the_worker_and_logged_once_by_the_api_process(
    server: Served, caller: Caller
) -> None:
    assert len(_worker_pids(server)) == 1
    answered = _batch(server.url, caller, 1, **{"X-Request-ID": "hris-sync-0001"})
    assert answered.status_code == 200, answered.text
    assert [item["outcome"] for item in answered.json()["items"]] == ["created"] * 3
    # The headers each hop sets are there once: the API process's own.
    for name in ("x-request-id", "date", "server", "content-length"):
        assert len(answered.headers.get_list(name)) == 1, (name, answered.headers)
    assert answered.headers["x-request-id"] == "hris-sync-0001"
    assert _served_by(server.url, caller.admin) == {"worker": 1.0}

    # The log handler writes lines out a few times a second.
    def lines() -> list[dict[str, object]]:
        return [line for line in _log_lines(server) if line.get("request_id") == "hris-sync-0001"]

    deadline = time.monotonic() + 10
    while not lines() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)  # a second line, were there one, would be out by now
    assert [(line["logger"], line["route"], line["status"]) for line in lines()] == [
        ("cpro.access", "/v1/agencies/{agency}/candidates:batch", 200)
    ]


def test_a_refused_batch_keeps_its_problem_and_request_id(server: Served, caller: Caller) -> None:
    _worker_pids(server)
    chunks = (part for part in (b'{"it', b'ems": 5}'))
    refused = httpx.post(
        f"{server.url}/v1/agencies/{caller.agency}/candidates:batch",
        content=chunks,  # no Content-Length: the body is passed on as it streams in
        headers=caller.hris | {"Content-Type": "application/json"},
        timeout=30,
    )
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["request_id"] == refused.headers["x-request-id"]
    assert [error["field"] for error in problem["errors"]] == ["body.items"]
    assert _served_by(server.url, caller.admin) == {"worker": 1.0}


def test_while_the_worker_is_away_the_api_process_serves_bulk_requests_itself(
    server: Served, caller: Caller
) -> None:
    (first,) = _worker_pids(server)
    os.kill(first, signal.SIGKILL)
    assert _gone(first, timeout=10)
    during = _batch(server.url, caller, 10)
    assert during.status_code == 200, during.text
    assert [item["outcome"] for item in during.json()["items"]] == ["created"] * 3

    second = _worker_pids(server, wait_for=2)[1]
    assert second != first
    after = _batch(server.url, caller, 20)
    assert after.status_code == 200, after.text
    served_by = _served_by(server.url, caller.admin)
    assert served_by == {"worker": 1.0, "api": 1.0}


def test_the_worker_does_not_outlive_its_api_process(server: Served) -> None:
    (worker,) = _worker_pids(server)
    socket_path = Path(Path(f"/proc/{worker}/cmdline").read_bytes().split(b"\0")[-2].decode())
    assert socket_path.name == "worker.sock" and socket_path.exists()
    server.process.kill()  # no shutdown: the worker learns it from its pipe
    server.process.wait()
    assert _gone(worker, timeout=15)
    # Nor does its socket's directory (the killed API process could not remove it).
    assert not socket_path.parent.exists()


def test_a_request_httpx_will_not_send_does_not_switch_the_worker_off(
    server: Served, caller: Caller
) -> None:
    _worker_pids(server)
    body = b'{"items": []}'
    with socket.create_connection(("127.0.0.1", int(server.url.rsplit(":", 1)[1]))) as raw:
        raw.sendall(
            b"POST /v1/agencies/" + caller.agency.encode() + b"/candidates:batch HTTP/1.1\r\n"
            b"Host: a.example\r\nHost: b.example\r\n"
            + f"Authorization: {caller.hris['Authorization']}\r\n".encode()
            + b"Content-Type: application/json\r\nConnection: close\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        answer = b""
        while chunk := raw.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 "), answer[:200]
    # Served here (httpx refuses two Host headers), and the worker still serves the next.
    assert _batch(server.url, caller, 40).status_code == 200
    assert _served_by(server.url, caller.admin) == {"api": 1.0, "worker": 1.0}


def test_a_path_with_dot_segments_reaches_the_route_as_sent(server: Served, caller: Caller) -> None:
    _worker_pids(server)
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        # http.client sends the path as given; httpx, which passes requests to the worker,
        # would resolve it to /v1/candidates:batch, a 404.
        connection.request(
            "POST",
            "/v1/agencies/../candidates:batch",
            body=b'{"items": []}',
            headers={
                "Authorization": caller.hris["Authorization"],
                "Content-Type": "application/json",
            },
        )
        answer = connection.getresponse()
        problem = json.loads(answer.read())
    finally:
        connection.close()
    assert answer.status == 422, problem
    assert [error["field"] for error in problem["errors"]] == ["path.agency"]
    assert _served_by(server.url, caller.admin) == {"api": 1.0}


def test_no_worker_when_the_setting_is_off(
    env: dict[str, str], tmp_path: Path, caller: Caller
) -> None:
    with serving(env | {"CPRO_BULK_PROCESS": "false"}, tmp_path) as server:
        answered = _batch(server.url, caller, 30)
        assert answered.status_code == 200, answered.text
        assert _served_by(server.url, caller.admin) == {}
        assert READY.search(server.log.read_text()) is None


def test_two_workers_by_default_and_either_serves_while_the_other_restarts(
    env: dict[str, str], tmp_path: Path, caller: Caller
) -> None:
    env = {k: v for k, v in env.items() if k != "CPRO_BULK_WORKERS"}
    with serving(env, tmp_path) as server:
        pids = _worker_pids(server, wait_for=2)
        assert len(set(pids)) == 2
        assert set(pids) <= set(children_of(server.process.pid))
        os.kill(pids[0], signal.SIGKILL)
        assert _gone(pids[0], timeout=10)
        answered = _batch(server.url, caller, 50)
        assert answered.status_code == 200, answered.text
        # Served by the one left, not by the API process.
        assert _served_by(server.url, caller.admin) == {"worker": 1.0}
        restarted = _worker_pids(server, wait_for=3)[2]
        assert restarted not in pids


def test_a_request_goes_to_the_ready_worker_with_the_fewest_in_hand() -> None:
    idle, busy, starting = (BulkProcess("postgresql://unused") for _ in range(3))
    try:
        idle.ready, busy.ready = True, True
        busy.in_flight, idle.in_flight = 2, 1
        assert least_busy([busy, idle, starting]) is idle
        idle.in_flight = 2
        assert least_busy([busy, idle, starting]) is busy  # the first of equals
        busy.ready = idle.ready = False
        assert least_busy([busy, idle, starting]) is None
    finally:
        for worker in (idle, busy, starting):
            shutil.rmtree(worker.socket_path.parent, ignore_errors=True)


class _Release:
    """A two-byte ``POST /v1/assessments:release`` as the API process hands it on, and what is
    sent back to its caller."""

    def __init__(self, **scope: object) -> None:
        self.sent: list[dict[str, object]] = []
        self.scope: dict[str, object] = {
            "type": "http",
            "method": "POST",
            "path": "/v1/assessments:release",
            "raw_path": b"/v1/assessments:release",
            "root_path": "",
            "query_string": b"",
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"2")],
            "state": {"request_id": "test-request"},
            **scope,
        }

    async def receive(self) -> dict[str, object]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(self, message: dict[str, object]) -> None:
        self.sent.append(message)


async def test_a_worker_gone_mid_answer_is_taken_out_of_turn() -> None:
    # A peer on the worker's socket that begins an answer and dies: what the API process sees
    # of a worker killed while it streams a release's answer.
    worker = BulkProcess("postgresql://unused")

    async def half_an_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b'HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n{"items": [')
        await writer.drain()
        writer.close()

    server = await asyncio.start_unix_server(half_an_answer, path=str(worker.socket_path))
    release = _Release()
    try:
        worker.ready = True
        with pytest.raises(httpx.RemoteProtocolError):
            await worker.forward(release.scope, release.receive, release.send)
        assert release.sent[0]["status"] == 200  # begun: it cannot become another answer now
        assert not worker.ready
        assert worker.in_flight == 0
    finally:
        server.close()
        await worker.stop()


async def test_a_worker_gone_before_it_takes_a_request_hands_it_to_the_next() -> None:
    # The first worker's socket answers no more (it died; its watcher has not noticed yet): the
    # request goes to the other worker, not to the API process.
    dead, alive = BulkProcess("postgresql://unused"), BulkProcess("postgresql://unused")

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await reader.readexactly(2)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n")
        writer.write(b'content-length: 13\r\n\r\n{"items": []}')
        await writer.drain()
        writer.close()

    server = await asyncio.start_unix_server(answer, path=str(alive.socket_path))
    served_here: list[str] = []

    async def api_process(scope: Scope, receive: Receive, send: Send) -> None:
        served_here.append(scope["path"])

    release = _Release(
        app=SimpleNamespace(state=SimpleNamespace(bulk_processes=[dead, alive])),
        **{CREDENTIALS_CHECKED: True},
    )
    try:
        dead.ready = alive.ready = True
        forwarding = BulkForwarding(api_process, routes=api_routes())
        await forwarding(release.scope, release.receive, release.send)
        assert served_here == []
        assert release.sent[0]["status"] == 200
        assert release.sent[1]["body"] == b'{"items": []}'
        assert not dead.ready and alive.ready
    finally:
        server.close()
        await dead.stop()
        await alive.stop()


def test_a_bulk_request_without_a_live_key_is_refused_without_a_worker(
    server: Served, caller: Caller
) -> None:
    _worker_pids(server)
    refused = _batch(server.url, caller, 60, Authorization="Bearer cpro_no-such-key")
    assert refused.status_code == 401, refused.text
    assert _served_by(server.url, caller.admin) == {}
