import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from standardwebhooks import Webhook

from app.auth.roles import Role
from app.core.database import create_sessionmaker
from app.core.errors import ProblemError
from app.core.settings import Settings
from app.integrations.models import WebhookSubscription
from app.integrations.webhooks import TargetRefused, check_target, pin_target
from app.integrations.worker import run_worker
from tests.factories import auth_headers, committed_agency_with_keys, make_agency, person
from tests.integrations.receiver import receiver


@asynccontextmanager
async def running_worker(engine: AsyncEngine, settings: Settings) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_worker(create_sessionmaker(engine), settings, stop, idle_seconds=0.05)
    )
    try:
        yield
    finally:
        stop.set()
        await task


async def test_deliveries_are_signed_ordered_and_logged(
    live_client: AsyncClient, engine: AsyncEngine, settings: Settings
) -> None:
    code, _, hris = await committed_agency_with_keys(engine)
    with receiver() as hook:
        created = await live_client.post(
            "/v1/webhook-subscriptions",
            json={"url": hook.url, "events": ["candidate.created", "candidate.updated"]},
            headers=hris,
        )
        assert created.status_code == 201, created.text
        subscription = created.json()
        assert subscription["agency"] == code and subscription["secret"].startswith("whsec_")
        for n in range(3):
            await live_client.put(
                f"/v1/agencies/{code}/candidates/E{n}", json=person(n), headers=hris
            )
        await live_client.put(
            f"/v1/agencies/{code}/candidates/E0", json=person(0, salary_grade=30), headers=hris
        )
        async with running_worker(engine, settings):
            received = await asyncio.to_thread(hook.wait_for, 4)
        verifier = Webhook(subscription["secret"])
        bodies = [verifier.verify(r.body, r.headers) for r in received]
        assert [b["type"] for b in bodies] == ["candidate.created"] * 3 + ["candidate.updated"]
        assert [b["data"]["external_id"] for b in bodies] == ["E0", "E1", "E2", "E0"]
        assert len({r.headers["webhook-id"] for r in received}) == 4
        assert all("Family" not in r.body.decode() for r in received)

    log = (
        await live_client.get(
            f"/v1/webhook-subscriptions/{subscription['id']}/deliveries", headers=hris
        )
    ).json()
    assert [d["succeeded"] for d in log["items"]] == [True] * 4


async def test_a_tampered_delivery_fails_verification(
    live_client: AsyncClient, engine: AsyncEngine, settings: Settings
) -> None:
    code, _, hris = await committed_agency_with_keys(engine)
    with receiver() as hook:
        secret = (
            await live_client.post(
                "/v1/webhook-subscriptions",
                json={"url": hook.url, "events": ["candidate.created"]},
                headers=hris,
            )
        ).json()["secret"]
        await live_client.put(f"/v1/agencies/{code}/candidates/E1", json=person(1), headers=hris)
        async with running_worker(engine, settings):
            (delivery,) = await asyncio.to_thread(hook.wait_for, 1)
    tampered = json.loads(delivery.body)
    tampered["data"]["external_id"] = "E2"
    with pytest.raises(Exception, match=r"(?i)signature"):
        Webhook(secret).verify(json.dumps(tampered).encode(), delivery.headers)


async def test_a_failing_receiver_is_retried_and_does_not_hold_up_others(
    live_client: AsyncClient, engine: AsyncEngine, settings: Settings
) -> None:
    code, admin, hris = await committed_agency_with_keys(engine)
    with (
        receiver(status=503) as broken,
        receiver(delay=0.0) as healthy,
        receiver(delay=5.0) as slow,
    ):
        ids = {}
        for name, hook in (("broken", broken), ("healthy", healthy), ("slow", slow)):
            response = await live_client.post(
                "/v1/webhook-subscriptions",
                json={"url": hook.url, "events": ["candidate.created"], "agency": code},
                headers=admin,
            )
            ids[name] = response.json()["id"]
        for n in range(3):
            await live_client.put(
                f"/v1/agencies/{code}/candidates/E{n}", json=person(n), headers=hris
            )
        async with running_worker(engine, settings):
            got = await asyncio.to_thread(healthy.wait_for, 3, 4.0)
            assert len(got) == 3, "a broken or hanging receiver held up a healthy one"
            await asyncio.to_thread(broken.wait_for, 1)
    async with engine.connect() as connection:
        broken_row = (
            await connection.execute(
                select(WebhookSubscription).where(WebhookSubscription.id == ids["broken"])
            )
        ).one()
    assert broken_row.attempts >= 1
    assert broken_row.next_attempt_at > broken_row.created_at


async def test_internal_urls_are_refused_unless_allowed() -> None:
    for url in (
        "http://127.0.0.1:8080/x",
        "http://10.0.0.5/x",
        "http://169.254.169.254/latest/meta-data",
        "ftp://example.org/x",
    ):
        with pytest.raises(ProblemError) as refused:
            await check_target(url, allow_private=False)
        assert refused.value.status == 422
    await check_target("http://127.0.0.1:8080/x", allow_private=True)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "100.64.0.1",  # carrier-grade NAT
        "192.0.2.10",  # documentation
        "::1",
        "fe80::1",
        "fd00::5",
        "::ffff:10.0.0.1",  # IPv4-mapped
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "224.0.0.1",
    ],
)
async def test_internal_addresses_are_refused_at_delivery_in_every_disguise(
    address: str,
) -> None:
    literal = f"[{address}]" if ":" in address else address
    with pytest.raises(TargetRefused):
        await pin_target(f"https://{literal}:8443/hook", allow_private=False)


async def test_a_pinned_target_keeps_the_name_for_host_and_tls_and_every_address_in_order() -> None:
    pinned = await pin_target("https://localhost:8443/hook?x=1", allow_private=True)
    assert pinned.host == "localhost:8443" and pinned.sni_hostname == "localhost"
    assert pinned.urls and all(u.endswith(":8443/hook?x=1") for u in pinned.urls)
    assert "https://127.0.0.1:8443/hook?x=1" in pinned.urls
    literal = await pin_target("http://[::1]:9000/h", allow_private=True)
    assert literal.urls == ["http://[::1]:9000/h"] and literal.host == "[::1]:9000"
    assert literal.sni_hostname is None
    public = await pin_target("http://8.8.8.8/h", allow_private=False)  # an address: no lookup
    assert public.urls == ["http://8.8.8.8/h"]
    with pytest.raises(TargetRefused):
        await pin_target("http://no-such-host.invalid/h", allow_private=True)


async def test_other_agencies_subscriptions_are_not_found(
    client: AsyncClient, session: AsyncSession
) -> None:
    doh = await auth_headers(session, Role.agency, await make_agency(session, "DOH"))
    dbm = await auth_headers(session, Role.agency, await make_agency(session, "DBM"))
    created = (
        await client.post(
            "/v1/webhook-subscriptions",
            json={"url": "http://127.0.0.1:9/x", "events": ["candidate.created"]},
            headers=doh,
        )
    ).json()
    assert (
        await client.delete(f"/v1/webhook-subscriptions/{created['id']}", headers=dbm)
    ).status_code == 404
    assert (
        await client.get(f"/v1/webhook-subscriptions/{created['id']}/deliveries", headers=dbm)
    ).status_code == 404
    assert (
        await client.delete(f"/v1/webhook-subscriptions/{created['id']}", headers=doh)
    ).status_code == 204


async def test_each_delivery_resolves_the_name_again_and_connects_to_the_address_it_checked(
    live_client: AsyncClient, engine: AsyncEngine, settings: Settings
) -> None:
    """A name that was fine when subscribed may point inside the network later (DNS
    rebinding): every delivery resolves it, checks the address, and connects to that address
    while sending the name as Host. Here `localhost` stands for such a name: allowed while
    internal targets are allowed (the suite's setting), refused once they are not."""
    code, _, hris = await committed_agency_with_keys(engine)
    with receiver() as hook:
        by_name = hook.url.replace("127.0.0.1", "localhost")
        created = await live_client.post(
            "/v1/webhook-subscriptions",
            json={"url": by_name, "events": ["candidate.created"]},
            headers=hris,
        )
        assert created.status_code == 201, created.text
        subscription = created.json()["id"]
        await live_client.put(f"/v1/agencies/{code}/candidates/E0", json=person(0), headers=hris)
        async with running_worker(engine, settings):
            received = await asyncio.to_thread(hook.wait_for, 1)
        assert received[0].headers["host"] == by_name.split("/")[2]

        await live_client.put(f"/v1/agencies/{code}/candidates/E1", json=person(1), headers=hris)
        strict = settings.model_copy(update={"webhook_allow_private_targets": False})
        deliveries = f"/v1/webhook-subscriptions/{subscription}/deliveries"
        async with running_worker(engine, strict):
            for _ in range(200):
                log = (await live_client.get(deliveries, headers=hris)).json()["items"]
                if len(log) >= 2:
                    break
                await asyncio.sleep(0.05)
        assert len(hook.received) == 1  # nothing reached the receiver
        refused = [d for d in log if not d["succeeded"]]
        assert refused and "refused" in refused[0]["error"], log
