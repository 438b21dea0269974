"""Every area's tables, imported in one place for Alembic's metadata."""

from app.agencies.models import Agency
from app.auth.models import ApiKey
from app.core.database import Base
from app.frameworks.models import (
    Cluster,
    Competency,
    Element,
    Framework,
    FrameworkVersion,
    Indicator,
    Level,
    LevelDescription,
)

__all__ = [
    "Agency",
    "ApiKey",
    "Base",
    "Cluster",
    "Competency",
    "Element",
    "Framework",
    "FrameworkVersion",
    "Indicator",
    "Level",
    "LevelDescription",
]
