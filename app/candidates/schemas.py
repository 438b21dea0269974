import uuid
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.agencies.schemas import AgencyCode
from app.candidates.email import Email
from app.candidates.state import Status, Track

ExternalId = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$", max_length=64),
    Field(description="The agency's own employee id.", examples=["EMP-2024-00123"]),
]
PersonName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]

PRIORITY_REASONS = {
    1: "Designated Officer-in-Charge of a Division Chief (or equivalent) position for lack of a master's degree",
    2: "Being considered for Division Chief or executive/managerial positions",
    3: "Already appointed to a Division Chief or executive/managerial position, developing leadership competencies",
    4: "In the private sector, planning a career in the public service",
}

Priority = Annotated[
    int,
    Field(
        ge=1,
        le=4,
        description="CPro enrollment priority: "
        + "; ".join(f"{n} {reason}" for n, reason in PRIORITY_REASONS.items()),
        examples=[2],
    ),
]
SalaryGrade = Annotated[int, Field(ge=1, le=33, description="Salary grade (1-33).", examples=[22])]


class CandidateFields(BaseModel):
    """The fields an HRIS or the portal may set."""

    model_config = ConfigDict(extra="forbid")

    given_name: PersonName = Field(examples=["Maria"])
    family_name: PersonName = Field(examples=["Santos"])
    email: Email | None = Field(default=None, max_length=320, examples=["maria.santos@doh.gov.ph"])
    position_title: Title | None = Field(
        default=None, examples=["Supervising Administrative Officer"]
    )
    salary_grade: SalaryGrade | None = None
    priority: Priority | None = None
    track: Track | None = Field(default=None, description="`rpl` or `training`, once chosen.")


class CandidateUpsert(CandidateFields):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "given_name": "Maria",
                    "family_name": "Santos",
                    "email": "maria.santos@doh.gov.ph",
                    "position_title": "Supervising Administrative Officer",
                    "salary_grade": 22,
                    "priority": 2,
                }
            ]
        },
    )


class CandidateBatchItem(CandidateFields):
    external_id: ExternalId


class CandidateCreate(CandidateFields):
    """Registration through the CSI portal (staff)."""

    agency: AgencyCode | None = Field(
        default=None, description="Null for private-sector candidates."
    )
    external_id: ExternalId | None = None


class CandidatePatch(BaseModel):
    """A partial update: only the fields sent change. Agency, ids and status are not settable."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"position_title": "Chief Administrative Officer", "salary_grade": 24}]
        },
    )

    given_name: PersonName | None = None
    family_name: PersonName | None = None
    email: Email | None = Field(default=None, max_length=320)
    position_title: Title | None = None
    salary_grade: SalaryGrade | None = None
    priority: Priority | None = None


class CandidateOut(BaseModel):
    id: uuid.UUID
    agency: str | None = Field(examples=["DOH"])
    external_id: str | None
    given_name: str
    family_name: str
    email: str | None
    position_title: str | None
    salary_grade: int | None
    priority: int | None
    priority_reason: str | None = Field(description="What the priority means (CPro FAQ).")
    track: Track | None
    status: Status
    supplemental_deadline: date | None = Field(
        description="While `supplemental_eligible`: the last day for the supplemental assessment."
    )
    reenrollment_tracks: list[Track] | None
    allowed_transitions: list[Status] = Field(
        description="Statuses staff may move this candidate to now."
    )
    version: int = Field(description="Grows with every change; the `ETag` is derived from it.")
    created_at: datetime
    updated_at: datetime


class TransitionIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "to": "prequalified",
                    "reason": "Passed the pre-qualifying test",
                    "data": {"score": 82},
                },
                {
                    "to": "enrolled",
                    "reason": "Accepted (letter sent 2026-11-20)",
                    "data": {"track": "training"},
                },
            ]
        },
    )

    to: Status
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    data: dict[str, Any] = Field(
        default_factory=dict, description="Step data; see each step's needs."
    )


class TransitionOut(BaseModel):
    id: int
    from_status: Status | None
    to_status: Status
    reason: str
    data: dict[str, Any]
    actor: str = Field(description="Who made the change: the API key's name and id, or `system`.")
    at: datetime


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[dict[str, Any]] = Field(
        max_length=1000,
        description="Up to 1,000 candidate records, each with `external_id`; validated one by one.",
        examples=[
            [
                {
                    "external_id": "EMP-1",
                    "given_name": "Maria",
                    "family_name": "Santos",
                    "priority": 2,
                }
            ]
        ],
    )


class BatchItemResult(BaseModel):
    external_id: str | None
    outcome: str = Field(
        description="`created`, `updated`, `unchanged` or `rejected`.", examples=["created"]
    )
    id: uuid.UUID | None = None
    errors: list[dict[str, str]] | None = Field(
        default=None, description="Why the item was rejected: each field and message."
    )


class BatchOut(BaseModel):
    items: list[BatchItemResult]


class CsvRowResult(BatchItemResult):
    row: int = Field(description="The row number in the sheet (the header is row 1).", examples=[2])


class CsvImportOut(BaseModel):
    rows: list[CsvRowResult]
