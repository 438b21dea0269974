"""Who reaches a candidate's portfolio, and how much of it.

The candidate, staff and admin: all of it. An assessor: all of it, but only while assigned to a
round of that candidate that is not released yet. The candidate's own agency: the evidence
titles, never a description or a document (work evidence often carries personal data about
other people). Anyone else: not found, as if the candidate did not exist.
"""

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.assessments.models import Assessment, AssessmentAssessor
from app.auth.roles import Role
from app.auth.service import Caller
from app.candidates.models import Candidate
from app.core.errors import NotFound

WRITERS = frozenset({Role.admin, Role.staff, Role.candidate})


@dataclass(frozen=True)
class PortfolioAccess:
    candidate: Candidate
    documents: bool
    """May see descriptions and documents (False: titles only)."""


async def _assigned_to_open_round(
    session: AsyncSession, caller: Caller, candidate_id: uuid.UUID
) -> bool:
    if caller.key_id is None:
        return False  # rounds are assigned to assessor keys (as for scoring)
    found = await session.scalar(
        select(Assessment.id)
        .join(AssessmentAssessor, AssessmentAssessor.assessment_id == Assessment.id)
        .where(
            Assessment.candidate_id == candidate_id,
            Assessment.released_at.is_(None),
            AssessmentAssessor.api_key_id == caller.key_id,
        )
        .limit(1)
    )
    return found is not None


async def portfolio_access(
    session: AsyncSession,
    caller: Caller,
    candidate_id: uuid.UUID,
    *,
    write: bool = False,
) -> PortfolioAccess:
    """The candidate and what ``caller`` may see of the portfolio; 404 when nothing (or, for
    ``write``, when the caller may not change it)."""
    candidate = await session.scalar(select(Candidate).where(Candidate.id == candidate_id))
    allowed: bool | None = None  # None: nothing at all
    if candidate is not None:
        role = caller.role
        own = role is Role.candidate and caller.candidate_id == candidate.id
        if role in (Role.admin, Role.staff) or own:
            allowed = True
        elif role is Role.assessor and not write:
            allowed = True if await _assigned_to_open_round(session, caller, candidate.id) else None
        elif role is Role.agency and not write and caller.agency_code == candidate.agency_code:
            allowed = False
    if candidate is None or allowed is None:
        raise NotFound("No candidate with that id.")
    return PortfolioAccess(candidate=candidate, documents=allowed)
