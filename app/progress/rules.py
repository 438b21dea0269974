"""The program's steps, done and pending, and what must happen next: plain functions of what the
records say (``Facts``), so a test can check every stage without a database.

Steps (DOMAIN.md, "CPro program rules"): the General Orientation with its Competency
Self-Assessment, the choice of a track, then for RPL the pre-qualifying written test, for the
Training Track the five LMDC modules, two project briefs (one approved) and the 90-day ALP; then
the assessment and its result.
"""

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from app.candidates.state import Status, Track


class StepState(StrEnum):
    done = "done"
    in_progress = "in_progress"
    pending = "pending"


class Actor(StrEnum):
    candidate = "candidate"
    staff = "staff"
    assessor = "assessor"
    sponsor = "sponsor"
    service = "service"


@dataclass(frozen=True)
class Step:
    code: str
    title: str
    state: StepState
    done_at: datetime | None = None
    detail: str | None = None
    count: int | None = None
    total: int | None = None
    due_on: date | None = None


@dataclass(frozen=True)
class NextStep:
    action: str
    actor: Actor
    due_on: date | None = None


@dataclass(frozen=True)
class Round:
    kind: str
    released_at: datetime | None
    outcome: str | None
    passed_count: int | None
    scores_missing: int


@dataclass(frozen=True)
class Facts:
    """What the records hold about one candidate."""

    status: Status
    track: Track | None
    reached: dict[Status, datetime]
    """When the candidate first reached each status in the current enrollment (orientation
    statuses: ever)."""
    orientation_attended_at: datetime | None = None
    upcoming_session_starts_at: datetime | None = None
    self_assessed_at: datetime | None = None
    recommended_track: str | None = None
    prequalifying_score: float | None = None
    lmdc_attended: int = 0
    lmdc_modules: int = 5
    briefs_proposed: int = 0
    brief_approved: bool = False
    alp_planned: bool = False
    sponsor_accepted: bool = False
    alp_starts_on: date | None = None
    alp_ends_on: date | None = None
    latest_round: Round | None = None
    certificate_serial: str | None = None
    supplemental_deadline: date | None = None
    reenrollment_tracks: list[str] = field(default_factory=list)


def _state(done: bool, started: bool) -> StepState:
    return StepState.done if done else StepState.in_progress if started else StepState.pending


def steps_of(facts: Facts) -> list[Step]:
    """The steps of the candidate's track in order (only the common ones until a track is
    chosen)."""
    reached = facts.reached
    oriented_at = reached.get(Status.oriented)
    steps = [
        Step(
            "orientation",
            "General Orientation",
            _state(oriented_at is not None, facts.upcoming_session_starts_at is not None),
            done_at=oriented_at,
            detail="registered for a session"
            if oriented_at is None and facts.upcoming_session_starts_at
            else None,
        ),
        Step(
            "self_assessment",
            "Competency Self-Assessment",
            _state(facts.self_assessed_at is not None, False),
            done_at=facts.self_assessed_at,
            detail=f"recommended track: {facts.recommended_track}"
            if facts.recommended_track
            else None,
        ),
        Step(
            "enrollment",
            "Enrollment on a track",
            _state(reached.get(Status.enrolled) is not None, False),
            done_at=reached.get(Status.enrolled),
            detail=f"track: {facts.track.value}" if facts.track else None,
        ),
    ]
    if facts.track is Track.rpl:
        steps.append(
            Step(
                "prequalifying_test",
                "Pre-Qualifying Written Test",
                _state(Status.prequalified in reached, False),
                done_at=reached.get(Status.prequalified),
                detail=f"score {facts.prequalifying_score:g}"
                if facts.prequalifying_score is not None
                else None,
            )
        )
    elif facts.track is Track.training:
        past_lmdc = facts.lmdc_attended >= facts.lmdc_modules
        steps += [
            Step(
                "lmdc",
                "Leadership and Management Development Course (LMDC)",
                _state(past_lmdc, facts.lmdc_attended > 0 or Status.in_training in reached),
                count=facts.lmdc_attended,
                total=facts.lmdc_modules,
                detail=f"{facts.lmdc_attended} of {facts.lmdc_modules} modules attended",
            ),
            Step(
                "project_briefs",
                "Two project briefs, one approved",
                _state(facts.brief_approved, facts.briefs_proposed > 0),
                count=facts.briefs_proposed,
                total=2,
            ),
            Step(
                "alp",
                "90-day Action Learning Project (ALP)",
                _state(
                    Status.for_assessment in reached,
                    Status.alp_in_progress in reached or facts.alp_planned,
                ),
                done_at=reached.get(Status.for_assessment),
                due_on=facts.alp_ends_on,
                detail=f"window {facts.alp_starts_on} to {facts.alp_ends_on}"
                if facts.alp_starts_on
                else None,
            ),
        ]
    round_ = facts.latest_round
    released = round_ is not None and round_.released_at is not None
    steps += [
        Step(
            "assessment",
            "Assessment (written test, portfolio review, behavioral event interview)",
            _state(released, round_ is not None),
            done_at=round_.released_at if round_ else None,
            detail=f"{round_.kind} round, {round_.scores_missing} score(s) missing"
            if round_ is not None and not released
            else None,
        ),
        Step(
            "result",
            "Result",
            _state(released, False),
            done_at=round_.released_at if round_ and released else None,
            detail=f"{round_.outcome}: {round_.passed_count} of 5 competencies passed"
            if round_ and released
            else None,
        ),
    ]
    return steps


def next_steps_of(facts: Facts) -> list[NextStep]:
    """What must happen next, and who acts."""
    s, steps = facts.status, []
    if s is Status.registered:
        if facts.upcoming_session_starts_at is None:
            steps.append(NextStep("Register for a General Orientation session", Actor.candidate))
        else:
            steps.append(
                NextStep(
                    "Attend the General Orientation",
                    Actor.candidate,
                    facts.upcoming_session_starts_at.date(),
                )
            )
            steps.append(NextStep("Record attendance at the orientation", Actor.staff))
    if s in (Status.registered, Status.oriented) and facts.self_assessed_at is None:
        steps.append(NextStep("Complete the Competency Self-Assessment", Actor.candidate))
    if s is Status.oriented:
        steps.append(NextStep("Enroll the candidate on a track (RPL or Training)", Actor.staff))
    if s is Status.enrolled and facts.track is Track.rpl:
        steps.append(NextStep("Take the Pre-Qualifying Written Test", Actor.candidate))
        steps.append(NextStep("Record the test result (move to prequalified)", Actor.staff))
    if s is Status.enrolled and facts.track is Track.training:
        steps.append(NextStep("Start the LMDC (move to in_training)", Actor.staff))
    if s is Status.in_training:
        steps += _training_next(facts)
    if s is Status.prequalified:
        steps.append(NextStep("Build the portfolio", Actor.candidate))
        steps.append(NextStep("Move the candidate to for_assessment", Actor.staff))
    if s is Status.alp_in_progress:
        steps.append(NextStep("Complete the ALP", Actor.candidate, facts.alp_ends_on))
        steps.append(NextStep("Move the candidate to for_assessment", Actor.staff))
    if s in (Status.for_assessment, Status.supplemental_eligible):
        steps += _assessment_next(facts)
    if s is Status.assessed:
        steps.append(NextStep("Record the outcome of the released result", Actor.service))
    if s is Status.reenrollment_required:
        tracks = " or ".join(facts.reenrollment_tracks) or "a track"
        steps.append(NextStep(f"Re-enroll the candidate ({tracks})", Actor.staff))
    return steps


def _training_next(facts: Facts) -> list[NextStep]:
    steps = []
    if facts.lmdc_attended < facts.lmdc_modules:
        left = facts.lmdc_modules - facts.lmdc_attended
        steps.append(NextStep(f"Attend the remaining {left} LMDC module(s)", Actor.candidate))
        steps.append(NextStep("Record LMDC attendance", Actor.staff))
    if facts.briefs_proposed < 2:
        steps.append(
            NextStep(f"Propose {2 - facts.briefs_proposed} more project brief(s)", Actor.candidate)
        )
    elif not facts.brief_approved:
        steps.append(NextStep("Approve one of the two project briefs", Actor.staff))
    if facts.brief_approved and not facts.alp_planned:
        steps.append(NextStep("Name the ALP coach and executive sponsor", Actor.staff))
    if facts.alp_planned and not facts.sponsor_accepted:
        steps.append(NextStep("Accept the executive sponsor role", Actor.sponsor))
    if not steps:
        steps.append(NextStep("Start the ALP (move to alp_in_progress)", Actor.staff))
    return steps


def _assessment_next(facts: Facts) -> list[NextStep]:
    round_ = facts.latest_round
    supplemental = facts.status is Status.supplemental_eligible
    due = facts.supplemental_deadline if supplemental else None
    wanted = "supplemental" if supplemental else "regular"
    if round_ is None or round_.released_at is not None or round_.kind != wanted:
        return [NextStep(f"Open a {wanted} assessment round", Actor.staff, due)]
    if round_.scores_missing:
        return [
            NextStep(f"Record the {round_.scores_missing} missing score(s)", Actor.assessor, due)
        ]
    return [NextStep("Release the result", Actor.staff, due)]
