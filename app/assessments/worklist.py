"""Lists of assessment rounds: a candidate's page, an assessor's worklist, the rounds waiting
for scores or for release.

A round's state is derived, never stored: ``released`` once released; otherwise ``ready`` when
every score the round needs is in, ``open`` while any is missing. Only scores the round needs
can be written (``service.put_scores`` refuses the others), so "all in" is a count.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.assessments import rules
from app.assessments.models import Assessment, AssessmentAssessor, Score
from app.assessments.rounds import visible_assessments
from app.auth.roles import Role
from app.auth.service import Caller
from app.candidates import service as candidates
from app.candidates.models import Candidate
from app.core.errors import FieldError, NotFound, UnprocessableEntity
from app.core.pagination import paginate


class RoundState(StrEnum):
    open = "open"
    """Scores are missing."""
    ready = "ready"
    """Every score is in; waiting for release."""
    released = "released"


INSTRUMENTS = len(rules.Instrument)


def _required_count() -> ColumnElement[int]:
    """SQL for how many scores the round needs (``rules.required_scores``, counted): every
    instrument on every competency, or for a supplemental round the written test on all and
    the other instruments on the failed ones only."""
    competencies = func.jsonb_array_length(Assessment.competencies)
    failed = func.jsonb_array_length(Assessment.failed_before)
    return case(
        (Assessment.kind == rules.AssessmentKind.regular.value, competencies * INSTRUMENTS),
        else_=competencies + failed * (INSTRUMENTS - 1),
    )


def _present_count() -> ColumnElement[int]:
    return (
        select(func.count(Score.id))
        .where(Score.assessment_id == Assessment.id)
        .correlate(Assessment)
        .scalar_subquery()
    )


def required_count(assessment: Assessment) -> int:
    return len(
        rules.required_scores(
            rules.AssessmentKind(assessment.kind),
            assessment.competencies,
            frozenset(assessment.failed_before),
        )
    )


@dataclass(frozen=True)
class RoundFilters:
    candidate_id: uuid.UUID | None = None
    agency: str | None = None
    state: RoundState | None = None
    kind: rules.AssessmentKind | None = None
    released_after: datetime | None = None
    released_before: datetime | None = None


@dataclass(frozen=True)
class RoundRow:
    assessment: Assessment
    agency: str | None
    scores_required: int
    scores_present: int

    @property
    def state(self) -> RoundState:
        if self.assessment.released_at is not None:
            return RoundState.released
        return RoundState.ready if self.scores_present >= self.scores_required else RoundState.open


def check_range(
    after: datetime | None, before: datetime | None, after_field: str, before_field: str
) -> None:
    if after is not None and before is not None and after >= before:
        raise UnprocessableEntity(
            f"`{after_field}` must be earlier than `{before_field}`.",
            errors=[FieldError(field=f"query.{before_field}", message=f"not after {after_field}")],
        )


async def list_rounds(
    session: AsyncSession,
    caller: Caller,
    filters: RoundFilters,
    *,
    cursor: str | None,
    limit: int,
) -> tuple[list[RoundRow], str | None]:
    """The rounds ``caller`` may see that match ``filters``, oldest first (an assessor's list
    is its worklist: what it was given first comes first)."""
    check_range(
        filters.released_after, filters.released_before, "released_after", "released_before"
    )
    if caller.role is Role.candidate:
        # A candidate sees its own results once released, never a round in progress.
        statement = select(Assessment).where(
            Assessment.candidate_id == caller.candidate_id, Assessment.released_at.is_not(None)
        )
    else:
        statement = visible_assessments(select(Assessment), caller)
    if filters.candidate_id is not None:
        statement = statement.where(Assessment.candidate_id == filters.candidate_id)
    if filters.agency is not None:
        statement = statement.where(
            Assessment.candidate_id.in_(
                select(Candidate.id).where(Candidate.agency_code == filters.agency)
            )
        )
    if filters.kind is not None:
        statement = statement.where(Assessment.kind == filters.kind.value)
    if filters.state is RoundState.released:
        statement = statement.where(Assessment.released_at.is_not(None))
    elif filters.state is RoundState.ready:
        statement = statement.where(
            Assessment.released_at.is_(None), _present_count() >= _required_count()
        )
    elif filters.state is RoundState.open:
        statement = statement.where(
            Assessment.released_at.is_(None), _present_count() < _required_count()
        )
    if filters.released_after is not None:
        statement = statement.where(Assessment.released_at >= filters.released_after)
    if filters.released_before is not None:
        statement = statement.where(Assessment.released_at < filters.released_before)
    rows, next_cursor = await paginate(
        session,
        statement,
        order_by=[Assessment.created_at, Assessment.id],
        cursor=cursor,
        limit=limit,
        key=lambda a: (a.created_at, a.id),
    )
    return await _with_counts(session, rows), next_cursor


async def _with_counts(session: AsyncSession, rounds: list[Assessment]) -> list[RoundRow]:
    ids = [a.id for a in rounds]
    present: dict[uuid.UUID, int] = {}
    for assessment_id, count in await session.execute(
        select(Score.assessment_id, func.count(Score.id))
        .where(Score.assessment_id.in_(ids))
        .group_by(Score.assessment_id)
    ):
        present[assessment_id] = count
    agencies: dict[uuid.UUID, str | None] = {}
    for candidate_id, agency_code in await session.execute(
        select(Candidate.id, Candidate.agency_code).where(
            Candidate.id.in_({a.candidate_id for a in rounds})
        )
    ):
        agencies[candidate_id] = agency_code
    return [
        RoundRow(a, agencies[a.candidate_id], required_count(a), present.get(a.id, 0))
        for a in rounds
    ]


async def require_visible_candidate(
    session: AsyncSession, caller: Caller, candidate_id: uuid.UUID
) -> None:
    """404 unless ``caller`` may see the candidate. An assessor knows a candidate only through
    a round assigned to it."""
    if caller.role is Role.assessor:
        assigned = await session.scalar(
            select(Assessment.id)
            .join(AssessmentAssessor)
            .where(
                Assessment.candidate_id == candidate_id,
                AssessmentAssessor.api_key_id == caller.key_id,
            )
            .limit(1)
        )
        if assigned is None:
            raise NotFound("No candidate with that id.")
        return
    await candidates.get_candidate(session, caller, candidate_id)
