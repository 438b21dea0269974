import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from app.candidates.state import Status, Track
from app.progress.rules import Actor, StepState


class ProgressStepOut(BaseModel):
    code: str = Field(
        description="`orientation`, `self_assessment`, `enrollment`, then `prequalifying_test` "
        "(RPL) or `lmdc`, `project_briefs`, `alp` (Training Track), then `assessment`, `result`.",
        examples=["lmdc"],
    )
    title: str = Field(examples=["Leadership and Management Development Course (LMDC)"])
    state: StepState
    done_at: datetime | None = None
    detail: str | None = Field(default=None, examples=["3 of 5 modules attended"])
    count: int | None = Field(default=None, description="Done so far (LMDC modules, briefs).")
    total: int | None = Field(default=None, description="Out of how many.")
    due_on: date | None = Field(default=None, description="The ALP's 90-day window end.")


class NextStepOut(BaseModel):
    action: str = Field(examples=["Attend the remaining 2 LMDC module(s)"])
    actor: Actor = Field(
        description="Who acts: the candidate, staff, an assessor, the ALP's "
        "executive sponsor, or the service itself."
    )
    due_on: date | None = None


class DeadlinesOut(BaseModel):
    alp_ends_on: date | None = Field(description="End of the 90-day ALP window.")
    supplemental_deadline: date | None = Field(
        description="Last day for the supplemental assessment (one year after the release)."
    )


class ProgressOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "candidate_id": "0b9e6a52-3c1d-4e8f-9a7b-6c5d4e3f2a1b",
                    "status": "in_training",
                    "track": "training",
                    "steps": [
                        {"code": "orientation", "title": "General Orientation", "state": "done"},
                        {
                            "code": "lmdc",
                            "title": "Leadership and Management Development Course (LMDC)",
                            "state": "in_progress",
                            "count": 3,
                            "total": 5,
                            "detail": "3 of 5 modules attended",
                        },
                    ],
                    "next_steps": [
                        {"action": "Attend the remaining 2 LMDC module(s)", "actor": "candidate"}
                    ],
                    "deadlines": {"alp_ends_on": None, "supplemental_deadline": None},
                    "certificate_serial": None,
                }
            ]
        }
    )

    candidate_id: uuid.UUID
    status: Status
    track: Track | None
    steps: list[ProgressStepOut]
    next_steps: list[NextStepOut]
    deadlines: DeadlinesOut
    certificate_serial: str | None = Field(description="The valid certificate, once certified.")
