from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.candidates.schemas import CandidateOut

Rows = list[dict[str, Any]]


class PersonalDataOut(BaseModel):
    """Everything the service holds on one candidate (Data Privacy Act, right of access).
    Sections other than `candidate` list the stored rows with every column."""

    generated_at: datetime
    candidate: CandidateOut = Field(description="The candidate as the API shows it.")
    record: dict[str, Any] = Field(description="The candidate row as stored, every column.")
    history: Rows = Field(description="Status changes: who, when, why, with what data.")
    self_assessments: Rows
    lmdc_attendance: Rows
    orientation_seats: Rows = Field(
        default_factory=list,
        description="General Orientation registrations and attendance.",
    )
    project_briefs: Rows
    action_learning_project: Rows = Field(description="At most one.")
    assessments: Rows = Field(
        description="Each with its `assessors`, `scores`, `score_changes`, `evidence`, and the "
        "released `result`."
    )
    portfolio: dict[str, Rows] = Field(
        description="`record`, `evidence` (draft and withdrawn entries), `documents` (each with "
        "its `sha256`, `size` and `media_type`; the bytes download from the portfolio routes) "
        "and `submissions` (the frozen snapshots)."
    )
    certificates: Rows
    events: Rows = Field(description="Change-feed events about the candidate (ids only).")
    audit: Rows = Field(
        description="Audit entries about the candidate, its assessments, certificates and "
        "portfolio documents, this request's own read included."
    )


class ErasureIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"reason": "Data subject's written request of 2026-11-20, ref. DPO-118"}]
        },
    )

    reason: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)
    ] = Field(description="Why: kept in the audit trail (do not repeat personal data here).")


class ErasureOut(BaseModel):
    candidate: CandidateOut = Field(description="The candidate as it now reads.")
    erased_at: datetime
    revoked_certificates: list[str] = Field(
        description="Serials of the valid certificates revoked because their holder was erased."
    )
