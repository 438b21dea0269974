import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Base


class AuditEntry(Base):
    """One audited operation. Append-only: a trigger (see the migration) refuses UPDATE, DELETE
    and TRUNCATE, so not even the service's own database role can rewrite history.

    ``before`` and ``after`` hold the changed fields' values, personal ones included: this is the
    audit store, readable by admins only, never a log. Reads store no values."""

    __tablename__ = "audit_entry"
    __table_args__ = (
        Index("ix_audit_entry_entity", "entity_id", "id"),
        Index("ix_audit_entry_actor_key", "actor_key_id", "id"),
        Index("ix_audit_entry_at", "at", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(server_default=func.now())
    actor_key_id: Mapped[uuid.UUID | None]
    actor_subject: Mapped[str | None] = mapped_column(String(200))
    actor_name: Mapped[str] = mapped_column(String(200))
    operation: Mapped[str] = mapped_column(String(64))
    entity_type: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str] = mapped_column(String(200))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    request_id: Mapped[str | None] = mapped_column(String(128))
