import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

Mode = Literal["online", "in_person"]


class OrientationSessionIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "title": "CPro General Orientation, Batch 12",
                    "starts_at": "2027-01-14T01:00:00Z",
                    "ends_at": "2027-01-14T05:00:00Z",
                    "mode": "in_person",
                    "venue": "CSI Training Room A, Civil Service Commission, Quezon City",
                    "capacity": 40,
                }
            ]
        },
    )

    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    starts_at: AwareDatetime
    ends_at: AwareDatetime = Field(description="After `starts_at`.")
    mode: Mode
    venue: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
        | None
    ) = Field(
        default=None,
        description="Where: required for `in_person`; for `online`, the platform (optional).",
    )
    capacity: int = Field(ge=1, le=10_000, description="Seats.")


class OrientationSessionOut(BaseModel):
    id: uuid.UUID
    title: str = Field(examples=["CPro General Orientation, Batch 12"])
    starts_at: datetime
    ends_at: datetime
    mode: Mode
    venue: str | None
    capacity: int
    seats_taken: int
    seats_left: int
    created_at: datetime


class AttendeeIn(BaseModel):
    """Empty (or no body) to register; `{"attended": true|false}` to record attendance."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{}, {"attended": True}]}
    )

    attended: bool | None = Field(
        default=None,
        description="Staff, once the session has started: whether the candidate attended. "
        "`true` moves a `registered` candidate to `oriented`.",
    )


class AttendeeOut(BaseModel):
    session_id: uuid.UUID
    candidate_id: uuid.UUID
    agency: str | None
    registered_at: datetime
    attended: bool | None = Field(description="null until staff record attendance.")
    attendance_recorded_at: datetime | None
    candidate_status: str = Field(
        description="The candidate's status now.", examples=["registered"]
    )
