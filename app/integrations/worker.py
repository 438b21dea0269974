"""The webhook delivery worker (``cpro worker``, and inside ``cpro serve`` by default).

Each subscription is delivered in event order, one event at a time. A worker leases a
subscription before delivering (``FOR UPDATE SKIP LOCKED`` then a lease in the row), so several
workers in several processes never deliver the same event at once; a failed delivery is retried
with exponential backoff and jitter and delays only its own subscription. Delivery is
at-least-once: a worker that dies after the receiver answered but before recording it leaves
the event to be sent again, with the same ``webhook-id``.
"""

import asyncio
import contextlib
import logging
import random
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

import httpx
from sqlalchemy import ColumnElement, any_, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.database import utcnow
from app.core.settings import Settings
from app.integrations.models import CandidateEvent, WebhookDelivery, WebhookSubscription
from app.integrations.webhooks import (
    PinnedTarget,
    TargetRefused,
    payload,
    pin_target,
    signed_headers,
    signing_secrets,
)

logger = logging.getLogger(__name__)

LEASE = timedelta(seconds=120)
MAX_BACKOFF_SECONDS = 3600.0


def backoff_seconds(attempt: int) -> float:
    """Exponential (2, 4, 8, ... seconds, at most an hour) with jitter in its upper half."""
    delay = min(MAX_BACKOFF_SECONDS, 2.0**attempt)
    return random.uniform(delay / 2, delay)  # noqa: S311 - jitter, not security


def _pending_for_any() -> ColumnElement[bool]:
    """SQL: the (correlated) subscription has an event it has not been sent."""
    return exists().where(
        CandidateEvent.position > WebhookSubscription.delivered_position,
        or_(
            WebhookSubscription.agency_code.is_(None),
            CandidateEvent.agency_code == WebhookSubscription.agency_code,
        ),
        CandidateEvent.type == any_(WebhookSubscription.events),
    )


def _wanted_by(subscription: WebhookSubscription) -> list[ColumnElement[bool]]:
    conditions = [
        CandidateEvent.position > subscription.delivered_position,
        CandidateEvent.type.in_(subscription.events),
    ]
    if subscription.agency_code is not None:
        conditions.append(CandidateEvent.agency_code == subscription.agency_code)
    return conditions


async def _claim(
    session: AsyncSession, worker_id: str
) -> tuple[WebhookSubscription, CandidateEvent] | None:
    now = utcnow()
    subscription = await session.scalar(
        select(WebhookSubscription)
        .where(
            WebhookSubscription.active,
            WebhookSubscription.next_attempt_at <= now,
            or_(WebhookSubscription.lease_until.is_(None), WebhookSubscription.lease_until < now),
            _pending_for_any(),
        )
        .order_by(WebhookSubscription.next_attempt_at)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if subscription is None:
        return None
    event = await session.scalar(
        select(CandidateEvent)
        .where(*_wanted_by(subscription))
        .order_by(CandidateEvent.position)
        .limit(1)
    )
    assert event is not None
    subscription.lease_owner = worker_id
    subscription.lease_until = now + LEASE
    return subscription, event


async def post_pinned(
    client: httpx.AsyncClient, target: PinnedTarget, body: bytes, headers: dict[str, str]
) -> httpx.Response:
    """POST to the target's checked addresses in turn (the next one when one cannot be reached),
    with the subscribed name as ``Host`` and, for https, as the name the certificate must match."""
    extensions = {"sni_hostname": target.sni_hostname} if target.sni_hostname else {}
    for url in target.urls[:-1]:
        try:
            return await client.post(
                url, content=body, headers=headers | {"host": target.host}, extensions=extensions
            )
        except (httpx.ConnectError, httpx.ConnectTimeout):
            continue  # the next address of the name, as a client would
    return await client.post(
        target.urls[-1],
        content=body,
        headers=headers | {"host": target.host},
        extensions=extensions,
    )


@dataclass(frozen=True)
class Attempt:
    """How one POST to a subscriber went."""

    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


async def attempt_delivery(
    client: httpx.AsyncClient,
    settings: Settings,
    subscription: WebhookSubscription,
    message_id: uuid.UUID,
    body: bytes,
) -> Attempt:
    """POST ``body`` to the subscriber once, signed with its current secret(s); never raises
    for anything about the target (a refused or unreachable one is a failed attempt)."""
    started = time.perf_counter()
    status_code: int | None = None
    error: str | None = None
    try:
        # Checked again at every delivery: a name that was public at subscription time may
        # point inside the network now.
        target = await pin_target(
            subscription.url, allow_private=settings.webhook_allow_private_targets
        )
        now = utcnow()
        response = await post_pinned(
            client,
            target,
            body,
            signed_headers(signing_secrets(subscription, now), message_id, body, now),
        )
        status_code = response.status_code
    except TargetRefused as exc:
        error = f"refused: {exc}"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
    except (OSError, ValueError) as exc:
        # Anything else about this target is a failed attempt too, so that it is logged and
        # retried with backoff instead of holding the lease until it expires.
        error = f"{type(exc).__name__}"
    return Attempt(status_code, error, int((time.perf_counter() - started) * 1000))


def delivery_client(settings: Settings) -> httpx.AsyncClient:
    """The HTTP client deliveries go out on."""
    # No kept-alive connections: deliveries go to checked addresses, and a pooled connection is
    # found by address alone, so a TLS session verified for one subscriber's name could
    # otherwise carry another subscriber's events to the same address.
    return httpx.AsyncClient(
        timeout=settings.webhook_timeout_seconds,
        follow_redirects=False,
        trust_env=False,
        limits=httpx.Limits(max_keepalive_connections=0),
    )


async def deliver_next(
    sessionmaker: async_sessionmaker[AsyncSession],
    client: httpx.AsyncClient,
    settings: Settings,
    worker_id: str,
) -> bool:
    """Deliver one due event of one subscription; False when nothing was due."""
    async with sessionmaker() as session, session.begin():
        claimed = await _claim(session, worker_id)
    if claimed is None:
        return False
    subscription, event = claimed
    sent = await attempt_delivery(client, settings, subscription, event.id, payload(event))
    status_code, error, duration_ms, succeeded = (
        sent.status_code,
        sent.error,
        sent.duration_ms,
        sent.succeeded,
    )

    async with sessionmaker() as session, session.begin():
        current = await session.get(WebhookSubscription, subscription.id, with_for_update=True)
        if current is None or current.lease_owner != worker_id:
            return True  # deleted, or the lease expired and another worker took over
        attempt = current.attempts + 1
        session.add(
            WebhookDelivery(
                subscription_id=current.id,
                event_id=event.id,
                event_position=event.position,
                attempt=attempt,
                status_code=status_code,
                error=error,
                duration_ms=duration_ms,
                succeeded=succeeded,
                at=utcnow(),
            )
        )
        if succeeded or attempt >= settings.webhook_max_attempts:
            if not succeeded:
                logger.warning(
                    "webhook event given up",
                    extra={"subscription_id": str(current.id), "attempts": attempt},
                )
            current.delivered_position = event.position
            current.attempts = 0
            current.next_attempt_at = utcnow()
        else:
            current.attempts = attempt
            current.next_attempt_at = utcnow() + timedelta(seconds=backoff_seconds(attempt))
        current.lease_owner = None
        current.lease_until = None
    return True


async def run_worker(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    stop: asyncio.Event,
    *,
    concurrency: int = 4,
    idle_seconds: float = 0.5,
) -> None:
    """Deliver until ``stop`` is set; ``concurrency`` subscriptions at a time, so one slow
    receiver holds up only itself."""
    worker_id = uuid.uuid4().hex
    async with delivery_client(settings) as client:

        async def loop() -> None:
            while not stop.is_set():
                try:
                    worked = await deliver_next(sessionmaker, client, settings, worker_id)
                except Exception:
                    logger.exception("webhook delivery loop error")
                    worked = False
                if not worked:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=idle_seconds)

        await asyncio.gather(*(loop() for _ in range(concurrency)))
