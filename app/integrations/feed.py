"""Writing and reading the candidate change feed.

Positions must follow commit order, or a reader that resumes after position 7 could miss an
event numbered 6 whose transaction committed after 7 was read. So a transaction takes a
transaction-scoped advisory lock before it draws positions, and holds it until it commits:
event-writing transactions commit one at a time, in position order. Events are written last in
a unit of work, so the lock is held only for the final insert and the commit.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.integrations.models import CandidateEvent

FEED_LOCK_KEY = 7_201_501_534


@dataclass
class Event:
    type: str
    candidate_id: uuid.UUID
    agency_code: str | None
    data: dict[str, Any] = field(default_factory=dict)


async def append_events(session: AsyncSession, events: Sequence[Event]) -> None:
    """Append ``events`` to the feed; call as the last write of the unit of work."""
    if not events:
        return
    await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": FEED_LOCK_KEY})
    await session.execute(
        insert(CandidateEvent),
        [
            {
                "id": uuid.uuid4(),
                "type": event.type,
                "candidate_id": event.candidate_id,
                "agency_code": event.agency_code,
                "data": event.data,
            }
            for event in events
        ],
    )


async def read_events(
    session: AsyncSession, *, after: int, limit: int, agency_code: str | None
) -> list[CandidateEvent]:
    statement = select(CandidateEvent).where(CandidateEvent.position > after)
    if agency_code is not None:
        statement = statement.where(CandidateEvent.agency_code == agency_code)
    return list(
        (await session.scalars(statement.order_by(CandidateEvent.position).limit(limit))).all()
    )
