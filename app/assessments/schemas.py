import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.assessments.rules import AssessmentKind, Instrument, Outcome
from app.candidates.state import Track
from app.frameworks.schemas import Code, Slug, VersionLabel

PolicyCode = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=64),
    Field(examples=["cpro-2015"]),
]
ScoreValue = Annotated[Decimal, Field(max_digits=7, decimal_places=2, examples=["82.50"])]


class PolicyWeights(BaseModel):
    model_config = ConfigDict(extra="forbid")

    written_test: Annotated[Decimal, Field(gt=0, max_digits=7, decimal_places=2)]
    portfolio_review: Annotated[Decimal, Field(gt=0, max_digits=7, decimal_places=2)]
    behavioral_event_interview: Annotated[Decimal, Field(gt=0, max_digits=7, decimal_places=2)]


class PolicyIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "code": "cpro-2027",
                    "weights": {
                        "written_test": 10,
                        "portfolio_review": 50,
                        "behavioral_event_interview": 40,
                    },
                    "pass_mark": "75.00",
                    "score_min": 0,
                    "score_max": 100,
                }
            ]
        },
    )

    code: PolicyCode
    weights: PolicyWeights
    pass_mark: ScoreValue
    score_min: ScoreValue
    score_max: ScoreValue
    notes: Annotated[str, StringConstraints(max_length=2000)] | None = None


class PolicyOut(BaseModel):
    code: str
    weights: dict[str, Decimal]
    pass_mark: Decimal
    score_min: Decimal
    score_max: Decimal
    notes: str | None
    created_at: datetime


class AssessmentIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "framework": "csc-leadership-competencies",
                    "policy": "cpro-2015",
                    "kind": "regular",
                }
            ]
        },
    )

    framework: Slug
    version: VersionLabel | None = Field(
        default=None, description="Default: the current published version."
    )
    policy: PolicyCode
    kind: AssessmentKind = AssessmentKind.regular
    assessors: list[uuid.UUID] = Field(
        default_factory=list,
        max_length=20,
        description="Ids of assessor API keys allowed to score.",
    )


class AssessorsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assessors: list[uuid.UUID] = Field(min_length=1, max_length=20)


class ScoreIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    competency: Code
    instrument: Instrument
    score: ScoreValue
    assessor: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    remarks: Annotated[str, StringConstraints(max_length=4000)] | None = None


class ScoresIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "scores": [
                        {
                            "competency": "leading-change",
                            "instrument": "written_test",
                            "score": "78.00",
                        },
                        {
                            "competency": "leading-change",
                            "instrument": "portfolio_review",
                            "score": "85.50",
                            "assessor": "Panel A",
                        },
                    ]
                }
            ]
        },
    )

    scores: list[ScoreIn] = Field(min_length=1, max_length=100)


class ScoreOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    competency: str
    instrument: Instrument
    score: Decimal
    assessor: str | None
    remarks: str | None
    updated_at: datetime
    updated_by: str


class PortfolioSubmissionRef(BaseModel):
    """The submitted portfolio snapshot a round scores ``portfolio_review`` against."""

    id: uuid.UUID
    number: int
    digest: str = Field(description="SHA-256 of the submitted entries.")
    href: str = Field(
        examples=["/v1/candidates/0b9e.../portfolio/submissions/4c1d..."],
        description="Where to read exactly what was submitted.",
    )


class AssessmentOut(BaseModel):
    id: uuid.UUID
    candidate_id: uuid.UUID
    kind: AssessmentKind
    framework: str
    version: str
    policy: str
    competencies: list[str]
    failed_before: list[str] = Field(
        description="Supplemental rounds: the competencies retaken in full."
    )
    required_scores: list[dict[str, str]] = Field(
        description="Every (competency, instrument) this round needs."
    )
    scores: list[ScoreOut]
    released_at: datetime | None
    outcome: Outcome | None
    portfolio_submission: PortfolioSubmissionRef | None = Field(
        description="The submitted portfolio this round reviews; null for a round without one "
        "(its evidence came through the deprecated `POST .../evidence`)."
    )
    created_at: datetime


class EvidenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    competency: Code
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    description: Annotated[str, StringConstraints(max_length=10_000)] | None = None
    indicators: list[int] = Field(
        min_length=1,
        max_length=200,
        description="Indicator ids (of this competency, in the pinned version) the evidence demonstrates.",
    )


class EvidenceOut(BaseModel):
    id: uuid.UUID
    competency: str
    title: str
    description: str | None
    indicators: list[int]
    created_at: datetime


class CompetencyResultOut(BaseModel):
    code: str
    name: str
    scores: dict[str, Decimal] = Field(description="Instrument -> score.")
    weighted_score: Decimal | None = Field(
        description="sum(weight x score) / sum(weights), 2 decimals, half up; null when carried over from the regular round."
    )
    passed: bool
    carried_over: bool = Field(
        description="Supplemental rounds: passed in the regular round, kept."
    )


class CertificateRef(BaseModel):
    serial: str
    status: Literal["valid", "revoked"]


class ResultOut(BaseModel):
    assessment_id: uuid.UUID
    kind: AssessmentKind
    competencies: list[CompetencyResultOut]
    passed_count: int
    outcome: Outcome
    supplemental_deadline: date | None
    reenrollment_tracks: list[Track] | None = Field(
        description="Tracks open for re-enrollment (fewer than three passed is treated like passing two; the sources are silent on it)."
    )
    released_at: datetime
    policy: str
    pass_mark: Decimal
    framework: str
    version: str
    certificate: CertificateRef | None
    portfolio_submission: PortfolioSubmissionRef | None = Field(
        description="The submitted portfolio snapshot `portfolio_review` was scored against."
    )
    explanation: str = Field(description="The result in plain language, for the candidate.")


class ReleaseBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assessment_ids: list[uuid.UUID] = Field(
        min_length=1,
        max_length=1000,
        description="Up to 1,000 assessment rounds to release together (a cohort after the "
        "panel met). Each is released on its own terms; one refused round does not stop the "
        "others.",
        examples=[["3f0c6f1e-8d5b-4f0e-9a51-2b7d9c4e1a10", "9b2d4c7a-1e3f-4a5b-8c6d-7e8f9a0b1c2d"]],
    )


class ReleaseBatchItem(BaseModel):
    assessment_id: uuid.UUID
    outcome: Literal["released", "already_released", "rejected"] = Field(
        description="`released` by this request; `already_released` earlier (a retried request "
        "reads the same as the first); `rejected` with the reason in `problem` (nothing was "
        "written for this round).",
        examples=["released"],
    )
    result: Outcome | None = Field(
        default=None,
        description="The result (`certified`, `supplemental`, `reenrollment`) when released; "
        "the full result is at `GET /v1/assessments/{assessment_id}/result`.",
        examples=["certified"],
    )
    certificate_serial: str | None = Field(
        default=None,
        description="The certificate issued for a certified result.",
        examples=["CPRO-7K2M-Q9XD-4RTB-H8NC"],
    )
    problem: dict[str, object] | None = Field(
        default=None,
        description="Why the round was not released, as an RFC 9457 problem: 404 `not-found` "
        "(no such round, or not yours to see), 409 `conflict` (scores missing, listed in "
        "`missing_scores`; the candidate moved on; the id appears twice in the request).",
        examples=[
            {
                "type": "urn:cpro:problem:conflict",
                "title": "Conflict with the current state",
                "status": 409,
                "detail": "1 score(s) missing; all must be in before release.",
                "missing_scores": [{"competency": "BCIWR", "instrument": "portfolio_review"}],
            }
        ],
    )


class ReleaseBatchOut(BaseModel):
    items: list[ReleaseBatchItem] = Field(description="One entry per requested id, in order.")
