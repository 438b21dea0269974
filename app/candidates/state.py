"""The CPro lifecycle as one explicit state machine (DOMAIN.md, "CPro program rules").

registered -> oriented (General Orientation, self-assessment) -> enrolled (a track chosen)
  RPL:      enrolled -> prequalified (passed the pre-qualifying written test) -> for_assessment
  Training: enrolled -> in_training (LMDC) -> alp_in_progress (90-day ALP) -> for_assessment
for_assessment -> assessed -> certified | supplemental_eligible | reenrollment_required
supplemental_eligible -> assessed (the supplemental round) | forfeited (one year passed)
reenrollment_required -> enrolled (again, on a track open to the candidate)
Any status that is not final -> withdrawn.

The outcomes (``assessed`` and after) are set by releasing an assessment, never by hand.
"""

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    registered = "registered"
    oriented = "oriented"
    enrolled = "enrolled"
    prequalified = "prequalified"
    in_training = "in_training"
    alp_in_progress = "alp_in_progress"
    for_assessment = "for_assessment"
    assessed = "assessed"
    certified = "certified"
    supplemental_eligible = "supplemental_eligible"
    reenrollment_required = "reenrollment_required"
    forfeited = "forfeited"
    withdrawn = "withdrawn"


class Track(StrEnum):
    rpl = "rpl"
    training = "training"


FINAL = frozenset({Status.certified, Status.forfeited, Status.withdrawn})
OUTCOMES = frozenset(
    {
        Status.assessed,
        Status.certified,
        Status.supplemental_eligible,
        Status.reenrollment_required,
        Status.forfeited,
    }
)

# Who moves a candidate along each edge: program staff through the API, or the service itself
# (releasing results, the supplemental deadline passing).
STAFF_EDGES: dict[Status, frozenset[Status]] = {
    Status.registered: frozenset({Status.oriented}),
    Status.oriented: frozenset({Status.enrolled}),
    Status.enrolled: frozenset({Status.prequalified, Status.in_training}),
    Status.prequalified: frozenset({Status.for_assessment}),
    Status.in_training: frozenset({Status.alp_in_progress}),
    Status.alp_in_progress: frozenset({Status.for_assessment}),
    Status.reenrollment_required: frozenset({Status.enrolled}),
}
SYSTEM_EDGES: dict[Status, frozenset[Status]] = {
    Status.for_assessment: frozenset({Status.assessed}),
    Status.assessed: frozenset(
        {Status.certified, Status.supplemental_eligible, Status.reenrollment_required}
    ),
    Status.supplemental_eligible: frozenset({Status.assessed, Status.forfeited}),
}

# Which track a track-specific step belongs to.
TRACK_OF_STEP = {
    Status.prequalified: Track.rpl,
    Status.in_training: Track.training,
    Status.alp_in_progress: Track.training,
}


def staff_next(current: Status, track: Track | None) -> list[Status]:
    """Statuses program staff may move a candidate to from ``current``, in lifecycle order."""
    options = set(STAFF_EDGES.get(current, frozenset()))
    if track is not None:
        options = {step for step in options if TRACK_OF_STEP.get(step, track) is track}
    if current not in FINAL:
        options.add(Status.withdrawn)
    return [status for status in Status if status in options]


def system_may(current: Status, target: Status) -> bool:
    return target in SYSTEM_EDGES.get(current, frozenset())


@dataclass(frozen=True)
class StepRequirement:
    """Data a step needs in ``data`` (field name -> what it is)."""

    fields: dict[str, str]


STEP_DATA: dict[Status, StepRequirement] = {
    Status.prequalified: StepRequirement({"score": "the pre-qualifying written test score"}),
}
