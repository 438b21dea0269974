"""Bulk requests take turns within a process; everything else goes straight through."""

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import REGISTRY
from starlette.types import Receive, Scope, Send

from app.core.bulk_lane import BulkLane, is_bulk
from app.core.settings import Settings


class _Recorder:
    """An ASGI app that takes a while to answer and notes who was inside at once."""

    def __init__(self) -> None:
        self.inside: set[str] = set()
        self.most_bulk_inside = 0
        self.started: list[str] = []
        self.finished: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        name = scope["name"]
        self.inside.add(name)
        self.started.append(name)
        bulk_inside = sum(1 for n in self.inside if n.startswith("bulk"))
        self.most_bulk_inside = max(self.most_bulk_inside, bulk_inside)
        await asyncio.sleep(0.05 if name.startswith("bulk") else 0)
        self.inside.discard(name)
        self.finished.append(name)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def _scope(name: str, path: str, settings: Settings, method: str = "POST") -> dict[str, Any]:
    app = SimpleNamespace(state=SimpleNamespace(settings=settings))
    return {"type": "http", "method": method, "path": path, "name": name, "app": app}


async def _run(concurrency: int) -> _Recorder:
    settings = Settings(_env_file=None, bulk_concurrency=concurrency)  # type: ignore[call-arg]
    inner = _Recorder()
    lane = BulkLane(inner)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        return None

    requests = [
        _scope("bulk-1", "/v1/agencies/DOH/candidates:batch", settings),
        _scope("bulk-2", "/v1/assessments:release", settings),
        _scope("bulk-3", "/v1/agencies/DOH/candidates:import", settings),
        _scope("bulk-4", "/v1/agencies/DOH/candidates:batch", settings),
        _scope("read-1", "/v1/candidates", settings, method="GET"),
        _scope("write-1", "/v1/candidates", settings),
    ]
    await asyncio.gather(*(lane(scope, receive, send) for scope in requests))
    return inner


async def test_bulk_requests_take_turns_in_arrival_order() -> None:
    inner = await _run(1)
    assert inner.most_bulk_inside == 1
    assert [n for n in inner.finished if n.startswith("bulk")] == [
        "bulk-1",
        "bulk-2",
        "bulk-3",
        "bulk-4",
    ]
    # The others did not wait for any bulk request to finish.
    assert inner.finished[:2] == ["read-1", "write-1"]


@pytest.mark.parametrize(("concurrency", "most"), [(2, 2), (0, 4)])
async def test_the_setting_allows_more_at_once_or_turns_the_lane_off(
    concurrency: int, most: int
) -> None:
    inner = await _run(concurrency)
    assert inner.most_bulk_inside == most


def test_only_the_bulk_custom_methods_are_bulk() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert is_bulk(_scope("a", "/v1/agencies/DOH/candidates:batch", settings))
    assert is_bulk(_scope("a", "/v1/assessments:release", settings))
    assert not is_bulk(_scope("a", "/v1/assessments/abc/release", settings))
    assert not is_bulk(_scope("a", "/v1/assessments:release", settings, method="GET"))
    assert settings.bulk_concurrency == 2


async def _answer(lane: BulkLane, scope: dict[str, Any]) -> None:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        return None

    await lane(scope, receive, send)


async def test_while_other_requests_arrive_bulk_requests_go_one_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("app.core.bulk_lane.BUSY_SECONDS", 0.12)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (settings.bulk_concurrency, settings.bulk_concurrency_when_busy) == (2, 1)
    inner = _Recorder()
    lane = BulkLane(inner)
    await _answer(lane, _scope("read-1", "/v1/candidates", settings, method="GET"))
    bulk = [_scope(f"bulk-{n}", "/v1/agencies/DOH/candidates:batch", settings) for n in range(1, 7)]
    await asyncio.gather(*(_answer(lane, scope) for scope in bulk))
    # Busy for 0.12 s: one at a time (0.05 s each) until then; then two at once, with no
    # other request to wake the waiting ones.
    assert inner.started[1:3] == ["bulk-1", "bulk-2"]
    assert inner.finished[1] == "bulk-1"
    assert inner.most_bulk_inside == 2

    inner = _Recorder()
    lane = BulkLane(inner)
    await _answer(lane, _scope("read-1", "/v1/candidates", settings, method="GET"))
    await asyncio.gather(*(_answer(lane, scope) for scope in bulk[:2]))
    assert inner.most_bulk_inside == 1


async def test_probes_do_not_make_the_process_busy() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    inner = _Recorder()
    lane = BulkLane(inner)
    for path in ("/healthz", "/readyz", "/metrics"):
        await _answer(lane, _scope("probe", path, settings, method="GET"))
    bulk = [_scope(f"bulk-{n}", "/v1/assessments:release", settings) for n in range(1, 4)]
    await asyncio.gather(*(_answer(lane, scope) for scope in bulk))
    assert inner.most_bulk_inside == 2


async def test_the_busy_limit_can_be_turned_off() -> None:
    settings = Settings(_env_file=None, bulk_concurrency_when_busy=0)  # type: ignore[call-arg]
    inner = _Recorder()
    lane = BulkLane(inner)
    await _answer(lane, _scope("read-1", "/v1/candidates", settings, method="GET"))
    bulk = [_scope(f"bulk-{n}", "/v1/assessments:release", settings) for n in range(1, 4)]
    await asyncio.gather(*(_answer(lane, scope) for scope in bulk))
    assert inner.most_bulk_inside == 2


def _waiting() -> float | None:
    return REGISTRY.get_sample_value("cpro_bulk_requests_waiting")


async def test_a_caller_that_leaves_while_waiting_gives_up_its_turn() -> None:
    settings = Settings(_env_file=None, bulk_concurrency=1)  # type: ignore[call-arg]
    inner = _Recorder()
    lane = BulkLane(inner)
    first = asyncio.create_task(
        _answer(lane, _scope("bulk-1", "/v1/assessments:release", settings))
    )
    await asyncio.sleep(0.01)
    gone = asyncio.create_task(_answer(lane, _scope("bulk-2", "/v1/assessments:release", settings)))
    await asyncio.sleep(0.01)
    assert _waiting() == 1
    gone.cancel()
    await first
    assert _waiting() == 0
    # The one that left never ran, and the lane still admits the next.
    await asyncio.wait_for(_answer(lane, _scope("bulk-3", "/v1/assessments:release", settings)), 1)
    assert inner.finished == ["bulk-1", "bulk-3"]
    with pytest.raises(asyncio.CancelledError):
        await gone
