"""``/metrics``: request counts by route template, latency, pool use, the webhook outbox."""

import uuid

from httpx import AsyncClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import metrics
from app.core.database import create_engine
from app.core.settings import Settings
from app.integrations.models import CandidateEvent, WebhookDelivery, WebhookSubscription

FRAMEWORK = "/v1/frameworks/csc-leadership-competencies"


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def _scrape(client: AsyncClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return _samples(response.text)


def _requests(method: str, route: str, status: str) -> tuple[str, frozenset[tuple[str, str]]]:
    labels = {"method": method, "route": route, "status": status}
    return "cpro_http_requests_total", frozenset(labels.items())


async def test_requests_are_counted_by_route_template_and_status(client: AsyncClient) -> None:
    before = await _scrape(client)
    assert (await client.get(FRAMEWORK)).status_code == 200
    assert (await client.get(FRAMEWORK)).status_code == 200
    assert (await client.get("/v1/frameworks/no-such-framework")).status_code == 404
    assert (await client.get(f"/nothing-here/{uuid.uuid4()}")).status_code == 404
    after = await _scrape(client)

    ok = _requests("GET", "/v1/frameworks/{slug}", "200")
    missing = _requests("GET", "/v1/frameworks/{slug}", "404")
    unmatched = _requests("GET", metrics.UNMATCHED, "404")
    assert after[ok] - before.get(ok, 0) == 2
    assert after[missing] - before.get(missing, 0) == 1
    assert after[unmatched] - before.get(unmatched, 0) == 1
    # No label carries a raw path: probing URLs cannot blow up the series count.
    assert not any("no-such-framework" in str(key) for key in after)

    latency = (
        "cpro_http_request_duration_seconds_count",
        frozenset({"method": "GET", "route": "/v1/frameworks/{slug}"}.items()),
    )
    assert after[latency] - before.get(latency, 0) == 3
    bucket = (
        "cpro_http_request_duration_seconds_bucket",
        frozenset({"method": "GET", "route": "/v1/frameworks/{slug}", "le": "+Inf"}.items()),
    )
    assert after[bucket] == after[latency]


async def test_outbox_depth_counts_undelivered_wanted_events_of_active_subscriptions(
    client: AsyncClient, session: AsyncSession
) -> None:
    depth = ("cpro_webhook_outbox_depth", frozenset())
    failures = ("cpro_webhook_delivery_failures_total", frozenset())
    before = await _scrape(client)
    last = await session.scalar(select(func.coalesce(func.max(CandidateEvent.position), 0)))
    wanted = f"test.metrics.{uuid.uuid4().hex[:8]}"
    subscription = WebhookSubscription(
        url="http://127.0.0.1:9/hook",
        events=[wanted],
        secret="whsec_test",
        delivered_position=last,
    )
    paused = WebhookSubscription(
        url="http://127.0.0.1:9/hook",
        events=[wanted],
        secret="whsec_test",
        delivered_position=last,
        active=False,
    )
    session.add_all([subscription, paused])
    candidate = uuid.uuid4()
    events = [
        CandidateEvent(type=t, candidate_id=candidate, agency_code=None, data={})
        for t in (wanted, wanted, "test.metrics.unwanted", wanted)
    ]
    session.add_all(events)
    await session.flush()
    # The first wanted event has gone out: two are left for the active subscription.
    subscription.delivered_position = events[0].position
    session.add_all(
        [
            WebhookDelivery(
                subscription_id=subscription.id,
                event_id=events[0].id,
                event_position=events[0].position,
                attempt=attempt,
                status_code=status,
                error=None,
                duration_ms=3,
                succeeded=status == 204,
            )
            for attempt, status in ((1, 500), (2, 503), (3, 204))
        ]
    )
    await session.commit()

    after = await _scrape(client)
    assert after[depth] - before[depth] == 2
    assert after[failures] - before[failures] == 2


async def test_pool_gauges_follow_checkouts(settings: Settings, database_url: str) -> None:
    engine = create_engine(database_url, settings)
    size = ("cpro_db_pool_size", frozenset())
    checked_out = ("cpro_db_pool_checked_out", frozenset())
    before = _samples(metrics.render().decode())
    metrics.instrument_pool(engine)
    metrics.instrument_pool(engine)  # counted once
    try:
        async with engine.connect(), engine.connect():
            during = _samples(metrics.render().decode())
        after = _samples(metrics.render().decode())
    finally:
        metrics.uninstrument_pool(engine)
        await engine.dispose()
    gone = _samples(metrics.render().decode())
    assert during[size] - before[size] == settings.db_pool_size
    assert during[checked_out] - before[checked_out] == 2
    assert after[checked_out] == before[checked_out]
    assert gone[size] == before[size]


async def test_metrics_are_not_in_the_contract(client: AsyncClient) -> None:
    contract = (await client.get("/openapi.json")).json()
    assert "/metrics" not in contract["paths"]
