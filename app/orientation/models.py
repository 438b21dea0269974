import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Base, CreatedAt


class OrientationSession(CreatedAt, Base):
    """One scheduled General Orientation, online or at a venue, with a number of seats."""

    __tablename__ = "orientation_session"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("mode IN ('online', 'in_person')", name="mode_known"),
        CheckConstraint("capacity > 0", name="capacity_positive"),
        Index("ix_orientation_session_starts", "starts_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    title: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    mode: Mapped[str] = mapped_column(String(16))
    venue: Mapped[str | None] = mapped_column(String(300))
    capacity: Mapped[int]
    created_by: Mapped[str] = mapped_column(String(200))


class OrientationAttendee(Base):
    """A candidate's seat in a session, and whether they attended (null until recorded)."""

    __tablename__ = "orientation_attendee"
    __table_args__ = (
        Index("ix_orientation_attendee_candidate", "candidate_id"),
        Index("ix_orientation_attendee_session_registered", "session_id", "registered_at"),
    )

    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("orientation_session.id", ondelete="CASCADE"), primary_key=True
    )
    candidate_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("candidate.id", ondelete="CASCADE"), primary_key=True
    )
    registered_at: Mapped[datetime]
    registered_by: Mapped[str] = mapped_column(String(200))
    attended: Mapped[bool | None]
    attendance_recorded_at: Mapped[datetime | None]
