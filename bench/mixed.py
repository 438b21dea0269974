"""(7) Portal reads while an HRIS sync and a cohort release run: what a person at the CSI portal
waits for when the machines are busy."""

import asyncio
import multiprocessing
import time
from typing import Any

import httpx

from bench import load, portal, scenarios

Row = dict[str, Any]


async def mixed_load(
    base: str, admin: dict[str, str], url: str, sync_count: int, release_count: int
) -> list[Row]:
    """Four portal users page through candidate lists and open candidates (staff key, no pause)
    while ``sync_count`` candidates arrive by ``candidates:batch`` (1,000 a request, 2 at once)
    and ``release_count`` rounds are released (1,000 a request, 2 at once). Latencies count
    only while both are running."""
    limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as client:
        hris = await scenarios._agency_key(client, admin, "MIX")
        put = await client.put("/v1/agencies/REL", json={"name": "Bench releases"}, headers=admin)
        assert put.status_code in (200, 201)
        template = await scenarios._prepare_round_through_the_api(client, admin, "MIX-TEMPLATE")
        rounds = await load.clone_complete_rounds(
            url, template, release_count, external_prefix="MIXREL-"
        )
        seen = (await client.get("/v1/candidates", params={"limit": 50}, headers=admin)).json()
        known = [c["id"] for c in seen["items"]]
        assert known

        spawn = multiprocessing.get_context("spawn")
        ready, stop, found = spawn.Event(), spawn.Event(), spawn.Queue()
        readers = spawn.Process(target=portal.users, args=(base, admin, known, ready, stop, found))
        readers.start()
        assert await asyncio.to_thread(ready.wait, 120), "the portal users did not start"
        batches = [
            [
                {
                    "external_id": f"MIX-{n:08d}",
                    "given_name": f"Given{n}",
                    "family_name": f"{load.FAMILY_NAMES[n % 8]}{n}",
                    "email": f"person{n}@mix.example",
                    "position_title": "Supervising Administrative Officer",
                    "salary_grade": 18 + n % 12,
                    "priority": 1 + n % 4,
                }
                for n in range(first, min(first + 1000, sync_count))
            ]
            for first in range(0, sync_count, 1000)
        ]

        window: dict[str, float] = {}

        async def sync() -> float:
            started = time.perf_counter()

            async def sender() -> None:
                while batches:
                    items = batches.pop()
                    response = await client.post(
                        "/v1/agencies/MIX/candidates:batch", json={"items": items}, headers=hris
                    )
                    assert response.status_code == 200, response.text[:300]

            await asyncio.gather(sender(), sender())
            window.setdefault("end", time.time())
            return time.perf_counter() - started

        async def release() -> float:
            seconds = await scenarios._release_in_batches(client, admin, rounds, 1000, 2)
            window.setdefault("end", time.time())
            return seconds

        window["start"] = time.time()
        sync_seconds, release_seconds = await asyncio.gather(sync(), release())
        stop.set()
        timed: list[tuple[float, float]] = found.get(timeout=60)
        readers.join(timeout=30)
    # Only what was read while both ran.
    latencies = [seconds for at, seconds in timed if window["start"] <= at <= window["end"]]
    scenario = (
        f"7. portal reads (4 users) during an HRIS sync of {sync_count:,} and a release of "
        f"{release_count:,}"
    )
    assert latencies, "no portal read finished while both ran"
    p99 = scenarios._ms(latencies, 0.99)
    return [
        _row(scenario, "portal requests measured", len(latencies)),
        _row(scenario, "portal p50 ms", scenarios._ms(latencies, 0.5)),
        _row(scenario, "portal p99 ms", p99, "< 100", p99 < 100),
        _row(scenario, "sync seconds (alongside)", round(sync_seconds, 2)),
        _row(scenario, "release seconds (alongside)", round(release_seconds, 2)),
    ]


def _row(scenario: str, measure: str, value: Any, target: str = "", met: bool | None = None) -> Row:
    return {"scenario": scenario, "measure": measure, "value": value, "target": target, "met": met}
