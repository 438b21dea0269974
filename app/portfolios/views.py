"""The portfolio's API representations, with what an agency key may not see left out."""

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.settings import Settings
from app.frameworks.models import Framework, FrameworkVersion
from app.portfolios import service
from app.portfolios import submission as submissions
from app.portfolios.access import PortfolioAccess
from app.portfolios.models import PortfolioDocument, PortfolioEvidence, PortfolioSubmission
from app.portfolios.schemas import (
    CompetencyCoverage,
    DocumentOut,
    EvidenceOut,
    Period,
    PortfolioOut,
    SubmissionOut,
    SubmissionRef,
    SubmittedEntry,
)
from app.portfolios.sniffing import DocumentType


def document_href(document: PortfolioDocument) -> str:
    return (
        f"/v1/candidates/{document.candidate_id}/portfolio/evidence/{document.evidence_id}"
        f"/documents/{document.id}"
    )


def document_out(document: PortfolioDocument) -> DocumentOut:
    return DocumentOut(
        id=document.id,
        evidence_id=document.evidence_id,
        filename=document.filename,
        media_type=DocumentType(document.media_type),
        size=document.size,
        sha256=document.sha256,
        href=document_href(document),
        erased=document.erased_at is not None,
        created_at=document.created_at,
    )


def evidence_out(
    evidence: PortfolioEvidence,
    documents: list[PortfolioDocument],
    *,
    documents_visible: bool,
) -> EvidenceOut:
    return EvidenceOut(
        id=evidence.id,
        competency=evidence.competency,
        title=evidence.title,
        description=evidence.description if documents_visible else None,
        indicators=evidence.indicator_ids,
        period=Period(start=evidence.period_start, end=evidence.period_end)
        if evidence.period_start
        else None,
        documents=[document_out(d) for d in documents] if documents_visible else [],
        created_at=evidence.created_at,
        updated_at=evidence.updated_at,
    )


def submission_ref(submission: PortfolioSubmission) -> SubmissionRef:
    return SubmissionRef(
        id=submission.id,
        number=submission.number,
        digest=submission.digest,
        submitted_at=submission.submitted_at,
    )


async def portfolio_out(
    session: AsyncSession, access: PortfolioAccess, settings: Settings
) -> PortfolioOut:
    candidate = access.candidate
    portfolio = await service.portfolio_of(session, candidate)
    template = await service.template_of(session, candidate, portfolio)
    evidence = await service.draft_evidence(session, candidate.id)
    documents = await service.draft_documents(session, [e.id for e in evidence])
    submissions = await service.submissions_of(session, candidate.id)
    latest = submissions[-1] if submissions else None
    return PortfolioOut(
        candidate_id=candidate.id,
        framework=template.framework,
        version=template.version,
        status="submitted"
        if latest is not None and latest.submitted_at >= portfolio.changed_at
        else "draft",
        editable=candidate.erased_at is None
        and not await service.under_review(session, candidate.id),
        supplemental=template.supplemental,
        required_competencies=template.required,
        uncovered=service.uncovered(template, evidence),
        competencies=[
            CompetencyCoverage(
                code=code,
                name=name,
                required=code in template.required,
                covered=any(e.competency == code for e in evidence),
                evidence=[
                    evidence_out(e, documents[e.id], documents_visible=access.documents)
                    for e in evidence
                    if e.competency == code
                ],
            )
            for code, name in template.competencies
        ],
        documents_visible=access.documents,
        bytes_used=portfolio.bytes_used,
        bytes_limit=settings.max_portfolio_bytes,
        document_bytes_limit=settings.max_document_bytes,
        submissions=[submission_ref(s) for s in submissions],
    )


def _entry(entry: dict[str, Any], documents_visible: bool) -> SubmittedEntry:
    return SubmittedEntry.model_validate(
        entry | {"description": None, "documents": []} if not documents_visible else entry
    )


async def submission_out(
    session: AsyncSession, submission: PortfolioSubmission, *, documents_visible: bool
) -> SubmissionOut:
    framework, version = (
        await session.execute(
            select(Framework.slug, FrameworkVersion.version)
            .join(FrameworkVersion, FrameworkVersion.framework_id == Framework.id)
            .where(FrameworkVersion.id == submission.framework_version_id)
        )
    ).one()
    return SubmissionOut(
        **submission_ref(submission).model_dump(),
        candidate_id=submission.candidate_id,
        framework=framework,
        version=version,
        required_competencies=submission.required_competencies,
        evidence_count=submission.evidence_count,
        document_count=submission.document_count,
        entries=[_entry(e, documents_visible) for e in submission.entries],
        submitted_by=submission.submitted_by,
        reviewed_in=await submissions.reviewed_in(session, submission.id),
    )
