"""Every area's tables, imported in one place for Alembic's metadata."""

from app.agencies.models import Agency
from app.auth.models import ApiKey
from app.core.database import Base

__all__ = ["Agency", "ApiKey", "Base"]
