"""Results, certificates and orientation on the change feed and webhooks: a certifying release
reads `assessment.released`, `certificate.issued`, then the candidate's transitions, in feed
order and in delivery order, each delivery verified with the `standardwebhooks` library
against a real receiver; events carry ids only."""

import asyncio
import json
from typing import Any

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncEngine
from standardwebhooks import Webhook

from app.core.settings import Settings
from tests.assessments.rounds import TO_ASSESSMENT_BY_RPL, move, open_round, score_all
from tests.factories import committed_agency_with_keys, person
from tests.integrations.receiver import receiver
from tests.integrations.test_webhooks import running_worker

LIFECYCLE = [
    "candidate.transitioned",
    "assessment.released",
    "certificate.issued",
    "certificate.revoked",
]


async def _certify(
    client: AsyncClient, admin: dict[str, str], hris: dict[str, str], code: str
) -> tuple[str, str, str]:
    """A candidate synced by the HRIS, taken to assessment, scored, released (certified) and
    then revoked; returns the candidate id, round id and serial."""
    synced = await client.put(
        f"/v1/agencies/{code}/candidates/E1",
        json=person(1, given_name="Maria", family_name="Santos"),
        headers=hris,
    )
    assert synced.status_code == 201, synced.text
    cid = synced.json()["id"]
    await move(client, admin, cid, TO_ASSESSMENT_BY_RPL)
    round_ = await open_round(client, admin, cid)
    await score_all(client, admin, round_, dict.fromkeys(round_["competencies"], 90))
    released = await client.post(f"/v1/assessments/{round_['id']}/release", headers=admin)
    assert released.status_code == 200, released.text
    serial = released.json()["certificate"]["serial"]
    revoked = await client.post(
        f"/v1/certificates/{serial}/revoke",
        json={"reason": "Maria Santos asked for it", "category": "holder_request"},
        headers=admin,
    )
    assert revoked.status_code == 200, revoked.text
    return cid, round_["id"], serial


def _expected(cid: str, round_id: str, serial: str) -> list[tuple[str, dict[str, Any]]]:
    steps = [("candidate.transitioned", {"to": to}) for to, _ in TO_ASSESSMENT_BY_RPL]
    return [
        *steps,
        (
            "assessment.released",
            {"assessment_id": round_id, "outcome": "certified", "passed_count": 5},
        ),
        ("certificate.issued", {"serial": serial, "assessment_id": round_id}),
        ("candidate.transitioned", {"from": "for_assessment", "to": "assessed"}),
        ("candidate.transitioned", {"from": "assessed", "to": "certified"}),
        ("certificate.revoked", {"serial": serial, "reason_category": "holder_request"}),
    ]


def _matches(data: dict[str, Any], expected: dict[str, Any]) -> bool:
    return all(data.get(k) == v for k, v in expected.items())


async def test_a_certifying_release_is_told_in_order_on_the_feed_and_to_webhooks(
    live_client: AsyncClient, engine: AsyncEngine, settings: Settings
) -> None:
    code, admin, hris = await committed_agency_with_keys(engine)
    with receiver() as hook:
        created = await live_client.post(
            "/v1/webhook-subscriptions",
            json={"url": hook.url, "events": LIFECYCLE},
            headers=hris,
        )
        assert created.status_code == 201, created.text
        secret = created.json()["secret"]
        cid, round_id, serial = await _certify(live_client, admin, hris, code)
        expected = _expected(cid, round_id, serial)
        async with running_worker(engine, settings):
            received = await asyncio.to_thread(hook.wait_for, len(expected))
        await asyncio.sleep(0.3)  # nothing more may come

    verifier = Webhook(secret)
    delivered = [verifier.verify(r.body, r.headers) for r in hook.received]
    assert [d["type"] for d in delivered] == [t for t, _ in expected]
    for body, (_, data) in zip(delivered, expected, strict=True):
        assert body["data"]["candidate_id"] == cid and body["data"]["agency"] == code
        assert _matches(body["data"], data), (body, data)
    for r in received:
        text = r.body.decode()
        assert "Maria" not in text and "Santos" not in text and "asked" not in text

    feed = await live_client.get(
        "/v1/candidate-events", params={"agency": code, "limit": 200}, headers=hris
    )
    mine = [e for e in feed.json()["items"] if e["candidate_id"] == cid]
    # The feed has the creation too, which the subscription did not ask for.
    assert mine[0]["type"] == "candidate.created"
    assert [(e["type"]) for e in mine[1:]] == [t for t, _ in expected]
    for event, (_, data) in zip(mine[1:], expected, strict=True):
        assert _matches(event["data"], data), (event, data)
    # Delivery order is feed order: the webhook ids are the feed's event ids, in order.
    assert [r.headers["webhook-id"] for r in hook.received] == [e["id"] for e in mine[1:]]
    assert "Maria" not in json.dumps(feed.json())


async def test_a_cohort_release_writes_its_events_per_round_in_order(
    live_client: AsyncClient, engine: AsyncEngine
) -> None:
    """Two rounds released in one batch: each round's result, certificate and transitions come
    together, in request order."""
    code, admin, hris = await committed_agency_with_keys(engine)
    rounds = []
    for n, scores in ((1, [90] * 5), (2, [90, 90, 90, 10, 10])):
        synced = await live_client.put(
            f"/v1/agencies/{code}/candidates/E{n}", json=person(n), headers=hris
        )
        cid = synced.json()["id"]
        await move(live_client, admin, cid, TO_ASSESSMENT_BY_RPL)
        round_ = await open_round(live_client, admin, cid)
        await score_all(
            live_client, admin, round_, dict(zip(round_["competencies"], scores, strict=True))
        )
        rounds.append((cid, round_["id"]))
    batch = await live_client.post(
        "/v1/assessments:release",
        json={"assessment_ids": [r for _, r in rounds]},
        headers=admin,
    )
    assert batch.status_code == 200, batch.text
    feed = (
        await live_client.get(
            "/v1/candidate-events", params={"agency": code, "limit": 200}, headers=hris
        )
    ).json()["items"]
    tail = [(e["type"], e["candidate_id"], e["data"].get("to")) for e in feed][-7:]
    (c1, _), (c2, _) = rounds
    assert tail == [
        ("assessment.released", c1, None),
        ("certificate.issued", c1, None),
        ("candidate.transitioned", c1, "assessed"),
        ("candidate.transitioned", c1, "certified"),
        ("assessment.released", c2, None),
        ("candidate.transitioned", c2, "assessed"),
        ("candidate.transitioned", c2, "supplemental_eligible"),
    ]
    assert feed[-3]["data"]["outcome"] == "supplemental" and feed[-3]["data"]["passed_count"] == 3
