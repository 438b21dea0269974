"""Reading what the records say about a candidate's progress (``rules.Facts``). Nothing here is
stored: every answer is computed from the history, orientation, program and assessment records."""

import uuid
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.assessments.models import Assessment, Score
from app.assessments.worklist import required_count
from app.candidates import program
from app.candidates.models import (
    ActionLearningProject,
    Candidate,
    CandidateTransition,
    LmdcAttendance,
    ProjectBrief,
    SelfAssessment,
)
from app.candidates.service import effective_status
from app.candidates.state import Status, Track
from app.certificates.models import Certificate
from app.core.database import utcnow
from app.orientation.models import OrientationAttendee, OrientationSession
from app.progress.rules import Facts, Round

ORIENTATION = {Status.registered, Status.oriented}


def _reached(history: list[CandidateTransition]) -> dict[Status, datetime]:
    """First arrival at each status since the last enrollment (a re-enrolled candidate starts
    the track's steps again); orientation and the first enrollment count from the start."""
    last_enrollment = max(
        (i for i, t in enumerate(history) if t.to_status == Status.enrolled.value), default=0
    )
    reached: dict[Status, datetime] = {}
    for i, t in enumerate(history):
        status = Status(t.to_status)
        if (i >= last_enrollment or status in ORIENTATION) and status not in reached:
            reached[status] = t.at
    return reached


async def facts_of(session: AsyncSession, candidate: Candidate) -> Facts:
    history = list(
        (
            await session.scalars(
                select(CandidateTransition)
                .where(CandidateTransition.candidate_id == candidate.id)
                .order_by(CandidateTransition.id)
            )
        ).all()
    )
    prequalified = next(
        (t for t in reversed(history) if t.to_status == Status.prequalified.value), None
    )
    seats = (
        await session.execute(
            select(OrientationSession.starts_at, OrientationAttendee.attended)
            .join(OrientationAttendee, OrientationAttendee.session_id == OrientationSession.id)
            .where(OrientationAttendee.candidate_id == candidate.id)
            .order_by(OrientationSession.starts_at)
        )
    ).all()
    now = utcnow()
    latest_self = await session.scalar(
        select(SelfAssessment)
        .where(SelfAssessment.candidate_id == candidate.id)
        .order_by(SelfAssessment.submitted_at.desc())
        .limit(1)
    )
    briefs = (
        await session.scalars(
            select(ProjectBrief.status).where(ProjectBrief.candidate_id == candidate.id)
        )
    ).all()
    alp = await session.get(ActionLearningProject, candidate.id)
    attended = await session.scalar(
        select(func.count(func.distinct(LmdcAttendance.module))).where(
            LmdcAttendance.candidate_id == candidate.id
        )
    )
    modules = len(await program.lmdc_modules(session)) if candidate.track == Track.training else 5
    return Facts(
        status=effective_status(candidate),
        track=Track(candidate.track) if candidate.track else None,
        reached=_reached(history),
        orientation_attended_at=next((s for s, a in seats if a), None),
        upcoming_session_starts_at=next((s for s, _ in seats if s > now), None),
        self_assessed_at=latest_self.submitted_at if latest_self else None,
        recommended_track=latest_self.result.get("recommended_track") if latest_self else None,
        prequalifying_score=prequalified.data.get("score") if prequalified else None,
        lmdc_attended=int(attended or 0),
        lmdc_modules=modules,
        briefs_proposed=len(briefs),
        brief_approved="approved" in briefs,
        alp_planned=alp is not None,
        sponsor_accepted=alp is not None and alp.sponsor_accepted_at is not None,
        alp_starts_on=alp.starts_on if alp else None,
        alp_ends_on=alp.ends_on if alp else None,
        latest_round=await _latest_round(session, candidate.id),
        certificate_serial=await session.scalar(
            select(Certificate.serial).where(
                Certificate.candidate_id == candidate.id, Certificate.status == "valid"
            )
        ),
        supplemental_deadline=candidate.supplemental_deadline,
        reenrollment_tracks=list(candidate.reenrollment_tracks or []),
    )


async def _latest_round(session: AsyncSession, candidate_id: uuid.UUID) -> Round | None:
    assessment = await session.scalar(
        select(Assessment)
        .where(Assessment.candidate_id == candidate_id)
        .order_by(Assessment.created_at.desc(), Assessment.id.desc())
        .limit(1)
    )
    if assessment is None:
        return None
    present = await session.scalar(
        select(func.count(Score.id)).where(Score.assessment_id == assessment.id)
    )
    return Round(
        kind=assessment.kind,
        released_at=assessment.released_at,
        outcome=assessment.outcome,
        passed_count=assessment.result.get("passed_count") if assessment.result else None,
        scores_missing=max(0, required_count(assessment) - int(present or 0)),
    )
