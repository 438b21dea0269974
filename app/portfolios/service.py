"""Portfolios: the CPro template made concrete, and the draft's evidence entries.

The CPro FAQ: "A template is provided to candidates in portfolio building to make sure that
demonstration of five leadership competencies are supported by evidence", and in a supplemental
round "the candidate need to cover the failed competency area/s". The template is the framework
version the candidate is assessed on: per competency, the evidence entries claiming it.

A submission freezes the draft into a snapshot (entries, indicator claims, document digests);
a round scores ``portfolio_review`` against one snapshot. Editing afterwards makes a new draft
and never touches a snapshot. While the latest snapshot is under review (named by a round not
yet released) the draft is locked, so what the assessors see and what the candidate sees agree.

This area reads the assessment tables (which rounds exist, who is assigned, what was failed);
the assessment service calls ``submission.pin_submission`` when it opens a round.
"""

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.assessments.models import Assessment
from app.assessments.rules import AssessmentKind
from app.audit import service as audit
from app.audit.service import Actor
from app.candidates.models import Candidate
from app.candidates.service import effective_status
from app.candidates.state import Status
from app.core.database import utcnow
from app.core.errors import Conflict, FieldError, NotFound, UnprocessableEntity
from app.frameworks.models import Competency, Framework, FrameworkVersion, Indicator
from app.frameworks.service import current_version
from app.portfolios.models import (
    Portfolio,
    PortfolioDocument,
    PortfolioEvidence,
    PortfolioSubmission,
)

CPRO_FRAMEWORK = "csc-leadership-competencies"
"""The framework a portfolio follows until the candidate has an assessment round."""


async def portfolio_of(
    session: AsyncSession, candidate: Candidate, *, for_update: bool = False
) -> Portfolio:
    """The candidate's portfolio, made on first use on the version of the candidate's latest
    round (else the current CPro framework version). ``for_update`` locks it: uploads and
    submissions of one candidate run one at a time."""
    statement = select(Portfolio).where(Portfolio.candidate_id == candidate.id)
    if for_update:
        # NO KEY UPDATE: the documents and entries being inserted meanwhile hold KEY SHARE on
        # this row (their foreign keys); a plain FOR UPDATE would deadlock with them.
        statement = statement.with_for_update(key_share=True)
    portfolio = await session.scalar(statement)
    if portfolio is not None:
        return portfolio
    version_id = await session.scalar(
        select(Assessment.framework_version_id)
        .where(Assessment.candidate_id == candidate.id)
        .order_by(Assessment.created_at.desc())
        .limit(1)
    )
    if version_id is None:
        version_id = (await current_version(session, CPRO_FRAMEWORK)).version.id
    # Two first requests at once: one inserts, the other finds its row.
    await session.execute(
        insert(Portfolio)
        .values(
            candidate_id=candidate.id,
            framework_version_id=version_id,
            bytes_used=0,
            changed_at=utcnow(),
        )
        .on_conflict_do_nothing()
    )
    portfolio = await session.scalar(statement)
    assert portfolio is not None
    return portfolio


@dataclass(frozen=True)
class Template:
    framework: str
    version: str
    competencies: list[tuple[str, str]]
    """(code, name) in framework order."""
    required: list[str]
    supplemental: bool


async def _failed_in_last_regular(session: AsyncSession, candidate_id: uuid.UUID) -> list[str]:
    result = await session.scalar(
        select(Assessment.result)
        .where(
            Assessment.candidate_id == candidate_id,
            Assessment.kind == AssessmentKind.regular.value,
            Assessment.released_at.is_not(None),
        )
        .order_by(Assessment.released_at.desc())
        .limit(1)
    )
    if not result:
        return []
    return [c["code"] for c in result["competencies"] if not c["passed"]]


async def template_of(
    session: AsyncSession, candidate: Candidate, portfolio: Portfolio
) -> Template:
    """The competencies of the portfolio's version and which of them a submission needs:
    all of them, or in a supplemental round (open, or still to come) the failed ones only."""
    framework, version = (
        await session.execute(
            select(Framework.slug, FrameworkVersion.version)
            .join(FrameworkVersion, FrameworkVersion.framework_id == Framework.id)
            .where(FrameworkVersion.id == portfolio.framework_version_id)
        )
    ).one()
    competencies = [
        (code, name)
        for code, name in (
            await session.execute(
                select(Competency.code, Competency.name)
                .where(Competency.version_id == portfolio.framework_version_id)
                .order_by(Competency.position)
            )
        ).all()
    ]
    open_round = await session.scalar(
        select(Assessment).where(
            Assessment.candidate_id == candidate.id, Assessment.released_at.is_(None)
        )
    )
    failed: list[str] | None = None
    if open_round is not None:
        if open_round.kind == AssessmentKind.supplemental.value:
            failed = list(open_round.failed_before)
    elif effective_status(candidate) is Status.supplemental_eligible:
        failed = await _failed_in_last_regular(session, candidate.id)
    codes = [code for code, _ in competencies]
    required = [c for c in codes if c in failed] if failed is not None else codes
    return Template(framework, version, competencies, required, failed is not None)


async def draft_evidence(session: AsyncSession, candidate_id: uuid.UUID) -> list[PortfolioEvidence]:
    return list(
        (
            await session.scalars(
                select(PortfolioEvidence)
                .where(
                    PortfolioEvidence.candidate_id == candidate_id,
                    PortfolioEvidence.withdrawn_at.is_(None),
                )
                .order_by(PortfolioEvidence.created_at, PortfolioEvidence.id)
            )
        ).all()
    )


async def draft_documents(
    session: AsyncSession, evidence_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[PortfolioDocument]]:
    by_evidence: dict[uuid.UUID, list[PortfolioDocument]] = {e: [] for e in evidence_ids}
    if not evidence_ids:
        return by_evidence
    for document in (
        await session.scalars(
            select(PortfolioDocument)
            .where(
                PortfolioDocument.evidence_id.in_(evidence_ids),
                PortfolioDocument.withdrawn_at.is_(None),
            )
            .order_by(PortfolioDocument.created_at, PortfolioDocument.id)
        )
    ).all():
        by_evidence[document.evidence_id].append(document)
    return by_evidence


def uncovered(template: Template, evidence: list[PortfolioEvidence]) -> list[str]:
    claimed = {e.competency for e in evidence}
    return [c for c in template.required if c not in claimed]


async def submissions_of(
    session: AsyncSession, candidate_id: uuid.UUID
) -> list[PortfolioSubmission]:
    return list(
        (
            await session.scalars(
                select(PortfolioSubmission)
                .where(PortfolioSubmission.candidate_id == candidate_id)
                .order_by(PortfolioSubmission.number)
            )
        ).all()
    )


async def under_review(session: AsyncSession, candidate_id: uuid.UUID) -> bool:
    """True while an unreleased round scores against one of the candidate's submissions."""
    found = await session.scalar(
        select(Assessment.id)
        .join(PortfolioSubmission, PortfolioSubmission.id == Assessment.portfolio_submission_id)
        .where(PortfolioSubmission.candidate_id == candidate_id, Assessment.released_at.is_(None))
        .limit(1)
    )
    return found is not None


async def check_editable(session: AsyncSession, candidate: Candidate) -> None:
    if candidate.erased_at is not None:
        raise Conflict("The candidate's personal data was erased; the portfolio is closed.")
    if await under_review(session, candidate.id):
        raise Conflict(
            "The submitted portfolio is under review in an assessment round; the draft opens "
            "again when that round's result is released."
        )


async def _claim_problems(
    session: AsyncSession, portfolio: Portfolio, competency: str, indicator_ids: list[int]
) -> list[FieldError]:
    competency_id = await session.scalar(
        select(Competency.id).where(
            Competency.version_id == portfolio.framework_version_id, Competency.code == competency
        )
    )
    if competency_id is None:
        return [
            FieldError(
                field="body.competency",
                message="not a competency of the portfolio's framework version",
            )
        ]
    valid = set(
        (
            await session.scalars(
                select(Indicator.id).where(
                    Indicator.id.in_(indicator_ids), Indicator.competency_id == competency_id
                )
            )
        ).all()
    )
    return [
        FieldError(
            field=f"body.indicators[{i}]",
            message="not an indicator of this competency in the portfolio's framework version",
        )
        for i, indicator in enumerate(indicator_ids)
        if indicator not in valid
    ]


async def add_evidence(
    session: AsyncSession, candidate: Candidate, fields: dict[str, Any], actor: Actor
) -> PortfolioEvidence:
    await check_editable(session, candidate)
    portfolio = await portfolio_of(session, candidate, for_update=True)
    problems = await _claim_problems(session, portfolio, fields["competency"], fields["indicators"])
    if problems:
        raise UnprocessableEntity("The evidence cannot be recorded.", errors=problems)
    now = utcnow()
    period = fields.get("period")
    evidence = PortfolioEvidence(
        id=uuid.uuid4(),
        candidate_id=candidate.id,
        competency=fields["competency"],
        title=fields["title"],
        description=fields.get("description"),
        indicator_ids=list(dict.fromkeys(fields["indicators"])),
        period_start=period["start"] if period else None,
        period_end=period["end"] if period else None,
        created_at=now,
        updated_at=now,
    )
    session.add(evidence)
    portfolio.changed_at = now
    await session.flush()
    await audit.record(
        session,
        actor,
        "portfolio.evidence.create",
        "candidate",
        candidate.id,
        after={"evidence_id": evidence.id, "competency": evidence.competency},
    )
    return evidence


async def get_evidence(
    session: AsyncSession, candidate_id: uuid.UUID, evidence_id: uuid.UUID
) -> PortfolioEvidence:
    """An entry of the draft (a withdrawn one is gone from the draft: not found)."""
    evidence = await session.scalar(
        select(PortfolioEvidence).where(
            PortfolioEvidence.id == evidence_id,
            PortfolioEvidence.candidate_id == candidate_id,
            PortfolioEvidence.withdrawn_at.is_(None),
        )
    )
    if evidence is None:
        raise NotFound("No evidence entry with that id in this portfolio.")
    return evidence


async def patch_evidence(
    session: AsyncSession,
    candidate: Candidate,
    evidence_id: uuid.UUID,
    changes: dict[str, Any],
    actor: Actor,
) -> PortfolioEvidence:
    await check_editable(session, candidate)
    portfolio = await portfolio_of(session, candidate, for_update=True)
    evidence = await get_evidence(session, candidate.id, evidence_id)
    for name in ("competency", "title", "indicators"):
        if name in changes and changes[name] is None:
            raise UnprocessableEntity(
                f"{name} cannot be removed.",
                errors=[FieldError(field=f"body.{name}", message="may not be null")],
            )
    competency = changes.get("competency", evidence.competency)
    indicators = changes.get("indicators", evidence.indicator_ids)
    if "competency" in changes or "indicators" in changes:
        problems = await _claim_problems(session, portfolio, competency, indicators)
        if problems:
            raise UnprocessableEntity("The evidence cannot be changed.", errors=problems)
    evidence.competency = competency
    evidence.indicator_ids = list(dict.fromkeys(indicators))
    if "title" in changes:
        evidence.title = changes["title"]
    if "description" in changes:
        evidence.description = changes["description"]
    if "period" in changes:
        period = changes["period"]
        evidence.period_start = period["start"] if period else None
        evidence.period_end = period["end"] if period else None
    now = utcnow()
    evidence.updated_at = portfolio.changed_at = now
    await session.flush()
    await audit.record(
        session,
        actor,
        "portfolio.evidence.update",
        "candidate",
        candidate.id,
        after={"evidence_id": evidence.id, "changed": sorted(changes)},
    )
    return evidence


def in_a_submission(**member: Any) -> Any:
    """SQL: some submission of the portfolio has an entry containing ``member``."""
    return exists().where(PortfolioSubmission.entries.contains([member]))


async def delete_evidence(
    session: AsyncSession, candidate: Candidate, evidence_id: uuid.UUID, actor: Actor
) -> None:
    """Remove an entry from the draft. One a submission includes is kept (withdrawn from the
    draft) with its documents, so the snapshot stays complete; otherwise it is deleted."""
    await check_editable(session, candidate)
    portfolio = await portfolio_of(session, candidate, for_update=True)
    evidence = await get_evidence(session, candidate.id, evidence_id)
    now = utcnow()
    if await session.scalar(select(in_a_submission(id=str(evidence.id)))):
        evidence.withdrawn_at = now
        await session.execute(
            update(PortfolioDocument)
            .where(PortfolioDocument.evidence_id == evidence.id)
            .values(withdrawn_at=now)
        )
    else:
        freed = await session.scalar(
            select(func.coalesce(func.sum(PortfolioDocument.size), 0)).where(
                PortfolioDocument.evidence_id == evidence.id
            )
        )
        portfolio.bytes_used -= int(freed or 0)
        await session.execute(delete(PortfolioEvidence).where(PortfolioEvidence.id == evidence.id))
    portfolio.changed_at = now
    await session.flush()
    await audit.record(
        session,
        actor,
        "portfolio.evidence.delete",
        "candidate",
        candidate.id,
        before={"evidence_id": evidence_id},
    )
