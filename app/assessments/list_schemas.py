"""What the round lists return: one line per round, enough for a worklist or a candidate's page;
the round itself is at ``GET /v1/assessments/{assessment_id}``."""

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.assessments.rules import AssessmentKind, Outcome
from app.assessments.worklist import RoundState


class AssessmentListItem(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "3f0c6f1e-8d5b-4f0e-9a51-2b7d9c4e1a10",
                    "candidate_id": "0b9e6a52-3c1d-4e8f-9a7b-6c5d4e3f2a1b",
                    "agency": "DOH",
                    "kind": "regular",
                    "status": "open",
                    "scores_required": 15,
                    "scores_missing": 4,
                    "created_at": "2026-11-23T01:30:00Z",
                    "released_at": None,
                    "outcome": None,
                }
            ]
        }
    )

    id: uuid.UUID
    candidate_id: uuid.UUID
    agency: str | None
    kind: AssessmentKind
    status: RoundState = Field(
        description="`open`: scores missing; `ready`: all scores in, waiting for release; "
        "`released`."
    )
    scores_required: int = Field(description="How many scores the round needs.", ge=0)
    scores_missing: int = Field(description="How many of them are not in yet.", ge=0)
    created_at: datetime
    released_at: datetime | None
    outcome: Outcome | None = Field(description="Once released.")
