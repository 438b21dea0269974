"""Candidates: HRIS upserts, portal registration, edits, transitions, reads.

Every change bumps ``version`` (the ETag) and appends an event to the change feed in the same
transaction. No personal data is logged and none goes into events: events carry ids, status
and the names of the fields that changed.
"""

import asyncio
import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol, cast

from pydantic import ValidationError
from sqlalchemy import (
    ARRAY,
    ColumnElement,
    String,
    Table,
    and_,
    any_,
    bindparam,
    func,
    literal_column,
    or_,
    select,
    tuple_,
    union_all,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from app.agencies.service import agency_exists
from app.audit import service as audit
from app.audit.service import SYSTEM, Actor
from app.auth.roles import Role
from app.auth.service import Caller
from app.candidates import program
from app.candidates.models import FAMILY_NAME_KEY, Candidate, CandidateTransition
from app.candidates.schemas import (
    PRIORITY_REASONS,
    BatchItemResult,
    CandidateBatchItem,
    CandidateCreate,
    CandidateFields,
    CandidateOut,
    CandidatePatch,
)
from app.candidates.state import OUTCOMES, STEP_DATA, Status, Track, staff_next, system_may
from app.core import bulk
from app.core.database import plan_each_execution, utcnow
from app.core.errors import (
    Conflict,
    FieldError,
    Forbidden,
    NotFound,
    PreconditionFailed,
    UnprocessableEntity,
    field_path,
)
from app.core.pagination import decode_cursor, encode_cursor
from app.integrations.feed import Event, append_events

SYNCED_FIELDS = (
    "given_name",
    "family_name",
    "email",
    "position_title",
    "salary_grade",
    "priority",
    "track",
)


# Salary grade and priority place a candidate in the program (priority follows the position's
# level, CPro FAQ); candidates correct their own details but do not rank themselves.
CANDIDATE_SETTABLE = frozenset({"given_name", "family_name", "email", "position_title"})


def actor_of(caller: Caller | None) -> Actor:
    """Who is acting, for the audit trail; ``.label`` is the text history and events keep (a
    portal token has no key id: the label names its subject instead)."""
    return Actor.of(caller)


def etag_of(candidate: Candidate) -> str:
    return f'"{candidate.id}.{candidate.version}"'


class Movable(Protocol):
    """What a move reads and changes in a candidate: a ``Candidate`` entity, or a candidate
    read as a row (a cohort's release writes a thousand with one statement, not a flush)."""

    id: uuid.UUID
    agency_code: str | None
    external_id: str | None
    track: str | None
    status: str
    supplemental_deadline: date | None
    reenrollment_tracks: list[str] | None
    version: int
    updated_at: datetime


def effective_status(candidate: Movable, today: date | None = None) -> Status:
    """The status as of now: a supplemental chance is forfeited the day after its deadline,
    whether or not the sweep has written that down yet."""
    status = Status(candidate.status)
    deadline = candidate.supplemental_deadline
    if (
        status is Status.supplemental_eligible
        and deadline is not None
        and (today or utcnow().date()) > deadline
    ):
        return Status.forfeited
    return status


def status_is(status: Status) -> ColumnElement[bool]:
    """SQL for "the effective status is ``status``" (see ``effective_status``)."""
    lapsed = and_(
        Candidate.status == Status.supplemental_eligible.value,
        Candidate.supplemental_deadline < func.current_date(),
    )
    if status is Status.forfeited:
        return or_(Candidate.status == status.value, lapsed)
    if status is Status.supplemental_eligible:
        return and_(Candidate.status == status.value, ~lapsed)
    return Candidate.status == status.value


def to_out(candidate: Candidate) -> CandidateOut:
    status = effective_status(candidate)
    track = Track(candidate.track) if candidate.track else None
    return CandidateOut(
        id=candidate.id,
        agency=candidate.agency_code,
        external_id=candidate.external_id,
        given_name=candidate.given_name,
        family_name=candidate.family_name,
        email=candidate.email,
        position_title=candidate.position_title,
        salary_grade=candidate.salary_grade,
        priority=candidate.priority,
        priority_reason=PRIORITY_REASONS.get(candidate.priority) if candidate.priority else None,
        track=track,
        status=status,
        supplemental_deadline=candidate.supplemental_deadline,
        reenrollment_tracks=[Track(t) for t in candidate.reenrollment_tracks]
        if candidate.reenrollment_tracks is not None
        else None,
        allowed_transitions=staff_next(status, track),
        version=candidate.version,
        created_at=candidate.created_at,
        updated_at=candidate.updated_at,
    )


def _visible_to(caller: Caller) -> ColumnElement[bool]:
    if caller.role is Role.agency:
        return Candidate.agency_code == caller.agency_code
    if caller.role is Role.candidate:
        return Candidate.id == caller.candidate_id
    return literal_column("true")


async def get_candidate(
    session: AsyncSession, caller: Caller, candidate_id: uuid.UUID, *, for_update: bool = False
) -> Candidate:
    """The candidate, if the caller may see it; another agency's candidate is simply not found."""
    statement = select(Candidate).where(Candidate.id == candidate_id, _visible_to(caller))
    if for_update:
        statement = statement.with_for_update()
    candidate = await session.scalar(statement)
    if candidate is None:
        raise NotFound("No candidate with that id.")
    return candidate


def check_if_match(candidate: Candidate | None, if_match: str | None) -> None:
    if if_match is None:
        return
    if candidate is None:
        raise PreconditionFailed("If-Match was sent but the candidate does not exist.")
    tags = {tag.strip() for tag in if_match.split(",")}
    if "*" not in tags and etag_of(candidate) not in tags:
        raise PreconditionFailed(
            "The candidate changed since you read it; GET it again and retry with the new ETag.",
            current_etag=etag_of(candidate),
        )


async def _require_agency(session: AsyncSession, code: str, field: str) -> None:
    if not await agency_exists(session, code):
        raise UnprocessableEntity(
            f"No agency with code {code!r}.",
            errors=[FieldError(field=field, message="unknown agency")],
        )


@dataclass(frozen=True)
class UpsertOutcome:
    candidate_id: uuid.UUID
    outcome: str  # created | updated | unchanged


def _changed_fields(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return [name for name in SYNCED_FIELDS if before.get(name) != after.get(name)]


def _texts(values: Sequence[str]) -> Any:
    # One array parameter, not one placeholder per value: with a thousand placeholders the
    # prepared statement's generic plan, made once while the table was small, scanned the whole
    # table for every batch (2 s a batch at 80,000 candidates); `= ANY(array)` keeps to the index.
    return any_(bindparam("values", list(values), type_=ARRAY(String())))


async def upsert_many(
    session: AsyncSession,
    agency_code: str,
    records: Sequence[tuple[str, CandidateFields]],
    actor: Actor,
) -> list[UpsertOutcome]:
    """Create or update candidates by (agency, external_id), concurrency-safe.

    One ``INSERT ... ON CONFLICT DO UPDATE ... WHERE something changed`` for all records: a
    concurrent insert of the same employee turns into an update, never a twin. Rows that come
    back were created (``xmax = 0``) or updated; the rest were unchanged.
    """
    if not records:
        return []
    await plan_each_execution(session)
    # The audit trail needs the values before the change: lock the existing rows (in id order,
    # so concurrent batches cannot deadlock here) and read them first.
    previous = {
        row.external_id: row._asdict()
        for row in (
            await session.execute(
                select(Candidate.external_id, *(getattr(Candidate, n) for n in SYNCED_FIELDS))
                .where(
                    Candidate.agency_code == agency_code,
                    Candidate.external_id == _texts([external_id for external_id, _ in records]),
                )
                .order_by(Candidate.id)
                .with_for_update()
            )
        ).all()
    }
    now = utcnow()
    rows = bulk.encode_rows(
        [
            {
                "agency_code": agency_code,
                "external_id": external_id,
                **{name: getattr(fields, name) for name in SYNCED_FIELDS},
                "status": Status.registered.value,
                "version": 1,
                "created_at": now,
                "updated_at": now,
            }
            for external_id, fields in records
        ]
    )
    # The rows as one JSON document (json_populate_recordset, as app.core.bulk): executed with
    # one parameter a row field, a batch's 14,000 values were each processed in Python.
    # On the table, not the mapped class: the ORM adds nothing to a set-based statement.
    # Ids made by PostgreSQL: a Python UUID per row was an eighth of the batch.
    table = cast(Table, Candidate.__table__)
    source = bulk.recordset(table, rows.columns)
    statement = insert(table).from_select(
        ["id", *rows.columns],
        select(func.gen_random_uuid(), *(source.c[name] for name in rows.columns)).order_by(
            source.c.ordinality
        ),
    )
    excluded = statement.excluded
    # A sync may omit the track; it never clears one already chosen.
    updates = {name: getattr(excluded, name) for name in SYNCED_FIELDS if name != "track"}
    updates["track"] = func.coalesce(excluded.track, Candidate.track)
    changed = or_(
        *(getattr(Candidate, name).is_distinct_from(value) for name, value in updates.items())
    )
    upsert: Any = statement.on_conflict_do_update(
        index_elements=[Candidate.agency_code, Candidate.external_id],
        set_={**updates, "version": Candidate.version + 1, "updated_at": now},
        where=changed,
    ).returning(
        Candidate.id,
        Candidate.external_id,
        literal_column("xmax = 0").label("created"),
        Candidate.version,
        *(getattr(Candidate, n) for n in SYNCED_FIELDS),
    )
    written = {
        row.external_id: row
        for row in (await session.execute(upsert, {"rows": rows.document})).all()
    }

    missing = [external_id for external_id, _ in records if external_id not in written]
    unchanged: dict[str, uuid.UUID] = {}
    if missing:
        found = await session.execute(
            select(Candidate.external_id, Candidate.id).where(
                Candidate.agency_code == agency_code, Candidate.external_id == _texts(missing)
            )
        )
        unchanged = {
            external_id: candidate_id for external_id, candidate_id in found.all() if external_id
        }
    # Pure work on what came back: for a batch, in a worker thread (see upsert_batch).
    report = functools.partial(_report, records, written, unchanged, previous, agency_code, actor)
    outcomes, audited, events = (
        await asyncio.to_thread(report) if len(records) > _VALIDATED_INLINE else report()
    )
    # One audit statement for the whole batch, not one round trip per candidate.
    await audit.record_prepared(session, audited)
    await append_events(session, events)
    return outcomes


def _report(
    records: Sequence[tuple[str, CandidateFields]],
    written: dict[str, Any],
    unchanged: dict[str, uuid.UUID],
    previous: dict[str, dict[str, Any]],
    agency_code: str,
    actor: Actor,
) -> tuple[list[UpsertOutcome], audit.PreparedEntries, list[Event]]:
    """Each record's outcome, and the audit entries and feed events that report it."""
    outcomes: list[UpsertOutcome] = []
    events: list[Event] = []
    audited: list[audit.AuditChange] = []
    for external_id, _ in records:
        row = written.get(external_id)
        if row is None:
            outcomes.append(UpsertOutcome(unchanged[external_id], "unchanged"))
            continue
        kind = "created" if row.created else "updated"
        outcomes.append(UpsertOutcome(row.id, kind))
        stored = {name: getattr(row, name) for name in SYNCED_FIELDS}
        if kind == "created":
            before, after = None, {n: v for n, v in stored.items() if v is not None}
        else:
            before, after = audit.changes(previous.get(external_id, {}), stored)
        audited.append((f"candidate.{kind[:-1]}", "candidate", row.id, before, after))
        events.append(
            Event(
                type=f"candidate.{kind}",
                candidate_id=row.id,
                agency_code=agency_code,
                data={"external_id": external_id, "version": row.version, "actor": actor.label}
                | ({"status": Status.registered.value} if kind == "created" else {}),
            )
        )
    return outcomes, audit.prepare_many(actor, audited), events


async def upsert_one(
    session: AsyncSession,
    agency_code: str,
    external_id: str,
    fields: CandidateFields,
    actor: Actor,
    if_match: str | None,
) -> tuple[Candidate, str]:
    await _require_agency(session, agency_code, "path.agency")
    if if_match is not None:
        existing = await session.scalar(
            select(Candidate)
            .where(Candidate.agency_code == agency_code, Candidate.external_id == external_id)
            .with_for_update()
        )
        check_if_match(existing, if_match)
    (outcome,) = await upsert_many(session, agency_code, [(external_id, fields)], actor)
    candidate = await session.get(Candidate, outcome.candidate_id, populate_existing=True)
    assert candidate is not None
    return candidate, outcome.outcome


# Up to this many batch items are validated on the event loop (a thread costs more).
_VALIDATED_INLINE = 50


def _validated(
    items: Sequence[dict[str, Any]],
) -> tuple[list[BatchItemResult | None], list[tuple[int, str, CandidateFields]]]:
    """Each item checked on its own: the rejected ones' results, and the valid ones."""
    results: list[BatchItemResult | None] = [None] * len(items)
    valid: list[tuple[int, str, CandidateFields]] = []
    seen: set[str] = set()
    for index, raw in enumerate(items):
        external_id = raw.get("external_id") if isinstance(raw, dict) else None
        try:
            item = CandidateBatchItem.model_validate(raw)
        except ValidationError as exc:
            results[index] = BatchItemResult(
                external_id=external_id if isinstance(external_id, str) else None,
                outcome="rejected",
                errors=[
                    {"field": field_path(("items", index, *e["loc"])), "message": e["msg"]}
                    for e in exc.errors()
                ],
            )
            continue
        if item.external_id in seen:
            results[index] = BatchItemResult(
                external_id=item.external_id,
                outcome="rejected",
                errors=[
                    {
                        "field": f"items[{index}].external_id",
                        "message": "appears twice in this batch",
                    }
                ],
            )
            continue
        seen.add(item.external_id)
        valid.append(
            (
                index,
                item.external_id,
                # Already validated as part of the item: validating again (e-mail and all)
                # doubled the cost of a batch.
                CandidateFields.model_construct(**item.model_dump(exclude={"external_id"})),
            )
        )
    return results, valid


async def upsert_batch(
    session: AsyncSession, agency_code: str, items: Sequence[dict[str, Any]], actor: Actor
) -> list[BatchItemResult]:
    """Validate each item on its own; write the valid ones together; report every item."""
    await _require_agency(session, agency_code, "path.agency")
    # A thousand items take a while to check: in a worker thread the event loop goes on
    # serving other requests meanwhile (it gets the GIL back every few milliseconds).
    results, valid = (
        await asyncio.to_thread(_validated, items)
        if len(items) > _VALIDATED_INLINE
        else _validated(items)
    )
    outcomes = await upsert_many(session, agency_code, [(e, f) for _, e, f in valid], actor)
    for (index, external_id, _), outcome in zip(valid, outcomes, strict=True):
        results[index] = BatchItemResult(
            external_id=external_id, outcome=outcome.outcome, id=outcome.candidate_id
        )
    return [r for r in results if r is not None]


async def register(session: AsyncSession, body: CandidateCreate, actor: Actor) -> Candidate:
    """Portal registration (staff): with an agency and employee id this is an upsert too."""
    if body.agency is not None:
        await _require_agency(session, body.agency, "body.agency")
    if body.agency is not None and body.external_id is not None:
        fields = CandidateFields.model_validate(body.model_dump(exclude={"agency", "external_id"}))
        (outcome,) = await upsert_many(session, body.agency, [(body.external_id, fields)], actor)
        candidate = await session.get(Candidate, outcome.candidate_id, populate_existing=True)
        assert candidate is not None
        return candidate
    if body.external_id is not None:
        raise UnprocessableEntity(
            "An employee id belongs to an agency.",
            errors=[FieldError(field="body.agency", message="required with external_id")],
        )
    now = utcnow()
    candidate = Candidate(
        id=uuid.uuid4(),
        agency_code=body.agency,
        external_id=None,
        **body.model_dump(include=set(SYNCED_FIELDS)),
        status=Status.registered.value,
        version=1,
        created_at=now,
        updated_at=now,
    )
    session.add(candidate)
    await session.flush()
    await audit.record(
        session,
        actor,
        "candidate.create",
        "candidate",
        candidate.id,
        after={
            n: getattr(candidate, n) for n in SYNCED_FIELDS if getattr(candidate, n) is not None
        },
    )
    await append_events(
        session,
        [
            Event(
                "candidate.created",
                candidate.id,
                candidate.agency_code,
                {"version": 1, "status": "registered", "actor": actor.label},
            )
        ],
    )
    return candidate


async def patch(
    session: AsyncSession,
    caller: Caller,
    candidate_id: uuid.UUID,
    body: CandidatePatch,
    if_match: str | None,
) -> Candidate:
    candidate = await get_candidate(session, caller, candidate_id, for_update=True)
    check_if_match(candidate, if_match)
    if candidate.erased_at is not None:
        raise Conflict("The candidate's personal data was erased; it cannot be filled in again.")
    changes = body.model_dump(exclude_unset=True)
    if caller.role is Role.candidate:
        refused = sorted(set(changes) - CANDIDATE_SETTABLE)
        if refused:
            raise Forbidden(
                "A candidate may change their name, e-mail and position title only.",
                errors=[
                    FieldError(field=f"body.{name}", message="set by staff") for name in refused
                ],
            )
    nulls = [
        name for name in ("given_name", "family_name") if name in changes and changes[name] is None
    ]
    if nulls:
        raise UnprocessableEntity(
            "Names cannot be removed.",
            errors=[FieldError(field=f"body.{n}", message="may not be null") for n in nulls],
        )
    changed = [name for name, value in changes.items() if getattr(candidate, name) != value]
    if changed:
        before = {name: getattr(candidate, name) for name in changed}
        for name in changed:
            setattr(candidate, name, changes[name])
        candidate.version += 1
        candidate.updated_at = utcnow()
        await session.flush()
        await audit.record(
            session,
            actor_of(caller),
            "candidate.update",
            "candidate",
            candidate.id,
            before,
            {name: changes[name] for name in changed},
        )
        await append_events(
            session,
            [
                Event(
                    "candidate.updated",
                    candidate.id,
                    candidate.agency_code,
                    {
                        "external_id": candidate.external_id,
                        "version": candidate.version,
                        "changed": changed,
                        "actor": actor_of(caller).label,
                    },
                )
            ],
        )
    return candidate


def _step_data_problems(target: Status, data: dict[str, Any]) -> list[FieldError]:
    requirement = STEP_DATA.get(target)
    problems = []
    if requirement is not None:
        for name, meaning in requirement.fields.items():
            if name not in data:
                problems.append(
                    FieldError(field=f"body.data.{name}", message=f"required: {meaning}")
                )
    if target is Status.prequalified and "score" in data:
        score = data["score"]
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not 0 <= score <= 100:
            problems.append(FieldError(field="body.data.score", message="a number from 0 to 100"))
    return problems


async def transition(
    session: AsyncSession,
    candidate: Candidate,
    target: Status,
    reason: str,
    data: dict[str, Any],
    actor: Actor,
    *,
    system: bool = False,
    preconditions: list[str] | None = None,
) -> CandidateTransition:
    """Move ``candidate`` to ``target`` if the lifecycle allows it, and record the step.

    ``system`` transitions are the service's own (releasing results, the supplemental
    deadline); staff cannot make them through the API.
    """
    # The service acts on the stored status (the sweep records a lapse that reads already
    # as forfeited); staff act on the status as everyone reads it.
    current = Status(candidate.status) if system else effective_status(candidate)
    track = Track(candidate.track) if candidate.track else None
    allowed = system_may(current, target) if system else target in staff_next(current, track)
    if not allowed:
        options = staff_next(current, track)
        why = " by hand: the service sets outcomes." if target in OUTCOMES and not system else "."
        raise Conflict(
            f"A candidate who is {current.value} cannot become {target.value}{why}",
            current_status=current.value,
            allowed_next=[s.value for s in options],
        )
    problems = _step_data_problems(target, data)
    if target is Status.enrolled:
        chosen = data.get("track", candidate.track)
        if current is Status.reenrollment_required:
            open_tracks = candidate.reenrollment_tracks or [t.value for t in Track]
            if chosen not in open_tracks:
                problems.append(
                    FieldError(field="body.data.track", message=f"one of {open_tracks}")
                )
        elif chosen not in {t.value for t in Track}:
            problems.append(
                FieldError(field="body.data.track", message="required: `rpl` or `training`")
            )
    if problems:
        raise UnprocessableEntity(f"The step to {target.value} needs more data.", errors=problems)
    if preconditions:
        raise Conflict(
            f"The candidate cannot become {target.value} yet.", unmet_preconditions=preconditions
        )
    step = apply_step(candidate, current, target, reason, data, actor)
    history = CandidateTransition(**step.history)
    session.add(history)
    await session.flush()
    await _audit_and_announce(session, actor, [step])
    return history


@dataclass
class Step:
    """A move already applied to the candidate in memory, and what must be written for it."""

    history: dict[str, Any]
    """The history row (``candidate_transition``) as column values."""
    audit_change: audit.AuditChange
    event: Event


def apply_step(
    candidate: Movable,
    current: Status,
    target: Status,
    reason: str,
    data: dict[str, Any],
    actor: Actor,
) -> Step:
    """Move ``candidate`` (checked by the caller) and describe the history, audit and feed
    entries; ``write_steps`` stores them, for one candidate or a thousand at once."""
    before = {"status": current.value, "track": candidate.track}
    if target is Status.enrolled:
        candidate.track = data.get("track", candidate.track)
        candidate.reenrollment_tracks = None
    candidate.status = target.value
    candidate.version += 1
    candidate.updated_at = utcnow()
    return Step(
        history={
            "candidate_id": candidate.id,
            "from_status": current.value,
            "to_status": target.value,
            "reason": reason,
            "data": data,
            "actor": actor.label,
            "at": candidate.updated_at,
        },
        audit_change=(
            "candidate.transition",
            "candidate",
            candidate.id,
            *audit.changes(before, {"status": target.value, "track": candidate.track}),
        ),
        event=Event(
            "candidate.transitioned",
            candidate.id,
            candidate.agency_code,
            {
                "external_id": candidate.external_id,
                "version": candidate.version,
                "from": current.value,
                "to": target.value,
                "actor": actor.label,
            },
        ),
    )


def apply_system_step(
    candidate: Movable, target: Status, reason: str, data: dict[str, Any], actor: Actor
) -> Step:
    """A move the service makes itself (releasing results): checked against the stored status."""
    current = Status(candidate.status)
    if not system_may(current, target):
        raise Conflict(
            f"A candidate who is {current.value} cannot become {target.value}.",
            current_status=current.value,
        )
    return apply_step(candidate, current, target, reason, data, actor)


async def write_steps(
    session: AsyncSession,
    actor: Actor,
    steps: Sequence[Step],
    *,
    events: Sequence[Event] | None = None,
) -> None:
    """Store the history rows, audit entries and feed events of ``steps`` in a few statements
    (a cohort's release moves a thousand candidates twice each). ``events``, when given, go to
    the feed instead of the steps' own: the steps' events placed among the caller's, in the
    order readers must see them."""
    if not steps:
        return
    await session.execute(insert(CandidateTransition), [s.history for s in steps])
    await _audit_and_announce(session, actor, steps, events)


async def _audit_and_announce(
    session: AsyncSession,
    actor: Actor,
    steps: Sequence[Step],
    events: Sequence[Event] | None = None,
) -> None:
    await audit.record_many(session, actor, [s.audit_change for s in steps])
    await append_events(session, [s.event for s in steps] if events is None else events)


async def staff_transition(
    session: AsyncSession,
    candidate: Candidate,
    target: Status,
    reason: str,
    data: dict[str, Any],
    actor: Actor,
) -> CandidateTransition:
    """A transition requested by program staff, with the program's preconditions checked."""
    preconditions = (
        await program.alp_preconditions(session, candidate)
        if target is Status.alp_in_progress
        else None
    )
    step = await transition(
        session, candidate, target, reason, data, actor, preconditions=preconditions
    )
    if target is Status.alp_in_progress:
        await program.start_alp(session, candidate, utcnow().date())
    return step


async def read_candidate(
    session: AsyncSession, caller: Caller, candidate_id: uuid.UUID
) -> Candidate:
    """``get_candidate`` for a route that hands the caller the candidate's personal data: the
    read goes into the audit trail."""
    candidate = await get_candidate(session, caller, candidate_id)
    await audit.record_reads(session, caller, "candidate", [candidate.id])
    return candidate


async def history(session: AsyncSession, candidate_id: uuid.UUID) -> list[CandidateTransition]:
    return list(
        (
            await session.scalars(
                select(CandidateTransition)
                .where(CandidateTransition.candidate_id == candidate_id)
                .order_by(CandidateTransition.id)
            )
        ).all()
    )


def _prefix_range(prefix: str) -> ColumnElement[bool]:
    """``FAMILY_NAME_KEY`` starts with ``prefix``, as a range the index can seek to: in byte
    order the names starting with "abc" are those from "abc" up to (not including) "abd"."""
    low = prefix.lower()
    if ord(low[-1]) >= 0x10FFFF:
        return FAMILY_NAME_KEY.startswith(low, autoescape=True)
    following = ord(low[-1]) + 1
    if 0xD800 <= following <= 0xDFFF:
        following = 0xE000  # surrogates are not characters: the next character is U+E000
    high = low[:-1] + chr(following)
    return and_(low <= FAMILY_NAME_KEY, high > FAMILY_NAME_KEY)


def _exact_identity(q: str) -> ColumnElement[bool]:
    """The candidate whose employee id is ``q``, or whose e-mail is ``q`` in any case."""
    return or_(Candidate.external_id == q, func.lower(Candidate.email) == q.lower())


async def list_candidates(
    session: AsyncSession,
    caller: Caller,
    *,
    agency: str | None,
    status: Status | None,
    track: Track | None,
    priority: int | None,
    updated_after: Any,
    q: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[Candidate], str | None]:
    """One page of the candidates the caller may see, with the filters given.

    Three orders, each served by an index so that a page costs the same on page 1 and page
    1,000: changed-since (``updated_after``) pages by (updated_at, id), so a sync can resume;
    a search (``q``) by (family name, id), since a common name matches a hundred thousand
    candidates and sorting them by registration would read every one; otherwise by
    registration (created_at, id).
    """
    conditions: list[ColumnElement[bool]] = [_visible_to(caller)]
    if agency is not None:
        conditions.append(Candidate.agency_code == agency)
    if status is not None:
        conditions.append(status_is(status))
    if track is not None:
        conditions.append(Candidate.track == track.value)
    if priority is not None:
        conditions.append(Candidate.priority == priority)
    if updated_after is not None:
        conditions.append(Candidate.updated_at > updated_after)
    order: str
    sort_key: ColumnElement[Any] | InstrumentedAttribute[Any]
    if updated_after is not None:
        order, sort_key = "u", Candidate.updated_at
    elif q:
        order, sort_key = "n", FAMILY_NAME_KEY
    else:
        order, sort_key = "c", Candidate.created_at
    if cursor is not None:
        kind, after_value, after_id = decode_cursor(
            cursor, (str, (str, datetime), uuid.UUID), list_name="candidates"
        )
        expected_type = str if order == "n" else datetime
        if not isinstance(after_value, expected_type) or not isinstance(after_id, uuid.UUID):
            raise UnprocessableEntity(
                "The cursor is not one this service issued for this list.",
                errors=[FieldError(field="query.cursor", message="invalid cursor")],
            )
        if kind != order:
            raise UnprocessableEntity(
                "The cursor belongs to the list with other filters.",
                errors=[FieldError(field="query.cursor", message="use it with the same filters")],
            )
        conditions.append(tuple_(sort_key, Candidate.id) > tuple_(after_value, after_id))
    if q and order == "n":
        # The name matches in index order, plus the few exact employee-id and e-mail matches
        # (any name): the page is the first `limit` of both together.
        by_name = (
            select(Candidate.id)
            .where(*conditions, _prefix_range(q))
            .order_by(sort_key, Candidate.id)
            .limit(limit + 1)
        )
        by_identity = select(Candidate.id).where(*conditions, _exact_identity(q))
        matches = union_all(by_name, by_identity).subquery()
        statement = select(Candidate, sort_key).where(Candidate.id.in_(select(matches.c.id)))
    else:
        if q:
            conditions.append(or_(_exact_identity(q), _prefix_range(q)))
        statement = select(Candidate, sort_key).where(*conditions)
    rows = (
        await session.execute(statement.order_by(sort_key, Candidate.id).limit(limit + 1))
    ).all()
    next_cursor = None
    if len(rows) > limit:
        last, last_key = rows[limit - 1]
        next_cursor = encode_cursor([order, last_key, last.id], list_name="candidates")
    page = [candidate for candidate, _ in rows[:limit]]
    # The list carries names and e-mails: each candidate on the page was read.
    await audit.record_reads(session, caller, "candidate", [c.id for c in page])
    return page, next_cursor


async def record_lapsed_supplementals(session: AsyncSession) -> int:
    """Write down the forfeitures that reads already show (status ``supplemental_eligible``
    past its deadline), so that the history, the feed and webhooks have them too."""
    lapsed = list(
        (
            await session.scalars(
                select(Candidate)
                .where(
                    Candidate.status == Status.supplemental_eligible.value,
                    Candidate.supplemental_deadline < func.current_date(),
                )
                .order_by(Candidate.id)
                .limit(500)
                .with_for_update(skip_locked=True)
            )
        ).all()
    )
    for candidate in lapsed:
        await transition(
            session,
            candidate,
            Status.forfeited,
            "the supplemental assessment deadline passed",
            {
                "deadline": candidate.supplemental_deadline.isoformat()
                if candidate.supplemental_deadline
                else None
            },
            SYSTEM,
            system=True,
        )
    return len(lapsed)


# What a move changes in the candidate's row (``apply_step``), and what a release sets with it.
_MOVED_COLUMNS = (
    "status",
    "track",
    "version",
    "updated_at",
    "supplemental_deadline",
    "reenrollment_tracks",
)


@dataclass(frozen=True)
class PreparedMoves:
    """Candidates moved by ``apply_system_step`` outside any session (read as rows, not
    entities), made ready for ``write_prepared_moves``."""

    candidates: bulk.EncodedRows
    history: bulk.EncodedRows


def prepare_moves(moved: Sequence[Movable], steps: Sequence[Step]) -> PreparedMoves:
    """The new state of each of ``moved`` (each once) and the history rows of ``steps``,
    encoded: pure work, for a worker thread when a cohort moves a thousand."""
    return PreparedMoves(
        candidates=bulk.encode_rows(
            [{"id": c.id} | {name: getattr(c, name) for name in _MOVED_COLUMNS} for c in moved]
        ),
        history=bulk.encode_rows([s.history for s in steps]),
    )


async def write_prepared_moves(session: AsyncSession, prepared: PreparedMoves) -> None:
    """Store the candidates' new state and their history in two set-based statements (the
    rows must be locked already; audit entries and events are the caller's to write)."""
    await bulk.update_rows(session, cast(Table, Candidate.__table__), "id", prepared.candidates)
    await bulk.insert_rows(session, cast(Table, CandidateTransition.__table__), prepared.history)
