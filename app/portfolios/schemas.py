import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from app.frameworks.schemas import Code
from app.portfolios.sniffing import DocumentType

# 2^53 - 1: exact in every JSON parser (a larger bound rounds when read as a double).
IndicatorId = Annotated[int, Field(ge=1, le=9_007_199_254_740_991)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Description = Annotated[str, StringConstraints(max_length=10_000)]
Sha256 = Annotated[
    str,
    Field(
        pattern=r"^[0-9a-f]{64}$",
        examples=["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"],
    ),
]


class Period(BaseModel):
    """When the work took place (``end`` null: ongoing)."""

    model_config = ConfigDict(extra="forbid")

    start: date = Field(examples=["2026-03-01"])
    end: date | None = Field(default=None, examples=["2026-05-30"])

    @model_validator(mode="after")
    def _ordered(self) -> "Period":
        if self.end is not None and self.end < self.start:
            raise ValueError("end must not be before start")
        return self


_EVIDENCE_EXAMPLE: dict[str, Any] = {
    "competency": "leading-change",
    "title": "Led the shift of the regional licensing office to online renewals",
    "description": "As ALP lead I ran the change plan with the executive sponsor: ...",
    "indicators": [101, 102],
    "period": {"start": "2026-03-01", "end": "2026-05-30"},
}


class EvidenceIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [dict(_EVIDENCE_EXAMPLE)]}
    )

    competency: Code
    title: Title
    description: Description | None = None
    indicators: list[IndicatorId] = Field(
        min_length=1,
        max_length=200,
        description="Indicator ids (of this competency, in the portfolio's framework version) "
        "the evidence demonstrates.",
    )
    period: Period | None = None


class EvidencePatch(BaseModel):
    """Only the fields sent change; ``description`` and ``period`` may be set to null."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"title": "Renewals online: phase 2"}]}
    )

    competency: Code | None = None
    title: Title | None = None
    description: Description | None = None
    indicators: list[IndicatorId] | None = Field(default=None, min_length=1, max_length=200)
    period: Period | None = None


class DocumentOut(BaseModel):
    id: uuid.UUID
    evidence_id: uuid.UUID
    filename: str | None = Field(
        description="As uploaded, without any directory; null once erased.",
        examples=["licensing-change-plan.pdf"],
    )
    media_type: DocumentType = Field(description="Decided by the file's own bytes.")
    size: int = Field(description="Bytes.", examples=[482113])
    sha256: Sha256
    href: str = Field(
        description="Where to download it (null once erased).",
        examples=["/v1/candidates/0b9e.../portfolio/evidence/5d1c.../documents/7a2f..."],
    )
    erased: bool = False
    created_at: datetime


class EvidenceOut(BaseModel):
    id: uuid.UUID
    competency: str
    title: str
    description: str | None = Field(description="Not shown to agency keys.")
    indicators: list[int]
    period: Period | None
    documents: list[DocumentOut] = Field(description="Not shown to agency keys.")
    created_at: datetime
    updated_at: datetime


class CompetencyCoverage(BaseModel):
    code: str
    name: str
    required: bool = Field(
        description="Needed for submission: every competency, or in a supplemental round "
        "only the ones failed in the regular round."
    )
    covered: bool = Field(description="At least one evidence entry claims it.")
    evidence: list[EvidenceOut]


class SubmissionRef(BaseModel):
    id: uuid.UUID
    number: int = Field(description="1 for the first submission, then 2, ...")
    digest: Sha256 = Field(description="SHA-256 of the submitted entries (canonical JSON).")
    submitted_at: datetime


class PortfolioOut(BaseModel):
    candidate_id: uuid.UUID
    framework: str = Field(examples=["csc-leadership-competencies"])
    version: str = Field(examples=["2015"])
    status: Literal["draft", "submitted"] = Field(
        description="`submitted`: unchanged since the latest submission; `draft`: new or "
        "edited since (a submitted snapshot itself never changes)."
    )
    editable: bool = Field(
        description="False while the latest submission is under review in an unreleased round."
    )
    supplemental: bool = Field(
        description="The candidate is preparing (or in) a supplemental round: only the failed "
        "competencies are required."
    )
    required_competencies: list[str]
    uncovered: list[str] = Field(description="Required competencies with no evidence yet.")
    competencies: list[CompetencyCoverage]
    documents_visible: bool = Field(
        description="False for agency keys: they see the evidence titles, never documents."
    )
    bytes_used: int = Field(description="Total size of the candidate's stored documents.")
    bytes_limit: int = Field(description="`CPRO_MAX_PORTFOLIO_BYTES`.")
    document_bytes_limit: int = Field(description="`CPRO_MAX_DOCUMENT_BYTES`, per document.")
    submissions: list[SubmissionRef]


class SubmittedDocument(BaseModel):
    id: uuid.UUID
    filename: str | None
    media_type: DocumentType
    size: int
    sha256: Sha256


class SubmittedEntry(BaseModel):
    id: uuid.UUID = Field(description="The evidence entry's id (its documents download under it).")
    competency: str
    title: str
    description: str | None
    indicators: list[int]
    period: Period | None
    documents: list[SubmittedDocument]


class SubmissionOut(SubmissionRef):
    candidate_id: uuid.UUID
    framework: str
    version: str
    required_competencies: list[str]
    evidence_count: int
    document_count: int
    entries: list[SubmittedEntry] = Field(
        description="Exactly what was submitted; agency keys get titles only."
    )
    submitted_by: str
    reviewed_in: list[uuid.UUID] = Field(
        description="Assessment rounds that score `portfolio_review` against this submission."
    )
