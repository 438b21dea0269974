"""``GET /metrics``: the process metrics plus the webhook outbox, read from the database.

The outbox lives in the database, so its depth is counted at scrape time (one query) and is
right whichever process, and however many, serve the scrape.
"""

from fastapi import APIRouter, Request, Response
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy import and_, any_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import metrics
from app.core.database import Session
from app.integrations.models import CandidateEvent, WebhookDelivery, WebhookSubscription

router = APIRouter()


async def outbox_metrics(session: AsyncSession) -> list[Metric]:
    """Events not yet delivered to active subscriptions (each subscription counts the events
    after its ``delivered_position`` that it wants), and failed delivery attempts so far."""
    pending = await session.scalar(
        select(func.count())
        .select_from(WebhookSubscription)
        .join(
            CandidateEvent,
            and_(
                CandidateEvent.position > WebhookSubscription.delivered_position,
                or_(
                    WebhookSubscription.agency_code.is_(None),
                    CandidateEvent.agency_code == WebhookSubscription.agency_code,
                ),
                CandidateEvent.type == any_(WebhookSubscription.events),
            ),
        )
        .where(WebhookSubscription.active)
    )
    failures = await session.scalar(
        select(func.count()).select_from(WebhookDelivery).where(~WebhookDelivery.succeeded)
    )
    depth = GaugeMetricFamily(
        "cpro_webhook_outbox_depth",
        "Events not yet delivered to active webhook subscriptions, summed over subscriptions.",
        value=pending or 0,
    )
    failed = CounterMetricFamily(
        "cpro_webhook_delivery_failures",
        "Webhook delivery attempts that failed (error or non-2xx answer), since the start.",
        value=failures or 0,
    )
    return [depth, failed]


@router.get("/metrics", include_in_schema=False)
async def prometheus_metrics(request: Request, session: Session) -> Response:
    """Prometheus text format. Not part of the API contract: block it at the proxy, scrape it
    from inside."""
    body = metrics.render(await outbox_metrics(session))
    return Response(content=body, media_type=metrics.CONTENT_TYPE)
