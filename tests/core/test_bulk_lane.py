"""Bulk requests take turns within a process; everything else goes straight through. Only
callers with a live API key (checked in the test database) wait for a turn."""

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import Receive, Scope, Send

from app.auth.service import revoke_api_key
from app.auth.tokens import TokenVerifier
from app.core.bulk_lane import CREDENTIALS_CHECKED, BulkLane, is_bulk
from app.core.database import create_sessionmaker
from app.core.settings import Settings
from tests.factories import committed_agency_with_keys


class _Recorder:
    """An ASGI app that takes a while to answer (a bulk request with credentials, while there is
    a ``gate``: until it is opened) and notes who was inside at once."""

    def __init__(self, bulk_seconds: float = 0.3) -> None:
        self.bulk_seconds = bulk_seconds
        self.gate: asyncio.Event | None = None
        self.inside: set[str] = set()
        self.most_bulk_inside = 0
        self.started: list[str] = []
        self.finished: list[str] = []
        self.credentials_checked: dict[str, bool] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        name = scope["name"]
        self.inside.add(name)
        self.started.append(name)
        self.credentials_checked[name] = bool(scope.get(CREDENTIALS_CHECKED))
        bulk_inside = sum(1 for n in self.inside if n.startswith("bulk"))
        self.most_bulk_inside = max(self.most_bulk_inside, bulk_inside)
        if name.startswith("bulk"):
            if self.gate is not None and scope.get(CREDENTIALS_CHECKED):
                await self.gate.wait()
            else:
                await asyncio.sleep(self.bulk_seconds)
        self.inside.discard(name)
        self.finished.append(name)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def _waiting() -> float | None:
    return REGISTRY.get_sample_value("cpro_bulk_requests_waiting")


async def _until(condition: Callable[[], bool]) -> None:
    """Wait (up to 5 s) for ``condition``: a loaded machine takes longer than any fixed pause."""
    for _ in range(5000):
        if condition():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("the lane never got there")


async def _two_inside_then_the_rest(lane: "Lane") -> None:
    """Three bulk requests, the first ones held inside until the third waits for a turn."""
    lane.inner.gate = asyncio.Event()
    waiting_before = _waiting() or 0
    sent = asyncio.create_task(lane.all(lane.bulk(3)))
    await _until(lambda: (_waiting() or 0) > waiting_before)
    lane.inner.gate.set()
    await sent


class Lane:
    """A lane over a recorder, with the app state a served process gives it."""

    def __init__(
        self, engine: AsyncEngine, key: str, bulk_seconds: float = 0.3, **settings: int
    ) -> None:
        self.settings = Settings(_env_file=None, **settings)  # type: ignore[call-arg]
        self.state = SimpleNamespace(
            settings=self.settings, sessionmaker=create_sessionmaker(engine)
        )
        self.key = key
        self.inner = _Recorder(bulk_seconds)
        self.lane = BulkLane(self.inner)

    def scope(
        self, name: str, path: str, method: str = "POST", key: str | None = "live"
    ) -> dict[str, Any]:
        secret = self.key if key == "live" else key
        headers = [(b"authorization", f"Bearer {secret}".encode())] if secret else []
        return {
            "type": "http",
            "method": method,
            "path": path,
            "name": name,
            "headers": headers,
            "app": SimpleNamespace(state=self.state),
        }

    async def answer(self, scope: dict[str, Any]) -> None:
        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            return None

        await self.lane(scope, receive, send)

    async def all(self, scopes: list[dict[str, Any]]) -> None:
        """Each request once the one before is in (running, or waiting for its turn): each
        checks its key in the database first, so requests sent at the same instant would reach
        the lane in any order."""
        tasks = []
        for scope in scopes:
            entered = len(self.inner.started) + (_waiting() or 0)
            tasks.append(asyncio.create_task(self.answer(scope)))
            await _until(lambda e=entered: len(self.inner.started) + (_waiting() or 0) > e)
        await asyncio.gather(*tasks)

    def bulk(self, count: int, key: str | None = "live") -> list[dict[str, Any]]:
        paths = ("/v1/agencies/DOH/candidates:batch", "/v1/assessments:release")
        return [self.scope(f"bulk-{n}", paths[n % 2], key=key) for n in range(1, count + 1)]


@pytest.fixture(scope="module")
async def key(engine: AsyncEngine) -> str:
    _, _, hris = await committed_agency_with_keys(engine)
    return hris["Authorization"].removeprefix("Bearer ")


async def _run(engine: AsyncEngine, key: str, concurrency: int) -> _Recorder:
    lane = Lane(engine, key, bulk_concurrency=concurrency, bulk_concurrency_when_busy=0)
    # The bulk requests stay inside until everything was sent and the others answered.
    lane.inner.gate = asyncio.Event()
    sent = asyncio.create_task(
        lane.all(
            [
                lane.scope("bulk-1", "/v1/agencies/DOH/candidates:batch"),
                lane.scope("bulk-2", "/v1/assessments:release"),
                lane.scope("bulk-3", "/v1/agencies/DOH/candidates:import"),
                lane.scope("bulk-4", "/v1/agencies/DOH/candidates:batch"),
                lane.scope("read-1", "/v1/candidates", method="GET"),
                lane.scope("write-1", "/v1/candidates"),
            ]
        )
    )
    await _until(lambda: "write-1" in lane.inner.finished)
    lane.inner.gate.set()
    await sent
    return lane.inner


async def test_bulk_requests_take_turns_in_arrival_order(engine: AsyncEngine, key: str) -> None:
    inner = await _run(engine, key, 1)
    assert inner.most_bulk_inside == 1
    assert [n for n in inner.finished if n.startswith("bulk")] == [
        "bulk-1",
        "bulk-2",
        "bulk-3",
        "bulk-4",
    ]
    # The others did not wait for any bulk request to finish.
    assert inner.finished[:2] == ["read-1", "write-1"]
    assert inner.credentials_checked == {
        "bulk-1": True,
        "bulk-2": True,
        "bulk-3": True,
        "bulk-4": True,
        "read-1": False,
        "write-1": False,
    }


@pytest.mark.parametrize(("concurrency", "most"), [(2, 2), (0, 4)])
async def test_the_setting_allows_more_at_once_or_turns_the_lane_off(
    engine: AsyncEngine, key: str, concurrency: int, most: int
) -> None:
    inner = await _run(engine, key, concurrency)
    assert inner.most_bulk_inside == most


def test_only_the_bulk_custom_methods_are_bulk() -> None:
    def scope(path: str, method: str = "POST") -> dict[str, Any]:
        return {"type": "http", "method": method, "path": path}

    assert is_bulk(scope("/v1/agencies/DOH/candidates:batch"))
    assert is_bulk(scope("/v1/assessments:release"))
    assert not is_bulk(scope("/v1/assessments/abc/release"))
    assert not is_bulk(scope("/v1/assessments:release", method="GET"))
    assert Settings(_env_file=None).bulk_concurrency == 2  # type: ignore[call-arg]


async def test_while_other_requests_arrive_bulk_requests_go_one_at_a_time(
    engine: AsyncEngine, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("app.core.bulk_lane.BUSY_SECONDS", 0.3)
    lane = Lane(engine, key)
    assert (lane.settings.bulk_concurrency, lane.settings.bulk_concurrency_when_busy) == (2, 1)
    await lane.answer(lane.scope("read-1", "/v1/candidates", method="GET"))
    lane.inner.gate = asyncio.Event()
    sent = asyncio.create_task(lane.all(lane.bulk(3)))
    # Busy for 0.3 s: bulk-1 alone, the others waiting; then two at once, with no other
    # request (bulk-1 is held inside) to wake the waiting ones.
    await _until(lambda: "bulk-2" in lane.inner.started)
    lane.inner.gate.set()
    await sent
    assert lane.inner.started[1:3] == ["bulk-1", "bulk-2"]
    assert lane.inner.finished[1] == "bulk-1"
    assert lane.inner.most_bulk_inside == 2

    monkeypatch.setattr("app.core.bulk_lane.BUSY_SECONDS", 60.0)  # busy all along
    lane = Lane(engine, key)
    await lane.answer(lane.scope("read-1", "/v1/candidates", method="GET"))
    lane.inner.gate = asyncio.Event()
    waiting_before = _waiting() or 0
    sent = asyncio.create_task(lane.all(lane.bulk(2)))
    await _until(lambda: (_waiting() or 0) > waiting_before)
    lane.inner.gate.set()
    await sent
    assert lane.inner.most_bulk_inside == 1


async def test_requests_without_credentials_and_probes_do_not_make_the_process_busy(
    engine: AsyncEngine, key: str
) -> None:
    lane = Lane(engine, key)
    for path in ("/healthz", "/readyz", "/metrics", "/v1/frameworks", "/no/such/path"):
        await lane.answer(lane.scope("probe", path, method="GET", key=None))
    await _two_inside_then_the_rest(lane)
    assert lane.inner.most_bulk_inside == 2


async def test_the_busy_limit_can_be_turned_off(engine: AsyncEngine, key: str) -> None:
    lane = Lane(engine, key, bulk_concurrency_when_busy=0)
    await lane.answer(lane.scope("read-1", "/v1/candidates", method="GET"))
    await _two_inside_then_the_rest(lane)
    assert lane.inner.most_bulk_inside == 2


async def test_callers_without_a_live_key_do_not_wait_for_a_turn(
    engine: AsyncEngine, key: str
) -> None:
    _, admin, _ = await committed_agency_with_keys(engine)
    revoked = admin["Authorization"].removeprefix("Bearer ")
    async with create_sessionmaker(engine)() as session, session.begin():
        from sqlalchemy import select

        from app.auth.models import ApiKey
        from app.auth.service import digest_of

        key_id = await session.scalar(select(ApiKey.id).where(ApiKey.digest == digest_of(revoked)))
        assert key_id is not None
        await revoke_api_key(session, key_id)
    lane = Lane(engine, key, bulk_concurrency=1, bulk_concurrency_when_busy=0)
    lane.inner.gate = asyncio.Event()
    waiting_before = _waiting() or 0
    holders = asyncio.create_task(lane.all(lane.bulk(2)))
    # bulk-1 holds the one turn (until the gate opens), bulk-2 waits.
    await _until(lambda: (_waiting() or 0) > waiting_before)
    strangers = [
        lane.scope("bulk-nokey", "/v1/assessments:release", key=None),
        lane.scope("bulk-unknown", "/v1/assessments:release", key="cpro_not-a-key"),
        lane.scope("bulk-revoked", "/v1/assessments:release", key=revoked),
        lane.scope("bulk-basic", "/v1/assessments:release", key=None)
        | {"headers": [(b"authorization", b"Basic dXNlcjpwYXNz")]},
    ]
    await lane.all(strangers)
    # Straight through (to the route's 401) beside bulk-1, while the live key's second batch
    # still waits for the one turn.
    assert lane.inner.started[:5] == ["bulk-1", *(s["name"] for s in strangers)]
    assert lane.inner.most_bulk_inside >= 2  # one turn only: beside bulk-1, without one
    assert not any(lane.inner.credentials_checked[s["name"]] for s in strangers)
    lane.inner.gate.set()
    await holders
    assert lane.inner.started[-1] == "bulk-2"


async def test_a_caller_that_leaves_while_waiting_gives_up_its_turn(
    engine: AsyncEngine, key: str
) -> None:
    lane = Lane(engine, key, bulk_concurrency=1)
    lane.inner.gate = asyncio.Event()  # bulk-1 stays inside until bulk-2 has left
    first = asyncio.create_task(lane.answer(lane.scope("bulk-1", "/v1/assessments:release")))
    await _until(lambda: lane.inner.started == ["bulk-1"])
    gone = asyncio.create_task(lane.answer(lane.scope("bulk-2", "/v1/assessments:release")))
    await _until(lambda: bool(_waiting()))
    assert _waiting() == 1
    gone.cancel()
    lane.inner.gate.set()
    await first
    assert _waiting() == 0
    # The one that left never ran, and the lane still admits the next.
    await asyncio.wait_for(lane.answer(lane.scope("bulk-3", "/v1/assessments:release")), 1)
    assert lane.inner.finished == ["bulk-1", "bulk-3"]
    with pytest.raises(asyncio.CancelledError):
        await gone


async def test_a_portal_token_the_service_accepts_waits_for_a_turn_and_a_forged_one_does_not(
    engine: AsyncEngine, key: str, tmp_path: Path
) -> None:
    # CSI staff release cohorts from the portal with its identity provider's tokens.
    signer = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp_path / "idp.pem"
    pem.write_bytes(
        signer.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    lane = Lane(engine, key, bulk_concurrency=1, bulk_concurrency_when_busy=0)
    token_settings = lane.settings.model_copy(
        update={
            "jwt_issuer": "https://id.example",
            "jwt_audience": "cpro-api",
            "jwt_public_key_file": pem,
        }
    )
    lane.state.token_verifier = TokenVerifier.from_settings(token_settings)
    now = int(time.time())
    claims = {"iss": "https://id.example", "aud": "cpro-api", "sub": "staff-1", "iat": now}
    staff = jwt.encode(claims | {"exp": now + 300, "cpro_role": "staff"}, signer, "RS256")
    forged = jwt.encode(
        claims | {"exp": now + 300, "cpro_role": "staff"},
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "RS256",
    )
    lane.inner.gate = asyncio.Event()  # staff-1 stays inside until the forged one is done
    sent = asyncio.create_task(
        lane.all(
            [
                lane.scope("bulk-staff-1", "/v1/assessments:release", key=staff),
                lane.scope("bulk-staff-2", "/v1/assessments:release", key=staff),
                lane.scope("bulk-forged", "/v1/assessments:release", key=forged),
            ]
        )
    )
    await _until(lambda: "bulk-forged" in lane.inner.finished)
    lane.inner.gate.set()
    await sent
    assert lane.inner.credentials_checked == {
        "bulk-staff-1": True,
        "bulk-staff-2": True,
        "bulk-forged": False,
    }
    # The forged one did not wait behind the second staff release.
    assert lane.inner.started == ["bulk-staff-1", "bulk-forged", "bulk-staff-2"]
