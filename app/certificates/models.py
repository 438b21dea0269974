import uuid
from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Base, CreatedAt


class Certificate(CreatedAt, Base):
    """A Certificate in Leadership and Management, verifiable by anyone from its serial."""

    __tablename__ = "certificate"
    __table_args__ = (CheckConstraint("status IN ('valid', 'revoked')", name="status_known"),)

    serial: Mapped[str] = mapped_column(String(40), primary_key=True)
    candidate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("candidate.id"), index=True)
    assessment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("assessment.id"), unique=True)
    holder_name: Mapped[str] = mapped_column(String(400))
    issued_on: Mapped[date]
    status: Mapped[str] = mapped_column(String(16), default="valid")
    revoked_at: Mapped[datetime | None]
    revocation_reason: Mapped[str | None] = mapped_column(Text)
