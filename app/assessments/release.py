"""Releasing results: one round or a cohort's thousand, with the same checks.

A cohort is released at once after the panel meets, so the work is set-based: the rounds,
their candidates, policies, scores and competency names are read in one statement each (as
rows: entities cost more to load and to flush than the rules take to run), the rules run in
memory, and the rounds' and candidates' new state, the history, audit entries, certificates
and feed events are written in one statement each. Rounds are locked in id order and then
their candidates in id order, so two overlapping releases wait for each other instead of
deadlocking.
"""

import asyncio
import secrets
import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import ARRAY, Table, Uuid, any_, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.util import identity_key

from app.assessments import rules
from app.assessments.events import release_events
from app.assessments.models import Assessment, AssessmentPolicy, Score
from app.assessments.rounds import status_for_round, visible_assessments
from app.assessments.snapshot import policy_rules, result_snapshot
from app.audit import service as audit
from app.auth.service import Caller
from app.candidates import service as candidates
from app.candidates.models import Candidate
from app.candidates.state import Status, Track
from app.certificates.models import Certificate
from app.certificates.status_list import allocate_positions
from app.core import bulk
from app.core.database import utcnow
from app.core.errors import Conflict, NotFound, ProblemError
from app.frameworks.models import Competency
from app.integrations.feed import Event, append_events

NEXT_STATUS = {
    rules.Outcome.certified: Status.certified,
    rules.Outcome.supplemental: Status.supplemental_eligible,
    rules.Outcome.reenrollment: Status.reenrollment_required,
}


_SERIAL_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def serial_of(value: int) -> str:
    """80 random bits in Crockford-like base32, grouped for reading aloud."""
    chars = "".join(_SERIAL_ALPHABET[(value >> (5 * i)) & 31] for i in range(16))
    return f"CPRO-{chars[:4]}-{chars[4:8]}-{chars[8:12]}-{chars[12:]}"


def new_serials() -> Iterator[str]:
    """Certificate serials, unguessable and unique: the random bits drawn from the operating
    system a few hundred certificates at a time (one system call each, not one a serial)."""
    while True:
        pool = secrets.token_bytes(10 * 256)
        for start in range(0, len(pool), 10):
            yield serial_of(int.from_bytes(pool[start : start + 10]))


def new_serial() -> str:
    return next(new_serials())


@dataclass
class Release:
    """What happened to one requested round."""

    assessment_id: uuid.UUID
    outcome: str | None = None
    """The round's result (``rules.Outcome``), released now or before."""
    certificate_serial: str | None = None
    already_released: bool = False
    problem: ProblemError | None = None


# Only what the release reads: rows, not entities (see the module's docstring).
_ROUND_COLUMNS = (
    Assessment.id,
    Assessment.candidate_id,
    Assessment.kind,
    Assessment.framework_version_id,
    Assessment.policy_id,
    Assessment.competencies,
    Assessment.failed_before,
    Assessment.portfolio_submission_id,
    Assessment.released_at,
    Assessment.outcome,
)
_CANDIDATE_COLUMNS = (
    Candidate.id,
    Candidate.agency_code,
    Candidate.external_id,
    Candidate.given_name,
    Candidate.family_name,
    Candidate.track,
    Candidate.status,
    Candidate.supplemental_deadline,
    Candidate.reenrollment_tracks,
    Candidate.version,
    Candidate.updated_at,
)


@dataclass(slots=True)
class _Candidate:
    """A candidate as read for its release (``_CANDIDATE_COLUMNS``, in order), moved in memory
    and written back with one statement for the cohort."""

    id: uuid.UUID
    agency_code: str | None
    external_id: str | None
    given_name: str
    family_name: str
    track: str | None
    status: str
    supplemental_deadline: date | None
    reenrollment_tracks: list[str] | None
    version: int
    updated_at: datetime


def _ids(name: str, values: Sequence[uuid.UUID]) -> Any:
    # One array parameter, not one placeholder per id: the statement is the same for any count.
    return any_(bindparam(name, list(values), type_=ARRAY(Uuid())))


@dataclass
class _Loaded:
    # Rows of _ROUND_COLUMNS, _CANDIDATE_COLUMNS, (round, competency, instrument, score) and
    # (version, code, name).
    rounds: dict[uuid.UUID, Any]
    candidates: Sequence[Any]
    policies: dict[uuid.UUID, AssessmentPolicy]
    scores: Sequence[Any]
    names: Sequence[Any]


async def _load(session: AsyncSession, caller: Caller, ids: Sequence[uuid.UUID]) -> _Loaded:
    # Rows through the session's connection: the ORM's result handling costs per row, and a
    # cohort has fifteen scores a round.
    connection = await session.connection()
    statement = visible_assessments(
        select(*_ROUND_COLUMNS).where(Assessment.id == _ids("ids", ids)), caller
    )
    found = (
        await connection.execute(statement.order_by(Assessment.id).with_for_update(of=Assessment))
    ).all()
    open_rounds = [r for r in found if r.released_at is None]
    candidate_ids = sorted({r.candidate_id for r in open_rounds})
    people = (
        await connection.execute(
            select(*_CANDIDATE_COLUMNS)
            .where(Candidate.id == _ids("ids", candidate_ids))
            .order_by(Candidate.id)
            .with_for_update()
        )
    ).all()
    policies = (
        await session.scalars(
            select(AssessmentPolicy).where(
                AssessmentPolicy.id.in_({r.policy_id for r in open_rounds})
            )
        )
    ).all()
    scores = (
        await connection.execute(
            select(Score.assessment_id, Score.competency, Score.instrument, Score.score)
            .where(Score.assessment_id == _ids("ids", [r.id for r in open_rounds]))
            .order_by(Score.id)
        )
    ).all()
    names = (
        await connection.execute(
            select(Competency.version_id, Competency.code, Competency.name).where(
                Competency.version_id.in_({r.framework_version_id for r in open_rounds})
            )
        )
    ).all()
    return _Loaded(
        rounds={r.id: r for r in found},
        candidates=people,
        policies={p.id: p for p in policies},
        scores=scores,
        names=names,
    )


_Scores = dict[str, dict[rules.Instrument, Decimal]]
"""A round's scores: by competency, by instrument."""


def _missing_scores(round_: Any, present: _Scores) -> ProblemError | None:
    kind = rules.AssessmentKind(round_.kind)
    required = rules.required_scores(kind, round_.competencies, frozenset(round_.failed_before))
    have = {(code, i) for code, by_instrument in present.items() for i in by_instrument}
    missing = sorted(
        required - have,
        key=lambda m: (round_.competencies.index(m[0]), rules.INSTRUMENTS.index(m[1])),
    )
    if not missing:
        return None
    return Conflict(
        f"{len(missing)} score(s) missing; all must be in before release.",
        missing_scores=[{"competency": c, "instrument": i.value} for c, i in missing],
    )


# Up to this many rounds are decided on the event loop (a thread costs more than they do).
_DECIDED_INLINE = 20


@dataclass
class _Decided:
    outcomes: list[Release]
    rounds: bulk.EncodedRows
    """The released rounds' new columns."""
    moves: candidates.PreparedMoves
    audited: audit.PreparedEntries
    certificates: list[dict[str, Any]]
    announcements: list[Event]
    round_ids: list[uuid.UUID] = field(default_factory=list)
    moved_ids: list[uuid.UUID] = field(default_factory=list)


def _decide(
    loaded: _Loaded, ids: Sequence[uuid.UUID], actor: audit.Actor, now: datetime
) -> _Decided:
    """Each requested round's outcome, and the rows that record it (nothing written yet)."""
    scores: dict[uuid.UUID, _Scores] = defaultdict(lambda: defaultdict(dict))
    instruments = {i.value: i for i in rules.Instrument}
    for assessment_id, competency, instrument, value in loaded.scores:
        scores[assessment_id][competency][instruments[instrument]] = value
    names: dict[uuid.UUID, dict[str, str]] = defaultdict(dict)
    for version_id, code, name in loaded.names:
        names[version_id][code] = name
    people = {row.id: _Candidate(*row) for row in loaded.candidates}
    policies: dict[uuid.UUID, rules.Policy] = {}
    serials = new_serials()

    outcomes: list[Release] = []
    released: list[dict[str, Any]] = []
    moved: dict[uuid.UUID, _Candidate] = {}
    steps: list[candidates.Step] = []
    entries: list[audit.AuditChange] = []
    certificates: list[dict[str, Any]] = []
    announcements: list[Event] = []
    seen: set[uuid.UUID] = set()
    for assessment_id in ids:
        outcome = Release(assessment_id)
        outcomes.append(outcome)
        round_ = loaded.rounds.get(assessment_id)
        if round_ is None:
            outcome.problem = NotFound("No assessment with that id.")
            continue
        outcome.outcome = round_.outcome
        if assessment_id in seen:
            outcome.problem = Conflict("This assessment appears twice in the request.")
            continue
        seen.add(assessment_id)
        if round_.released_at is not None:
            outcome.already_released = True
            continue
        candidate = people[round_.candidate_id]
        present = scores.get(assessment_id, {})
        outcome.problem = _missing_scores(round_, present)
        if outcome.problem is not None:
            continue
        kind = rules.AssessmentKind(round_.kind)
        status = candidates.effective_status(candidate)
        if status is not status_for_round(kind):
            outcome.problem = Conflict(
                f"The candidate is {status.value}; this {kind.value} round can no longer be "
                "released."
            )
            continue

        policy = policies.get(round_.policy_id)
        if policy is None:
            policy = policies[round_.policy_id] = policy_rules(loaded.policies[round_.policy_id])
        result = rules.compute_result(
            policy,
            round_.competencies,
            present,
            kind=kind,
            track=Track(candidate.track or "training"),
            release_date=now.date(),
            failed_before=frozenset(round_.failed_before),
        )
        outcome.outcome = result.outcome.value
        released.append(
            {
                "id": assessment_id,
                "released_at": now,
                "outcome": result.outcome.value,
                "result": result_snapshot(result, names.get(round_.framework_version_id, {}))
                | {
                    "portfolio_submission_id": str(round_.portfolio_submission_id)
                    if round_.portfolio_submission_id
                    else None
                },
            }
        )
        moved[candidate.id] = candidate
        steps.append(
            candidates.apply_system_step(
                candidate,
                Status.assessed,
                "assessment released",
                {"assessment_id": str(assessment_id)},
                actor,
            )
        )
        candidate.supplemental_deadline = result.supplemental_deadline
        candidate.reenrollment_tracks = (
            [t.value for t in result.reenrollment_tracks] if result.reenrollment_tracks else None
        )
        steps.append(
            candidates.apply_system_step(
                candidate,
                NEXT_STATUS[result.outcome],
                f"outcome: {result.outcome.value}",
                {"assessment_id": str(assessment_id), "passed_count": result.passed_count},
                actor,
            )
        )
        entries.append(
            (
                "assessment.release",
                "assessment",
                assessment_id,
                None,
                {"candidate_id": candidate.id, "outcome": result.outcome.value},
            )
        )
        if result.outcome is rules.Outcome.certified:
            serial = next(serials)
            certificate = {
                "serial": serial,
                "candidate_id": candidate.id,
                "assessment_id": assessment_id,
                "holder_name": f"{candidate.given_name} {candidate.family_name}",
                "issued_on": now.date(),
                "status": "valid",
                "created_at": now,
            }
            certificates.append(certificate)
            outcome.certificate_serial = serial
            entries.append(
                (
                    "certificate.issue",
                    "certificate",
                    serial,
                    None,
                    {"candidate_id": candidate.id, "holder_name": certificate["holder_name"]},
                )
            )
        announcements += release_events(
            candidate,
            assessment_id,
            round_.kind,
            result.outcome.value,
            result.passed_count,
            outcome.certificate_serial,
            steps[-2:],
        )
    return _Decided(
        outcomes=outcomes,
        rounds=bulk.encode_rows(released),
        moves=candidates.prepare_moves(list(moved.values()), steps),
        # The steps' entries first, then the rounds' and certificates' (as they always were).
        audited=audit.prepare_many(actor, [s.audit_change for s in steps] + entries),
        certificates=certificates,
        announcements=announcements,
        round_ids=[r["id"] for r in released],
        moved_ids=list(moved),
    )


async def release_many(
    session: AsyncSession, caller: Caller, ids: Sequence[uuid.UUID]
) -> list[Release]:
    """Release every round in ``ids`` that is complete; report each (in order) as released,
    released already, or refused with the problem that stopped it (the others still go)."""
    loaded = await _load(session, caller, ids)
    actor = candidates.actor_of(caller)
    # Deciding a cohort, and encoding the rows that record it, is pure computation on what
    # was loaded: in a worker thread, the event loop goes on serving other requests meanwhile
    # (the interpreter hands it the GIL every few milliseconds) instead of stalling them.
    decided = (
        await asyncio.to_thread(_decide, loaded, ids, actor, utcnow())
        if len(ids) > _DECIDED_INLINE
        else _decide(loaded, ids, actor, utcnow())
    )
    outcomes = decided.outcomes
    await _serials_of_released_before(session, outcomes)
    await bulk.update_rows(session, cast(Table, Assessment.__table__), "id", decided.rounds)
    await candidates.write_prepared_moves(session, decided.moves)
    await audit.record_prepared(session, decided.audited)
    await append_events(session, decided.announcements)
    if decided.certificates:
        # Last: drawing positions takes a lock that other releases wait for until commit.
        await _issue(session, decided.certificates)
    await _refresh_entities(session, decided.round_ids, decided.moved_ids)
    return outcomes


async def _issue(session: AsyncSession, certificates: list[dict[str, Any]]) -> None:
    # Each certificate's revocation bit, drawn at random among the unused ones.
    positions = await allocate_positions(session, len(certificates))
    for certificate, (status_list, status_index) in zip(certificates, positions, strict=True):
        certificate["status_list"] = status_list
        certificate["status_index"] = status_index
    table = cast(Table, Certificate.__table__)
    await bulk.insert_rows(session, table, bulk.encode_rows(certificates))


async def _refresh_entities(
    session: AsyncSession, round_ids: Sequence[uuid.UUID], candidate_ids: Sequence[uuid.UUID]
) -> None:
    """Entities of the rows just written that this session had loaded before (none, in the
    routes as they are) would read stale: read them again."""
    for model, row_ids in ((Assessment, round_ids), (Candidate, candidate_ids)):
        for row_id in row_ids:
            entity = session.identity_map.get(identity_key(model, row_id))
            if entity is not None:
                await session.refresh(entity)


async def _serials_of_released_before(session: AsyncSession, outcomes: list[Release]) -> None:
    earlier = {o.assessment_id: o for o in outcomes if o.already_released and o.problem is None}
    if not earlier:
        return
    for assessment_id, serial in await session.execute(
        select(Certificate.assessment_id, Certificate.serial).where(
            Certificate.assessment_id.in_(earlier)
        )
    ):
        earlier[assessment_id].certificate_serial = serial
