import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status
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
from app.integrations import webhooks
from app.integrations.feed import read_events
from app.integrations.models import WebhookDelivery, WebhookSubscription
from app.integrations.schemas import (
    CandidateEventOut,
    CandidateEventPage,
    WebhookDeliveryOut,
    WebhookSubscriptionCreated,
    WebhookSubscriptionIn,
    WebhookSubscriptionOut,
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
    """Every creation, change and transition of candidates, in commit order. Resuming after
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
