"""General Orientation routes: staff schedule sessions; candidates (in the portal) or staff
register; staff record attendance, which orients the candidate."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Response, status
from pydantic import AwareDatetime

from app.auth.dependencies import Allow, Staff
from app.auth.roles import Role
from app.auth.service import Caller
from app.candidates.models import Candidate
from app.candidates.service import effective_status
from app.core.database import Session
from app.core.errors import Forbidden, problem_responses
from app.core.pagination import DEFAULT_LIMIT, Cursor, Limit, Page
from app.orientation import service
from app.orientation.models import OrientationAttendee
from app.orientation.schemas import (
    AttendeeIn,
    AttendeeOut,
    OrientationSessionIn,
    OrientationSessionOut,
)
from app.orientation.service import SessionSeats

router = APIRouter(prefix="/v1/orientation-sessions", tags=["Orientation"])

# Every role, candidates included: the portal shows the schedule to people choosing a session.
SessionReader = Annotated[Caller, Depends(Allow(*Role))]
Registrar = Annotated[Caller, Depends(Allow(Role.admin, Role.staff, Role.candidate))]
AttendeeReader = Annotated[Caller, Depends(Allow(Role.admin, Role.staff, Role.agency))]


def _session_out(seats: SessionSeats) -> OrientationSessionOut:
    s = seats.session
    return OrientationSessionOut(
        id=s.id,
        title=s.title,
        starts_at=s.starts_at,
        ends_at=s.ends_at,
        mode="online" if s.mode == "online" else "in_person",
        venue=s.venue,
        capacity=s.capacity,
        seats_taken=seats.taken,
        seats_left=seats.left,
        created_at=s.created_at,
    )


def _attendee_out(attendee: OrientationAttendee, candidate: Candidate) -> AttendeeOut:
    return AttendeeOut(
        session_id=attendee.session_id,
        candidate_id=attendee.candidate_id,
        agency=candidate.agency_code,
        registered_at=attendee.registered_at,
        attended=attendee.attended,
        attendance_recorded_at=attendee.attendance_recorded_at,
        candidate_status=effective_status(candidate).value,
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 422),
    summary="Schedule an orientation session",
)
async def create_orientation_session(
    body: OrientationSessionIn, session: Session, caller: Staff
) -> OrientationSessionOut:
    """A CPro General Orientation (with its Competency Self-Assessment), `online` or
    `in_person` (then `venue` is required), with `capacity` seats. `ends_at` must be after
    `starts_at`."""
    orientation = await service.create_session(session, body, caller)
    return _session_out(SessionSeats(orientation, 0))


@router.get("", responses=problem_responses(401, 422), summary="List orientation sessions")
async def list_orientation_sessions(
    session: Session,
    caller: SessionReader,
    starts_from: Annotated[
        AwareDatetime | None,
        Query(alias="from", description="Starting at or after this instant (ISO 8601)."),
    ] = None,
    starts_to: Annotated[
        AwareDatetime | None,
        Query(alias="to", description="Starting before this instant (ISO 8601)."),
    ] = None,
    has_seats: Annotated[
        bool | None, Query(description="true: only sessions with a seat left; false: full ones.")
    ] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[OrientationSessionOut]:
    """Sessions in order of start, with seats taken and left. `from` must be earlier than
    `to` (422 otherwise)."""
    rows, next_cursor = await service.list_sessions(
        session,
        starts_from=starts_from,
        starts_to=starts_to,
        has_seats=has_seats,
        cursor=cursor,
        limit=limit,
    )
    return Page(items=[_session_out(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/{session_id}",
    responses=problem_responses(401, 404),
    summary="Get an orientation session",
)
async def get_orientation_session(
    session_id: uuid.UUID, session: Session, caller: SessionReader
) -> OrientationSessionOut:
    """One session with its seats taken and left."""
    return _session_out(await service.read_session(session, session_id))


@router.put(
    "/{session_id}/attendees/{candidate_id}",
    responses={
        201: {"model": AttendeeOut, "description": "Registered: the candidate has a seat."},
        **problem_responses(401, 403, 404, 409, 422),
    },
    summary="Register a candidate, or record attendance",
)
async def put_orientation_attendee(
    session_id: uuid.UUID,
    candidate_id: uuid.UUID,
    session: Session,
    caller: Registrar,
    response: Response,
    body: Annotated[AttendeeIn | None, Body()] = None,
) -> AttendeeOut:
    """Without a body (or `{}`): register the candidate. 201 with a new seat; 200 when
    already registered (safe to retry). 409 `session-full` when no seat is left; 409 too when
    the session has started, the candidate is past `registered`, or holds a seat in another
    upcoming session (a candidate is in at most one). A candidate's portal token registers
    itself only (another candidate is 404).

    With `{"attended": true|false}` (staff, once the session has started): record attendance.
    A `registered` candidate who attended moves to `oriented` through the lifecycle, the
    transition's `data.orientation_session_id` naming the session. 409 when the candidate is
    not registered for this session or the session has not started."""
    if body is not None and body.attended is not None:
        if caller.role is Role.candidate:
            raise Forbidden("Staff record attendance.")
        attendee, candidate = await service.record_attendance(
            session, caller, session_id, candidate_id, body.attended
        )
        return _attendee_out(attendee, candidate)
    attendee, candidate, created = await service.register(session, caller, session_id, candidate_id)
    if created:
        response.status_code = status.HTTP_201_CREATED
    return _attendee_out(attendee, candidate)


@router.delete(
    "/{session_id}/attendees/{candidate_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403, 404, 409),
    summary="Cancel a registration",
)
async def delete_orientation_attendee(
    session_id: uuid.UUID, candidate_id: uuid.UUID, session: Session, caller: Registrar
) -> None:
    """Frees the seat, before the session starts (409 after). A candidate's portal token
    cancels its own registration only."""
    await service.cancel(session, caller, session_id, candidate_id)


@router.get(
    "/{session_id}/attendees",
    responses=problem_responses(401, 403, 404, 422),
    summary="List a session's attendees",
)
async def list_orientation_attendees(
    session_id: uuid.UUID,
    session: Session,
    caller: AttendeeReader,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[AttendeeOut]:
    """Registrations, first registered first, with attendance once recorded and each
    candidate's status. Ids only; an agency key sees its own agency's candidates."""
    rows, next_cursor = await service.list_attendees(
        session, caller, session_id, cursor=cursor, limit=limit
    )
    return Page(items=[_attendee_out(a, c) for a, c in rows], next_cursor=next_cursor)
