import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Base, CreatedAt


class Portfolio(CreatedAt, Base):
    """A candidate's portfolio: the working draft's framework version, and a lock row that
    serializes uploads (the per-candidate byte total) and submissions."""

    __tablename__ = "portfolio"

    candidate_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("candidate.id", ondelete="CASCADE"), primary_key=True
    )
    framework_version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("framework_version.id"))
    bytes_used: Mapped[int] = mapped_column(BigInteger, default=0)
    """The sizes of the documents held (a submitted snapshot's included), for the limit."""
    changed_at: Mapped[datetime]
    """The last change to the draft; after the latest submission means a new draft."""


class PortfolioEvidence(CreatedAt, Base):
    """One evidence entry of the draft: work done, the competency and indicators it claims."""

    __tablename__ = "portfolio_evidence"
    __table_args__ = (Index("ix_portfolio_evidence_candidate", "candidate_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    candidate_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("portfolio.candidate_id", ondelete="CASCADE")
    )
    competency: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    indicator_ids: Mapped[list[int]] = mapped_column(JSONB)
    period_start: Mapped[date | None]
    period_end: Mapped[date | None]
    updated_at: Mapped[datetime]
    withdrawn_at: Mapped[datetime | None]
    """Removed from the draft after a submission included it: the snapshot still needs it."""


class PortfolioDocument(CreatedAt, Base):
    """A file attached to an evidence entry. Its bytes never change once stored (a snapshot
    names them by digest); they are in ``portfolio_document_chunk``."""

    __tablename__ = "portfolio_document"
    __table_args__ = (
        Index("ix_portfolio_document_evidence", "evidence_id", "created_at"),
        Index("ix_portfolio_document_candidate", "candidate_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    candidate_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("portfolio.candidate_id", ondelete="CASCADE")
    )
    evidence_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("portfolio_evidence.id", ondelete="CASCADE")
    )
    filename: Mapped[str | None] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    chunk_count: Mapped[int]
    withdrawn_at: Mapped[datetime | None]
    erased_at: Mapped[datetime | None]
    """Set when erasure deleted the bytes (digest, size and type stay, for the statistics)."""


class DocumentChunk(Base):
    """A document's bytes in order, at most ``CHUNK_BYTES`` a row: an upload and a download
    hold one chunk at a time, and the bytes sit in the same database (one backup, one
    transaction with the audit entry)."""

    __tablename__ = "portfolio_document_chunk"

    document_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("portfolio_document.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class PortfolioSubmission(Base):
    """A frozen copy of the portfolio as submitted: entries, indicator claims and document
    digests. Never changed afterwards (erasure excepted: it blanks the text, keeps the
    digests); a round scores ``portfolio_review`` against one of these."""

    __tablename__ = "portfolio_submission"
    __table_args__ = (UniqueConstraint("candidate_id", "number"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    candidate_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("portfolio.candidate_id", ondelete="CASCADE")
    )
    number: Mapped[int]
    framework_version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("framework_version.id"))
    required_competencies: Mapped[list[str]] = mapped_column(JSONB)
    entries: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    evidence_count: Mapped[int]
    document_count: Mapped[int]
    digest: Mapped[str] = mapped_column(String(64))
    """SHA-256 of the entries as submitted (canonical JSON): what the assessors reviewed."""
    submitted_at: Mapped[datetime]
    submitted_by: Mapped[str] = mapped_column(String(200))
