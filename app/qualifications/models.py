"""A qualification standard pins one framework version; its requirements point at that
version's rows, which never change once the version is published."""

import uuid

from sqlalchemy import BigInteger, ForeignKey, Identity, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Base, CreatedAt


class QualificationStandard(CreatedAt, Base):
    __tablename__ = "qualification_standard"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    position_title: Mapped[str] = mapped_column(String(300))
    agency_code: Mapped[str | None] = mapped_column(ForeignKey("agency.code"), index=True)
    version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("framework_version.id"), index=True)
    is_example: Mapped[bool]


class QualificationRequirement(Base):
    """One competency at one level of its scale (a framework level or the competency's own)."""

    __tablename__ = "qualification_requirement"
    __table_args__ = (UniqueConstraint("standard_id", "competency_id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    standard_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("qualification_standard.id", ondelete="CASCADE")
    )
    competency_id: Mapped[int] = mapped_column(ForeignKey("competency.id"), index=True)
    level_id: Mapped[int] = mapped_column(ForeignKey("level.id"), index=True)
    position: Mapped[int]
