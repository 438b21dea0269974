import uuid
from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Base, CreatedAt

# W3C Bitstring Status List v1.0, section 6.1: "a minimum uncompressed size of 16KB" (131,072
# entries), so that one set bit says nothing about whose credential it is.
STATUS_LIST_SIZE = 131_072


class Certificate(CreatedAt, Base):
    """A Certificate in Leadership and Management, verifiable by anyone from its serial."""

    __tablename__ = "certificate"
    __table_args__ = (
        CheckConstraint("status IN ('valid', 'revoked')", name="status_known"),
        CheckConstraint("status_list >= 1", name="status_list_positive"),
        CheckConstraint(
            f"status_index >= 0 AND status_index < {STATUS_LIST_SIZE}", name="status_index_in_list"
        ),
        # A status list position belongs to one certificate for good: rows are never deleted
        # (erasure anonymizes and revokes), so an index once given is never given again.
        UniqueConstraint("status_list", "status_index"),
    )

    serial: Mapped[str] = mapped_column(String(40), primary_key=True)
    candidate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("candidate.id"), index=True)
    assessment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("assessment.id"), unique=True)
    holder_name: Mapped[str] = mapped_column(String(400))
    issued_on: Mapped[date]
    status: Mapped[str] = mapped_column(String(16), default="valid")
    revoked_at: Mapped[datetime | None]
    revocation_reason: Mapped[str | None] = mapped_column(Text)
    status_list: Mapped[int]
    """Which revocation status list (1, 2, ...) holds this certificate's bit."""
    status_index: Mapped[int]
    """Its bit in that list, drawn at random among the unused ones at issue."""
