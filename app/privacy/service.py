"""Data-privacy requests under the Philippine Data Privacy Act of 2012 (RA 10173): the data
subject's right of access (one document with everything held on a candidate), the right to
erasure, and a retention period after which inactive candidates are anonymized.

What erasure keeps, and why: released results, scores and certificates keep their statistical
value (pass rates by competency, by track, by salary grade) once nothing in them names the
person. So erasure replaces names with ``Erased``, clears e-mail, position title and the
agency's employee id, clears free text written about the person (portfolio evidence, assessor
remarks, project briefs, ALP coach and sponsor), deletes the bytes of every portfolio document
(keeping its size, type and SHA-256), and keeps ids, statuses, dates, scores, results and the
portfolio's counts and digests. ``external_id`` becomes null rather than a tombstone: the employee id is released, so
if the agency syncs the same employee again a new record is created (the agency decides
whether it should stop syncing them). A certificate is a public credential that names its
holder: its holder name becomes ``Erased`` and a valid one is revoked with the reason
``erased at the holder's request``, so a verifier is not told a nameless credential is good.

The audit trail is not rewritten: it is the record of who processed the data (kept for
accountability, readable by admins only, append-only in the database). The erasure's own
entries carry the reason and the names of the fields, never their values. The change feed
already carries ids only, so it needs no change.
"""

import logging
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, inspect, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.assessments.models import (
    Assessment,
    AssessmentAssessor,
    EvidenceItem,
    Score,
    ScoreChange,
)
from app.audit import service as audit
from app.audit.service import SYSTEM, Actor, jsonable
from app.auth.service import Caller
from app.candidates import service as candidates
from app.candidates.models import (
    ActionLearningProject,
    Candidate,
    CandidateTransition,
    LmdcAttendance,
    ProjectBrief,
    SelfAssessment,
)
from app.candidates.state import Status
from app.certificates.events import announce_revocation
from app.certificates.models import Certificate
from app.core.database import Base, utcnow
from app.core.errors import Conflict
from app.integrations.feed import Event, append_events
from app.integrations.models import CandidateEvent
from app.orientation.models import OrientationAttendee
from app.portfolios.models import (
    DocumentChunk,
    Portfolio,
    PortfolioDocument,
    PortfolioEvidence,
    PortfolioSubmission,
)

logger = logging.getLogger(__name__)

ERASED = "Erased"
ERASURE_REVOCATION_REASON = "erased at the holder's request"
# The candidate's own personal fields: replaced (names) or cleared (the rest).
ERASED_NAMES = ("given_name", "family_name")
CLEARED_FIELDS = ("email", "position_title", "external_id")
# Statuses after which a candidate has left the program (for now): retention applies.
INACTIVE = (Status.withdrawn, Status.forfeited, Status.reenrollment_required)
SWEEP_BATCH = 200


def _row(row: Base) -> dict[str, Any]:
    """Every column of a row, as JSON keeps it: an access request gets all that is held."""
    return {attr.key: jsonable(getattr(row, attr.key)) for attr in inspect(row).mapper.column_attrs}


async def _rows(session: AsyncSession, statement: Any) -> list[dict[str, Any]]:
    return [_row(r) for r in (await session.scalars(statement)).all()]


async def personal_data(
    session: AsyncSession, caller: Caller, candidate_id: uuid.UUID
) -> dict[str, Any]:
    """Everything held on the candidate, as one document; the read itself is audited first,
    so the document lists it too."""
    candidate = await candidates.get_candidate(session, caller, candidate_id)
    await audit.record(session, caller, "read", "candidate", candidate.id, None, None)
    cid = candidate.id
    assessments = list(
        (
            await session.scalars(
                select(Assessment)
                .where(Assessment.candidate_id == cid)
                .order_by(Assessment.created_at, Assessment.id)
            )
        ).all()
    )
    assessment_ids = [a.id for a in assessments]
    assessment_docs = []
    for assessment in assessments:
        doc = _row(assessment)
        doc["assessors"] = await _rows(
            session,
            select(AssessmentAssessor).where(AssessmentAssessor.assessment_id == assessment.id),
        )
        doc["scores"] = await _rows(
            session,
            select(Score).where(Score.assessment_id == assessment.id).order_by(Score.id),
        )
        doc["score_changes"] = await _rows(
            session,
            select(ScoreChange)
            .where(ScoreChange.assessment_id == assessment.id)
            .order_by(ScoreChange.id),
        )
        doc["evidence"] = await _rows(
            session,
            select(EvidenceItem)
            .where(EvidenceItem.assessment_id == assessment.id)
            .order_by(EvidenceItem.created_at, EvidenceItem.id),
        )
        assessment_docs.append(doc)
    certificates = list(
        (
            await session.scalars(
                select(Certificate)
                .where(Certificate.candidate_id == cid)
                .order_by(Certificate.issued_on, Certificate.serial)
            )
        ).all()
    )
    documents = await _rows(
        session,
        select(PortfolioDocument)
        .where(PortfolioDocument.candidate_id == cid)
        .order_by(PortfolioDocument.created_at, PortfolioDocument.id),
    )
    audit_entries = await audit.entries_about(
        session,
        [cid, *assessment_ids, *(c.serial for c in certificates), *(d["id"] for d in documents)],
    )
    return {
        "generated_at": utcnow(),
        "candidate": candidates.to_out(candidate),
        "record": _row(candidate),
        "history": await _rows(
            session,
            select(CandidateTransition)
            .where(CandidateTransition.candidate_id == cid)
            .order_by(CandidateTransition.id),
        ),
        "self_assessments": await _rows(
            session,
            select(SelfAssessment)
            .where(SelfAssessment.candidate_id == cid)
            .order_by(SelfAssessment.submitted_at, SelfAssessment.id),
        ),
        "lmdc_attendance": await _rows(
            session,
            select(LmdcAttendance)
            .where(LmdcAttendance.candidate_id == cid)
            .order_by(LmdcAttendance.id),
        ),
        "orientation_seats": await _rows(
            session,
            select(OrientationAttendee)
            .where(OrientationAttendee.candidate_id == cid)
            .order_by(OrientationAttendee.registered_at),
        ),
        "project_briefs": await _rows(
            session,
            select(ProjectBrief)
            .where(ProjectBrief.candidate_id == cid)
            .order_by(ProjectBrief.created_at, ProjectBrief.id),
        ),
        "action_learning_project": await _rows(
            session,
            select(ActionLearningProject).where(ActionLearningProject.candidate_id == cid),
        ),
        "portfolio": {
            "record": await _rows(session, select(Portfolio).where(Portfolio.candidate_id == cid)),
            "evidence": await _rows(
                session,
                select(PortfolioEvidence)
                .where(PortfolioEvidence.candidate_id == cid)
                .order_by(PortfolioEvidence.created_at, PortfolioEvidence.id),
            ),
            # Each document with its SHA-256 and size; the bytes themselves download from
            # the portfolio routes (they would not fit in one JSON document).
            "documents": documents,
            "submissions": await _rows(
                session,
                select(PortfolioSubmission)
                .where(PortfolioSubmission.candidate_id == cid)
                .order_by(PortfolioSubmission.number),
            ),
        },
        "assessments": assessment_docs,
        "certificates": [_row(c) for c in certificates],
        "events": await _rows(
            session,
            select(CandidateEvent)
            .where(CandidateEvent.candidate_id == cid)
            .order_by(CandidateEvent.position),
        ),
        "audit": [_row(e) for e in audit_entries],
    }


async def erase(
    session: AsyncSession, candidate: Candidate, reason: str, actor: Actor
) -> list[str]:
    """Anonymize ``candidate`` (see the module docstring for what is kept); returns the
    serials of the certificates it revoked. A candidate erased already: 409."""
    if candidate.erased_at is not None:
        raise Conflict("The candidate's personal data was erased already.")
    now = utcnow()
    changed = [n for n in ERASED_NAMES if getattr(candidate, n) != ERASED] + [
        n for n in CLEARED_FIELDS if getattr(candidate, n) is not None
    ]
    for name in ERASED_NAMES:
        setattr(candidate, name, ERASED)
    for name in CLEARED_FIELDS:
        setattr(candidate, name, None)
    candidate.erased_at = now
    candidate.updated_at = now
    candidate.version += 1

    alp = await session.get(ActionLearningProject, candidate.id, with_for_update=True)
    if alp is not None:
        alp.coach_name = alp.sponsor_name = alp.sponsor_position = ERASED
    for brief in (
        await session.scalars(select(ProjectBrief).where(ProjectBrief.candidate_id == candidate.id))
    ).all():
        brief.title = brief.summary = ERASED
    assessment_ids = select(Assessment.id).where(Assessment.candidate_id == candidate.id)
    for item in (
        await session.scalars(
            select(EvidenceItem).where(EvidenceItem.assessment_id.in_(assessment_ids))
        )
    ).all():
        item.title = ERASED
        item.description = None
    for score in (
        await session.scalars(select(Score).where(Score.assessment_id.in_(assessment_ids)))
    ).all():
        score.remarks = None
    erased_documents = await _erase_portfolio(session, candidate.id)

    revoked: list[str] = []
    for certificate in (
        await session.scalars(
            select(Certificate)
            .where(Certificate.candidate_id == candidate.id)
            .order_by(Certificate.serial)
            .with_for_update()
        )
    ).all():
        certificate.holder_name = ERASED
        if certificate.status == "valid":
            certificate.status = "revoked"
            certificate.revoked_at = now
            certificate.revocation_reason = ERASURE_REVOCATION_REASON
            revoked.append(certificate.serial)
            await audit.record(
                session,
                actor,
                "certificate.revoke",
                "certificate",
                certificate.serial,
                before={"status": "valid"},
                after={"status": "revoked", "reason": ERASURE_REVOCATION_REASON},
            )
            await announce_revocation(session, certificate, "erasure")
    await session.flush()
    await audit.record(
        session,
        actor,
        "candidate.erase",
        "candidate",
        candidate.id,
        after={
            "reason": reason,
            "erased_fields": changed,
            "revoked_certificates": revoked,
            "erased_documents": erased_documents,
        },
    )
    await append_events(
        session,
        [
            Event(
                "candidate.updated",
                candidate.id,
                candidate.agency_code,
                {
                    "version": candidate.version,
                    "changed": changed,
                    "erased": True,
                    "actor": actor.label,
                },
            )
        ],
    )
    return revoked


async def _erase_portfolio(session: AsyncSession, candidate_id: uuid.UUID) -> int:
    """Delete the documents' bytes and blank the evidence text, in the draft and in every
    submitted snapshot; keep ids, competencies, indicator claims, sizes, digests and counts.
    Returns how many documents lost their bytes."""
    now = utcnow()
    documents = list(
        (
            await session.scalars(
                select(PortfolioDocument)
                .where(
                    PortfolioDocument.candidate_id == candidate_id,
                    PortfolioDocument.erased_at.is_(None),
                )
                .with_for_update()
            )
        ).all()
    )
    if documents:
        await session.execute(
            delete(DocumentChunk).where(DocumentChunk.document_id.in_([d.id for d in documents]))
        )
    for document in documents:
        document.filename = None
        document.erased_at = now
    for evidence in (
        await session.scalars(
            select(PortfolioEvidence).where(PortfolioEvidence.candidate_id == candidate_id)
        )
    ).all():
        evidence.title = ERASED
        evidence.description = None
    for submission in (
        await session.scalars(
            select(PortfolioSubmission).where(PortfolioSubmission.candidate_id == candidate_id)
        )
    ).all():
        submission.entries = [
            entry
            | {
                "title": ERASED,
                "description": None,
                "documents": [d | {"filename": None} for d in entry["documents"]],
            }
            for entry in submission.entries
        ]
    return len(documents)


async def sweep_retention(session: AsyncSession, retention_days: int) -> int:
    """Anonymize candidates inactive (withdrawn, forfeited, re-enrollment required) and
    untouched for more than ``retention_days`` days; 0 days keeps everyone. One batch per call
    (rows locked by others are skipped, for the next run); returns how many were erased."""
    if retention_days <= 0:
        return 0
    cutoff = utcnow() - timedelta(days=retention_days)
    due: Sequence[Candidate] = (
        await session.scalars(
            select(Candidate)
            .where(
                Candidate.erased_at.is_(None),
                Candidate.updated_at < cutoff,
                or_(*(candidates.status_is(s) for s in INACTIVE)),
            )
            .order_by(Candidate.updated_at, Candidate.id)
            .limit(SWEEP_BATCH)
            .with_for_update(skip_locked=True)
        )
    ).all()
    reason = f"retention period of {retention_days} days elapsed"
    for candidate in due:
        await erase(session, candidate, reason, SYSTEM)
    if due:
        logger.info("retention sweep", extra={"erased": len(due)})
    return len(due)


async def sweep_all(sessionmaker: async_sessionmaker[AsyncSession], retention_days: int) -> int:
    """``sweep_retention`` batch after batch, each in its own transaction, until none is due."""
    total = 0
    while True:
        async with sessionmaker() as session, session.begin():
            erased = await sweep_retention(session, retention_days)
        total += erased
        if erased < SWEEP_BATCH:
            return total
