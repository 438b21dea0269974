"""Submission: the draft frozen into a numbered snapshot, and the round that reviews it.

A snapshot holds the entries, their indicator claims and each document's SHA-256, with a
``digest`` over all of it; it never changes afterwards (erasure blanks its text, keeps the
digests). A round scores ``portfolio_review`` against one snapshot: a round already open takes
the next submission, a round opened later the latest snapshot no round reviewed.
"""

import hashlib
import json
import uuid
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.assessments.models import Assessment, Score
from app.assessments.rules import AssessmentKind, Instrument
from app.audit import service as audit
from app.audit.service import Actor
from app.candidates.models import Candidate
from app.core.database import utcnow
from app.core.errors import FieldError, NotFound, UnprocessableEntity
from app.portfolios.models import PortfolioDocument, PortfolioEvidence, PortfolioSubmission
from app.portfolios.service import (
    check_editable,
    draft_documents,
    draft_evidence,
    portfolio_of,
    template_of,
    uncovered,
)


def _entry(evidence: PortfolioEvidence, documents: list[PortfolioDocument]) -> dict[str, Any]:
    return {
        "id": str(evidence.id),
        "competency": evidence.competency,
        "title": evidence.title,
        "description": evidence.description,
        "indicators": evidence.indicator_ids,
        "period": {
            "start": evidence.period_start.isoformat(),
            "end": evidence.period_end.isoformat() if evidence.period_end else None,
        }
        if evidence.period_start
        else None,
        "documents": [
            {
                "id": str(d.id),
                "filename": d.filename,
                "media_type": d.media_type,
                "size": d.size,
                "sha256": d.sha256,
            }
            for d in documents
        ],
    }


def entries_digest(entries: list[dict[str, Any]]) -> str:
    canonical = json.dumps(entries, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def submit(session: AsyncSession, candidate: Candidate, actor: Actor) -> PortfolioSubmission:
    """Freeze the draft. 422 listing the required competencies without evidence."""
    await check_editable(session, candidate)
    portfolio = await portfolio_of(session, candidate, for_update=True)
    template = await template_of(session, candidate, portfolio)
    evidence = await draft_evidence(session, candidate.id)
    missing = uncovered(template, evidence)
    if missing:
        raise UnprocessableEntity(
            f"The portfolio does not cover {len(missing)} required competenc"
            f"{'y' if len(missing) == 1 else 'ies'}; add evidence for each first.",
            errors=[
                FieldError(field=f"portfolio.competencies.{code}", message="no evidence")
                for code in missing
            ],
            uncovered=missing,
        )
    order = {code: i for i, (code, _) in enumerate(template.competencies)}
    evidence.sort(key=lambda e: (order.get(e.competency, len(order)), e.created_at, str(e.id)))
    documents = await draft_documents(session, [e.id for e in evidence])
    entries = [_entry(e, [d for d in documents[e.id] if d.erased_at is None]) for e in evidence]
    number = (
        await session.scalar(
            select(func.coalesce(func.max(PortfolioSubmission.number), 0)).where(
                PortfolioSubmission.candidate_id == candidate.id
            )
        )
        or 0
    ) + 1
    submission = PortfolioSubmission(
        id=uuid.uuid4(),
        candidate_id=candidate.id,
        number=number,
        framework_version_id=portfolio.framework_version_id,
        required_competencies=template.required,
        entries=entries,
        evidence_count=len(entries),
        document_count=sum(len(e["documents"]) for e in entries),
        digest=entries_digest(entries),
        submitted_at=max(utcnow(), portfolio.changed_at),
        submitted_by=actor.label,
    )
    session.add(submission)
    await session.flush()
    await _pin_to_open_round(session, submission)
    await audit.record(
        session,
        actor,
        "portfolio.submit",
        "candidate",
        candidate.id,
        after={
            "submission_id": submission.id,
            "number": submission.number,
            "digest": submission.digest,
            "evidence_count": submission.evidence_count,
            "document_count": submission.document_count,
        },
    )
    return submission


def _covers(submission: PortfolioSubmission, assessment: Assessment) -> bool:
    needed = (
        set(assessment.failed_before)
        if assessment.kind == AssessmentKind.supplemental.value
        else set(assessment.competencies)
    )
    return needed <= {e["competency"] for e in submission.entries}


async def _pin_to_open_round(session: AsyncSession, submission: PortfolioSubmission) -> None:
    """A round already open, naming no submission and with no portfolio score yet, reviews
    this one."""
    assessment = await session.scalar(
        select(Assessment)
        .where(
            Assessment.candidate_id == submission.candidate_id,
            Assessment.released_at.is_(None),
            Assessment.portfolio_submission_id.is_(None),
            Assessment.framework_version_id == submission.framework_version_id,
            ~exists().where(
                Score.assessment_id == Assessment.id,
                Score.instrument == Instrument.portfolio_review.value,
            ),
        )
        .with_for_update()
    )
    if assessment is not None and _covers(submission, assessment):
        assessment.portfolio_submission_id = submission.id
        await session.flush()


async def pin_submission(session: AsyncSession, assessment: Assessment) -> None:
    """For a round being opened: review the candidate's latest submission on the round's
    version that no other round reviewed and that covers what the round needs."""
    submission = await session.scalar(
        select(PortfolioSubmission)
        .where(
            PortfolioSubmission.candidate_id == assessment.candidate_id,
            PortfolioSubmission.framework_version_id == assessment.framework_version_id,
            ~exists().where(Assessment.portfolio_submission_id == PortfolioSubmission.id),
        )
        .order_by(PortfolioSubmission.number.desc())
        .limit(1)
    )
    if submission is not None and _covers(submission, assessment):
        assessment.portfolio_submission_id = submission.id
        await session.flush()


async def get_submission(
    session: AsyncSession, candidate_id: uuid.UUID, submission_id: uuid.UUID
) -> PortfolioSubmission:
    submission = await session.scalar(
        select(PortfolioSubmission).where(
            PortfolioSubmission.id == submission_id,
            PortfolioSubmission.candidate_id == candidate_id,
        )
    )
    if submission is None:
        raise NotFound("No submission with that id in this portfolio.")
    return submission


async def reviewed_in(session: AsyncSession, submission_id: uuid.UUID) -> list[uuid.UUID]:
    return list(
        (
            await session.scalars(
                select(Assessment.id)
                .where(Assessment.portfolio_submission_id == submission_id)
                .order_by(Assessment.created_at)
            )
        ).all()
    )
