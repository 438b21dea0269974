"""What a release tells the change feed and webhooks, in the order a reader must see it: the
round's result, the certificate it issued, then the candidate's moves. Ids, counts and codes
only: never a name."""

import uuid
from collections.abc import Sequence

from app.candidates.service import Movable, Step
from app.integrations.feed import Event


def release_events(
    candidate: Movable,
    assessment_id: uuid.UUID,
    kind: str,
    outcome: str,
    passed_count: int,
    certificate_serial: str | None,
    steps: Sequence[Step],
) -> list[Event]:
    """``assessment.released``, ``certificate.issued`` when one was, then ``steps``' events."""
    events = [
        Event(
            "assessment.released",
            candidate.id,
            candidate.agency_code,
            {
                "assessment_id": str(assessment_id),
                "kind": kind,
                "outcome": outcome,
                "passed_count": passed_count,
            },
        )
    ]
    if certificate_serial is not None:
        events.append(
            Event(
                "certificate.issued",
                candidate.id,
                candidate.agency_code,
                {"serial": certificate_serial, "assessment_id": str(assessment_id)},
            )
        )
    return events + [step.event for step in steps]
