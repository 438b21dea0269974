import asyncio

from httpx import AsyncClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.auth.roles import Role
from app.candidates.models import Candidate
from app.integrations.models import CandidateEvent
from tests.factories import auth_headers, committed_agency_with_keys, make_agency, person


async def test_put_creates_then_updates_then_is_unchanged(
    client: AsyncClient, session: AsyncSession
) -> None:
    hris = await auth_headers(session, Role.agency, await make_agency(session, "DOH"))
    created = await client.put("/v1/agencies/DOH/candidates/EMP-1", json=person(1), headers=hris)
    assert created.status_code == 201, created.text
    body = created.json()
    assert (
        body["status"] == "registered"
        and body["agency"] == "DOH"
        and body["external_id"] == "EMP-1"
    )
    assert body["priority_reason"].startswith("Being considered for Division Chief")
    assert created.headers["etag"] == f'"{body["id"]}.1"'

    updated = await client.put(
        "/v1/agencies/DOH/candidates/EMP-1", json=person(1, salary_grade=24), headers=hris
    )
    assert updated.status_code == 200
    assert updated.json()["id"] == body["id"] and updated.json()["version"] == 2

    same = await client.put(
        "/v1/agencies/DOH/candidates/EMP-1", json=person(1, salary_grade=24), headers=hris
    )
    assert same.status_code == 200 and same.json()["version"] == 2


async def test_agency_key_writes_only_its_own_agency(
    client: AsyncClient, session: AsyncSession
) -> None:
    await make_agency(session, "DBM")
    hris = await auth_headers(session, Role.agency, await make_agency(session, "DOH"))
    response = await client.put("/v1/agencies/DBM/candidates/EMP-1", json=person(), headers=hris)
    assert response.status_code == 403


async def test_another_agencys_candidate_is_not_found(
    client: AsyncClient, session: AsyncSession
) -> None:
    doh = await auth_headers(session, Role.agency, await make_agency(session, "DOH"))
    dbm = await auth_headers(session, Role.agency, await make_agency(session, "DBM"))
    created = (
        await client.put("/v1/agencies/DOH/candidates/EMP-1", json=person(), headers=doh)
    ).json()
    assert (await client.get(f"/v1/candidates/{created['id']}", headers=dbm)).status_code == 404
    assert (
        await client.patch(f"/v1/candidates/{created['id']}", json={"salary_grade": 1}, headers=dbm)
    ).status_code == 404
    listed = (await client.get("/v1/candidates", headers=dbm)).json()
    assert created["id"] not in [c["id"] for c in listed["items"]]


async def test_bad_input_names_each_field_and_writes_nothing(
    client: AsyncClient, session: AsyncSession
) -> None:
    hris = await auth_headers(session, Role.agency, await make_agency(session, "DOH"))
    response = await client.put(
        "/v1/agencies/DOH/candidates/EMP-9",
        json=person(email="not-an-email", priority=5, track="phd", status="certified"),
        headers=hris,
    )
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"body.email", "body.priority", "body.track", "body.status"}
    count = await session.scalar(
        select(func.count()).select_from(Candidate).where(Candidate.external_id == "EMP-9")
    )
    assert count == 0


async def test_unknown_agency_is_422(client: AsyncClient, session: AsyncSession) -> None:
    staff = await auth_headers(session, Role.staff)
    response = await client.put("/v1/agencies/NOPE/candidates/EMP-1", json=person(), headers=staff)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "path.agency"


async def test_if_match_stale_is_412_and_changes_nothing(
    client: AsyncClient, session: AsyncSession
) -> None:
    hris = await auth_headers(session, Role.agency, await make_agency(session, "DOH"))
    created = await client.put("/v1/agencies/DOH/candidates/EMP-1", json=person(), headers=hris)
    etag = created.headers["etag"]
    candidate_id = created.json()["id"]
    ok = await client.patch(
        f"/v1/candidates/{candidate_id}",
        json={"salary_grade": 23},
        headers=hris | {"If-Match": etag},
    )
    assert ok.status_code == 200 and ok.headers["etag"] != etag
    stale = await client.patch(
        f"/v1/candidates/{candidate_id}",
        json={"salary_grade": 10},
        headers=hris | {"If-Match": etag},
    )
    assert stale.status_code == 412
    stale_put = await client.put(
        "/v1/agencies/DOH/candidates/EMP-1",
        json=person(salary_grade=11),
        headers=hris | {"If-Match": etag},
    )
    assert stale_put.status_code == 412
    current = (await client.get(f"/v1/candidates/{candidate_id}", headers=hris)).json()
    assert current["salary_grade"] == 23


async def test_patch_cannot_set_agency_status_or_ids(
    client: AsyncClient, session: AsyncSession
) -> None:
    hris = await auth_headers(session, Role.agency, await make_agency(session, "DOH"))
    created = (
        await client.put("/v1/agencies/DOH/candidates/EMP-1", json=person(), headers=hris)
    ).json()
    for field, value in [
        ("agency", "DBM"),
        ("status", "certified"),
        ("id", "x"),
        ("external_id", "E2"),
    ]:
        response = await client.patch(
            f"/v1/candidates/{created['id']}", json={field: value}, headers=hris
        )
        assert response.status_code == 422, field


async def test_batch_reports_every_item_and_rejects_only_the_bad(
    client: AsyncClient, session: AsyncSession
) -> None:
    hris = await auth_headers(session, Role.agency, await make_agency(session, "DOH"))
    await client.put("/v1/agencies/DOH/candidates/OLD-1", json=person(1), headers=hris)
    await client.put("/v1/agencies/DOH/candidates/OLD-2", json=person(2), headers=hris)
    items = [
        {"external_id": "NEW-1", **person(3)},
        {"external_id": "OLD-1", **person(1, salary_grade=30)},
        {"external_id": "OLD-2", **person(2)},
        {"external_id": "BAD-1", **person(4, email="nope")},
        {"external_id": "NEW-1", **person(5)},
        {"given_name": "No id"},
    ]
    response = await client.post(
        "/v1/agencies/DOH/candidates:batch", json={"items": items}, headers=hris
    )
    assert response.status_code == 200, response.text
    results = response.json()["items"]
    assert [r["outcome"] for r in results] == [
        "created",
        "updated",
        "unchanged",
        "rejected",
        "rejected",
        "rejected",
    ]
    assert results[0]["id"] and results[2]["id"]
    assert results[3]["errors"][0]["field"] == "items[3].email"
    assert "twice" in results[4]["errors"][0]["message"]


async def test_oversized_batch_is_422_and_writes_nothing(
    client: AsyncClient, session: AsyncSession
) -> None:
    hris = await auth_headers(session, Role.agency, await make_agency(session, "DOH"))
    items = [{"external_id": f"E{n}", **person(n)} for n in range(1001)]
    response = await client.post(
        "/v1/agencies/DOH/candidates:batch", json={"items": items}, headers=hris
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.items"
    assert (
        await session.scalar(
            select(func.count()).select_from(Candidate).where(Candidate.agency_code == "DOH")
        )
        == 0
    )


async def test_twenty_concurrent_puts_of_one_employee_make_one_candidate(
    live_client: AsyncClient, engine: AsyncEngine
) -> None:
    code, _, hris = await committed_agency_with_keys(engine)
    responses = await asyncio.gather(
        *(
            live_client.put(
                f"/v1/agencies/{code}/candidates/EMP-1",
                json=person(1, salary_grade=10 + n % 3),
                headers=hris,
            )
            for n in range(20)
        )
    )
    assert all(r.status_code in (200, 201) for r in responses), [
        r.text for r in responses if r.status_code >= 300
    ]
    assert sum(r.status_code == 201 for r in responses) == 1
    assert len({r.json()["id"] for r in responses}) == 1
    async with engine.connect() as connection:
        count = await connection.scalar(
            select(func.count()).select_from(Candidate).where(Candidate.agency_code == code)
        )
        created_events = await connection.scalar(
            select(func.count())
            .select_from(CandidateEvent)
            .where(CandidateEvent.agency_code == code, CandidateEvent.type == "candidate.created")
        )
    assert count == 1 and created_events == 1
