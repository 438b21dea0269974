import asyncio

from httpx import AsyncClient
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.auth.roles import Role
from app.integrations.models import CandidateEvent
from tests.factories import auth_headers, committed_agency_with_keys, make_agency, person


async def _read_all(
    client: AsyncClient, headers: dict[str, str], after: str | None = None, **params: object
) -> tuple[list[dict], str | None]:  # type: ignore[type-arg]
    events: list[dict] = []  # type: ignore[type-arg]
    while True:
        query = {"limit": 7, **params} | ({"after": after} if after else {})
        page = (await client.get("/v1/candidate-events", params=query, headers=headers)).json()
        events += page["items"]
        if not page["items"]:
            return events, page["next_cursor"]
        after = page["next_cursor"]


async def test_feed_lists_changes_in_order_and_resumes(
    client: AsyncClient, session: AsyncSession
) -> None:
    hris = await auth_headers(session, Role.agency, await make_agency(session, "DOH"))
    staff = await auth_headers(session, Role.staff)
    created = (
        await client.put("/v1/agencies/DOH/candidates/E1", json=person(1), headers=hris)
    ).json()
    await client.put(
        "/v1/agencies/DOH/candidates/E1", json=person(1, salary_grade=25), headers=hris
    )
    events, cursor = await _read_all(client, hris)
    assert [e["type"] for e in events] == ["candidate.created", "candidate.updated"]
    await client.post(
        f"/v1/candidates/{created['id']}/transitions",
        json={"to": "oriented", "reason": "attended"},
        headers=staff,
    )
    more, _ = await _read_all(client, hris, after=cursor)
    assert [e["type"] for e in more] == ["candidate.transitioned"]
    assert more[0]["data"]["from"] == "registered" and more[0]["data"]["to"] == "oriented"
    # Events never carry personal data.
    assert all("Family1" not in str(e) and "person1@" not in str(e) for e in events + more)


async def test_agency_reads_only_its_own_events(client: AsyncClient, session: AsyncSession) -> None:
    doh = await auth_headers(session, Role.agency, await make_agency(session, "DOH"))
    dbm = await auth_headers(session, Role.agency, await make_agency(session, "DBM"))
    await client.put("/v1/agencies/DOH/candidates/E1", json=person(1), headers=doh)
    await client.put("/v1/agencies/DBM/candidates/E1", json=person(2), headers=dbm)
    events, _ = await _read_all(client, dbm)
    assert {e["agency"] for e in events} == {"DBM"}
    response = await client.get("/v1/candidate-events", params={"agency": "DOH"}, headers=dbm)
    assert response.status_code == 403


async def test_racing_writers_feed_misses_nothing_and_repeats_nothing(
    live_client: AsyncClient, engine: AsyncEngine
) -> None:
    code, _, hris = await committed_agency_with_keys(engine)
    done = asyncio.Event()

    async def writer(prefix: str) -> None:
        for n in range(25):
            batch = [{"external_id": f"{prefix}-{n}-{m}", **person(m)} for m in range(3)]
            response = await live_client.post(
                f"/v1/agencies/{code}/candidates:batch", json={"items": batch}, headers=hris
            )
            assert response.status_code == 200

    seen: list[str] = []

    async def reader() -> None:
        after = None
        while True:
            finished = done.is_set()
            events, after = await _read_all(live_client, hris, after=after)
            seen.extend(e["id"] for e in events)
            if finished:
                return
            await asyncio.sleep(0)

    reading = asyncio.create_task(reader())
    await asyncio.gather(writer("A"), writer("B"))
    done.set()
    await reading

    async with engine.connect() as connection:
        stored = (
            await connection.scalars(
                select(CandidateEvent.id).where(CandidateEvent.agency_code == code)
            )
        ).all()
    assert len(stored) == 150
    assert len(seen) == len(set(seen)), "an event was delivered twice"
    assert set(seen) == {str(i) for i in stored}, "an event was missed"


async def test_bad_cursor_is_422(client: AsyncClient, session: AsyncSession) -> None:
    staff = await auth_headers(session, Role.staff)
    response = await client.get("/v1/candidate-events", params={"after": "garbage!"}, headers=staff)
    assert response.status_code == 422


async def test_an_earlier_position_cannot_commit_after_a_later_one_is_read(
    engine: AsyncEngine,
) -> None:
    """The commit-order guarantee, made deterministic: a transaction that drew a position and has
    not committed keeps every later writer waiting, so no reader can skip past its event."""
    import uuid as uuid_

    from app.core.database import create_sessionmaker
    from app.integrations.feed import Event, append_events, read_events, write_pending_events

    agency = "ORDER" + uuid_.uuid4().hex[:6].upper()
    sessions = create_sessionmaker(engine)
    first = sessions()
    await append_events(first, [Event("candidate.updated", uuid_.uuid4(), agency, {"n": 1})])
    # The first transaction is committing: its events are written, the commit not yet done.
    await first.run_sync(write_pending_events)

    async def second_writer() -> None:
        async with sessions() as second, second.begin():
            await append_events(
                second, [Event("candidate.updated", uuid_.uuid4(), agency, {"n": 2})]
            )

    writing = asyncio.create_task(second_writer())
    await asyncio.sleep(0.5)
    try:
        assert not writing.done(), "a second writer drew a position while an earlier one was open"
        async with sessions() as reader:
            assert await read_events(reader, after=0, limit=10, agency_code=agency) == []
    finally:
        await first.commit()
        await first.close()
    await writing
    async with sessions() as reader:
        events = await read_events(reader, after=0, limit=10, agency_code=agency)
    assert [e.data["n"] for e in events] == [1, 2]


async def test_events_are_written_at_commit_and_dropped_on_rollback(engine: AsyncEngine) -> None:
    import uuid as uuid_

    from app.core.database import create_sessionmaker
    from app.integrations.feed import Event, append_events, read_events

    agency = "QUEUE" + uuid_.uuid4().hex[:6].upper()
    sessions = create_sessionmaker(engine)
    async with sessions() as writer:
        await writer.execute(text("SELECT 1"))  # a unit of work always has its transaction
        await append_events(writer, [Event("candidate.updated", uuid_.uuid4(), agency, {"n": 1})])
        await writer.rollback()
        await append_events(writer, [Event("candidate.updated", uuid_.uuid4(), agency, {"n": 2})])
        async with sessions() as reader:
            assert await read_events(reader, after=0, limit=10, agency_code=agency) == []
        await writer.commit()
    async with sessions() as reader:
        events = await read_events(reader, after=0, limit=10, agency_code=agency)
    assert [e.data["n"] for e in events] == [2]


async def test_a_transactions_events_keep_their_queued_order_and_values(
    engine: AsyncEngine,
) -> None:
    """A cohort's thousands of events go in as one statement: positions must still follow the
    order they were queued in, and every value must come back as it was given."""
    import uuid as uuid_

    from app.core.database import create_sessionmaker
    from app.integrations.feed import Event, append_events, read_events

    agency = "ORDER" + uuid_.uuid4().hex[:6].upper()
    # Candidate ids in descending order, so that no sort by id could pass for queue order.
    people = sorted((uuid_.uuid4() for _ in range(300)), reverse=True)
    queued = [
        Event(
            "candidate.status_changed" if n % 2 else "candidate.updated",
            people[n],
            agency,
            {"n": n, "name": "Ñiño Dela Cruz", "nested": {"ok": n % 3 == 0}, "none": None},
        )
        for n in range(300)
    ]
    sessions = create_sessionmaker(engine)
    async with sessions() as writer:
        await writer.execute(text("SELECT 1"))
        await append_events(writer, queued[:100])
        await append_events(writer, queued[100:])
        await writer.commit()
    async with sessions() as reader:
        stored = await read_events(reader, after=0, limit=1000, agency_code=agency)
    assert [(e.type, e.candidate_id, e.agency_code, e.data) for e in stored] == [
        (e.type, e.candidate_id, e.agency_code, e.data) for e in queued
    ]
    positions = [e.position for e in stored]
    assert positions == sorted(positions) and len(set(positions)) == 300
    assert len({e.id for e in stored}) == 300
