"""The portal users of the mixed scenario, run in a process of their own (spawned: it imports
nothing of the service) so that the load generators' work never delays their requests."""

import asyncio
import random
import time
from multiprocessing.synchronize import Event as EventType
from typing import Any

import httpx

FILTERS = (
    {},
    {"agency": "BA03"},
    {"status": "enrolled"},
    {"q": "Santos"},
    {"agency": "BA05", "status": "certified"},
)


def users(
    base: str,
    headers: dict[str, str],
    known: list[str],
    ready: EventType,
    stop: EventType,
    found: Any,
) -> None:
    """Four portal users in a process of their own (so that the load generators' own work
    never delays them): (finished at, seconds) of every read, put on ``found`` at the end."""
    timed: list[tuple[float, float]] = []

    async def user(client: httpx.AsyncClient, seed: int) -> None:
        rng = random.Random(seed)  # noqa: S311 - load pattern, not secrets
        while not stop.is_set():
            params = dict(rng.choice(FILTERS)) | {"limit": "20"}
            cursor = None
            for _page in range(3):
                started = time.perf_counter()
                page = await client.get(
                    "/v1/candidates",
                    params=params | ({"cursor": cursor} if cursor else {}),
                    headers=headers,
                )
                timed.append((time.time(), time.perf_counter() - started))
                ready.set()
                assert page.status_code == 200, page.text[:300]
                body = page.json()
                known.extend(c["id"] for c in body["items"][:2])
                started = time.perf_counter()
                one = await client.get(f"/v1/candidates/{rng.choice(known)}", headers=headers)
                timed.append((time.time(), time.perf_counter() - started))
                assert one.status_code == 200, one.text[:300]
                cursor = body["next_cursor"]
                if cursor is None:
                    break

    async def all_users() -> None:
        limits = httpx.Limits(max_connections=4, max_keepalive_connections=4)
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as client:
            await asyncio.gather(*(user(client, n) for n in range(4)))

    asyncio.run(all_users())
    found.put(timed)
