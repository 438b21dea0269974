"""Assessments: policies, rounds pinned to a framework version, scores, release and result.

The arithmetic and the outcome table live in ``rules`` (pure); this module loads, checks who
may do what, stores, and moves the candidate along.
"""

import secrets
import uuid
from collections import defaultdict
from decimal import Decimal
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
from app.audit import service as audit
from app.audit.service import Actor
from app.auth.models import ApiKey
from app.auth.roles import Role
from app.auth.service import Caller
from app.candidates import service as candidates
from app.candidates.models import Candidate
from app.candidates.state import Status, Track
from app.certificates.models import Certificate
from app.core.database import utcnow
from app.core.errors import Conflict, FieldError, NotFound, UnprocessableEntity
from app.frameworks.models import Competency, Indicator
from app.frameworks.service import current_version, get_version

BUNDLED_POLICY_NOTES = (
    "Weights 10/50/40 from the CPro FAQ (Written Test 10%, Portfolio Review 50%, Behavioral Event "
    "Interview 40%). ASSUMPTION: the sources state no pass mark; 70.00 on a 0-100 scale is a "
    "default for an administrator to confirm, or to replace with a new policy."
)


def policy_rules(policy: AssessmentPolicy) -> rules.Policy:
    return rules.Policy(
        code=policy.code,
        weights={rules.Instrument(k): Decimal(v) for k, v in policy.weights.items()},
        pass_mark=policy.pass_mark,
        score_min=policy.score_min,
        score_max=policy.score_max,
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


def _status_for_round(kind: rules.AssessmentKind) -> Status:
    """The status a candidate holds while a round of this kind may be opened and released."""
    if kind is rules.AssessmentKind.regular:
        return Status.for_assessment
    return Status.supplemental_eligible


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
    needed = _status_for_round(kind)
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
    statement = select(Assessment).where(Assessment.id == assessment_id)
    if caller.role is Role.assessor:
        statement = statement.join(AssessmentAssessor).where(
            AssessmentAssessor.api_key_id == caller.key_id
        )
    elif caller.role is Role.agency:
        statement = statement.join(Candidate, Candidate.id == Assessment.candidate_id).where(
            Candidate.agency_code == caller.agency_code
        )
    elif caller.role not in (Role.admin, Role.staff):
        raise NotFound("No assessment with that id.")
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


def _new_serial() -> str:
    # 80 random bits in Crockford-like base32, grouped for reading aloud: unguessable, unique.
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    value = secrets.randbits(80)
    chars = "".join(alphabet[(value >> (5 * i)) & 31] for i in range(16))
    return f"CPRO-{chars[:4]}-{chars[4:8]}-{chars[8:12]}-{chars[12:]}"


async def release(session: AsyncSession, caller: Caller, assessment_id: uuid.UUID) -> Assessment:
    """Compute and publish the result; move the candidate; certify when the rules say so."""
    assessment = await get_assessment(session, caller, assessment_id, for_update=True)
    if assessment.released_at is not None:
        raise Conflict("The assessment is released already.")
    candidate = await session.get(Candidate, assessment.candidate_id, with_for_update=True)
    assert candidate is not None
    policy = await session.get(AssessmentPolicy, assessment.policy_id)
    assert policy is not None
    kind = rules.AssessmentKind(assessment.kind)
    failed_before = frozenset(assessment.failed_before)
    required = rules.required_scores(kind, assessment.competencies, failed_before)
    present = await scores_of(session, assessment.id)
    have = {(s.competency, rules.Instrument(s.instrument)) for s in present}
    missing = sorted(
        required - have,
        key=lambda m: (assessment.competencies.index(m[0]), list(rules.Instrument).index(m[1])),
    )
    if missing:
        raise Conflict(
            f"{len(missing)} score(s) missing; all must be in before release.",
            missing_scores=[{"competency": c, "instrument": i.value} for c, i in missing],
        )
    status = candidates.effective_status(candidate)
    needed = _status_for_round(kind)
    if status is not needed:
        raise Conflict(
            f"The candidate is {status.value}; this {kind.value} round can no longer be released."
        )

    by_competency: dict[str, dict[rules.Instrument, Decimal]] = defaultdict(dict)
    for s in present:
        by_competency[s.competency][rules.Instrument(s.instrument)] = s.score
    now = utcnow()
    result = rules.compute_result(
        policy_rules(policy),
        assessment.competencies,
        by_competency,
        kind=kind,
        track=Track(candidate.track or "training"),
        release_date=now.date(),
        failed_before=failed_before,
    )
    names = dict(
        (
            await session.execute(
                select(Competency.code, Competency.name).where(
                    Competency.version_id == assessment.framework_version_id
                )
            )
        ).all()
    )
    assessment.released_at = now
    assessment.outcome = result.outcome.value
    assessment.result = result_snapshot(result, names)

    actor = candidates.actor_of(caller)
    await candidates.transition(
        session,
        candidate,
        Status.assessed,
        "assessment released",
        {"assessment_id": str(assessment.id)},
        actor,
        system=True,
    )
    next_status = {
        rules.Outcome.certified: Status.certified,
        rules.Outcome.supplemental: Status.supplemental_eligible,
        rules.Outcome.reenrollment: Status.reenrollment_required,
    }[result.outcome]
    candidate.supplemental_deadline = result.supplemental_deadline
    candidate.reenrollment_tracks = (
        [t.value for t in result.reenrollment_tracks] if result.reenrollment_tracks else None
    )
    await candidates.transition(
        session,
        candidate,
        next_status,
        f"outcome: {result.outcome.value}",
        {"assessment_id": str(assessment.id), "passed_count": result.passed_count},
        actor,
        system=True,
    )
    await audit.record(
        session,
        actor,
        "assessment.release",
        "assessment",
        assessment.id,
        after={"candidate_id": candidate.id, "outcome": assessment.outcome},
    )
    if result.outcome is rules.Outcome.certified:
        certificate = Certificate(
            serial=_new_serial(),
            candidate_id=candidate.id,
            assessment_id=assessment.id,
            holder_name=f"{candidate.given_name} {candidate.family_name}",
            issued_on=now.date(),
            status="valid",
            created_at=now,
        )
        session.add(certificate)
        await audit.record(
            session,
            actor,
            "certificate.issue",
            "certificate",
            certificate.serial,
            after={"candidate_id": candidate.id, "holder_name": certificate.holder_name},
        )
    await session.flush()
    return assessment


def result_snapshot(result: rules.Result, names: dict[str, str]) -> dict[str, Any]:
    """The released result as stored (JSON): exactly what the result endpoint shows."""
    return {
        "competencies": [
            {
                "code": c.code,
                "name": names.get(c.code, c.code),
                "scores": {i.value: str(v) for i, v in c.scores.items()},
                "weighted_score": str(c.weighted_score) if c.weighted_score is not None else None,
                "passed": c.passed,
                "carried_over": c.carried_over,
            }
            for c in result.competencies
        ],
        "passed_count": result.passed_count,
        "outcome": result.outcome.value,
        "pass_mark": str(result.pass_mark),
        "supplemental_deadline": result.supplemental_deadline.isoformat()
        if result.supplemental_deadline
        else None,
        "reenrollment_tracks": [t.value for t in result.reenrollment_tracks]
        if result.reenrollment_tracks
        else None,
        "explanation": result.explanation(names),
    }


async def certificate_of(session: AsyncSession, assessment_id: uuid.UUID) -> Certificate | None:
    return await session.scalar(
        select(Certificate).where(Certificate.assessment_id == assessment_id)
    )
