import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ARRAY,
    CheckConstraint,
    ForeignKey,
    Index,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Base, CreatedAt


class Candidate(CreatedAt, Base):
    """A CPro candidate. ``version`` grows with every change and is the ETag."""

    __tablename__ = "candidate"
    __table_args__ = (
        UniqueConstraint("agency_code", "external_id"),
        CheckConstraint("priority BETWEEN 1 AND 4", name="priority_range"),
        CheckConstraint("salary_grade BETWEEN 1 AND 33", name="salary_grade_range"),
        CheckConstraint("track IN ('rpl', 'training')", name="track_known"),
        Index("ix_candidate_agency_created", "agency_code", "created_at", "id"),
        Index("ix_candidate_status_created", "status", "created_at", "id"),
        Index("ix_candidate_created", "created_at", "id"),
        Index("ix_candidate_updated", "updated_at", "id"),
        # The list's `q` (employee id, e-mail, family-name prefix) across agencies: without these
        # a rare match reads the whole table.
        Index("ix_candidate_external_id", "external_id"),
        Index("ix_candidate_email_lower", text("lower(email)")),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    agency_code: Mapped[str | None] = mapped_column(ForeignKey("agency.code"))
    external_id: Mapped[str | None] = mapped_column(String(64))
    given_name: Mapped[str] = mapped_column(String(200))
    family_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    position_title: Mapped[str | None] = mapped_column(String(300))
    salary_grade: Mapped[int | None] = mapped_column(SmallInteger)
    priority: Mapped[int | None] = mapped_column(SmallInteger)
    track: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(32))
    supplemental_deadline: Mapped[date | None]
    reenrollment_tracks: Mapped[list[str] | None] = mapped_column(ARRAY(String(16)))
    version: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[datetime]
    erased_at: Mapped[datetime | None]
    """Set when the personal fields were anonymized (an erasure request or the retention sweep)."""


# The list's `q` pages through family names in this order (byte order: "C"), so a name shared
# by a hundred thousand candidates still answers from the first index entries.
FAMILY_NAME_KEY = func.lower(Candidate.family_name).collate("C")
Index("ix_candidate_family_name_key", FAMILY_NAME_KEY, Candidate.id)


class CandidateTransition(Base):
    """One step of a candidate's history: who moved them, when, why, with what data."""

    __tablename__ = "candidate_transition"
    __table_args__ = (Index("ix_candidate_transition_candidate", "candidate_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    candidate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("candidate.id", ondelete="CASCADE"))
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(server_default=func.now())


class LmdcAttendance(Base):
    """Attendance of one of the five LMDC modules (one per CSC competency)."""

    __tablename__ = "lmdc_attendance"
    __table_args__ = (UniqueConstraint("candidate_id", "module"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    candidate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("candidate.id", ondelete="CASCADE"))
    module: Mapped[str] = mapped_column(String(100))
    attended_on: Mapped[date]
    recorded_by: Mapped[str] = mapped_column(String(200))


class ProjectBrief(CreatedAt, Base):
    """A Training Track project brief: two are proposed, one is approved for the ALP."""

    __tablename__ = "project_brief"
    __table_args__ = (
        CheckConstraint("status IN ('proposed', 'approved', 'declined')", name="status_known"),
        Index("ix_project_brief_candidate", "candidate_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    candidate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("candidate.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    decided_at: Mapped[datetime | None]


class ActionLearningProject(CreatedAt, Base):
    """The 90-day ALP: an approved brief, an ALP coach and an executive sponsor who accepts."""

    __tablename__ = "action_learning_project"

    candidate_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("candidate.id", ondelete="CASCADE"), primary_key=True
    )
    brief_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("project_brief.id"))
    coach_name: Mapped[str] = mapped_column(String(200))
    sponsor_name: Mapped[str] = mapped_column(String(200))
    sponsor_position: Mapped[str] = mapped_column(String(300))
    sponsor_accepted_at: Mapped[datetime | None]
    starts_on: Mapped[date | None]
    ends_on: Mapped[date | None]


class SelfAssessment(Base):
    """The Competency Self-Assessment taken at orientation, with what it concluded."""

    __tablename__ = "self_assessment"
    __table_args__ = (Index("ix_self_assessment_candidate", "candidate_id", "submitted_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    candidate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("candidate.id", ondelete="CASCADE"))
    framework_version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("framework_version.id"))
    answers: Mapped[dict[str, Any]] = mapped_column(JSONB)
    result: Mapped[dict[str, Any]] = mapped_column(JSONB)
    submitted_at: Mapped[datetime]


class FeeItem(Base):
    """One line of a versioned fee schedule (PhP)."""

    __tablename__ = "fee_item"
    __table_args__ = (
        UniqueConstraint("schedule", "track", "code"),
        CheckConstraint("track IN ('rpl', 'training')", name="track_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    schedule: Mapped[str] = mapped_column(String(40))
    effective_from: Mapped[date]
    track: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(String(300))
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    position: Mapped[int]
