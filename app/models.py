"""Every area's tables, imported in one place for Alembic's metadata."""

from app.agencies.models import Agency
from app.auth.models import ApiKey
from app.candidates.models import Candidate, CandidateTransition
from app.core.database import Base
from app.core.idempotency import IdempotencyRecord
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
from app.integrations.models import (
    CandidateEvent,
    WebhookDelivery,
    WebhookSubscription,
)
from app.qualifications.models import QualificationRequirement, QualificationStandard

__all__ = [
    "Agency",
    "ApiKey",
    "Base",
    "Candidate",
    "CandidateEvent",
    "CandidateTransition",
    "Cluster",
    "Competency",
    "Element",
    "Framework",
    "FrameworkVersion",
    "IdempotencyRecord",
    "Indicator",
    "Level",
    "LevelDescription",
    "QualificationRequirement",
    "QualificationStandard",
    "WebhookDelivery",
    "WebhookSubscription",
]
