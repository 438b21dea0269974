"""Seats hold under concurrency: ten registrations at once for three seats, each its own
committed transaction, give exactly three."""

import asyncio

from httpx import AsyncClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.integrations.models import CandidateEvent
from app.orientation.models import OrientationAttendee
from tests.factories import committed_agency_with_keys
from tests.orientation.sessions import URL, far_future, register_candidate, schedule


async def test_ten_simultaneous_registrations_for_three_seats_give_exactly_three(
    live_client: AsyncClient, engine: AsyncEngine
) -> None:
    code, admin, _ = await committed_agency_with_keys(engine)
    sid = (await schedule(live_client, admin, far_future(), capacity=3))["id"]
    cids = [await register_candidate(live_client, admin, code, n, prefix="RACE") for n in range(10)]

    responses = await asyncio.gather(
        *(live_client.put(f"{URL}/{sid}/attendees/{cid}", headers=admin) for cid in cids)
    )

    codes = sorted(r.status_code for r in responses)
    assert codes == [201] * 3 + [409] * 7, [r.text for r in responses]
    assert {r.json()["type"] for r in responses if r.status_code == 409} == {
        "urn:cpro:problem:session-full"
    }
    async with engine.connect() as connection:
        seats = await connection.scalar(
            select(func.count())
            .select_from(OrientationAttendee)
            .where(OrientationAttendee.session_id == sid)
        )
        announced = await connection.scalar(
            select(func.count())
            .select_from(CandidateEvent)
            .where(
                CandidateEvent.agency_code == code, CandidateEvent.type == "orientation.registered"
            )
        )
    assert (seats, announced) == (3, 3)
    listed = (await live_client.get(f"{URL}/{sid}", headers=admin)).json()
    assert (listed["seats_taken"], listed["seats_left"]) == (3, 0)
