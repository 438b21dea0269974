"""Assessment routes: policies (admin), rounds and release (staff), scores (assigned assessors)."""

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status
from sqlalchemy import select

from app.assessments import rules, service
from app.assessments.models import Assessment, AssessmentPolicy, EvidenceItem
from app.assessments.release import release_many
from app.assessments.schemas import (
    AssessmentIn,
    AssessmentOut,
    AssessorsIn,
    CertificateRef,
    CompetencyResultOut,
    EvidenceIn,
    EvidenceOut,
    PolicyCode,
    PolicyIn,
    PolicyOut,
    PortfolioSubmissionRef,
    ReleaseBatchIn,
    ReleaseBatchItem,
    ReleaseBatchOut,
    ResultOut,
    ScoreOut,
    ScoresIn,
)
from app.auth.dependencies import AdminOnly, Allow, AnyRole, Staff
from app.auth.roles import Role
from app.auth.service import Caller
from app.candidates.service import actor_of
from app.core.database import Session
from app.core.errors import Conflict, problem_responses
from app.core.pagination import DEFAULT_LIMIT, Cursor, Limit, Page, paginate
from app.frameworks.models import Framework, FrameworkVersion
from app.portfolios.models import PortfolioSubmission

router = APIRouter(prefix="/v1", tags=["Assessments"])

Scorer = Annotated[Caller, Depends(Allow(Role.admin, Role.staff, Role.assessor))]
ResultReader = Annotated[Caller, Depends(Allow(Role.admin, Role.staff, Role.assessor, Role.agency))]


def _policy_out(policy: AssessmentPolicy) -> PolicyOut:
    return PolicyOut(
        code=policy.code,
        weights={k: Decimal(v) for k, v in policy.weights.items()},
        pass_mark=policy.pass_mark,
        score_min=policy.score_min,
        score_max=policy.score_max,
        notes=policy.notes,
        created_at=policy.created_at,
    )


async def _submission_ref(
    session: Session, submission_id: uuid.UUID | str | None
) -> PortfolioSubmissionRef | None:
    if submission_id is None:
        return None
    submission = await session.get(PortfolioSubmission, uuid.UUID(str(submission_id)))
    if submission is None:
        return None
    return PortfolioSubmissionRef(
        id=submission.id,
        number=submission.number,
        digest=submission.digest,
        href=f"/v1/candidates/{submission.candidate_id}/portfolio/submissions/{submission.id}",
    )


async def _assessment_out(session: Session, assessment: Assessment) -> AssessmentOut:
    framework, version = (
        await session.execute(
            select(Framework.slug, FrameworkVersion.version)
            .join(FrameworkVersion, FrameworkVersion.framework_id == Framework.id)
            .where(FrameworkVersion.id == assessment.framework_version_id)
        )
    ).one()
    policy = await session.get(AssessmentPolicy, assessment.policy_id)
    assert policy is not None
    required = rules.required_scores(
        rules.AssessmentKind(assessment.kind),
        assessment.competencies,
        frozenset(assessment.failed_before),
    )
    order = {code: i for i, code in enumerate(assessment.competencies)}
    return AssessmentOut(
        id=assessment.id,
        candidate_id=assessment.candidate_id,
        kind=rules.AssessmentKind(assessment.kind),
        framework=framework,
        version=version,
        policy=policy.code,
        competencies=assessment.competencies,
        failed_before=assessment.failed_before,
        required_scores=[
            {"competency": c, "instrument": i.value}
            for c, i in sorted(required, key=lambda r: (order[r[0]], rules.INSTRUMENTS.index(r[1])))
        ],
        scores=[
            ScoreOut.model_validate(s) for s in await service.scores_of(session, assessment.id)
        ],
        released_at=assessment.released_at,
        outcome=rules.Outcome(assessment.outcome) if assessment.outcome else None,
        portfolio_submission=await _submission_ref(session, assessment.portfolio_submission_id),
        created_at=assessment.created_at,
    )


@router.post(
    "/assessment-policies",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 409, 422),
    summary="Create an assessment policy",
)
async def create_policy(body: PolicyIn, session: Session, caller: AdminOnly) -> PolicyOut:
    """Weights per instrument, score range and pass mark. Policies never change once created
    (a released result names the policy it used): publish a new code instead."""
    policy = await service.create_policy(
        session,
        rules.Policy(
            code=body.code,
            weights={rules.Instrument(k): v for k, v in body.weights.model_dump().items()},
            pass_mark=body.pass_mark,
            score_min=body.score_min,
            score_max=body.score_max,
        ),
        body.notes,
    )
    return _policy_out(policy)


@router.get(
    "/assessment-policies",
    responses=problem_responses(401, 422),
    summary="List assessment policies",
)
async def list_policies(
    session: Session, caller: AnyRole, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT
) -> Page[PolicyOut]:
    """Every policy by code. The bundled `cpro-2015` carries the FAQ's 10/50/40 weights and a
    documented default pass mark (an assumption for an administrator to confirm)."""
    rows, next_cursor = await paginate(
        session,
        select(AssessmentPolicy),
        order_by=[AssessmentPolicy.code],
        cursor=cursor,
        limit=limit,
        key=lambda p: (p.code,),
    )
    return Page(items=[_policy_out(p) for p in rows], next_cursor=next_cursor)


@router.get(
    "/assessment-policies/{code}",
    responses=problem_responses(401, 404),
    summary="Get an assessment policy",
)
async def get_policy(code: PolicyCode, session: Session, caller: AnyRole) -> PolicyOut:
    """One policy."""
    return _policy_out(await service.get_policy(session, code))


@router.post(
    "/candidates/{candidate_id}/assessments",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Open an assessment round for a candidate",
)
async def create_assessment(
    candidate_id: uuid.UUID, body: AssessmentIn, session: Session, caller: Staff
) -> AssessmentOut:
    """Pinned to a framework version and a policy. `regular`: only for a candidate
    `for_assessment`. `supplemental`: only while `supplemental_eligible`; the written test on
    all five competencies, portfolio and interview on the failed ones only."""
    assessment = await service.create_assessment(
        session,
        caller,
        candidate_id,
        framework=body.framework,
        version=body.version,
        policy_code=body.policy,
        kind=body.kind,
        assessor_key_ids=body.assessors,
    )
    return await _assessment_out(session, assessment)


@router.get(
    "/assessments/{assessment_id}",
    responses=problem_responses(401, 403, 404),
    summary="Get an assessment",
)
async def get_assessment(
    assessment_id: uuid.UUID, session: Session, caller: ResultReader
) -> AssessmentOut:
    """The round, the scores it needs and has. Assessors see only rounds assigned to them."""
    return await _assessment_out(
        session, await service.get_assessment(session, caller, assessment_id)
    )


@router.put(
    "/assessments/{assessment_id}/assessors",
    responses=problem_responses(401, 403, 404, 422),
    summary="Assign assessors",
)
async def put_assessors(
    assessment_id: uuid.UUID, body: AssessorsIn, session: Session, caller: Staff
) -> AssessmentOut:
    """Replace the assessor keys allowed to score this round."""
    assessment = await service.get_assessment(session, caller, assessment_id)
    await service.assign_assessors(session, assessment, body.assessors)
    return await _assessment_out(session, assessment)


@router.put(
    "/assessments/{assessment_id}/scores",
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Record scores",
)
async def put_scores(
    assessment_id: uuid.UUID, body: ScoresIn, session: Session, caller: Scorer
) -> AssessmentOut:
    """Insert or change scores. Each must be within the policy's range and part of the round
    (422 naming each that is not); all or nothing. Every change is audited. After release,
    409: scores are frozen."""
    assessment = await service.get_assessment(session, caller, assessment_id, for_update=True)
    await service.put_scores(
        session, assessment, [s.model_dump() for s in body.scores], actor_of(caller)
    )
    return await _assessment_out(session, assessment)


# RFC 9745 `Deprecation` (a structured-field date) and RFC 8594 `Sunset`: the route works for
# this release and is removed in the next one.
EVIDENCE_DEPRECATED_AT = datetime(2026, 12, 2, tzinfo=UTC)
EVIDENCE_SUNSET = "Tue, 01 Jun 2027 00:00:00 GMT"
_DEPRECATION_HEADERS = {
    "Deprecation": {
        "description": "`@<unix time>` (RFC 9745): this operation is deprecated since then.",
        "schema": {"type": "string", "maxLength": 32},
    },
    "Sunset": {
        "description": "When the operation goes away (RFC 8594).",
        "schema": {"type": "string", "maxLength": 64},
    },
    "Link": {
        "description": '`rel="successor-version"`: the portfolio route that replaces it.',
        "schema": {"type": "string", "maxLength": 512},
    },
}


@router.post(
    "/assessments/{assessment_id}/evidence",
    status_code=status.HTTP_201_CREATED,
    responses={
        201: {"description": "Stored (deprecated route).", "headers": _DEPRECATION_HEADERS},
        **problem_responses(401, 403, 404, 409, 422),
    },
    summary="Link portfolio evidence to indicators (deprecated)",
    deprecated=True,
)
async def add_evidence(
    assessment_id: uuid.UUID,
    body: EvidenceIn,
    response: Response,
    session: Session,
    caller: Scorer,
) -> EvidenceOut:
    """**Deprecated** since 2026-12-02, removed after 2027-06-01 (`Deprecation`, `Sunset` and
    `Link` headers on each success). Candidates now build their portfolio themselves, with documents,
    and submit it (`/v1/candidates/{candidate_id}/portfolio`, `.../portfolio:submit`); a round
    then reviews that snapshot.

    Until removal this still stores a portfolio evidence item and the behavioural indicators
    (of the pinned version) it demonstrates, for rounds that review no submitted portfolio.
    On a round that does: 409 (the snapshot is what is reviewed)."""
    assessment = await service.get_assessment(session, caller, assessment_id)
    response.headers["Deprecation"] = f"@{int(EVIDENCE_DEPRECATED_AT.timestamp())}"
    response.headers["Sunset"] = EVIDENCE_SUNSET
    response.headers["Link"] = (
        f'</v1/candidates/{assessment.candidate_id}/portfolio/evidence>; rel="successor-version"'
    )
    item = await service.add_evidence(
        session,
        assessment,
        competency=body.competency,
        title=body.title,
        description=body.description,
        indicator_ids=body.indicators,
    )
    return _evidence_out(item)


def _evidence_out(item: EvidenceItem) -> EvidenceOut:
    return EvidenceOut(
        id=item.id,
        competency=item.competency,
        title=item.title,
        description=item.description,
        indicators=item.indicator_ids,
        created_at=item.created_at,
    )


@router.get(
    "/assessments/{assessment_id}/evidence",
    responses=problem_responses(401, 403, 404),
    summary="List portfolio evidence",
)
async def list_evidence(
    assessment_id: uuid.UUID, session: Session, caller: Scorer
) -> list[EvidenceOut]:
    """The evidence the round reviews: the entries of the submitted portfolio snapshot it
    names (`portfolio_submission`; `created_at` is the submission's time), or for a round
    without one the items added through the deprecated `POST`, oldest first."""
    assessment = await service.get_assessment(session, caller, assessment_id)
    if assessment.portfolio_submission_id is not None:
        submission = await session.get(PortfolioSubmission, assessment.portfolio_submission_id)
        assert submission is not None
        return [
            EvidenceOut(
                id=uuid.UUID(entry["id"]),
                competency=entry["competency"],
                title=entry["title"],
                description=entry["description"],
                indicators=entry["indicators"],
                created_at=submission.submitted_at,
            )
            for entry in submission.entries
        ]
    rows = await session.scalars(
        select(EvidenceItem)
        .where(EvidenceItem.assessment_id == assessment.id)
        .order_by(EvidenceItem.created_at)
    )
    return [_evidence_out(i) for i in rows]


@router.post(
    "/assessments/{assessment_id}/release",
    responses=problem_responses(401, 403, 404, 409),
    summary="Release the result",
)
async def release_assessment(
    assessment_id: uuid.UUID, session: Session, caller: Staff
) -> ResultOut:
    """Computes the result (409 listing `missing_scores` until all are in), freezes the scores,
    moves the candidate to `certified`, `supplemental_eligible` (deadline one year after
    release) or `reenrollment_required`, issues the certificate when certified, and reports
    the change on the feed and to webhooks."""
    assessment = await service.release(session, caller, assessment_id)
    return await _result_out(session, assessment)


@router.post(
    "/assessments:release",
    responses=problem_responses(401, 403, 422),
    summary="Release many results at once",
)
async def release_assessments(
    body: ReleaseBatchIn, session: Session, caller: Staff
) -> ReleaseBatchOut:
    """Releases up to 1,000 rounds in one transaction, each exactly as
    `POST /v1/assessments/{assessment_id}/release` would, and reports every id in order:
    `released` (with the result and any certificate serial), `already_released` (so a retry
    after a lost response is harmless) or `rejected` with an RFC 9457 `problem` (a round
    with missing scores does not hold back the rest). Send an `Idempotency-Key` to replay
    the first answer on a retry."""
    outcomes = await release_many(session, caller, body.assessment_ids)
    return ReleaseBatchOut(
        items=[
            ReleaseBatchItem(
                assessment_id=o.assessment_id,
                outcome="rejected"
                if o.problem is not None
                else "already_released"
                if o.already_released
                else "released",
                result=rules.Outcome(o.outcome) if o.problem is None and o.outcome else None,
                certificate_serial=o.certificate_serial,
                problem=o.problem.as_member() if o.problem is not None else None,
            )
            for o in outcomes
        ]
    )


@router.get(
    "/assessments/{assessment_id}/result",
    responses=problem_responses(401, 403, 404, 409),
    summary="Get the result",
)
async def get_result(assessment_id: uuid.UUID, session: Session, caller: ResultReader) -> ResultOut:
    """The released result: per competency the instrument scores, weighted score and verdict;
    the outcome; the policy and framework version used; the certificate when certified; and
    an explanation the candidate can read. 409 before release."""
    assessment = await service.get_assessment(session, caller, assessment_id)
    if assessment.released_at is None:
        raise Conflict("The result is not released yet.")
    return await _result_out(session, assessment)


async def _result_out(session: Session, assessment: Assessment) -> ResultOut:
    assert assessment.result is not None and assessment.released_at is not None
    summary = await _assessment_out(session, assessment)
    policy = await session.get(AssessmentPolicy, assessment.policy_id)
    assert policy is not None
    certificate = await service.certificate_of(session, assessment.id)
    snapshot = assessment.result
    return ResultOut(
        assessment_id=assessment.id,
        kind=summary.kind,
        competencies=[CompetencyResultOut.model_validate(c) for c in snapshot["competencies"]],
        passed_count=snapshot["passed_count"],
        outcome=rules.Outcome(snapshot["outcome"]),
        supplemental_deadline=snapshot["supplemental_deadline"],
        reenrollment_tracks=snapshot["reenrollment_tracks"],
        released_at=assessment.released_at,
        policy=policy.code,
        pass_mark=Decimal(snapshot["pass_mark"]),
        framework=summary.framework,
        version=summary.version,
        certificate=CertificateRef.model_validate(certificate, from_attributes=True)
        if certificate
        else None,
        portfolio_submission=await _submission_ref(
            session, snapshot.get("portfolio_submission_id")
        ),
        explanation=snapshot["explanation"],
    )
