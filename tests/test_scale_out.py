"""Scale-out: two API processes (`cpro serve --workers 2`) and two webhook workers (`cpro
worker`) on one PostgreSQL. Every event reaches the receiver exactly once, and `/metrics` adds
up all API processes whichever one answers the scrape."""

import asyncio
import json
from pathlib import Path

from httpx import AsyncClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import committed_agency_with_keys, person
from tests.integrations.receiver import receiver
from tests.served import clean_env, processes, served

EVENTS = 120
BATCH = 10
BATCH_ROUTE = "/v1/agencies/{agency}/candidates:batch"


def _batch_requests(metrics_text: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(metrics_text)
        for sample in family.samples
        if sample.name == "cpro_http_requests_total"
        and sample.labels.get("route") == BATCH_ROUTE
        and sample.labels.get("status") == "200"
    )


async def test_two_api_and_two_worker_processes_deliver_each_event_once(
    tmp_path: Path, database_url: str, engine: AsyncEngine
) -> None:
    code, _, hris = await committed_agency_with_keys(engine)
    env = clean_env(
        CPRO_DATABASE_URL=database_url,
        CPRO_DATA_DIR=str(tmp_path / "data"),
        CPRO_RUN_WORKER="false",
        CPRO_WEBHOOK_ALLOW_PRIVATE_TARGETS="true",
        CPRO_WEBHOOK_TIMEOUT_SECONDS="5",
        CPRO_RATE_LIMIT_ANONYMOUS="0",
        CPRO_RATE_LIMIT_KEY="0",
    )
    with (
        receiver() as hook,
        served(env, tmp_path, "--workers", "2") as base,
        processes([["worker"], ["worker"]], env, tmp_path),
    ):
        async with AsyncClient(base_url=base, timeout=60) as client:
            subscribed = await client.post(
                "/v1/webhook-subscriptions",
                json={"url": hook.url, "events": ["candidate.created"]},
                headers=hris,
            )
            assert subscribed.status_code == 201, subscribed.text

            async def sync(first: int) -> None:
                items = [
                    person(n, external_id=f"SCALE-{n:04d}") for n in range(first, first + BATCH)
                ]
                response = await client.post(
                    f"/v1/agencies/{code}/candidates:batch", json={"items": items}, headers=hris
                )
                assert response.status_code == 200, response.text

            # New connections each time, so that both API processes take requests.
            await asyncio.gather(*(sync(first) for first in range(0, EVENTS, BATCH)))

            for _ in range(4):
                scraped = await client.get("/metrics", headers={"Connection": "close"})
                assert scraped.status_code == 200
                assert _batch_requests(scraped.text) == EVENTS // BATCH

            await asyncio.to_thread(hook.wait_for, EVENTS, 90)
            await asyncio.sleep(3)  # long enough for a duplicate to show up
            received = list(hook.received)

    bodies = [json.loads(r.body) for r in received]
    message_ids = [r.headers["webhook-id"] for r in received]
    external_ids = sorted(b["data"]["external_id"] for b in bodies)
    assert len(received) == EVENTS, f"{len(received)} deliveries for {EVENTS} events"
    assert len(set(message_ids)) == EVENTS  # no duplicate
    assert external_ids == [f"SCALE-{n:04d}" for n in range(EVENTS)]  # none lost
    assert all(b["data"]["agency"] == code for b in bodies)
