"""Assessments: policies, rounds pinned to a framework version, scores, release and result.

The arithmetic and the outcome table live in ``rules`` (pure); this module loads, checks who
may do what, stores, and moves the candidate along.
"""

import uuid
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.assessments import rules
from app.assessments.models import (
    Assessment,
    AssessmentAssessor,
    AssessmentPolicy,
    EvidenceItem,
    Score,
    ScoreChange,
)
from app.assessments.release import release_many
from app.assessments.rounds import status_for_round, visible_assessments
from app.audit import service as audit
from app.audit.service import Actor
from app.auth.models import ApiKey
from app.auth.roles import Role
from app.auth.service import Caller
from app.candidates import service as candidates
from app.certificates.models import Certificate
from app.core.database import utcnow
from app.core.errors import Conflict, FieldError, NotFound, UnprocessableEntity
from app.frameworks.models import Competency, Indicator
from app.frameworks.service import current_version, get_version
from app.portfolios import submission as portfolios

BUNDLED_POLICY_NOTES = (
    "Weights 10/50/40 from the CPro FAQ (Written Test 10%, Portfolio Review 50%, Behavioral Event "
    "Interview 40%). ASSUMPTION: the sources state no pass mark; 70.00 on a 0-100 scale is a "
    "default for an administrator to confirm, or to replace with a new policy."
)


async def create_policy(
    session: AsyncSession, policy: rules.Policy, notes: str | None
) -> AssessmentPolicy:
    problems = rules.policy_problems(policy)
    if problems:
        raise UnprocessableEntity(
            "The policy is not valid.",
            errors=[FieldError(field=f"body.{p.field}", message=p.message) for p in problems],
        )
    if await session.scalar(
        select(AssessmentPolicy.id).where(AssessmentPolicy.code == policy.code)
    ):
        raise Conflict(
            f"A policy {policy.code!r} exists; policies never change, so use a new code.",
            errors=[FieldError(field="body.code", message="already exists")],
        )
    row = AssessmentPolicy(
        id=uuid.uuid4(),
        code=policy.code,
        weights={k.value: str(v) for k, v in policy.weights.items()},
        pass_mark=policy.pass_mark,
        score_min=policy.score_min,
        score_max=policy.score_max,
        notes=notes,
        created_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    return row


async def load_reference_policies(session: AsyncSession) -> None:
    if (
        await session.scalar(
            select(AssessmentPolicy.id).where(AssessmentPolicy.code == rules.CPRO_2015.code)
        )
        is None
    ):
        await create_policy(session, rules.CPRO_2015, BUNDLED_POLICY_NOTES)


async def get_policy(session: AsyncSession, code: str) -> AssessmentPolicy:
    policy = await session.scalar(select(AssessmentPolicy).where(AssessmentPolicy.code == code))
    if policy is None:
        raise NotFound(f"No assessment policy {code!r}.")
    return policy


async def _unknown(field: str, message: str) -> UnprocessableEntity:
    return UnprocessableEntity(message, errors=[FieldError(field=field, message=message)])


async def create_assessment(
    session: AsyncSession,
    caller: Caller,
    candidate_id: uuid.UUID,
    *,
    framework: str,
    version: str | None,
    policy_code: str,
    kind: rules.AssessmentKind,
    assessor_key_ids: list[uuid.UUID],
) -> Assessment:
    """Open an assessment round pinned to a framework version and a policy.

    A regular round only for a candidate ``for_assessment``; a supplemental one only while
    ``supplemental_eligible`` (before the deadline), retaking the failures of the last
    released regular round.
    """
    candidate = await candidates.get_candidate(session, caller, candidate_id, for_update=True)
    status = candidates.effective_status(candidate)
    needed = status_for_round(kind)
    if status is not needed:
        raise Conflict(
            f"A {kind.value} assessment needs a candidate who is {needed.value}; this one is {status.value}."
        )
    open_round = await session.scalar(
        select(Assessment.id).where(
            Assessment.candidate_id == candidate.id, Assessment.released_at.is_(None)
        )
    )
    if open_round is not None:
        raise Conflict(
            f"The candidate has an unreleased assessment ({open_round}); release it first."
        )
    try:
        ref = await (
            get_version(session, framework, version)
            if version
            else current_version(session, framework)
        )
    except NotFound as exc:
        raise await _unknown(
            "body.framework" if not version else "body.version", str(exc.detail)
        ) from exc
    if ref.version.status == "draft":
        raise await _unknown("body.version", "assessments use published (or retired) versions only")
    policy = await session.scalar(
        select(AssessmentPolicy).where(AssessmentPolicy.code == policy_code)
    )
    if policy is None:
        raise await _unknown("body.policy", f"no assessment policy {policy_code!r}")
    codes = list(
        (
            await session.scalars(
                select(Competency.code)
                .where(Competency.version_id == ref.version.id)
                .order_by(Competency.position)
            )
        ).all()
    )
    if len(codes) != rules.COMPETENCY_COUNT:
        raise await _unknown(
            "body.framework",
            f"CPro assesses {rules.COMPETENCY_COUNT} competencies; this version has {len(codes)}",
        )

    previous: Assessment | None = None
    failed_before: list[str] = []
    if kind is rules.AssessmentKind.supplemental:
        previous = await session.scalar(
            select(Assessment)
            .where(
                Assessment.candidate_id == candidate.id,
                Assessment.kind == "regular",
                Assessment.released_at.is_not(None),
            )
            .order_by(Assessment.released_at.desc())
            .limit(1)
        )
        if previous is None or previous.result is None:
            raise Conflict("No released regular assessment to supplement.")
        failed_before = [c["code"] for c in previous.result["competencies"] if not c["passed"]]
        if previous.framework_version_id != ref.version.id or previous.policy_id != policy.id:
            raise await _unknown(
                "body.version",
                "a supplemental round uses the regular round's framework version and policy",
            )

    assessment = Assessment(
        id=uuid.uuid4(),
        candidate_id=candidate.id,
        kind=kind.value,
        framework_version_id=ref.version.id,
        policy_id=policy.id,
        previous_id=previous.id if previous else None,
        competencies=codes,
        failed_before=failed_before,
        created_at=utcnow(),
    )
    session.add(assessment)
    await session.flush()
    await portfolios.pin_submission(session, assessment)
    await assign_assessors(session, assessment, assessor_key_ids)
    return assessment


async def assign_assessors(
    session: AsyncSession, assessment: Assessment, key_ids: list[uuid.UUID]
) -> None:
    if not key_ids:
        return
    found = set(
        (
            await session.scalars(
                select(ApiKey.id).where(
                    ApiKey.id.in_(key_ids),
                    ApiKey.role == Role.assessor.value,
                    ApiKey.revoked_at.is_(None),
                )
            )
        ).all()
    )
    unknown = [str(k) for k in key_ids if k not in found]
    if unknown:
        raise UnprocessableEntity(
            "Assessors must be active assessor keys.",
            errors=[
                FieldError(field="body.assessors", message=f"not an active assessor key: {k}")
                for k in unknown
            ],
        )
    await session.execute(
        delete(AssessmentAssessor).where(AssessmentAssessor.assessment_id == assessment.id)
    )
    session.add_all(
        AssessmentAssessor(assessment_id=assessment.id, api_key_id=k)
        for k in dict.fromkeys(key_ids)
    )
    await session.flush()


async def get_assessment(
    session: AsyncSession, caller: Caller, assessment_id: uuid.UUID, *, for_update: bool = False
) -> Assessment:
    """The assessment if the caller may see it: staff and admin all; an assessor the ones
    assigned to it; an agency its own candidates'. Otherwise not found."""
    statement = visible_assessments(
        select(Assessment).where(Assessment.id == assessment_id), caller
    )
    if for_update:
        statement = statement.with_for_update(of=Assessment)
    assessment = await session.scalar(statement)
    if assessment is None:
        raise NotFound("No assessment with that id.")
    return assessment


async def scores_of(session: AsyncSession, assessment_id: uuid.UUID) -> list[Score]:
    return list(
        (
            await session.scalars(
                select(Score).where(Score.assessment_id == assessment_id).order_by(Score.id)
            )
        ).all()
    )


async def put_scores(
    session: AsyncSession, assessment: Assessment, entries: list[dict[str, Any]], actor: Actor
) -> list[Score]:
    """Write scores (insert or change), each checked against the round and the policy range;
    every change is audited. All or nothing: any problem and none is written."""
    if assessment.released_at is not None:
        raise Conflict("The assessment is released; its scores are frozen.")
    policy = await session.get(AssessmentPolicy, assessment.policy_id)
    assert policy is not None
    required = rules.required_scores(
        rules.AssessmentKind(assessment.kind),
        assessment.competencies,
        frozenset(assessment.failed_before),
    )
    problems: list[FieldError] = []
    seen: set[tuple[str, str]] = set()
    for i, entry in enumerate(entries):
        key = (entry["competency"], entry["instrument"])
        if entry["competency"] not in assessment.competencies:
            problems.append(
                FieldError(
                    field=f"body.scores[{i}].competency",
                    message="not a competency of this assessment's framework version",
                )
            )
        elif (entry["competency"], rules.Instrument(entry["instrument"])) not in required:
            problems.append(
                FieldError(
                    field=f"body.scores[{i}].instrument",
                    message="not part of this round (a supplemental round retakes only the failed competencies' portfolio and interview)",
                )
            )
        if not policy.score_min <= entry["score"] <= policy.score_max:
            problems.append(
                FieldError(
                    field=f"body.scores[{i}].score",
                    message=f"must be from {policy.score_min} to {policy.score_max}",
                )
            )
        if key in seen:
            problems.append(
                FieldError(
                    field=f"body.scores[{i}]", message="the same competency and instrument twice"
                )
            )
        seen.add(key)
    if problems:
        raise UnprocessableEntity(f"{len(problems)} score(s) cannot be recorded.", errors=problems)

    existing = {(s.competency, s.instrument): s for s in await scores_of(session, assessment.id)}
    now = utcnow()
    audited: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for entry in entries:
        key = (entry["competency"], entry["instrument"])
        score = existing.get(key)
        old = score.score if score else None
        if score is None:
            score = Score(assessment_id=assessment.id, competency=key[0], instrument=key[1])
            session.add(score)
            existing[key] = score
        if (
            old != entry["score"]
            or score.remarks != entry.get("remarks")
            or score.assessor != entry.get("assessor")
        ):
            before, after = audit.changes(
                {"score": old, "assessor": score.assessor, "remarks": score.remarks},
                {
                    "score": entry["score"],
                    "assessor": entry.get("assessor"),
                    "remarks": entry.get("remarks"),
                },
            )
            which = {"competency": key[0], "instrument": key[1]}
            audited.append((which | before, which | after))
            score.score = entry["score"]
            score.assessor = entry.get("assessor")
            score.remarks = entry.get("remarks")
            score.updated_at = now
            score.updated_by = actor.label
            session.add(
                ScoreChange(
                    assessment_id=assessment.id,
                    competency=key[0],
                    instrument=key[1],
                    old_score=old,
                    new_score=entry["score"],
                    actor=actor.label,
                    at=now,
                )
            )
    await session.flush()
    for before, after in audited:
        await audit.record(
            session, actor, "score.write", "assessment", assessment.id, before, after
        )
    return list(existing.values())


async def add_evidence(
    session: AsyncSession,
    assessment: Assessment,
    *,
    competency: str,
    title: str,
    description: str | None,
    indicator_ids: list[int],
) -> EvidenceItem:
    if assessment.released_at is not None:
        raise Conflict("The assessment is released; its portfolio is frozen.")
    if assessment.portfolio_submission_id is not None:
        raise Conflict(
            "This round reviews a submitted portfolio; evidence is added to the candidate's "
            "portfolio (POST /v1/candidates/{candidate_id}/portfolio/evidence) before it is "
            "submitted."
        )
    problems = []
    if competency not in assessment.competencies:
        problems.append(
            FieldError(field="body.competency", message="not a competency of this assessment")
        )
    valid = set(
        (
            await session.scalars(
                select(Indicator.id)
                .join(Competency, Indicator.competency_id == Competency.id)
                .where(
                    Indicator.id.in_(indicator_ids),
                    Indicator.version_id == assessment.framework_version_id,
                    Competency.code == competency,
                )
            )
        ).all()
    )
    problems += [
        FieldError(
            field=f"body.indicators[{i}]",
            message="not an indicator of this competency in the pinned version",
        )
        for i, indicator in enumerate(indicator_ids)
        if indicator not in valid
    ]
    if problems:
        raise UnprocessableEntity("The evidence cannot be recorded.", errors=problems)
    item = EvidenceItem(
        id=uuid.uuid4(),
        assessment_id=assessment.id,
        competency=competency,
        title=title,
        description=description,
        indicator_ids=list(dict.fromkeys(indicator_ids)),
        created_at=utcnow(),
    )
    session.add(item)
    await session.flush()
    return item


async def release(session: AsyncSession, caller: Caller, assessment_id: uuid.UUID) -> Assessment:
    """Compute and publish the result; move the candidate; certify when the rules say so."""
    (outcome,) = await release_many(session, caller, [assessment_id])
    if outcome.problem is not None:
        raise outcome.problem
    if outcome.already_released:
        raise Conflict("The assessment is released already.")
    # Released as a row (see ``release_many``): the entity read afterwards has the result.
    assessment = await session.get(Assessment, assessment_id, populate_existing=True)
    assert assessment is not None
    return assessment


async def certificate_of(session: AsyncSession, assessment_id: uuid.UUID) -> Certificate | None:
    return await session.scalar(
        select(Certificate).where(Certificate.assessment_id == assessment_id)
    )
