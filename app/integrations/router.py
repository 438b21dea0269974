import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, status
from sqlalchemy import select

from app.agencies.schemas import AgencyCode
from app.auth.dependencies import Allow
from app.auth.roles import Role
from app.auth.service import Caller
from app.core.database import Session
from app.core.errors import Forbidden, problem_responses
from app.core.pagination import (
    DEFAULT_LIMIT,
    Cursor,
    Limit,
    Page,
    decode_cursor,
    encode_cursor,
    paginate,
)
from app.integrations import subscriptions, webhooks
from app.integrations.feed import read_events
from app.integrations.models import WebhookDelivery, WebhookSubscription
from app.integrations.schemas import (
    CandidateEventOut,
    CandidateEventPage,
    SecretRotationIn,
    WebhookDeliveryOut,
    WebhookSubscriptionCreated,
    WebhookSubscriptionIn,
    WebhookSubscriptionOut,
    WebhookSubscriptionPatch,
)

router = APIRouter(prefix="/v1", tags=["Change feed and webhooks"])

FeedReader = Annotated[Caller, Depends(Allow(Role.admin, Role.staff, Role.agency))]


@router.get(
    "/candidate-events",
    responses=problem_responses(401, 403, 422),
    summary="Read the candidate change feed",
)
async def list_candidate_events(
    session: Session,
    caller: FeedReader,
    agency: Annotated[
        AgencyCode | None, Query(description="Only this agency's candidates.")
    ] = None,
    after: Annotated[
        str | None,
        Query(
            max_length=100, description="A cursor from this feed; omit to start at the beginning."
        ),
    ] = None,
    limit: Limit = DEFAULT_LIMIT,
) -> CandidateEventPage:
    """Every creation, change and transition of candidates, every released result, issued or
    revoked certificate and orientation registration, in commit order (a release that
    certifies reads `assessment.released`, `certificate.issued`, then the candidate's
    transitions). Events carry ids, statuses and counts, never personal data. Resuming after
    any cursor misses nothing and repeats nothing, even while others write: poll with the
    `next_cursor` you got. Agency keys read their own agency's events only."""
    if caller.role is Role.agency:
        if agency not in (None, caller.agency_code):
            raise Forbidden(f"This key is bound to agency {caller.agency_code!r}.")
        agency = caller.agency_code
    position = decode_cursor(after, (int,), list_name="candidate-events")[0] if after else 0
    events = await read_events(session, after=position, limit=limit, agency_code=agency)
    items = [
        CandidateEventOut(
            cursor=encode_cursor([e.position], list_name="candidate-events"),
            id=e.id,
            type=e.type,
            candidate_id=e.candidate_id,
            agency=e.agency_code,
            data=e.data,
            occurred_at=e.occurred_at,
        )
        for e in events
    ]
    return CandidateEventPage(items=items, next_cursor=items[-1].cursor if items else after)


WebhookOwner = Annotated[Caller, Depends(Allow(Role.admin, Role.agency))]


@router.post(
    "/webhook-subscriptions",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 422),
    summary="Subscribe a URL to candidate events",
)
async def create_webhook_subscription(
    body: WebhookSubscriptionIn, request: Request, session: Session, caller: WebhookOwner
) -> WebhookSubscriptionCreated:
    """Events from now on are POSTed to `url`, signed as Standard Webhooks says (`webhook-id`,
    `webhook-timestamp`, `webhook-signature`: `v1,` + base64 HMAC-SHA256 of
    `id.timestamp.body` with the returned `secret`). Each subscription gets its events in
    order, at least once (deduplicate on `webhook-id`); failures are retried with exponential
    backoff. URLs on internal addresses are refused; redirects are not followed."""
    settings = request.app.state.settings
    subscription = await webhooks.create_subscription(
        session,
        caller,
        url=body.url,
        events=list(body.events),
        agency=body.agency,
        allow_private=settings.webhook_allow_private_targets,
    )
    return WebhookSubscriptionCreated(
        **WebhookSubscriptionOut.model_validate(subscription).model_dump(by_alias=False),
        secret=subscription.secret,
    )


@router.get(
    "/webhook-subscriptions",
    responses=problem_responses(401, 403, 422),
    summary="List webhook subscriptions",
)
async def list_webhook_subscriptions(
    session: Session, caller: WebhookOwner, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT
) -> Page[WebhookSubscriptionOut]:
    """Your subscriptions (an agency's own; all for admin). Secrets are never listed."""
    statement = select(WebhookSubscription)
    if caller.role is Role.agency:
        statement = statement.where(WebhookSubscription.agency_code == caller.agency_code)
    rows, next_cursor = await paginate(
        session,
        statement,
        order_by=[WebhookSubscription.created_at, WebhookSubscription.id],
        cursor=cursor,
        limit=limit,
        key=lambda s: (s.created_at, s.id),
    )
    return Page(
        items=[WebhookSubscriptionOut.model_validate(s) for s in rows], next_cursor=next_cursor
    )


@router.delete(
    "/webhook-subscriptions/{subscription_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403, 404),
    summary="Delete a webhook subscription",
)
async def delete_webhook_subscription(
    subscription_id: uuid.UUID, session: Session, caller: WebhookOwner
) -> None:
    """Stops deliveries at once and deletes the delivery log."""
    await webhooks.delete_subscription(session, caller, subscription_id)


@router.get(
    "/webhook-subscriptions/{subscription_id}/deliveries",
    responses=problem_responses(401, 403, 404, 422),
    summary="A subscription's delivery log",
)
async def list_webhook_deliveries(
    subscription_id: uuid.UUID,
    session: Session,
    caller: WebhookOwner,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[WebhookDeliveryOut]:
    """Every delivery attempt, newest last: status code or error, duration, success."""
    subscription = await webhooks.get_subscription(session, caller, subscription_id)
    rows, next_cursor = await paginate(
        session,
        select(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription.id),
        order_by=[WebhookDelivery.id],
        cursor=cursor,
        limit=limit,
        key=lambda d: (d.id,),
    )
    return Page(items=[WebhookDeliveryOut.model_validate(d) for d in rows], next_cursor=next_cursor)


@router.patch(
    "/webhook-subscriptions/{subscription_id}",
    responses=problem_responses(401, 403, 404, 422),
    summary="Pause, resume or change a webhook subscription",
)
async def patch_webhook_subscription(
    subscription_id: uuid.UUID,
    body: WebhookSubscriptionPatch,
    request: Request,
    session: Session,
    caller: WebhookOwner,
) -> WebhookSubscriptionOut:
    """Change any of `active`, `url` (checked as at creation), `events`. A paused
    subscription (`active: false`) is sent nothing; resumed, it gets what happened meanwhile,
    in order, from where it stopped."""
    subscription = await subscriptions.update_subscription(
        session,
        caller,
        subscription_id,
        active=body.active,
        url=body.url,
        events=list(body.events) if body.events is not None else None,
        settings=request.app.state.settings,
    )
    return WebhookSubscriptionOut.model_validate(subscription)


@router.post(
    "/webhook-subscriptions/{subscription_id}/rotate-secret",
    responses=problem_responses(401, 403, 404, 422),
    summary="Rotate a webhook subscription's signing secret",
)
async def rotate_webhook_secret(
    subscription_id: uuid.UUID, body: SecretRotationIn, session: Session, caller: WebhookOwner
) -> WebhookSubscriptionCreated:
    """Returns the new `secret` (shown only here). For `overlap_seconds` the previous secret
    signs too: `webhook-signature` then holds two space-separated `v1,...` signatures, as
    Standard Webhooks allows, so a receiver verifying with either secret accepts the message
    and can switch to the new one when it is ready."""
    subscription = await subscriptions.rotate_secret(
        session, caller, subscription_id, body.overlap_seconds
    )
    return WebhookSubscriptionCreated(
        **WebhookSubscriptionOut.model_validate(subscription).model_dump(by_alias=False),
        secret=subscription.secret,
    )


@router.post(
    "/webhook-subscriptions/{subscription_id}/test",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404),
    summary="Send a test event to a webhook subscription",
)
async def test_webhook_subscription(
    subscription_id: uuid.UUID, request: Request, session: Session, caller: WebhookOwner
) -> WebhookDeliveryOut:
    """POSTs a `webhook.test` event (`data`: `event_id`, `subscription_id`) to the URL now,
    signed like every delivery, and returns the logged attempt: the receiver's status code or
    the error. Not on the feed; never retried."""
    delivery = await subscriptions.send_test(
        session, caller, subscription_id, request.app.state.settings
    )
    return WebhookDeliveryOut.model_validate(delivery)


@router.post(
    "/webhook-subscriptions/{subscription_id}/deliveries/{delivery_id}/retry",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 409),
    summary="Send a past delivery again",
)
async def retry_webhook_delivery(
    subscription_id: uuid.UUID,
    delivery_id: Annotated[
        str,
        Path(
            pattern=r"^[1-9][0-9]{0,17}$",
            max_length=18,
            description="The `id` of an entry in the subscription's delivery log.",
            examples=["42"],
        ),
    ],
    request: Request,
    session: Session,
    caller: WebhookOwner,
) -> WebhookDeliveryOut:
    """Sends that delivery's event again now, with the same `webhook-id` (receivers that
    deduplicate see it once), and returns the new logged attempt. For an event given up after
    the last retry, or one the receiver lost. After a success, the subscription's backoff is
    reset, so what is still pending goes out at once. A `webhook.test` delivery: 409."""
    delivery = await subscriptions.retry_delivery(
        session, caller, subscription_id, int(delivery_id), request.app.state.settings
    )
    return WebhookDeliveryOut.model_validate(delivery)
