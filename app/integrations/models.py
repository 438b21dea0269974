import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Sequence, String, Text, func
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Base, CreatedAt

event_position = Sequence("candidate_event_position_seq", metadata=Base.metadata)


class CandidateEvent(Base):
    """The change feed and the webhook outbox in one table, written in the same transaction as
    the change it reports. ``position`` follows commit order (see ``app.integrations.feed``)."""

    __tablename__ = "candidate_event"
    __table_args__ = (Index("ix_candidate_event_agency_position", "agency_code", "position"),)

    position: Mapped[int] = mapped_column(BigInteger, event_position, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(unique=True, default=uuid.uuid4)
    type: Mapped[str] = mapped_column(String(64))
    candidate_id: Mapped[uuid.UUID] = mapped_column(index=True)
    agency_code: Mapped[str | None] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    occurred_at: Mapped[datetime] = mapped_column(server_default=func.now())


class WebhookSubscription(CreatedAt, Base):
    __tablename__ = "webhook_subscription"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    agency_code: Mapped[str | None] = mapped_column(ForeignKey("agency.code"), index=True)
    url: Mapped[str] = mapped_column(Text)
    events: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    secret: Mapped[str] = mapped_column(String(200))
    # After a rotation the old secret signs too, until it expires (both signatures are sent).
    previous_secret: Mapped[str | None] = mapped_column(String(200))
    previous_secret_expires_at: Mapped[datetime | None]
    active: Mapped[bool] = mapped_column(default=True)
    # Delivery progress: the last event position delivered (or given up on), and when to retry.
    delivered_position: Mapped[int] = mapped_column(BigInteger, default=0)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(server_default=func.now())
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]


class WebhookDelivery(Base):
    """One delivery attempt, for the subscription's delivery log."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (Index("ix_webhook_delivery_subscription", "subscription_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    subscription_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_subscription.id", ondelete="CASCADE")
    )
    event_id: Mapped[uuid.UUID]
    event_position: Mapped[int] = mapped_column(BigInteger)
    attempt: Mapped[int]
    status_code: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(String(500))
    duration_ms: Mapped[int]
    succeeded: Mapped[bool]
    at: Mapped[datetime] = mapped_column(server_default=func.now())
