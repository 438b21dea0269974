"""Routes for the program steps: self-assessment, Training Track sub-resources, fees."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Request, status

from app.auth.dependencies import Staff
from app.candidates import program, service
from app.candidates.models import ActionLearningProject, SelfAssessment
from app.candidates.program_schemas import (
    AlpIn,
    AlpOut,
    AttendanceIn,
    AttendanceOut,
    BriefIn,
    BriefOut,
    FeeLine,
    FeeStatementOut,
    SelfAssessmentIn,
    SelfAssessmentOut,
)
from app.candidates.router import StaffOrSelf, Syncer, SyncerOrSelf
from app.core.database import Session
from app.core.errors import NotFound, problem_responses
from app.frameworks.schemas import Code

router = APIRouter(prefix="/v1/candidates/{candidate_id}", tags=["Candidate program steps"])


def _self_assessment_out(record: SelfAssessment) -> SelfAssessmentOut:
    return SelfAssessmentOut(id=record.id, submitted_at=record.submitted_at, **record.result)


@router.post(
    "/self-assessments",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Submit the orientation self-assessment",
)
async def submit_self_assessment(
    candidate_id: uuid.UUID,
    body: SelfAssessmentIn,
    request: Request,
    session: Session,
    caller: StaffOrSelf,
) -> SelfAssessmentOut:
    """The candidate's answers on every positive indicator of the five CSC competencies. Returns
    a self-rated level per competency (the highest level whose indicators, and all lower ones,
    are demonstrated) and a recommended track with its reason: RPL when every competency is at
    or above the configured level (`CPRO_RPL_RECOMMENDATION_LEVEL`, default `advanced`), else
    the Training Track. Only while `registered` or `oriented`. A candidate's portal token
    submits for its own record only."""
    candidate = await service.get_candidate(session, caller, candidate_id)
    answers = {a.indicator: a.demonstrated for a in body.answers}
    record = await program.self_assess(
        session, candidate, answers, request.app.state.settings.rpl_recommendation_level
    )
    return _self_assessment_out(record)


@router.get(
    "/self-assessments", responses=problem_responses(401, 403, 404), summary="List self-assessments"
)
async def list_self_assessments(
    candidate_id: uuid.UUID, session: Session, caller: SyncerOrSelf
) -> list[SelfAssessmentOut]:
    """Every self-assessment the candidate submitted, oldest first."""
    candidate = await service.get_candidate(session, caller, candidate_id)
    return [
        _self_assessment_out(r) for r in await program.self_assessments_of(session, candidate.id)
    ]


@router.put(
    "/lmdc-attendance/{module}",
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Record LMDC module attendance",
)
async def put_attendance(
    candidate_id: uuid.UUID,
    module: Annotated[Code, Path(description="A CSC competency code.")],
    body: AttendanceIn,
    session: Session,
    caller: Staff,
) -> AttendanceOut:
    """Attendance of one of the five LMDC modules (one per CSC competency). Safe to repeat."""
    candidate = await service.get_candidate(session, caller, candidate_id)
    record = await program.record_attendance(
        session, candidate, module, body.attended_on, service.actor_of(caller)
    )
    return AttendanceOut.model_validate(record)


@router.get(
    "/lmdc-attendance", responses=problem_responses(401, 403, 404), summary="List LMDC attendance"
)
async def list_attendance(
    candidate_id: uuid.UUID, session: Session, caller: Syncer
) -> list[AttendanceOut]:
    """The modules attended so far."""
    candidate = await service.get_candidate(session, caller, candidate_id)
    return [
        AttendanceOut.model_validate(a) for a in await program.attendance_of(session, candidate.id)
    ]


@router.post(
    "/project-briefs",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Propose a project brief",
)
async def propose_brief(
    candidate_id: uuid.UUID, body: BriefIn, session: Session, caller: Staff
) -> BriefOut:
    """Training Track candidates propose two project briefs; one becomes the ALP."""
    candidate = await service.get_candidate(session, caller, candidate_id)
    return BriefOut.model_validate(
        await program.propose_brief(session, candidate, body.title, body.summary)
    )


@router.get(
    "/project-briefs", responses=problem_responses(401, 403, 404), summary="List project briefs"
)
async def list_briefs(candidate_id: uuid.UUID, session: Session, caller: Syncer) -> list[BriefOut]:
    """The candidate's briefs with their status."""
    candidate = await service.get_candidate(session, caller, candidate_id)
    return [BriefOut.model_validate(b) for b in await program.briefs_of(session, candidate.id)]


@router.post(
    "/project-briefs/{brief_id}/approve",
    responses=problem_responses(401, 403, 404, 409),
    summary="Approve one project brief",
)
async def approve_brief(
    candidate_id: uuid.UUID, brief_id: uuid.UUID, session: Session, caller: Staff
) -> BriefOut:
    """Approves this brief (the other is declined). Both must have been proposed."""
    candidate = await service.get_candidate(session, caller, candidate_id)
    return BriefOut.model_validate(await program.approve_brief(session, candidate, brief_id))


@router.put(
    "/alp",
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Set up the Action Learning Project",
)
async def put_alp(candidate_id: uuid.UUID, body: AlpIn, session: Session, caller: Staff) -> AlpOut:
    """Names the ALP coach and the executive sponsor for the approved brief. Changing the
    sponsor resets the acceptance; fixed once the ALP has started."""
    candidate = await service.get_candidate(session, caller, candidate_id)
    alp = await program.set_alp(
        session,
        candidate,
        coach_name=body.coach_name,
        sponsor_name=body.sponsor_name,
        sponsor_position=body.sponsor_position,
    )
    return AlpOut.model_validate(alp)


@router.post(
    "/alp/sponsor-acceptance",
    responses=problem_responses(401, 403, 404),
    summary="Record the sponsor's acceptance",
)
async def accept_sponsorship(candidate_id: uuid.UUID, session: Session, caller: Staff) -> AlpOut:
    """The executive sponsor expressly agreed to the role; required before the ALP starts."""
    candidate = await service.get_candidate(session, caller, candidate_id)
    return AlpOut.model_validate(await program.accept_sponsorship(session, candidate))


@router.get(
    "/alp", responses=problem_responses(401, 403, 404), summary="Get the Action Learning Project"
)
async def get_alp(candidate_id: uuid.UUID, session: Session, caller: Syncer) -> AlpOut:
    """The ALP with its coach, sponsor and 90-day window."""
    candidate = await service.get_candidate(session, caller, candidate_id)
    alp = await session.get(ActionLearningProject, candidate.id)
    if alp is None:
        raise NotFound("The candidate has no ALP yet.")
    return AlpOut.model_validate(alp)


@router.get(
    "/fees",
    responses=problem_responses(401, 403, 404, 409),
    summary="The candidate's fee statement",
)
async def get_fees(candidate_id: uuid.UUID, session: Session, caller: Syncer) -> FeeStatementOut:
    """The fees for the candidate's track under the schedule in effect when they registered
    (CPro 2015: Training Track PhP 57,400.00 = LMDC 30,000.00 + Assessment 27,400.00; RPL
    PhP 29,100.00 = Pre-Qualifying Written Test 1,200.00 + Assessment 27,900.00)."""
    candidate = await service.get_candidate(session, caller, candidate_id)
    statement = await program.fee_statement(session, candidate)
    return FeeStatementOut(
        schedule=statement.schedule,
        effective_from=statement.effective_from,
        track=statement.track,
        items=[
            FeeLine(code=i.code, description=i.description, amount=i.amount)
            for i in statement.items
        ],
        total=statement.total,
    )
