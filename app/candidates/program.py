"""The program steps around the lifecycle: orientation self-assessment, the Training Track
(LMDC modules, project briefs, the ALP) and the fee statement."""

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import Actor
from app.candidates.models import (
    ActionLearningProject,
    Candidate,
    FeeItem,
    LmdcAttendance,
    ProjectBrief,
    SelfAssessment,
)
from app.candidates.state import Status, Track
from app.core.database import utcnow
from app.core.errors import Conflict, FieldError, NotFound, UnprocessableEntity
from app.frameworks.models import Competency, Indicator, Level
from app.frameworks.service import current_version

# The CPro framework: the five CSC leadership competencies (one LMDC module each).
CPRO_FRAMEWORK = "csc-leadership-competencies"
ALP_DAYS = 90

# DOMAIN.md, "Fees (PhP)", from the CPro FAQ. The FAQ gives no effective date; the schedule is
# dated by the framework version it came with.
BUNDLED_FEES: list[dict[str, Any]] = [
    {
        "schedule": "cpro-2015",
        "effective_from": date(2015, 12, 11),
        "track": "training",
        "code": "lmdc",
        "description": "Leadership and Management Development Course (LMDC)",
        "amount": Decimal("30000.00"),
    },
    {
        "schedule": "cpro-2015",
        "effective_from": date(2015, 12, 11),
        "track": "training",
        "code": "assessment",
        "description": "Assessment",
        "amount": Decimal("27400.00"),
    },
    {
        "schedule": "cpro-2015",
        "effective_from": date(2015, 12, 11),
        "track": "rpl",
        "code": "prequalifying-test",
        "description": "Pre-Qualifying Written Test",
        "amount": Decimal("1200.00"),
    },
    {
        "schedule": "cpro-2015",
        "effective_from": date(2015, 12, 11),
        "track": "rpl",
        "code": "assessment",
        "description": "Assessment",
        "amount": Decimal("27900.00"),
    },
]


async def load_reference_fees(session: AsyncSession) -> None:
    present = set(
        (await session.execute(select(FeeItem.schedule, FeeItem.track, FeeItem.code))).all()
    )
    for position, item in enumerate(BUNDLED_FEES):
        if (item["schedule"], item["track"], item["code"]) not in present:
            session.add(FeeItem(position=position, **item))
    await session.flush()


@dataclass(frozen=True)
class FeeStatement:
    schedule: str
    effective_from: date
    track: Track
    items: list[FeeItem]

    @property
    def total(self) -> Decimal:
        return sum((item.amount for item in self.items), Decimal("0.00"))


async def fee_statement(session: AsyncSession, candidate: Candidate) -> FeeStatement:
    """The fees for the candidate's track under the schedule in effect when they registered."""
    if candidate.track is None:
        raise Conflict("The candidate has not chosen a track yet; fees depend on it.")
    as_of = candidate.created_at.date()
    items = list(
        (
            await session.scalars(
                select(FeeItem)
                .where(FeeItem.track == candidate.track)
                .order_by(FeeItem.effective_from.desc(), FeeItem.position)
            )
        ).all()
    )
    in_effect = [i for i in items if i.effective_from <= as_of] or items
    if not in_effect:
        raise NotFound("No fee schedule is loaded.")
    schedule = in_effect[0].schedule
    chosen = [i for i in in_effect if i.schedule == schedule]
    return FeeStatement(schedule, chosen[0].effective_from, Track(candidate.track), chosen)


# -- Training Track --------------------------------------------------------------------------


async def lmdc_modules(session: AsyncSession) -> dict[str, str]:
    """Module code -> name: the competencies of the current CSC framework, in order."""
    ref = await current_version(session, CPRO_FRAMEWORK)
    rows = await session.execute(
        select(Competency.code, Competency.name)
        .where(Competency.version_id == ref.version.id)
        .order_by(Competency.position)
    )
    return {code: name for code, name in rows.all()}


async def record_attendance(
    session: AsyncSession, candidate: Candidate, module: str, attended_on: date, actor: Actor
) -> LmdcAttendance:
    modules = await lmdc_modules(session)
    if module not in modules:
        raise UnprocessableEntity(
            f"No LMDC module {module!r}.",
            errors=[FieldError(field="body.module", message=f"one of {sorted(modules)}")],
        )
    if candidate.track != Track.training.value:
        raise Conflict("LMDC attendance is for Training Track candidates.")
    existing = await session.scalar(
        select(LmdcAttendance).where(
            LmdcAttendance.candidate_id == candidate.id, LmdcAttendance.module == module
        )
    )
    if existing is not None:
        existing.attended_on = attended_on
        existing.recorded_by = actor.label
        return existing
    attendance = LmdcAttendance(
        candidate_id=candidate.id, module=module, attended_on=attended_on, recorded_by=actor.label
    )
    session.add(attendance)
    await session.flush()
    return attendance


async def attendance_of(session: AsyncSession, candidate_id: uuid.UUID) -> list[LmdcAttendance]:
    return list(
        (
            await session.scalars(
                select(LmdcAttendance)
                .where(LmdcAttendance.candidate_id == candidate_id)
                .order_by(LmdcAttendance.id)
            )
        ).all()
    )


async def propose_brief(
    session: AsyncSession, candidate: Candidate, title: str, summary: str
) -> ProjectBrief:
    if candidate.track != Track.training.value:
        raise Conflict("Project briefs are for Training Track candidates.")
    briefs = await briefs_of(session, candidate.id)
    if len(briefs) >= 2:
        raise Conflict("Two project briefs are proposed already (the program asks for two).")
    brief = ProjectBrief(
        id=uuid.uuid4(),
        candidate_id=candidate.id,
        title=title,
        summary=summary,
        status="proposed",
        created_at=utcnow(),
    )
    session.add(brief)
    await session.flush()
    return brief


async def briefs_of(session: AsyncSession, candidate_id: uuid.UUID) -> list[ProjectBrief]:
    return list(
        (
            await session.scalars(
                select(ProjectBrief)
                .where(ProjectBrief.candidate_id == candidate_id)
                .order_by(ProjectBrief.created_at, ProjectBrief.id)
            )
        ).all()
    )


async def approve_brief(
    session: AsyncSession, candidate: Candidate, brief_id: uuid.UUID
) -> ProjectBrief:
    briefs = await briefs_of(session, candidate.id)
    brief = next((b for b in briefs if b.id == brief_id), None)
    if brief is None:
        raise NotFound("No such project brief for this candidate.")
    if len(briefs) < 2:
        raise Conflict("Both project briefs must be proposed before one is approved.")
    if any(b.status == "approved" and b.id != brief_id for b in briefs):
        raise Conflict("Another brief is approved already; only one is.")
    now = utcnow()
    for b in briefs:
        b.status = "approved" if b.id == brief_id else "declined"
        b.decided_at = now
    await session.flush()
    return brief


async def set_alp(
    session: AsyncSession,
    candidate: Candidate,
    *,
    coach_name: str,
    sponsor_name: str,
    sponsor_position: str,
) -> ActionLearningProject:
    """Name the ALP's coach and executive sponsor; the approved brief becomes the project."""
    briefs = await briefs_of(session, candidate.id)
    approved = next((b for b in briefs if b.status == "approved"), None)
    if approved is None:
        raise Conflict("Approve one of the two project briefs first.")
    alp = await session.get(ActionLearningProject, candidate.id)
    if alp is not None and alp.starts_on is not None:
        raise Conflict("The ALP has started; its coach and sponsor are fixed.")
    if alp is None:
        alp = ActionLearningProject(candidate_id=candidate.id, created_at=utcnow())
        session.add(alp)
    alp.brief_id = approved.id
    alp.coach_name = coach_name
    alp.sponsor_name = sponsor_name
    alp.sponsor_position = sponsor_position
    alp.sponsor_accepted_at = None
    await session.flush()
    return alp


async def accept_sponsorship(session: AsyncSession, candidate: Candidate) -> ActionLearningProject:
    alp = await session.get(ActionLearningProject, candidate.id)
    if alp is None:
        raise NotFound("The candidate has no ALP yet.")
    alp.sponsor_accepted_at = alp.sponsor_accepted_at or utcnow()
    await session.flush()
    return alp


async def alp_preconditions(session: AsyncSession, candidate: Candidate) -> list[str]:
    """What is missing before the candidate's ALP may start (in_training -> alp_in_progress)."""
    missing = []
    modules = await lmdc_modules(session)
    attended = {a.module for a in await attendance_of(session, candidate.id)}
    absent = [m for m in modules if m not in attended]
    if absent:
        missing.append(f"LMDC modules not attended: {', '.join(absent)}")
    alp = await session.get(ActionLearningProject, candidate.id)
    if alp is None:
        missing.append("no ALP with an approved brief, a coach and an executive sponsor")
    elif alp.sponsor_accepted_at is None:
        missing.append("the executive sponsor has not accepted the role")
    return missing


async def start_alp(session: AsyncSession, candidate: Candidate, today: date) -> None:
    """The 90-day window opens on the day the ALP starts."""
    alp = await session.get(ActionLearningProject, candidate.id)
    assert alp is not None  # alp_preconditions required it
    alp.starts_on = today
    alp.ends_on = today + timedelta(days=ALP_DAYS)
    await session.flush()


async def self_assessments_of(
    session: AsyncSession, candidate_id: uuid.UUID
) -> list[SelfAssessment]:
    return list(
        (
            await session.scalars(
                select(SelfAssessment)
                .where(SelfAssessment.candidate_id == candidate_id)
                .order_by(SelfAssessment.submitted_at)
            )
        ).all()
    )


# -- Orientation: the Competency Self-Assessment ---------------------------------------------


async def self_assess(
    session: AsyncSession, candidate: Candidate, answers: dict[int, bool], rpl_level: str
) -> SelfAssessment:
    """Rate the candidate from their answers on every positive indicator of the five CSC
    competencies. A competency is self-rated at the highest level whose indicators, and those
    of every lower level, are all answered as demonstrated. RPL is recommended when every
    competency is self-rated at or above ``rpl_level``; otherwise the Training Track."""
    if Status(candidate.status) not in (Status.registered, Status.oriented):
        raise Conflict("The self-assessment is part of the orientation, before enrollment.")
    ref = await current_version(session, CPRO_FRAMEWORK)
    rows = (
        await session.execute(
            select(
                Indicator.id, Competency.code, Competency.name, Level.code, Level.name, Level.rank
            )
            .join(Competency, Indicator.competency_id == Competency.id)
            .join(Level, Indicator.level_id == Level.id)
            .where(Indicator.version_id == ref.version.id, Indicator.polarity == "positive")
            .order_by(Competency.position, Level.rank, Indicator.id)
        )
    ).all()
    expected = {row[0] for row in rows}
    unknown = sorted(set(answers) - expected)
    missing = sorted(expected - set(answers))
    problems = [FieldError(field="body.answers", message=f"unknown indicator {i}") for i in unknown]
    if missing:
        problems.append(
            FieldError(
                field="body.answers",
                message=f"{len(missing)} indicator(s) unanswered, e.g. {missing[:5]}",
            )
        )
    levels = {row[3]: (row[4], row[5]) for row in rows}
    if rpl_level not in levels:
        raise UnprocessableEntity("The configured RPL level is not a level of the framework.")
    if problems:
        raise UnprocessableEntity(
            "Answer every indicator of the five competencies once.", errors=problems
        )

    per_competency: dict[str, dict[str, Any]] = {}
    for indicator_id, code, name, level_code, level_name, rank in rows:
        entry = per_competency.setdefault(code, {"competency": code, "name": name, "ranks": {}})
        entry["ranks"].setdefault(rank, (level_code, level_name, []))[2].append(
            answers[indicator_id]
        )
    ratings = []
    for entry in per_competency.values():
        achieved = None
        for rank in sorted(entry["ranks"]):
            level_code, level_name, demonstrated = entry["ranks"][rank]
            if not all(demonstrated):
                break
            achieved = {"code": level_code, "name": level_name, "rank": rank}
        ratings.append(
            {"competency": entry["competency"], "name": entry["name"], "level": achieved}
        )
    threshold_name, threshold_rank = levels[rpl_level]
    short = [
        r["name"] for r in ratings if r["level"] is None or r["level"]["rank"] < threshold_rank
    ]
    if short:
        track, reason = (
            Track.training,
            (
                f"Recommended: Training Track. You rated yourself below {threshold_name} in: {', '.join(short)}. "
                "The LMDC and the Action Learning Project develop these competencies before assessment."
            ),
        )
    else:
        track, reason = (
            Track.rpl,
            (
                f"Recommended: Recognition of Prior Learning. You rated yourself at {threshold_name} or above "
                "in all five competencies; RPL recognises competencies already gained through work experience."
            ),
        )
    result = {
        "ratings": ratings,
        "recommended_track": track.value,
        "reason": reason,
        "framework_version": ref.version.version,
    }
    assessment = SelfAssessment(
        id=uuid.uuid4(),
        candidate_id=candidate.id,
        framework_version_id=ref.version.id,
        answers={str(k): v for k, v in answers.items()},
        result=result,
        submitted_at=utcnow(),
    )
    session.add(assessment)
    await session.flush()
    return assessment
