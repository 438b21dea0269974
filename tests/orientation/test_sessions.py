"""Orientation sessions: scheduling, the schedule's filters, registration (201, again 200, full
409 `session-full`, at most one upcoming session), cancelling, and attendance moving the
candidate to `oriented` through the lifecycle."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from httpx import AsyncClient
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.roles import Role
from app.core.database import utcnow
from app.orientation.models import OrientationSession
from tests.factories import auth_headers, make_agency
from tests.orientation.sessions import URL, far_future, register_candidate, schedule, session_body


async def _staff(session: AsyncSession) -> dict[str, str]:
    await make_agency(session, "DOH")
    return await auth_headers(session, Role.staff)


async def test_a_session_needs_a_sane_time_a_venue_in_person_and_seats(
    token_client: AsyncClient, session: AsyncSession
) -> None:
    staff = await _staff(session)
    start = far_future()
    for overrides, field in (
        ({"ends_at": start.isoformat()}, "body.ends_at"),
        ({"venue": None}, "body.venue"),
        ({"capacity": 0}, "body.capacity"),
        ({"mode": "hybrid"}, "body.mode"),
        ({"starts_at": "2031-01-01T01:00:00"}, "body.starts_at"),
        ({"title": ""}, "body.title"),
    ):
        refused = await token_client.post(URL, json=session_body(start, **overrides), headers=staff)
        assert refused.status_code == 422, (overrides, refused.text)
        assert refused.json()["errors"][0]["field"] == field
    online = await schedule(token_client, staff, start, mode="online", venue=None)
    assert (online["mode"], online["venue"], online["seats_left"]) == ("online", None, 3)
    reader = await auth_headers(session, Role.reader)
    assert (
        await token_client.post(URL, json=session_body(start), headers=reader)
    ).status_code == 403
    # Nothing was scheduled by the refused requests.
    window = {"from": start.isoformat(), "to": (start + timedelta(hours=1)).isoformat()}
    listed = await token_client.get(URL, params=window, headers=reader)
    assert [s["id"] for s in listed.json()["items"]] == [online["id"]]


async def test_the_schedule_filters_by_start_and_seats_and_pages(
    token_client: AsyncClient, session: AsyncSession, sign: Callable[..., dict[str, str]]
) -> None:
    staff = await _staff(session)
    start = far_future()
    ids = [
        (await schedule(token_client, staff, start + timedelta(days=d), capacity=1))["id"]
        for d in range(3)
    ]
    cid = await register_candidate(token_client, staff, "DOH", 1)
    taken = await token_client.put(f"{URL}/{ids[1]}/attendees/{cid}", headers=staff)
    assert taken.status_code == 201, taken.text
    me = sign(cpro_role="candidate", cpro_candidate_id=cid)

    async def walk(params: dict[str, Any]) -> list[str]:
        found, cursor = [], None
        while True:
            page = await token_client.get(
                URL,
                params=params | {"limit": 1} | ({"cursor": cursor} if cursor else {}),
                headers=me,
            )
            assert page.status_code == 200, page.text
            found += [s["id"] for s in page.json()["items"]]
            cursor = page.json()["next_cursor"]
            if cursor is None:
                return found

    window = {"from": start.isoformat(), "to": (start + timedelta(days=3)).isoformat()}
    assert await walk(window) == ids
    assert await walk(window | {"has_seats": "true"}) == [ids[0], ids[2]]
    assert await walk(window | {"has_seats": "false"}) == [ids[1]]
    later = {"from": (start + timedelta(days=1)).isoformat(), "to": window["to"]}
    assert await walk(later) == ids[1:]
    earlier = {"from": window["from"], "to": (start + timedelta(days=1)).isoformat()}
    assert await walk(earlier) == ids[:1]
    backwards = await token_client.get(
        URL, params={"from": window["to"], "to": window["from"]}, headers=me
    )
    assert backwards.status_code == 422
    one = (await token_client.get(f"{URL}/{ids[1]}", headers=me)).json()
    assert (one["seats_taken"], one["seats_left"]) == (1, 0)
    assert (await token_client.get(f"{URL}/{cid}", headers=me)).status_code == 404


async def test_registering_is_201_then_200_and_a_full_session_is_409_session_full(
    token_client: AsyncClient, session: AsyncSession
) -> None:
    staff = await _staff(session)
    sid = (await schedule(token_client, staff, far_future(), capacity=2))["id"]
    cids = [await register_candidate(token_client, staff, "DOH", n) for n in range(3)]
    first = await token_client.put(f"{URL}/{sid}/attendees/{cids[0]}", headers=staff)
    assert first.status_code == 201 and first.json()["attended"] is None
    again = await token_client.put(f"{URL}/{sid}/attendees/{cids[0]}", json={}, headers=staff)
    assert again.status_code == 200
    assert (
        await token_client.put(f"{URL}/{sid}/attendees/{cids[1]}", headers=staff)
    ).status_code == 201
    full = await token_client.put(f"{URL}/{sid}/attendees/{cids[2]}", headers=staff)
    assert full.status_code == 409
    assert full.json()["type"] == "urn:cpro:problem:session-full"
    # Already registered reads the same when full; a cancelled seat is free again.
    assert (
        await token_client.put(f"{URL}/{sid}/attendees/{cids[1]}", headers=staff)
    ).status_code == 200
    assert (
        await token_client.delete(f"{URL}/{sid}/attendees/{cids[1]}", headers=staff)
    ).status_code == 204
    assert (
        await token_client.delete(f"{URL}/{sid}/attendees/{cids[1]}", headers=staff)
    ).status_code == 404
    assert (
        await token_client.put(f"{URL}/{sid}/attendees/{cids[2]}", headers=staff)
    ).status_code == 201
    attendees = (await token_client.get(f"{URL}/{sid}/attendees", headers=staff)).json()["items"]
    assert [a["candidate_id"] for a in attendees] == [cids[0], cids[2]]
    assert (
        await token_client.put(f"{URL}/{sid}/attendees/{sid}", headers=staff)
    ).status_code == 404


async def test_a_candidate_holds_at_most_one_upcoming_seat_and_registers_only_itself(
    token_client: AsyncClient, session: AsyncSession, sign: Callable[..., dict[str, str]]
) -> None:
    staff = await _staff(session)
    start = far_future()
    first = (await schedule(token_client, staff, start))["id"]
    second = (await schedule(token_client, staff, start + timedelta(days=7)))["id"]
    mine, theirs = [await register_candidate(token_client, staff, "DOH", n) for n in (1, 2)]
    me = sign(cpro_role="candidate", cpro_candidate_id=mine)
    assert (
        await token_client.put(f"{URL}/{first}/attendees/{mine}", headers=me)
    ).status_code == 201
    twice = await token_client.put(f"{URL}/{second}/attendees/{mine}", headers=me)
    assert twice.status_code == 409 and twice.json()["session_id"] == first
    assert (
        await token_client.put(f"{URL}/{first}/attendees/{theirs}", headers=me)
    ).status_code == 404
    assert (
        await token_client.delete(f"{URL}/{first}/attendees/{theirs}", headers=me)
    ).status_code == 404
    attended = await token_client.put(
        f"{URL}/{first}/attendees/{mine}", json={"attended": True}, headers=me
    )
    assert attended.status_code == 403
    assert (await token_client.get(f"{URL}/{first}/attendees", headers=me)).status_code == 403
    assert (
        await token_client.delete(f"{URL}/{first}/attendees/{mine}", headers=me)
    ).status_code == 204
    assert (
        await token_client.put(f"{URL}/{second}/attendees/{mine}", headers=me)
    ).status_code == 201


async def test_attendance_after_the_start_orients_the_candidate_through_the_lifecycle(
    token_client: AsyncClient, session: AsyncSession
) -> None:
    staff = await _staff(session)
    sid = (await schedule(token_client, staff, far_future()))["id"]
    came, stayed_away, late = [
        await register_candidate(token_client, staff, "DOH", n) for n in range(3)
    ]
    for cid in (came, stayed_away):
        assert (
            await token_client.put(f"{URL}/{sid}/attendees/{cid}", headers=staff)
        ).status_code == 201
    early = await token_client.put(
        f"{URL}/{sid}/attendees/{came}", json={"attended": True}, headers=staff
    )
    assert early.status_code == 409

    # The session starts (time passes).
    now = utcnow()
    await session.execute(
        update(OrientationSession)
        .where(OrientationSession.id == sid)
        .values(starts_at=now - timedelta(minutes=5), ends_at=now + timedelta(hours=4))
    )
    await session.commit()

    recorded = await token_client.put(
        f"{URL}/{sid}/attendees/{came}", json={"attended": True}, headers=staff
    )
    assert recorded.status_code == 200, recorded.text
    assert (recorded.json()["attended"], recorded.json()["candidate_status"]) == (True, "oriented")
    history = (await token_client.get(f"/v1/candidates/{came}/transitions", headers=staff)).json()
    assert [(t["from_status"], t["to_status"]) for t in history[-1:]] == [
        ("registered", "oriented")
    ]
    assert history[-1]["data"] == {"orientation_session_id": sid}
    again = await token_client.put(
        f"{URL}/{sid}/attendees/{came}", json={"attended": True}, headers=staff
    )
    assert again.status_code == 200 and len(
        (await token_client.get(f"/v1/candidates/{came}/transitions", headers=staff)).json()
    ) == len(history)
    undo = await token_client.put(
        f"{URL}/{sid}/attendees/{came}", json={"attended": False}, headers=staff
    )
    assert undo.status_code == 409

    absent = await token_client.put(
        f"{URL}/{sid}/attendees/{stayed_away}", json={"attended": False}, headers=staff
    )
    assert (absent.json()["attended"], absent.json()["candidate_status"]) == (False, "registered")
    unregistered = await token_client.put(
        f"{URL}/{sid}/attendees/{late}", json={"attended": True}, headers=staff
    )
    assert unregistered.status_code == 409
    assert (
        await token_client.put(f"{URL}/{sid}/attendees/{late}", headers=staff)
    ).status_code == 409
    assert (
        await token_client.delete(f"{URL}/{sid}/attendees/{stayed_away}", headers=staff)
    ).status_code == 409
    # The seat is part of what the service holds on the candidate.
    held = (await token_client.get(f"/v1/candidates/{came}/personal-data", headers=staff)).json()
    assert [(r["session_id"], r["attended"]) for r in held["orientation_seats"]] == [(sid, True)]
    # Oriented: no more orientation seats.
    other = (await schedule(token_client, staff, far_future()))["id"]
    past = await token_client.put(f"{URL}/{other}/attendees/{came}", headers=staff)
    assert past.status_code == 409 and past.json()["current_status"] == "oriented"


async def test_an_agency_sees_its_own_attendees_only(
    token_client: AsyncClient, session: AsyncSession
) -> None:
    staff = await _staff(session)
    await make_agency(session, "DOF", "Department of Finance")
    doh = await auth_headers(session, Role.agency, "DOH")
    sid = (await schedule(token_client, staff, far_future()))["id"]
    ours = await register_candidate(token_client, staff, "DOH", 1)
    theirs = await register_candidate(token_client, staff, "DOF", 2)
    for cid in (ours, theirs):
        assert (
            await token_client.put(f"{URL}/{sid}/attendees/{cid}", headers=staff)
        ).status_code == 201
    seen = (await token_client.get(f"{URL}/{sid}/attendees", headers=doh)).json()["items"]
    assert [(a["candidate_id"], a["agency"]) for a in seen] == [(ours, "DOH")]
    assert (await token_client.put(f"{URL}/{sid}/attendees/{ours}", headers=doh)).status_code == 403
