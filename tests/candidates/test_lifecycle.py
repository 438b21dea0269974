from datetime import date, timedelta

from httpx import AsyncClient
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.roles import Role
from app.candidates.models import Candidate
from app.candidates.state import Status, staff_next
from tests.factories import auth_headers, make_agency, person


async def _registered(client: AsyncClient, session: AsyncSession) -> tuple[str, dict[str, str]]:
    staff = await auth_headers(session, Role.staff)
    await make_agency(session, "DOH")
    created = await client.post(
        "/v1/candidates", json={"agency": "DOH", "external_id": "EMP-1", **person()}, headers=staff
    )
    assert created.status_code == 201, created.text
    return created.json()["id"], staff


async def _move(
    client: AsyncClient, staff: dict[str, str], cid: str, to: str, **data: object
) -> dict:  # type: ignore[type-arg]
    response = await client.post(
        f"/v1/candidates/{cid}/transitions",
        json={"to": to, "reason": f"to {to}", "data": data},
        headers=staff,
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_rpl_candidates_prequalify_and_training_candidates_train() -> None:
    assert staff_next(Status.enrolled, None) == [
        Status.prequalified,
        Status.in_training,
        Status.withdrawn,
    ]
    from app.candidates.state import Track

    assert staff_next(Status.enrolled, Track.rpl) == [Status.prequalified, Status.withdrawn]
    assert staff_next(Status.enrolled, Track.training) == [Status.in_training, Status.withdrawn]
    assert staff_next(Status.certified, Track.rpl) == []


async def test_rpl_path_to_assessment_with_history(
    client: AsyncClient, session: AsyncSession
) -> None:
    cid, staff = await _registered(client, session)
    await _move(client, staff, cid, "oriented")
    await _move(client, staff, cid, "enrolled", track="rpl")
    step = await _move(client, staff, cid, "prequalified", score=81.5)
    assert step["data"] == {"score": 81.5} and step["from_status"] == "enrolled"
    await _move(client, staff, cid, "for_assessment")
    candidate = (await client.get(f"/v1/candidates/{cid}", headers=staff)).json()
    assert candidate["status"] == "for_assessment" and candidate["track"] == "rpl"
    history = (await client.get(f"/v1/candidates/{cid}/transitions", headers=staff)).json()
    assert [h["to_status"] for h in history] == [
        "oriented",
        "enrolled",
        "prequalified",
        "for_assessment",
    ]
    assert all(h["actor"].startswith("test staff") for h in history)


async def test_disallowed_transition_is_409_naming_the_allowed(
    client: AsyncClient, session: AsyncSession
) -> None:
    cid, staff = await _registered(client, session)
    response = await client.post(
        f"/v1/candidates/{cid}/transitions",
        json={"to": "for_assessment", "reason": "skip"},
        headers=staff,
    )
    assert response.status_code == 409
    assert response.json()["allowed_next"] == ["oriented", "withdrawn"]


async def test_outcomes_cannot_be_set_by_hand(client: AsyncClient, session: AsyncSession) -> None:
    cid, staff = await _registered(client, session)
    response = await client.post(
        f"/v1/candidates/{cid}/transitions", json={"to": "certified", "reason": "x"}, headers=staff
    )
    assert response.status_code == 409
    assert "service sets outcomes" in response.json()["detail"]


async def test_prequalifying_needs_the_score(client: AsyncClient, session: AsyncSession) -> None:
    cid, staff = await _registered(client, session)
    await _move(client, staff, cid, "oriented")
    await _move(client, staff, cid, "enrolled", track="rpl")
    missing = await client.post(
        f"/v1/candidates/{cid}/transitions",
        json={"to": "prequalified", "reason": "x"},
        headers=staff,
    )
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "body.data.score"
    bad = await client.post(
        f"/v1/candidates/{cid}/transitions",
        json={"to": "prequalified", "reason": "x", "data": {"score": "high"}},
        headers=staff,
    )
    assert bad.status_code == 422
    assert (await client.get(f"/v1/candidates/{cid}", headers=staff)).json()["status"] == "enrolled"


async def test_enrolling_needs_a_track(client: AsyncClient, session: AsyncSession) -> None:
    cid, staff = await _registered(client, session)
    await _move(client, staff, cid, "oriented")
    response = await client.post(
        f"/v1/candidates/{cid}/transitions", json={"to": "enrolled", "reason": "x"}, headers=staff
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.data.track"


async def test_agency_keys_cannot_transition(client: AsyncClient, session: AsyncSession) -> None:
    cid, _ = await _registered(client, session)
    hris = await auth_headers(session, Role.agency, "DOH")
    response = await client.post(
        f"/v1/candidates/{cid}/transitions", json={"to": "oriented", "reason": "x"}, headers=hris
    )
    assert response.status_code == 403


async def test_a_lapsed_supplemental_chance_reads_forfeited_at_once(
    client: AsyncClient, session: AsyncSession
) -> None:
    cid, staff = await _registered(client, session)
    yesterday = date.today() - timedelta(days=1)
    await session.execute(
        update(Candidate)
        .where(Candidate.external_id == "EMP-1")
        .values(status="supplemental_eligible", supplemental_deadline=yesterday)
    )
    await session.commit()
    candidate = (await client.get(f"/v1/candidates/{cid}", headers=staff)).json()
    assert candidate["status"] == "forfeited"
    forfeited = (
        await client.get("/v1/candidates", params={"status": "forfeited"}, headers=staff)
    ).json()
    eligible = (
        await client.get(
            "/v1/candidates", params={"status": "supplemental_eligible"}, headers=staff
        )
    ).json()
    assert cid in [c["id"] for c in forfeited["items"]]
    assert cid not in [c["id"] for c in eligible["items"]]


async def test_a_supplemental_chance_before_its_deadline_stands(
    client: AsyncClient, session: AsyncSession
) -> None:
    cid, staff = await _registered(client, session)
    await session.execute(
        update(Candidate)
        .where(Candidate.external_id == "EMP-1")
        .values(status="supplemental_eligible", supplemental_deadline=date.today())
    )
    await session.commit()
    assert (await client.get(f"/v1/candidates/{cid}", headers=staff)).json()[
        "status"
    ] == "supplemental_eligible"


async def test_withdrawn_is_final(client: AsyncClient, session: AsyncSession) -> None:
    cid, staff = await _registered(client, session)
    await _move(client, staff, cid, "withdrawn")
    response = await client.post(
        f"/v1/candidates/{cid}/transitions", json={"to": "oriented", "reason": "x"}, headers=staff
    )
    assert response.status_code == 409
    assert response.json()["allowed_next"] == []


async def test_list_filters_and_pages(client: AsyncClient, session: AsyncSession) -> None:
    hris = await auth_headers(session, Role.agency, await make_agency(session, "DOH"))
    for n in range(5):
        await client.put(
            f"/v1/agencies/DOH/candidates/E{n}",
            json=person(n, priority=1 + n % 2, track="rpl" if n < 2 else "training"),
            headers=hris,
        )
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, object] = {"limit": 2, "priority": 1} | (
            {"cursor": cursor} if cursor else {}
        )
        page = (await client.get("/v1/candidates", params=params, headers=hris)).json()
        seen += [c["external_id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ["E0", "E2", "E4"]
    rpl = (await client.get("/v1/candidates", params={"track": "rpl"}, headers=hris)).json()
    assert [c["external_id"] for c in rpl["items"]] == ["E0", "E1"]
    found = (await client.get("/v1/candidates", params={"q": "family3"}, headers=hris)).json()
    assert [c["external_id"] for c in found["items"]] == ["E3"]


async def test_the_sweep_records_a_lapsed_supplemental_chance_in_the_history(
    client: AsyncClient, session: AsyncSession
) -> None:
    from app.candidates.service import record_lapsed_supplementals

    cid, staff = await _registered(client, session)
    await session.execute(
        update(Candidate)
        .where(Candidate.external_id == "EMP-1")
        .values(
            status="supplemental_eligible", supplemental_deadline=date.today() - timedelta(days=3)
        )
    )
    await session.commit()
    assert await record_lapsed_supplementals(session) >= 1
    await session.commit()
    history = (await client.get(f"/v1/candidates/{cid}/transitions", headers=staff)).json()
    assert (
        history[-1]["from_status"] == "supplemental_eligible"
        and history[-1]["to_status"] == "forfeited"
    )
    assert history[-1]["actor"] == "system"
    assert await record_lapsed_supplementals(session) == 0


async def test_updated_after_pages_in_order_of_change(
    client: AsyncClient, session: AsyncSession
) -> None:
    hris = await auth_headers(session, Role.agency, await make_agency(session, "DOH"))
    for n in range(4):
        await client.put(f"/v1/agencies/DOH/candidates/E{n}", json=person(n), headers=hris)
    start = "2000-01-01T00:00:00Z"
    # E0 changes last, so it comes last although it registered first.
    await client.put(
        "/v1/agencies/DOH/candidates/E0", json=person(0, salary_grade=30), headers=hris
    )
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, object] = {"limit": 3, "updated_after": start} | (
            {"cursor": cursor} if cursor else {}
        )
        page = (await client.get("/v1/candidates", params=params, headers=hris)).json()
        seen += [c["external_id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ["E1", "E2", "E3", "E0"]
    first = (await client.get("/v1/candidates", params={"limit": 1}, headers=hris)).json()
    mixed = await client.get(
        "/v1/candidates",
        params={"updated_after": start, "cursor": first["next_cursor"]},
        headers=hris,
    )
    assert mixed.status_code == 422
