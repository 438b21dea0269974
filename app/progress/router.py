"""A candidate's progress: where they are in CPro and what happens next."""

import uuid
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends

from app.auth.dependencies import Allow
from app.auth.roles import Role
from app.auth.service import Caller
from app.candidates.service import get_candidate
from app.core.database import Session
from app.core.errors import problem_responses
from app.progress import rules
from app.progress.schemas import DeadlinesOut, NextStepOut, ProgressOut, ProgressStepOut
from app.progress.service import facts_of

router = APIRouter(prefix="/v1", tags=["Candidates"])

ProgressReader = Annotated[
    Caller, Depends(Allow(Role.admin, Role.staff, Role.agency, Role.candidate))
]


@router.get(
    "/candidates/{candidate_id}/progress",
    responses=problem_responses(401, 403, 404),
    summary="A candidate's progress",
)
async def get_progress(
    candidate_id: uuid.UUID, session: Session, caller: ProgressReader
) -> ProgressOut:
    """The candidate's track and status; the steps of that track in order, each `done`,
    `in_progress` or `pending` (orientation, self-assessment, enrollment, then the
    pre-qualifying test for RPL, or the LMDC modules attended out of five, the two project
    briefs and the 90-day ALP for the Training Track, then the assessment and its result);
    `next_steps`, each with who acts; and the deadlines (ALP end, supplemental deadline).
    Computed from the records at every call, never stored. Agency keys: their own agency's
    candidates; a portal token: its own progress."""
    candidate = await get_candidate(session, caller, candidate_id)
    facts = await facts_of(session, candidate)
    return ProgressOut(
        candidate_id=candidate.id,
        status=facts.status,
        track=facts.track,
        steps=[ProgressStepOut(**asdict(step)) for step in rules.steps_of(facts)],
        next_steps=[NextStepOut(**asdict(step)) for step in rules.next_steps_of(facts)],
        deadlines=DeadlinesOut(
            alp_ends_on=facts.alp_ends_on, supplemental_deadline=facts.supplemental_deadline
        ),
        certificate_serial=facts.certificate_serial,
    )
