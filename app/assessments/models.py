import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Base, CreatedAt


class AssessmentPolicy(CreatedAt, Base):
    """Weights, score range and pass mark. Never changed once created: a change is a new code,
    so every released result can be recomputed from the policy it names."""

    __tablename__ = "assessment_policy"
    __table_args__ = (CheckConstraint("score_min < score_max", name="score_range"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    weights: Mapped[dict[str, str]] = mapped_column(JSONB)
    pass_mark: Mapped[Decimal] = mapped_column(Numeric(7, 2))
    score_min: Mapped[Decimal] = mapped_column(Numeric(7, 2))
    score_max: Mapped[Decimal] = mapped_column(Numeric(7, 2))
    notes: Mapped[str | None] = mapped_column(Text)


class Assessment(CreatedAt, Base):
    __tablename__ = "assessment"
    __table_args__ = (
        CheckConstraint("kind IN ('regular', 'supplemental')", name="kind_known"),
        Index("ix_assessment_candidate", "candidate_id", "created_at"),
        Index("ix_assessment_released", "released_at"),
        Index("ix_assessment_portfolio_submission", "portfolio_submission_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    candidate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("candidate.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    framework_version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("framework_version.id"))
    policy_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("assessment_policy.id"))
    previous_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("assessment.id"))
    """For a supplemental round: the regular assessment whose failures it retakes."""
    competencies: Mapped[list[str]] = mapped_column(JSONB)
    """The pinned version's competency codes, in framework order."""
    failed_before: Mapped[list[str]] = mapped_column(JSONB, default=list)
    portfolio_submission_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("portfolio_submission.id")
    )
    """The submitted portfolio snapshot that ``portfolio_review`` scores (None: a round from
    before portfolios, whose evidence came through the deprecated evidence route)."""
    released_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(16))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class AssessmentAssessor(Base):
    """Which assessor keys may score an assessment."""

    __tablename__ = "assessment_assessor"

    assessment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("assessment.id", ondelete="CASCADE"), primary_key=True
    )
    api_key_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("api_key.id"), primary_key=True)


class Score(Base):
    __tablename__ = "assessment_score"
    __table_args__ = (UniqueConstraint("assessment_id", "competency", "instrument"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    assessment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("assessment.id", ondelete="CASCADE")
    )
    competency: Mapped[str] = mapped_column(String(100))
    instrument: Mapped[str] = mapped_column(String(40))
    score: Mapped[Decimal] = mapped_column(Numeric(7, 2))
    assessor: Mapped[str | None] = mapped_column(String(200))
    remarks: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(200))


class ScoreChange(Base):
    """The audit of every score written: before and after, by whom, when."""

    __tablename__ = "assessment_score_change"
    __table_args__ = (Index("ix_score_change_assessment", "assessment_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    assessment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("assessment.id", ondelete="CASCADE")
    )
    competency: Mapped[str] = mapped_column(String(100))
    instrument: Mapped[str] = mapped_column(String(40))
    old_score: Mapped[Decimal | None] = mapped_column(Numeric(7, 2))
    new_score: Mapped[Decimal] = mapped_column(Numeric(7, 2))
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime]


class EvidenceItem(CreatedAt, Base):
    """A piece of portfolio evidence, linked to the behavioural indicators it demonstrates.
    Deprecated: written only by ``POST /v1/assessments/{id}/evidence`` for rounds without a
    submitted portfolio (``app/portfolios`` replaces it)."""

    __tablename__ = "evidence_item"
    __table_args__ = (Index("ix_evidence_assessment", "assessment_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    assessment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("assessment.id", ondelete="CASCADE")
    )
    competency: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    indicator_ids: Mapped[list[int]] = mapped_column(JSONB)
