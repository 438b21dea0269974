import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Base, CreatedAt


class ApiKey(CreatedAt, Base):
    """An API key. Only a SHA-256 digest of the secret is kept; the secret is shown once."""

    __tablename__ = "api_key"
    __table_args__ = (
        CheckConstraint(
            "role IN ('admin', 'staff', 'assessor', 'agency', 'reader')", name="role_known"
        ),
        CheckConstraint("(role = 'agency') = (agency_code IS NOT NULL)", name="agency_iff_role"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    agency_code: Mapped[str | None] = mapped_column(ForeignKey("agency.code"), index=True)
    prefix: Mapped[str] = mapped_column(String(16))
    digest: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    # Set when the key is rotated: it keeps working until then, so callers can switch over.
    expires_at: Mapped[datetime | None]
