"""One model for every framework shape the sources have.

framework -> version (draft | published | retired) -> clusters, competencies -> elements,
indicators; level scales are either framework-wide (``competency_id`` null) or a competency's own
(the stages of the Grades 9+ framework). ``position`` keeps the source's order everywhere.
"""

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Computed,
    ForeignKey,
    Identity,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import ARRAY, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Base, CreatedAt


class Framework(CreatedAt, Base):
    __tablename__ = "framework"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    publisher: Mapped[str | None] = mapped_column(String(300))
    jurisdiction: Mapped[str | None] = mapped_column(String(8))
    description: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(Text)


class FrameworkVersion(CreatedAt, Base):
    __tablename__ = "framework_version"
    __table_args__ = (
        UniqueConstraint("framework_id", "version"),
        CheckConstraint("status IN ('draft', 'published', 'retired')", name="status_known"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    framework_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("framework.id", ondelete="CASCADE"))
    version: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16))
    notes: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime]
    published_at: Mapped[datetime | None]
    retired_at: Mapped[datetime | None]


class Cluster(Base):
    __tablename__ = "cluster"
    __table_args__ = (UniqueConstraint("version_id", "code"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    version_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("framework_version.id", ondelete="CASCADE")
    )
    code: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    position: Mapped[int]


class Competency(Base):
    __tablename__ = "competency"
    __table_args__ = (UniqueConstraint("version_id", "code"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    version_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("framework_version.id", ondelete="CASCADE")
    )
    cluster_id: Mapped[int | None] = mapped_column(ForeignKey("cluster.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(300))
    attribute: Mapped[str | None] = mapped_column(String(200))
    definition: Mapped[str | None] = mapped_column(Text)
    definition_complete: Mapped[bool]
    features: Mapped[list[str]] = mapped_column(ARRAY(Text))
    negative_indicators_title: Mapped[str | None] = mapped_column(Text)
    position: Mapped[int]


class Level(Base):
    """A rung of a level scale: framework-wide when ``competency_id`` is null."""

    __tablename__ = "level"
    __table_args__ = (
        UniqueConstraint("version_id", "competency_id", "code", postgresql_nulls_not_distinct=True),
        CheckConstraint("rank >= 1", name="rank_positive"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    version_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("framework_version.id", ondelete="CASCADE")
    )
    competency_id: Mapped[int | None] = mapped_column(
        ForeignKey("competency.id", ondelete="CASCADE")
    )
    code: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(300))
    rank: Mapped[int]


class LevelDescription(Base):
    """A competency's core description at one level (the CSC "Core Description" row)."""

    __tablename__ = "level_description"
    __table_args__ = (UniqueConstraint("competency_id", "level_id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    competency_id: Mapped[int] = mapped_column(ForeignKey("competency.id", ondelete="CASCADE"))
    level_id: Mapped[int] = mapped_column(ForeignKey("level.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    complete: Mapped[bool]


class Element(Base):
    __tablename__ = "element"
    __table_args__ = (UniqueConstraint("competency_id", "code"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    competency_id: Mapped[int] = mapped_column(ForeignKey("competency.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(Text)
    complete: Mapped[bool]
    position: Mapped[int]


class Indicator(Base):
    __tablename__ = "indicator"
    __table_args__ = (
        CheckConstraint("polarity IN ('positive', 'negative')", name="polarity_known"),
        CheckConstraint("polarity = 'positive' OR level_id IS NULL", name="negative_has_no_level"),
        Index("ix_indicator_search", "search", postgresql_using="gin"),
        Index("ix_indicator_version_id_id", "version_id", "id"),
    )

    # Ids grow in document order, so ``ORDER BY id`` is the source's order and a keyset.
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    version_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("framework_version.id", ondelete="CASCADE")
    )
    competency_id: Mapped[int] = mapped_column(
        ForeignKey("competency.id", ondelete="CASCADE"), index=True
    )
    element_id: Mapped[int | None] = mapped_column(ForeignKey("element.id", ondelete="CASCADE"))
    level_id: Mapped[int | None] = mapped_column(ForeignKey("level.id", ondelete="CASCADE"))
    polarity: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)
    complete: Mapped[bool]
    position: Mapped[int]
    search: Mapped[str] = mapped_column(
        TSVECTOR, Computed("to_tsvector('english', text)", persisted=True)
    )
