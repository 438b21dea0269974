"""Managing a webhook subscription after it exists: pause or resume it, move it to another URL,
change its events, rotate its secret, send it a test event, and re-send a past delivery.

A test or a re-sent delivery goes out at once, inside the request, with the same signing, target
checks and HTTP client as the worker's, and is logged as a delivery like the worker's are.
"""

import uuid
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.auth.service import Caller
from app.core.database import utcnow
from app.core.errors import Conflict, FieldError, NotFound, UnprocessableEntity
from app.core.settings import Settings
from app.integrations.models import CandidateEvent, WebhookDelivery, WebhookSubscription
from app.integrations.webhooks import (
    check_target,
    get_subscription,
    new_secret,
    payload,
    test_payload,
)
from app.integrations.worker import Attempt, attempt_delivery, delivery_client


async def update_subscription(
    session: AsyncSession,
    caller: Caller,
    subscription_id: uuid.UUID,
    *,
    active: bool | None,
    url: str | None,
    events: list[str] | None,
    settings: Settings,
) -> WebhookSubscription:
    """Change what is given; a resumed subscription is tried at once, from where it stopped
    (events that happened while paused are delivered, in order)."""
    if active is None and url is None and events is None:
        raise UnprocessableEntity(
            "Send at least one of `active`, `url`, `events`.",
            errors=[FieldError(field="body", message="nothing to change")],
        )
    subscription = await get_subscription(session, caller, subscription_id, for_update=True)
    before = {"active": subscription.active, "url": subscription.url, "events": subscription.events}
    if url is not None:
        await check_target(url, allow_private=settings.webhook_allow_private_targets)
        subscription.url = url
    if events is not None:
        subscription.events = sorted(set(events))
    if active is not None:
        if active and not subscription.active:
            subscription.attempts = 0
            subscription.next_attempt_at = utcnow()
        subscription.active = active
    after = {"active": subscription.active, "url": subscription.url, "events": subscription.events}
    changed = [name for name in before if before[name] != after[name]]
    if changed:
        await record(
            session,
            caller,
            "webhook_subscription.update",
            "webhook_subscription",
            subscription.id,
            before={name: before[name] for name in changed},
            after={name: after[name] for name in changed},
        )
    await session.flush()
    return subscription


async def rotate_secret(
    session: AsyncSession, caller: Caller, subscription_id: uuid.UUID, overlap_seconds: int
) -> WebhookSubscription:
    """A new secret signs from now on; the current one signs too for ``overlap_seconds`` (both
    signatures in ``webhook-signature``), so that the receiver can switch when it is ready."""
    subscription = await get_subscription(session, caller, subscription_id, for_update=True)
    now = utcnow()
    subscription.previous_secret = subscription.secret if overlap_seconds > 0 else None
    subscription.previous_secret_expires_at = (
        now + timedelta(seconds=overlap_seconds) if overlap_seconds > 0 else None
    )
    subscription.secret = new_secret()
    await record(
        session,
        caller,
        "webhook_subscription.rotate_secret",
        "webhook_subscription",
        subscription.id,
        after={"previous_secret_expires_at": subscription.previous_secret_expires_at},
    )
    await session.flush()
    return subscription


async def _log(
    session: AsyncSession,
    subscription: WebhookSubscription,
    event_id: uuid.UUID,
    event_position: int,
    attempt: int,
    sent: Attempt,
) -> WebhookDelivery:
    delivery = WebhookDelivery(
        subscription_id=subscription.id,
        event_id=event_id,
        event_position=event_position,
        attempt=attempt,
        status_code=sent.status_code,
        error=sent.error,
        duration_ms=sent.duration_ms,
        succeeded=sent.succeeded,
        at=utcnow(),
    )
    session.add(delivery)
    await session.flush()
    return delivery


async def send_test(
    session: AsyncSession, caller: Caller, subscription_id: uuid.UUID, settings: Settings
) -> WebhookDelivery:
    """POST a ``webhook.test`` event to the subscriber now (paused or not) and log it. It is
    not on the feed and is never re-sent."""
    subscription = await get_subscription(session, caller, subscription_id)
    message_id = uuid.uuid4()
    body = test_payload(message_id, subscription.id, utcnow())
    async with delivery_client(settings) as client:
        sent = await attempt_delivery(client, settings, subscription, message_id, body)
    return await _log(session, subscription, message_id, 0, 1, sent)


async def retry_delivery(
    session: AsyncSession,
    caller: Caller,
    subscription_id: uuid.UUID,
    delivery_id: int,
    settings: Settings,
) -> WebhookDelivery:
    """Send the event of a past delivery again now (same ``webhook-id``: receivers that
    deduplicate see it once) and log the attempt. After a success, the worker's backoff on
    this subscription is reset, so what is still pending goes out at once too."""
    subscription = await get_subscription(session, caller, subscription_id)
    delivery = await session.scalar(
        select(WebhookDelivery).where(
            WebhookDelivery.id == delivery_id, WebhookDelivery.subscription_id == subscription.id
        )
    )
    if delivery is None:
        raise NotFound("No delivery with that id for this subscription.")
    event = await session.scalar(
        select(CandidateEvent).where(CandidateEvent.id == delivery.event_id)
    )
    if event is None:
        raise Conflict("A test delivery is not re-sent: send a new test instead.")
    attempts = await session.scalar(
        select(func.max(WebhookDelivery.attempt)).where(
            WebhookDelivery.subscription_id == subscription.id,
            WebhookDelivery.event_id == event.id,
        )
    )
    async with delivery_client(settings) as client:
        sent = await attempt_delivery(client, settings, subscription, event.id, payload(event))
    await session.refresh(subscription, with_for_update=True)
    if sent.succeeded and subscription.attempts > 0:
        subscription.attempts = 0
        subscription.next_attempt_at = utcnow()
    return await _log(session, subscription, event.id, event.position, (attempts or 0) + 1, sent)
