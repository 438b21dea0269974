import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.candidates.state import Track

Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]


class AttendanceIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"attended_on": "2026-10-12"}]}
    )

    attended_on: date


class AttendanceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    module: str = Field(
        examples=["leading-change"], description="The competency code of the module."
    )
    attended_on: date
    recorded_by: str


class BriefIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "title": "Digitising leave applications",
                    "summary": "Replace paper leave forms in the regional office with ...",
                }
            ]
        },
    )

    title: Line
    summary: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000)
    ]


class BriefOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    title: str
    summary: str
    status: str = Field(description="`proposed`, `approved` or `declined`.")
    created_at: datetime
    decided_at: datetime | None


class AlpIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "coach_name": "Ana Reyes",
                    "sponsor_name": "Jose Cruz",
                    "sponsor_position": "Assistant Secretary",
                }
            ]
        },
    )

    coach_name: Line
    sponsor_name: Line
    sponsor_position: Line


class AlpOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    brief_id: uuid.UUID
    coach_name: str
    sponsor_name: str
    sponsor_position: str
    sponsor_accepted_at: datetime | None = Field(
        description="Set when the executive sponsor expressly accepts the role."
    )
    starts_on: date | None
    ends_on: date | None = Field(description="90 days after the start.")


class SelfAssessmentAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    indicator: int = Field(description="An indicator id from the CSC framework's indicator list.")
    demonstrated: bool


class SelfAssessmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answers: list[SelfAssessmentAnswer] = Field(
        max_length=2000,
        description="One answer for every positive indicator of the five CSC competencies "
        "(GET /v1/frameworks/csc-leadership-competencies/indicators?polarity=positive).",
    )


class SelfRatedLevel(BaseModel):
    code: str
    name: str
    rank: int


class SelfRating(BaseModel):
    competency: str
    name: str
    level: SelfRatedLevel | None = Field(
        description="The highest level fully self-rated, or null below the first."
    )


class SelfAssessmentOut(BaseModel):
    id: uuid.UUID
    framework_version: str
    ratings: list[SelfRating]
    recommended_track: Track
    reason: str
    submitted_at: datetime


class FeeLine(BaseModel):
    code: str = Field(examples=["lmdc"])
    description: str
    amount: Decimal = Field(description="PhP, two decimals.", examples=["30000.00"])


class FeeStatementOut(BaseModel):
    schedule: str = Field(examples=["cpro-2015"])
    effective_from: date
    track: Track
    currency: str = "PHP"
    items: list[FeeLine]
    total: Decimal = Field(examples=["57400.00"])
