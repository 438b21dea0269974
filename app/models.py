"""Every area's tables, imported in one place for Alembic's metadata."""

from app.agencies.models import Agency
from app.assessments.models import (
    Assessment,
    AssessmentAssessor,
    AssessmentPolicy,
    EvidenceItem,
    Score,
    ScoreChange,
)
from app.audit.models import AuditEntry
from app.auth.models import ApiKey
from app.candidates.models import Candidate, CandidateTransition
from app.certificates.models import Certificate
from app.core.claim_owner import IdempotencyOwner
from app.core.database import Base
from app.core.idempotency import IdempotencyRecord
from app.core.rate_limit import RateLimitWindow
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
from app.orientation.models import OrientationAttendee, OrientationSession
from app.portfolios.models import (
    DocumentChunk,
    Portfolio,
    PortfolioDocument,
    PortfolioEvidence,
    PortfolioSubmission,
)
from app.qualifications.models import QualificationRequirement, QualificationStandard

__all__ = [
    "Agency",
    "ApiKey",
    "Assessment",
    "AssessmentAssessor",
    "AssessmentPolicy",
    "AuditEntry",
    "Base",
    "Candidate",
    "CandidateEvent",
    "CandidateTransition",
    "Certificate",
    "Cluster",
    "Competency",
    "DocumentChunk",
    "Element",
    "EvidenceItem",
    "Framework",
    "FrameworkVersion",
    "IdempotencyOwner",
    "IdempotencyRecord",
    "Indicator",
    "Level",
    "LevelDescription",
    "OrientationAttendee",
    "OrientationSession",
    "Portfolio",
    "PortfolioDocument",
    "PortfolioEvidence",
    "PortfolioSubmission",
    "QualificationRequirement",
    "QualificationStandard",
    "RateLimitWindow",
    "Score",
    "ScoreChange",
    "WebhookDelivery",
    "WebhookSubscription",
]
