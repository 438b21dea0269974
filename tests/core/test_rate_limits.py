"""Rate limits per API key and per client address (OWASP API4), counted in PostgreSQL so that
several worker processes spend one budget. The suite's settings turn them off; these tests turn
them on, each with callers (addresses, keys) of its own."""

import asyncio
import hashlib
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.database import create_engine, create_sessionmaker
from app.core.settings import Settings
from app.main import create_app
from tests.factories import committed_agency_with_keys

PUBLIC = "/v1/frameworks"


def _app(engine: AsyncEngine, settings: Settings, anonymous: int, key: int) -> FastAPI:
    """One worker process of the service: its own app (and, given its own engine, pool)."""
    app = create_app(
        settings.model_copy(update={"rate_limit_anonymous": anonymous, "rate_limit_key": key})
    )
    app.state.engine = engine
    app.state.sessionmaker = create_sessionmaker(engine)
    return app


@asynccontextmanager
async def _client(app: FastAPI, address: str) -> AsyncIterator[AsyncClient]:
    transport = ASGITransport(app=app, client=(address, 40000), raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def _address() -> str:
    """A client address no other test uses (IPv6 documentation prefix; never contacted)."""
    return f"2001:db8::{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}"


async def _clear_of_a_minute_boundary() -> None:
    """Windows are whole minutes: start a burst early enough in one to end inside it."""
    into_minute = time.time() % 60
    if into_minute > 50:
        await asyncio.sleep(60 - into_minute + 0.2)


async def test_anonymous_calls_over_the_limit_get_429_with_retry_after(
    engine: AsyncEngine, settings: Settings
) -> None:
    app = _app(engine, settings, anonymous=3, key=0)
    await _clear_of_a_minute_boundary()
    async with _client(app, _address()) as client:
        statuses = [(await client.get(PUBLIC)).status_code for _ in range(3)]
        refused = await client.get(PUBLIC)
        probe = await client.get("/healthz")
    assert statuses == [200, 200, 200]
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    problem = refused.json()
    assert problem["type"] == "urn:cpro:problem:too-many-requests"
    assert problem["request_id"] == refused.headers["x-request-id"]
    assert probe.status_code == 200  # health probes are never limited
    async with _client(app, _address()) as neighbour:
        assert (await neighbour.get(PUBLIC)).status_code == 200


async def test_each_key_has_its_own_budget_apart_from_its_address(
    engine: AsyncEngine, settings: Settings
) -> None:
    _, admin, agency = await committed_agency_with_keys(engine)
    app = _app(engine, settings, anonymous=2, key=3)
    await _clear_of_a_minute_boundary()
    async with _client(app, _address()) as client:
        spent = [(await client.get("/v1/api-keys", headers=admin)).status_code for _ in range(3)]
        refused = await client.get("/v1/api-keys", headers=admin)
        other_key = await client.get("/v1/candidates", headers=agency)
        anonymous = await client.get(PUBLIC)
    assert spent == [200, 200, 200]
    assert refused.status_code == 429 and "key" in refused.json()["detail"]
    assert int(refused.headers["retry-after"]) >= 1
    assert other_key.status_code == 200
    assert anonymous.status_code == 200


async def test_a_limit_of_zero_turns_it_off(engine: AsyncEngine, settings: Settings) -> None:
    app = _app(engine, settings, anonymous=0, key=1)
    address = _address()
    await _clear_of_a_minute_boundary()
    async with _client(app, address) as client:
        statuses = {(await client.get(PUBLIC)).status_code for _ in range(5)}
    assert statuses == {200}
    caller = hashlib.sha256(b"address:" + address.encode()).digest()
    async with engine.connect() as connection:
        counted = await connection.scalar(
            text("SELECT count(*) FROM rate_limit_window WHERE caller = :caller"),
            {"caller": caller},
        )
    assert counted == 0  # not counted at all, not merely allowed


@pytest.fixture
async def second_engine(database_url: str, settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, settings)
    yield engine
    await engine.dispose()


async def test_two_workers_share_one_budget(
    engine: AsyncEngine, second_engine: AsyncEngine, settings: Settings
) -> None:
    first = _app(engine, settings, anonymous=4, key=0)
    second = _app(second_engine, settings, anonymous=4, key=0)
    address = _address()
    await _clear_of_a_minute_boundary()
    async with _client(first, address) as one, _client(second, address) as two:
        statuses = [
            (await one.get(PUBLIC)).status_code,
            (await two.get(PUBLIC)).status_code,
            (await one.get(PUBLIC)).status_code,
            (await two.get(PUBLIC)).status_code,
        ]
        over_on_first = await one.get(PUBLIC)
        over_on_second = await two.get(PUBLIC)
    assert statuses == [200, 200, 200, 200]
    assert over_on_first.status_code == 429 and over_on_second.status_code == 429


async def test_concurrent_requests_are_counted_exactly(
    engine: AsyncEngine, settings: Settings
) -> None:
    app = _app(engine, settings, anonymous=8, key=0)
    await _clear_of_a_minute_boundary()
    async with _client(app, _address()) as client:
        responses = await asyncio.gather(*(client.get(PUBLIC) for _ in range(12)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 8 + [429] * 4


async def test_a_browser_on_an_allowed_origin_can_read_a_429_and_a_413(
    engine: AsyncEngine, settings: Settings
) -> None:
    portal = "https://portal.example"
    with_cors = settings.model_copy(update={"cors_origins": [portal]})
    origin = {"Origin": portal}
    await _clear_of_a_minute_boundary()
    async with _client(_app(engine, with_cors, anonymous=1, key=0), _address()) as client:
        await client.get(PUBLIC, headers=origin)
        refused = await client.get(PUBLIC, headers=origin)
    async with _client(_app(engine, with_cors, anonymous=0, key=0), _address()) as client:
        too_large = await client.post(
            PUBLIC, content=b"x" * (2 << 20), headers=origin | {"Content-Type": "application/json"}
        )
    for response, status in ((refused, 429), (too_large, 413)):
        assert response.status_code == status
        assert response.headers["access-control-allow-origin"] == portal
        assert "retry-after" in response.headers["access-control-expose-headers"].lower()


async def test_far_from_the_limit_a_process_counts_in_leases_not_per_request(
    engine: AsyncEngine, settings: Settings
) -> None:
    app = _app(engine, settings, anonymous=6000, key=0)
    address = _address()
    bumps: list[str] = []

    def count_bumps(*args: Any) -> None:
        if "rate_limit_window" in args[2] and "INSERT" in args[2]:
            bumps.append(args[2])

    await _clear_of_a_minute_boundary()
    event.listen(engine.sync_engine, "before_cursor_execute", count_bumps)
    try:
        async with _client(app, address) as client:
            statuses = {(await client.get(PUBLIC)).status_code for _ in range(200)}
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count_bumps)
    assert statuses == {200}
    assert 1 <= len(bumps) <= 8  # leases of up to 64, not 200 statements
    caller = hashlib.sha256(b"address:" + address.encode()).digest()
    async with engine.connect() as connection:
        counted = await connection.scalar(
            text("SELECT sum(count) FROM rate_limit_window WHERE caller = :caller"),
            {"caller": caller},
        )
    assert 200 <= counted <= 200 + 64  # all counted; at most one lease unspent


async def test_processes_holding_leases_never_admit_more_than_the_limit(
    engine: AsyncEngine, second_engine: AsyncEngine, settings: Settings
) -> None:
    limit = 48
    first = _app(engine, settings, anonymous=limit, key=0)
    second = _app(second_engine, settings, anonymous=limit, key=0)
    address = _address()
    await _clear_of_a_minute_boundary()
    async with _client(first, address) as one, _client(second, address) as two:
        answers = await asyncio.gather(
            *(client.get(PUBLIC) for _ in range(40) for client in (one, two))
        )
    admitted = sum(a.status_code == 200 for a in answers)
    assert {a.status_code for a in answers} == {200, 429}
    # Never over; early by at most what each process held unspent (a sixteenth of the rest).
    assert limit - 2 * (limit // 16) <= admitted <= limit, admitted
