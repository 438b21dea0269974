"""General Orientation sessions: scheduling, seats, registration and attendance.

Seats hold under concurrency: a registration locks the session's row before it counts the
seats taken, so simultaneous registrations for the last seat queue on that lock and the later
ones see the session full. The candidate's row is locked first (then the session's, always in
that order), so one candidate's simultaneous registrations for two sessions cannot both pass
the "one upcoming session" check.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.auth.roles import Role
from app.auth.service import Caller
from app.candidates import service as candidates
from app.candidates.models import Candidate
from app.candidates.state import Status
from app.core.database import utcnow
from app.core.errors import Conflict, FieldError, NotFound, UnprocessableEntity
from app.core.pagination import paginate
from app.integrations.feed import Event, append_events
from app.orientation.models import OrientationAttendee, OrientationSession
from app.orientation.schemas import OrientationSessionIn


class SessionFull(Conflict):
    slug, title = "session-full", "The session is full"


@dataclass(frozen=True)
class SessionSeats:
    session: OrientationSession
    taken: int

    @property
    def left(self) -> int:
        return max(0, self.session.capacity - self.taken)


def _taken() -> ColumnElement[int]:
    return (
        select(func.count())
        .select_from(OrientationAttendee)
        .where(OrientationAttendee.session_id == OrientationSession.id)
        .correlate(OrientationSession)
        .scalar_subquery()
    )


async def create_session(
    session: AsyncSession, body: OrientationSessionIn, caller: Caller
) -> OrientationSession:
    problems = []
    if body.ends_at <= body.starts_at:
        problems.append(FieldError(field="body.ends_at", message="must be after starts_at"))
    if body.mode == "in_person" and body.venue is None:
        problems.append(FieldError(field="body.venue", message="required for in_person"))
    if problems:
        raise UnprocessableEntity("The session cannot be scheduled.", errors=problems)
    orientation = OrientationSession(
        id=uuid.uuid4(),
        title=body.title,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        mode=body.mode,
        venue=body.venue,
        capacity=body.capacity,
        created_by=candidates.actor_of(caller).label,
        created_at=utcnow(),
    )
    session.add(orientation)
    await session.flush()
    await record(
        session,
        caller,
        "orientation_session.create",
        "orientation_session",
        orientation.id,
        after={"starts_at": body.starts_at, "capacity": body.capacity, "mode": body.mode},
    )
    return orientation


async def _seats(session: AsyncSession, orientation: OrientationSession) -> SessionSeats:
    taken = await session.scalar(
        select(func.count())
        .select_from(OrientationAttendee)
        .where(OrientationAttendee.session_id == orientation.id)
    )
    return SessionSeats(orientation, int(taken or 0))


async def get_session(
    session: AsyncSession, session_id: uuid.UUID, *, for_update: bool = False
) -> OrientationSession:
    statement = select(OrientationSession).where(OrientationSession.id == session_id)
    if for_update:
        statement = statement.with_for_update()
    orientation = await session.scalar(statement)
    if orientation is None:
        raise NotFound("No orientation session with that id.")
    return orientation


async def read_session(session: AsyncSession, session_id: uuid.UUID) -> SessionSeats:
    return await _seats(session, await get_session(session, session_id))


async def list_sessions(
    session: AsyncSession,
    *,
    starts_from: datetime | None,
    starts_to: datetime | None,
    has_seats: bool | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[SessionSeats], str | None]:
    """Sessions by start time; ``has_seats`` true: only those with a seat left (false: full)."""
    if starts_from is not None and starts_to is not None and starts_from >= starts_to:
        raise UnprocessableEntity(
            "`from` must be earlier than `to`.",
            errors=[FieldError(field="query.to", message="not after from")],
        )
    statement = select(OrientationSession)
    if starts_from is not None:
        statement = statement.where(OrientationSession.starts_at >= starts_from)
    if starts_to is not None:
        statement = statement.where(OrientationSession.starts_at < starts_to)
    if has_seats is True:
        statement = statement.where(_taken() < OrientationSession.capacity)
    elif has_seats is False:
        statement = statement.where(_taken() >= OrientationSession.capacity)
    rows, next_cursor = await paginate(
        session,
        statement,
        order_by=[OrientationSession.starts_at, OrientationSession.id],
        cursor=cursor,
        limit=limit,
        key=lambda s: (s.starts_at, s.id),
    )
    taken: dict[uuid.UUID, int] = {}
    for session_id, count in await session.execute(
        select(OrientationAttendee.session_id, func.count())
        .where(OrientationAttendee.session_id.in_([s.id for s in rows]))
        .group_by(OrientationAttendee.session_id)
    ):
        taken[session_id] = count
    return [SessionSeats(s, taken.get(s.id, 0)) for s in rows], next_cursor


async def _attendee(
    session: AsyncSession, session_id: uuid.UUID, candidate_id: uuid.UUID
) -> OrientationAttendee | None:
    return await session.get(OrientationAttendee, (session_id, candidate_id))


async def register(
    session: AsyncSession, caller: Caller, session_id: uuid.UUID, candidate_id: uuid.UUID
) -> tuple[OrientationAttendee, Candidate, bool]:
    """Give the candidate a seat; returns the registration, the candidate and whether it is
    new (registering again changes nothing). Refused (409) when the session has started or is
    full (``session-full``), when the candidate is past orientation, or already holds a seat
    in another upcoming session."""
    candidate = await candidates.get_candidate(session, caller, candidate_id, for_update=True)
    orientation = await get_session(session, session_id, for_update=True)
    existing = await _attendee(session, orientation.id, candidate.id)
    if existing is not None:
        return existing, candidate, False
    now = utcnow()
    if orientation.starts_at <= now:
        raise Conflict("The session has started; register for a later one.")
    status = candidates.effective_status(candidate)
    if status is not Status.registered:
        raise Conflict(
            f"The candidate is {status.value}; the General Orientation is for registered "
            "candidates.",
            current_status=status.value,
        )
    other = await session.scalar(
        select(OrientationSession.id)
        .join(OrientationAttendee, OrientationAttendee.session_id == OrientationSession.id)
        .where(
            OrientationAttendee.candidate_id == candidate.id,
            OrientationSession.starts_at > now,
        )
        .limit(1)
    )
    if other is not None:
        raise Conflict(
            "The candidate is registered for another upcoming session; cancel that one first.",
            session_id=str(other),
        )
    seats = await _seats(session, orientation)
    if seats.left == 0:
        raise SessionFull(
            f"All {orientation.capacity} seats are taken.", capacity=orientation.capacity
        )
    actor = candidates.actor_of(caller)
    attendee = OrientationAttendee(
        session_id=orientation.id,
        candidate_id=candidate.id,
        registered_at=now,
        registered_by=actor.label,
    )
    session.add(attendee)
    await session.flush()
    await record(
        session,
        caller,
        "orientation.register",
        "orientation_session",
        orientation.id,
        after={"candidate_id": candidate.id},
    )
    await append_events(
        session,
        [
            Event(
                "orientation.registered",
                candidate.id,
                candidate.agency_code,
                {"session_id": str(orientation.id), "starts_at": orientation.starts_at.isoformat()},
            )
        ],
    )
    return attendee, candidate, True


async def record_attendance(
    session: AsyncSession,
    caller: Caller,
    session_id: uuid.UUID,
    candidate_id: uuid.UUID,
    attended: bool,
) -> tuple[OrientationAttendee, Candidate]:
    """Record whether a registered candidate attended, once the session has started. A
    ``registered`` candidate who attended becomes ``oriented`` through the lifecycle, the
    transition naming the session."""
    orientation = await get_session(session, session_id)
    if orientation.starts_at > utcnow():
        raise Conflict("Attendance is recorded once the session has started.")
    candidate = await candidates.get_candidate(session, caller, candidate_id, for_update=True)
    attendee = await _attendee(session, orientation.id, candidate.id)
    if attendee is None:
        raise Conflict("The candidate is not registered for this session.")
    if attendee.attended is True and not attended:
        raise Conflict("The candidate's attendance is recorded and they are oriented.")
    if attendee.attended is not attended:
        attendee.attended = attended
        attendee.attendance_recorded_at = utcnow()
        await record(
            session,
            caller,
            "orientation.attendance",
            "orientation_session",
            orientation.id,
            after={"candidate_id": candidate.id, "attended": attended},
        )
    if attended and candidates.effective_status(candidate) is Status.registered:
        await candidates.transition(
            session,
            candidate,
            Status.oriented,
            "attended the General Orientation",
            {"orientation_session_id": str(orientation.id)},
            candidates.actor_of(caller),
        )
    await session.flush()
    return attendee, candidate


async def cancel(
    session: AsyncSession, caller: Caller, session_id: uuid.UUID, candidate_id: uuid.UUID
) -> None:
    """Free the candidate's seat, before the session starts."""
    candidate = await candidates.get_candidate(session, caller, candidate_id)
    orientation = await get_session(session, session_id)
    attendee = await _attendee(session, orientation.id, candidate.id)
    if attendee is None:
        raise NotFound("The candidate is not registered for this session.")
    if orientation.starts_at <= utcnow():
        raise Conflict("The session has started; the registration stays on record.")
    await session.delete(attendee)
    await session.flush()
    await record(
        session,
        caller,
        "orientation.cancel",
        "orientation_session",
        orientation.id,
        before={"candidate_id": candidate.id},
    )


async def list_attendees(
    session: AsyncSession,
    caller: Caller,
    session_id: uuid.UUID,
    *,
    cursor: str | None,
    limit: int,
) -> tuple[list[tuple[OrientationAttendee, Candidate]], str | None]:
    """The session's registrations, first registered first; an agency key sees its own
    agency's candidates only."""
    orientation = await get_session(session, session_id)
    statement = select(OrientationAttendee).where(OrientationAttendee.session_id == orientation.id)
    if caller.role is Role.agency:
        statement = statement.where(
            OrientationAttendee.candidate_id.in_(
                select(Candidate.id).where(Candidate.agency_code == caller.agency_code)
            )
        )
    rows, next_cursor = await paginate(
        session,
        statement,
        order_by=[OrientationAttendee.registered_at, OrientationAttendee.candidate_id],
        cursor=cursor,
        limit=limit,
        key=lambda a: (a.registered_at, a.candidate_id),
    )
    people = {
        c.id: c
        for c in await session.scalars(
            select(Candidate).where(Candidate.id.in_([a.candidate_id for a in rows]))
        )
    }
    return [(a, people[a.candidate_id]) for a in rows], next_cursor
