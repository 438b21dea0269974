"""Round lists: every round a caller may see, filtered, and one candidate's rounds."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime

from app.agencies.schemas import AgencyCode
from app.assessments import worklist
from app.assessments.list_schemas import AssessmentListItem
from app.assessments.rules import AssessmentKind, Outcome
from app.assessments.worklist import RoundFilters, RoundRow, RoundState
from app.auth.dependencies import Allow
from app.auth.roles import Role
from app.auth.service import Caller
from app.core.database import Session
from app.core.errors import problem_responses
from app.core.pagination import DEFAULT_LIMIT, Cursor, Limit, Page

router = APIRouter(prefix="/v1", tags=["Assessments"])

RoundReader = Annotated[
    Caller,
    Depends(Allow(Role.admin, Role.staff, Role.assessor, Role.agency, Role.candidate)),
]
StateFilter = Annotated[
    RoundState | None,
    Query(
        alias="status",
        description="`open` (scores missing), `ready` (all scores in) or `released`.",
    ),
]
KindFilter = Annotated[AssessmentKind | None, Query(description="`regular` or `supplemental`.")]
ReleasedAfter = Annotated[
    AwareDatetime | None,
    Query(description="Released at or after this instant (ISO 8601 with offset)."),
]
ReleasedBefore = Annotated[
    AwareDatetime | None,
    Query(description="Released before this instant (ISO 8601 with offset)."),
]


def _item(row: RoundRow) -> AssessmentListItem:
    a = row.assessment
    return AssessmentListItem(
        id=a.id,
        candidate_id=a.candidate_id,
        agency=row.agency,
        kind=AssessmentKind(a.kind),
        status=row.state,
        scores_required=row.scores_required,
        scores_missing=max(0, row.scores_required - row.scores_present),
        created_at=a.created_at,
        released_at=a.released_at,
        outcome=Outcome(a.outcome) if a.outcome else None,
    )


@router.get(
    "/assessments",
    responses=problem_responses(401, 403, 422),
    summary="List assessment rounds",
)
async def list_assessments(
    session: Session,
    caller: RoundReader,
    candidate_id: Annotated[uuid.UUID | None, Query(description="One candidate's rounds.")] = None,
    agency: Annotated[
        AgencyCode | None, Query(description="Rounds of this agency's candidates.")
    ] = None,
    state: StateFilter = None,
    kind: KindFilter = None,
    released_after: ReleasedAfter = None,
    released_before: ReleasedBefore = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[AssessmentListItem]:
    """Assessment rounds, oldest first, each with how many scores it still misses:
    `status=open` is the list waiting for scores, `status=ready` the list waiting for release.
    Admin and staff see every round; an assessor key the rounds assigned to it (its
    worklist); an agency key its own agency's candidates' rounds (another agency's are never
    listed, whatever `agency` says); a candidate's portal token its own released results
    only. `released_after` must be earlier than `released_before` (422 otherwise)."""
    rows, next_cursor = await worklist.list_rounds(
        session,
        caller,
        RoundFilters(
            candidate_id=candidate_id,
            agency=agency,
            state=state,
            kind=kind,
            released_after=released_after,
            released_before=released_before,
        ),
        cursor=cursor,
        limit=limit,
    )
    return Page(items=[_item(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/candidates/{candidate_id}/assessments",
    responses=problem_responses(401, 403, 404, 422),
    summary="List a candidate's assessment rounds",
)
async def list_candidate_assessments(
    candidate_id: uuid.UUID,
    session: Session,
    caller: RoundReader,
    state: StateFilter = None,
    kind: KindFilter = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[AssessmentListItem]:
    """The candidate's rounds, oldest first, as in `GET /v1/assessments?candidate_id=`. A
    candidate the caller may not see is 404 (an assessor knows a candidate only through a
    round assigned to it, and sees only those rounds; a portal token only its own released
    results)."""
    await worklist.require_visible_candidate(session, caller, candidate_id)
    rows, next_cursor = await worklist.list_rounds(
        session,
        caller,
        RoundFilters(candidate_id=candidate_id, state=state, kind=kind),
        cursor=cursor,
        limit=limit,
    )
    return Page(items=[_item(r) for r in rows], next_cursor=next_cursor)
