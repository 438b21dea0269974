"""Managing a subscription: pause, resume, change URL and events; rotate the secret (both
signatures sent during the overlap, each verifying with `standardwebhooks`); a test event; and
re-sending a delivery that was given up. Real receivers on 127.0.0.1."""

import asyncio
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from standardwebhooks import Webhook, WebhookVerificationError

from app.auth.roles import Role
from app.core.settings import Settings
from tests.factories import auth_headers, committed_agency_with_keys, make_agency, person
from tests.integrations.receiver import receiver
from tests.integrations.test_webhooks import running_worker

SUBS = "/v1/webhook-subscriptions"


async def _subscribe(
    client: AsyncClient, headers: dict[str, str], url: str, events: list[str]
) -> dict[str, Any]:
    created = await client.post(SUBS, json={"url": url, "events": events}, headers=headers)
    assert created.status_code == 201, created.text
    return created.json()  # type: ignore[no-any-return]


async def test_a_paused_subscription_gets_what_it_missed_in_order_once_resumed(
    live_client: AsyncClient, engine: AsyncEngine, settings: Settings
) -> None:
    code, _, hris = await committed_agency_with_keys(engine)
    with receiver() as first, receiver() as second:
        sub = await _subscribe(live_client, hris, first.url, ["candidate.created"])
        paused = await live_client.patch(
            f"{SUBS}/{sub['id']}", json={"active": False}, headers=hris
        )
        assert paused.status_code == 200 and paused.json()["active"] is False
        for n in range(2):
            await live_client.put(
                f"/v1/agencies/{code}/candidates/P{n}", json=person(n), headers=hris
            )
        async with running_worker(engine, settings):
            await asyncio.sleep(0.5)
        assert first.received == []
        moved = await live_client.patch(
            f"{SUBS}/{sub['id']}",
            json={
                "active": True,
                "url": second.url,
                "events": ["candidate.created", "candidate.updated"],
            },
            headers=hris,
        )
        assert moved.status_code == 200, moved.text
        assert moved.json()["events"] == ["candidate.created", "candidate.updated"]
        await live_client.put(
            f"/v1/agencies/{code}/candidates/P0", json=person(0, salary_grade=24), headers=hris
        )
        async with running_worker(engine, settings):
            got = await asyncio.to_thread(second.wait_for, 3)
    bodies = [Webhook(sub["secret"]).verify(r.body, r.headers) for r in got]
    assert [(b["type"], b["data"]["external_id"]) for b in bodies] == [
        ("candidate.created", "P0"),
        ("candidate.created", "P1"),
        ("candidate.updated", "P0"),
    ]
    assert first.received == []


async def test_bad_changes_are_refused_and_change_nothing(
    client: AsyncClient, session: AsyncSession
) -> None:
    doh = await auth_headers(session, Role.agency, await make_agency(session, "DOH"))
    dbm = await auth_headers(session, Role.agency, await make_agency(session, "DBM"))
    sub = await _subscribe(client, doh, "http://127.0.0.1:9/x", ["candidate.created"])
    url = f"{SUBS}/{sub['id']}"
    for body, field in (
        ({}, "body"),
        ({"url": "ftp://example.org/x"}, "body.url"),
        ({"events": ["candidate.deleted"]}, "body.events[0]"),
        ({"events": []}, "body.events"),
        ({"active": "maybe"}, "body.active"),
        ({"secret": "whsec_x"}, "body.secret"),
    ):
        refused = await client.patch(url, json=body, headers=doh)
        assert refused.status_code == 422, (body, refused.text)
        assert refused.json()["errors"][0]["field"] == field, refused.json()
    assert (await client.patch(url, json={"active": False}, headers=dbm)).status_code == 404
    listed = (await client.get(SUBS, headers=doh)).json()["items"]
    assert [(s["url"], s["events"], s["active"]) for s in listed] == [
        ("http://127.0.0.1:9/x", ["candidate.created"], True)
    ]
    for path in ("rotate-secret", "test"):
        other = await client.post(f"{url}/{path}", json={}, headers=dbm)
        assert other.status_code == 404, path
    long = await client.post(
        f"{url}/rotate-secret", json={"overlap_seconds": 8 * 86400}, headers=doh
    )
    assert long.status_code == 422


async def test_during_a_rotation_both_secrets_verify_and_after_it_only_the_new(
    live_client: AsyncClient, engine: AsyncEngine
) -> None:
    _, _, hris = await committed_agency_with_keys(engine)
    with receiver() as hook:
        sub = await _subscribe(live_client, hris, hook.url, ["candidate.created"])
        rotated = await live_client.post(
            f"{SUBS}/{sub['id']}/rotate-secret", json={"overlap_seconds": 3600}, headers=hris
        )
        assert rotated.status_code == 200, rotated.text
        new = rotated.json()["secret"]
        assert new != sub["secret"] and rotated.json()["previous_secret_expires_at"]
        sent = await live_client.post(f"{SUBS}/{sub['id']}/test", headers=hris)
        assert sent.status_code == 201, sent.text
        assert sent.json()["succeeded"] is True and sent.json()["status_code"] == 204
        overlap = hook.received[-1]
        assert len(overlap.headers["webhook-signature"].split(" ")) == 2
        for secret in (sub["secret"], new):
            body = Webhook(secret).verify(overlap.body, overlap.headers)
            assert body["type"] == "webhook.test"
            assert body["data"]["subscription_id"] == sub["id"]

        final = await live_client.post(
            f"{SUBS}/{sub['id']}/rotate-secret", json={"overlap_seconds": 0}, headers=hris
        )
        newest = final.json()["secret"]
        await live_client.post(f"{SUBS}/{sub['id']}/test", headers=hris)
        after = hook.received[-1]
        assert len(after.headers["webhook-signature"].split(" ")) == 1
        Webhook(newest).verify(after.body, after.headers)
        for stale in (sub["secret"], new):
            with pytest.raises(WebhookVerificationError):
                Webhook(stale).verify(after.body, after.headers)


async def test_a_given_up_delivery_is_sent_again_on_request(
    live_client: AsyncClient, engine: AsyncEngine, settings: Settings
) -> None:
    code, _, hris = await committed_agency_with_keys(engine)
    once = settings.model_copy(update={"webhook_max_attempts": 1})
    with receiver(status=503) as hook:
        sub = await _subscribe(live_client, hris, hook.url, ["candidate.created"])
        await live_client.put(f"/v1/agencies/{code}/candidates/R1", json=person(1), headers=hris)
        async with running_worker(engine, once):
            (failed,) = await asyncio.to_thread(hook.wait_for, 1)
            await asyncio.sleep(0.3)
        log = (await live_client.get(f"{SUBS}/{sub['id']}/deliveries", headers=hris)).json()
        (given_up,) = log["items"]
        assert given_up["succeeded"] is False and given_up["status_code"] == 503

        hook.status = 204
        retried = await live_client.post(
            f"{SUBS}/{sub['id']}/deliveries/{given_up['id']}/retry", headers=hris
        )
        assert retried.status_code == 201, retried.text
        assert retried.json()["succeeded"] is True and retried.json()["attempt"] == 2
        assert retried.json()["event_id"] == given_up["event_id"]
        again = hook.received[-1]
        assert again.headers["webhook-id"] == failed.headers["webhook-id"]
        assert Webhook(sub["secret"]).verify(again.body, again.headers)["type"] == (
            "candidate.created"
        )

        test = await live_client.post(f"{SUBS}/{sub['id']}/test", headers=hris)
        refused = await live_client.post(
            f"{SUBS}/{sub['id']}/deliveries/{test.json()['id']}/retry", headers=hris
        )
        assert refused.status_code == 409
        missing = await live_client.post(
            f"{SUBS}/{sub['id']}/deliveries/999999999/retry", headers=hris
        )
        assert missing.status_code == 404


async def test_a_test_event_to_a_failing_receiver_reports_the_failure(
    live_client: AsyncClient, engine: AsyncEngine
) -> None:
    _, _, hris = await committed_agency_with_keys(engine)
    with receiver(status=500) as hook:
        sub = await _subscribe(live_client, hris, hook.url, ["candidate.created"])
        sent = await live_client.post(f"{SUBS}/{sub['id']}/test", headers=hris)
    assert sent.status_code == 201
    assert (sent.json()["succeeded"], sent.json()["status_code"]) == (False, 500)
    log = (await live_client.get(f"{SUBS}/{sub['id']}/deliveries", headers=hris)).json()["items"]
    assert [d["id"] for d in log] == [sent.json()["id"]]
