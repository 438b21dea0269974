import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.agencies.schemas import AgencyCode
from app.frameworks.schemas import Code, CompetencyRef, LevelOut, Slug, VersionLabel

PositionTitle = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=300),
    Field(examples=["Division Chief"]),
]


class RequirementIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    competency: Code = Field(description="A competency code of the framework version.")
    level: Code = Field(
        description="A level code of that competency's scale (e.g. `advanced`, `stage-2`).",
        examples=["advanced"],
    )


class QualificationStandardIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "position_title": "Division Chief",
                    "agency": "DOH",
                    "framework": "csc-leadership-competencies",
                    "version": "2015",
                    "requirements": [
                        {
                            "competency": "thinking-strategically-and-creatively",
                            "level": "advanced",
                        },
                        {"competency": "leading-change", "level": "advanced"},
                    ],
                }
            ]
        },
    )

    position_title: PositionTitle
    agency: AgencyCode | None = Field(default=None, description="The agency, if not service-wide.")
    framework: Slug
    version: VersionLabel = Field(description="A published or retired version (not a draft).")
    requirements: list[RequirementIn] = Field(min_length=1, max_length=500)


class RequirementOut(BaseModel):
    competency: CompetencyRef
    level: LevelOut


class QualificationStandardOut(BaseModel):
    id: uuid.UUID
    position_title: str = Field(examples=["Division Chief (example)"])
    agency: str | None = Field(examples=["DOH"])
    framework: str = Field(examples=["csc-leadership-competencies"])
    version: str = Field(examples=["2015"])
    is_example: bool = Field(
        description="True for the sample standards bundled with the service; not a real position."
    )
    requirements: list[RequirementOut]
    created_at: datetime
