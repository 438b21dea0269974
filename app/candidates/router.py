"""Candidate routes: HRIS sync (agency keys, own agency only), portal registration (staff),
reads, edits with If-Match, lifecycle transitions."""

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status

from app.agencies.schemas import AgencyCode
from app.auth.dependencies import Allow, Staff
from app.auth.roles import Role
from app.auth.service import Caller
from app.candidates import service
from app.candidates.csv_import import parse_candidates_csv
from app.candidates.schemas import (
    BatchIn,
    BatchOut,
    CandidateCreate,
    CandidateOut,
    CandidatePatch,
    CandidateUpsert,
    CsvImportOut,
    CsvRowResult,
    ExternalId,
    TransitionIn,
    TransitionOut,
)
from app.candidates.state import Status, Track
from app.core.database import Session
from app.core.errors import Forbidden, problem_responses
from app.core.pagination import DEFAULT_LIMIT, Cursor, Limit, Page

router = APIRouter(prefix="/v1", tags=["Candidates"])

# Agencies' HRIS systems and program staff; agency keys see their own agency only.
Syncer = Annotated[Caller, Depends(Allow(Role.admin, Role.staff, Role.agency))]
# The same, and a candidate signed in to the portal, who only ever finds their own record
# (``service.get_candidate``): another candidate's id is simply not found.
SyncerOrSelf = Annotated[
    Caller, Depends(Allow(Role.admin, Role.staff, Role.agency, Role.candidate))
]
StaffOrSelf = Annotated[Caller, Depends(Allow(Role.admin, Role.staff, Role.candidate))]

IfMatch = Annotated[
    str | None,
    Header(description="The `ETag` you last read; a stale one gets 412 and changes nothing."),
]


def _own_agency(caller: Caller, agency: str) -> None:
    if caller.role is Role.agency and caller.agency_code != agency:
        raise Forbidden(f"This key is bound to agency {caller.agency_code!r}.")


def _with_etag(response: Response, candidate_out: CandidateOut) -> CandidateOut:
    response.headers["ETag"] = f'"{candidate_out.id}.{candidate_out.version}"'
    return candidate_out


@router.put(
    "/agencies/{agency}/candidates/{external_id}",
    responses={
        201: {"model": CandidateOut, "description": "Created."},
        **problem_responses(401, 403, 412, 422),
    },
    summary="Create or update a candidate by employee id",
)
async def put_agency_candidate(
    agency: AgencyCode,
    external_id: ExternalId,
    body: CandidateUpsert,
    session: Session,
    caller: Syncer,
    response: Response,
    if_match: IfMatch = None,
) -> CandidateOut:
    """The HRIS sync: one employee, identified by the agency's own employee id. Creates the
    candidate (201) or updates it (200); safe to retry and safe to run concurrently: the same
    employee is never created twice. A new candidate starts `registered`. Agency keys may only
    write their own agency. With `If-Match`, a changed record gets 412."""
    _own_agency(caller, agency)
    candidate, outcome = await service.upsert_one(
        session, agency, external_id, body, service.actor_of(caller), if_match
    )
    if outcome == "created":
        response.status_code = status.HTTP_201_CREATED
    return _with_etag(response, service.to_out(candidate))


@router.post(
    "/agencies/{agency}/candidates:batch",
    responses=problem_responses(401, 403, 422),
    summary="Create or update up to 1,000 candidates",
)
async def batch_agency_candidates(
    agency: AgencyCode, body: BatchIn, session: Session, caller: Syncer
) -> BatchOut:
    """Up to 1,000 records in one request and one transaction. Each item is validated on its
    own: a `rejected` item (with `errors`) does not stop the others, which come back
    `created`, `updated` or `unchanged` with their `id`, in the order sent."""
    _own_agency(caller, agency)
    items = await service.upsert_batch(session, agency, body.items, service.actor_of(caller))
    return BatchOut(items=items)


@router.post(
    "/agencies/{agency}/candidates:import",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {
                    "schema": {"type": "string"},
                    "example": "external_id,given_name,family_name,email,position_title,salary_grade,priority,track\n"
                    "EMP-1,Maria,Santos,maria.santos@doh.gov.ph,Supervising Administrative Officer,22,2,\n",
                }
            },
        }
    },
    responses=problem_responses(400, 401, 403, 422),
    summary="Import candidates from a CSV sheet",
)
async def import_agency_candidates(
    agency: AgencyCode, request: Request, session: Session, caller: Syncer
) -> CsvImportOut:
    """For agencies without an HRIS API: a UTF-8 CSV with a header row (`external_id`,
    `given_name`, `family_name` required; `email`, `position_title`, `salary_grade`,
    `priority`, `track` optional), up to 1,000 rows. The same upsert as the batch endpoint:
    each row is reported with its row number (the header is row 1) and its outcome."""
    _own_agency(caller, agency)
    items = parse_candidates_csv(await request.body())
    results = await service.upsert_batch(session, agency, items, service.actor_of(caller))
    return CsvImportOut(
        rows=[
            CsvRowResult(row=index + 2, **result.model_dump())
            for index, result in enumerate(results)
        ]
    )


@router.post(
    "/candidates",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 422),
    summary="Register a candidate (portal)",
)
async def register_candidate(
    body: CandidateCreate, session: Session, caller: Staff, response: Response
) -> CandidateOut:
    """Registration through the CSI portal. With `agency` and `external_id` it is the same
    upsert as the HRIS sync; private-sector candidates (priority 4) have no agency."""
    candidate = await service.register(session, body, service.actor_of(caller))
    return _with_etag(response, service.to_out(candidate))


@router.get("/candidates", responses=problem_responses(401, 403, 422), summary="List candidates")
async def list_candidates(
    session: Session,
    caller: Syncer,
    agency: Annotated[AgencyCode | None, Query()] = None,
    status_: Annotated[Status | None, Query(alias="status")] = None,
    track: Track | None = None,
    priority: Annotated[int | None, Query(ge=1, le=4)] = None,
    updated_after: Annotated[
        datetime | None, Query(description="ISO 8601; only candidates changed after it.")
    ] = None,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            description="Employee id or e-mail (exact), or the start of the family name "
            "(any case). Results come in order of family name.",
            examples=["Santos"],
        ),
    ] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[CandidateOut]:
    """Candidates, oldest registration first; with `updated_after`, least recently changed
    first, so that a sync can page through what changed since its last run and resume; with
    `q` (and no `updated_after`), in order of family name (lowercased, compared character code
    by character code), then id, so that a common name pages as fast as a rare one. Agency
    keys see only their own agency's. `status=forfeited` includes supplemental chances whose
    deadline has passed. A `next_cursor` works only with the filters it came with (422
    otherwise)."""
    rows, next_cursor = await service.list_candidates(
        session,
        caller,
        agency=agency,
        status=status_,
        track=track,
        priority=priority,
        updated_after=updated_after,
        q=q,
        cursor=cursor,
        limit=limit,
    )
    return Page(items=[service.to_out(c) for c in rows], next_cursor=next_cursor)


@router.get(
    "/candidates/{candidate_id}",
    responses=problem_responses(401, 403, 404),
    summary="Get a candidate",
)
async def get_candidate(
    candidate_id: uuid.UUID, session: Session, caller: SyncerOrSelf, response: Response
) -> CandidateOut:
    """The candidate with its current status (always current: a lapsed supplemental chance reads
    `forfeited`), the statuses staff may move it to, and an `ETag` for `If-Match`. A candidate's
    portal token reads its own record only."""
    candidate = await service.read_candidate(session, caller, candidate_id)
    return _with_etag(response, service.to_out(candidate))


@router.patch(
    "/candidates/{candidate_id}",
    responses=problem_responses(401, 403, 404, 409, 412, 422),
    summary="Change a candidate's details",
)
async def patch_candidate(
    candidate_id: uuid.UUID,
    body: CandidatePatch,
    session: Session,
    caller: SyncerOrSelf,
    response: Response,
    if_match: IfMatch = None,
) -> CandidateOut:
    """Only the fields sent change. Agency, employee id, track and status cannot be set here
    (422). Send `If-Match` with the last `ETag` to avoid overwriting someone else's change.
    A candidate's portal token edits its own record only, and not `salary_grade` or `priority`
    (403): those place the candidate in the program."""
    candidate = await service.patch(session, caller, candidate_id, body, if_match)
    return _with_etag(response, service.to_out(candidate))


@router.post(
    "/candidates/{candidate_id}/transitions",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Move a candidate to the next status",
)
async def create_transition(
    candidate_id: uuid.UUID, body: TransitionIn, session: Session, caller: Staff
) -> TransitionOut:
    """A step of the CPro lifecycle. A step the rules don't allow: 409 with `allowed_next`.
    A step that needs data it lacks: 422 naming it (`prequalified` needs `data.score`, the
    pre-qualifying written test score; `enrolled` needs `data.track` unless already chosen).
    Outcomes (`assessed`, `certified`, `supplemental_eligible`, `reenrollment_required`,
    `forfeited`) are set by the service, not here. Starting the ALP (`alp_in_progress`) needs
    all five LMDC modules attended, an approved brief, a coach and a sponsor who accepted
    (409 with `unmet_preconditions`); the 90-day window opens that day."""
    candidate = await service.get_candidate(session, caller, candidate_id, for_update=True)
    step = await service.staff_transition(
        session, candidate, body.to, body.reason, body.data, service.actor_of(caller)
    )
    return TransitionOut.model_validate(step, from_attributes=True)


@router.get(
    "/candidates/{candidate_id}/transitions",
    responses=problem_responses(401, 403, 404),
    summary="A candidate's history",
)
async def list_transitions(
    candidate_id: uuid.UUID, session: Session, caller: Syncer
) -> list[TransitionOut]:
    """Every status change, oldest first: who, when, why, with what data."""
    candidate = await service.get_candidate(session, caller, candidate_id)
    return [
        TransitionOut.model_validate(t, from_attributes=True)
        for t in await service.history(session, candidate.id)
    ]
