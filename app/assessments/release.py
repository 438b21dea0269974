"""Releasing results: one round or a cohort's thousand, with the same checks.

A cohort is released at once after the panel meets, so the work is set-based: the rounds,
their candidates, policies, scores and competency names are read in one statement each, the
rules run in memory, and the history, audit entries, certificates and feed events are written
in a few multi-row statements. Rounds are locked in id order and then their candidates in id
order, so two overlapping releases wait for each other instead of deadlocking.
"""

import asyncio
import secrets
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import flag_modified

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
from app.core.database import utcnow
from app.core.errors import Conflict, NotFound, ProblemError
from app.frameworks.models import Competency
from app.integrations.feed import Event

NEXT_STATUS = {
    rules.Outcome.certified: Status.certified,
    rules.Outcome.supplemental: Status.supplemental_eligible,
    rules.Outcome.reenrollment: Status.reenrollment_required,
}


def new_serial() -> str:
    # 80 random bits in Crockford-like base32, grouped for reading aloud: unguessable, unique.
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    value = secrets.randbits(80)
    chars = "".join(alphabet[(value >> (5 * i)) & 31] for i in range(16))
    return f"CPRO-{chars[:4]}-{chars[4:8]}-{chars[8:12]}-{chars[12:]}"


@dataclass
class Release:
    """What happened to one requested round."""

    assessment_id: uuid.UUID
    assessment: Assessment | None = None
    certificate_serial: str | None = None
    already_released: bool = False
    problem: ProblemError | None = None


class _Score(NamedTuple):
    competency: str
    instrument: rules.Instrument
    value: Decimal


@dataclass
class _Loaded:
    assessments: dict[uuid.UUID, Assessment]
    candidates: dict[uuid.UUID, Candidate]
    policies: dict[uuid.UUID, AssessmentPolicy]
    scores: dict[uuid.UUID, list[_Score]]
    names: dict[uuid.UUID, dict[str, str]]


async def _load(session: AsyncSession, caller: Caller, ids: Sequence[uuid.UUID]) -> _Loaded:
    statement = visible_assessments(select(Assessment).where(Assessment.id.in_(ids)), caller)
    found = (
        await session.scalars(statement.order_by(Assessment.id).with_for_update(of=Assessment))
    ).all()
    assessments = {a.id: a for a in found}
    open_rounds = [a for a in found if a.released_at is None]
    candidate_ids = sorted({a.candidate_id for a in open_rounds})
    people = (
        await session.scalars(
            select(Candidate)
            .where(Candidate.id.in_(candidate_ids))
            .order_by(Candidate.id)
            .with_for_update()
        )
    ).all()
    policies = (
        await session.scalars(
            select(AssessmentPolicy).where(
                AssessmentPolicy.id.in_({a.policy_id for a in open_rounds})
            )
        )
    ).all()
    # Plain rows, not entities: a cohort has fifteen scores a round, only read here.
    scores: dict[uuid.UUID, list[_Score]] = defaultdict(list)
    for assessment_id, competency, instrument, value in await session.execute(
        select(Score.assessment_id, Score.competency, Score.instrument, Score.score)
        .where(Score.assessment_id.in_([a.id for a in open_rounds]))
        .order_by(Score.id)
    ):
        scores[assessment_id].append(_Score(competency, rules.Instrument(instrument), value))
    names: dict[uuid.UUID, dict[str, str]] = defaultdict(dict)
    for version_id, code, name in await session.execute(
        select(Competency.version_id, Competency.code, Competency.name).where(
            Competency.version_id.in_({a.framework_version_id for a in open_rounds})
        )
    ):
        names[version_id][code] = name
    return _Loaded(
        assessments=assessments,
        candidates={c.id: c for c in people},
        policies={p.id: p for p in policies},
        scores=scores,
        names=names,
    )


def _missing_scores(assessment: Assessment, present: list[_Score]) -> ProblemError | None:
    kind = rules.AssessmentKind(assessment.kind)
    required = rules.required_scores(
        kind, assessment.competencies, frozenset(assessment.failed_before)
    )
    have = {(s.competency, s.instrument) for s in present}
    missing = sorted(
        required - have,
        key=lambda m: (assessment.competencies.index(m[0]), rules.INSTRUMENTS.index(m[1])),
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
    steps: list[candidates.Step]
    entries: list[audit.AuditChange]
    certificates: list[dict[str, Any]]
    announcements: list[Event]


def _decide(
    loaded: _Loaded, ids: Sequence[uuid.UUID], actor: audit.Actor, now: datetime
) -> _Decided:
    """Each requested round's outcome, and the rows that record it (nothing written yet)."""
    outcomes: list[Release] = []
    steps: list[candidates.Step] = []
    entries: list[audit.AuditChange] = []
    certificates: list[dict[str, Any]] = []
    announcements: list[Event] = []
    seen: set[uuid.UUID] = set()
    for assessment_id in ids:
        outcome = Release(assessment_id)
        outcomes.append(outcome)
        assessment = loaded.assessments.get(assessment_id)
        if assessment is None:
            outcome.problem = NotFound("No assessment with that id.")
            continue
        outcome.assessment = assessment
        if assessment_id in seen:
            outcome.problem = Conflict("This assessment appears twice in the request.")
            continue
        seen.add(assessment_id)
        if assessment.released_at is not None:
            outcome.already_released = True
            continue
        candidate = loaded.candidates[assessment.candidate_id]
        present = loaded.scores.get(assessment.id, [])
        outcome.problem = _missing_scores(assessment, present)
        if outcome.problem is not None:
            continue
        kind = rules.AssessmentKind(assessment.kind)
        status = candidates.effective_status(candidate)
        if status is not status_for_round(kind):
            outcome.problem = Conflict(
                f"The candidate is {status.value}; this {kind.value} round can no longer be "
                "released."
            )
            continue

        by_competency: dict[str, dict[rules.Instrument, Decimal]] = defaultdict(dict)
        for s in present:
            by_competency[s.competency][s.instrument] = s.value
        result = rules.compute_result(
            policy_rules(loaded.policies[assessment.policy_id]),
            assessment.competencies,
            by_competency,
            kind=kind,
            track=Track(candidate.track or "training"),
            release_date=now.date(),
            failed_before=frozenset(assessment.failed_before),
        )
        assessment.released_at = now
        assessment.outcome = result.outcome.value
        assessment.result = result_snapshot(
            result, loaded.names.get(assessment.framework_version_id, {})
        ) | {
            "portfolio_submission_id": str(assessment.portfolio_submission_id)
            if assessment.portfolio_submission_id
            else None
        }
        steps.append(
            candidates.apply_system_step(
                candidate,
                Status.assessed,
                "assessment released",
                {"assessment_id": str(assessment.id)},
                actor,
            )
        )
        candidate.supplemental_deadline = result.supplemental_deadline
        candidate.reenrollment_tracks = (
            [t.value for t in result.reenrollment_tracks] if result.reenrollment_tracks else None
        )
        # Written for every candidate, changed or not, so that the flush sends all the
        # cohort's candidate rows in one statement rather than one per run of alike rows.
        flag_modified(candidate, "supplemental_deadline")
        flag_modified(candidate, "reenrollment_tracks")
        steps.append(
            candidates.apply_system_step(
                candidate,
                NEXT_STATUS[result.outcome],
                f"outcome: {result.outcome.value}",
                {"assessment_id": str(assessment.id), "passed_count": result.passed_count},
                actor,
            )
        )
        entries.append(
            (
                "assessment.release",
                "assessment",
                assessment.id,
                None,
                {"candidate_id": candidate.id, "outcome": assessment.outcome},
            )
        )
        if result.outcome is rules.Outcome.certified:
            serial = new_serial()
            certificate = {
                "serial": serial,
                "candidate_id": candidate.id,
                "assessment_id": assessment.id,
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
            candidate, assessment, result.passed_count, outcome.certificate_serial, steps[-2:]
        )
    return _Decided(outcomes, steps, entries, certificates, announcements)


async def release_many(
    session: AsyncSession, caller: Caller, ids: Sequence[uuid.UUID]
) -> list[Release]:
    """Release every round in ``ids`` that is complete; report each (in order) as released,
    released already, or refused with the problem that stopped it (the others still go)."""
    loaded = await _load(session, caller, ids)
    actor = candidates.actor_of(caller)
    # Deciding a cohort is pure computation on what was loaded: in a worker thread, the event
    # loop goes on serving other requests meanwhile (the interpreter hands it the GIL every
    # few milliseconds) instead of stalling them for the whole cohort.
    decided = (
        await asyncio.to_thread(_decide, loaded, ids, actor, utcnow())
        if len(ids) > _DECIDED_INLINE
        else _decide(loaded, ids, actor, utcnow())
    )
    outcomes = decided.outcomes
    steps, entries, certificates = decided.steps, decided.entries, decided.certificates
    announcements = decided.announcements
    await _serials_of_released_before(session, outcomes)
    await session.flush()  # the rounds' and candidates' new state, before what refers to it
    if certificates:
        # Each certificate's revocation bit, drawn at random among the unused ones.
        positions = await allocate_positions(session, len(certificates))
        for certificate, (status_list, status_index) in zip(certificates, positions, strict=True):
            certificate["status_list"] = status_list
            certificate["status_index"] = status_index
        await session.execute(insert(Certificate), certificates)
    await candidates.write_steps(session, actor, steps, events=announcements)
    await audit.record_many(session, actor, entries)
    return outcomes


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
