from decimal import Decimal

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.roles import Role
from tests.factories import auth_headers, make_agency, person

CSC = "csc-leadership-competencies"


async def _candidate(
    client: AsyncClient, session: AsyncSession, **fields: object
) -> tuple[str, dict[str, str]]:
    staff = await auth_headers(session, Role.staff)
    await make_agency(session, "DOH")
    created = await client.post(
        "/v1/candidates",
        json={"agency": "DOH", "external_id": "EMP-1", **person(**fields)},
        headers=staff,
    )
    return created.json()["id"], staff


async def _move(client: AsyncClient, staff: dict[str, str], cid: str, to: str, **data: object):  # type: ignore[no-untyped-def]
    return await client.post(
        f"/v1/candidates/{cid}/transitions",
        json={"to": to, "reason": "step", "data": data},
        headers=staff,
    )


async def _positive_indicators(client: AsyncClient) -> list[dict]:  # type: ignore[type-arg]
    items, cursor = [], None
    while True:
        params = {"polarity": "positive", "limit": 200} | ({"cursor": cursor} if cursor else {})
        page = (await client.get(f"/v1/frameworks/{CSC}/indicators", params=params)).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items


async def test_self_assessment_recommends_rpl_only_at_or_above_advanced_everywhere(
    client: AsyncClient, session: AsyncSession
) -> None:
    cid, staff = await _candidate(client, session)
    indicators = await _positive_indicators(client)
    everything = [{"indicator": i["id"], "demonstrated": True} for i in indicators]
    strong = await client.post(
        f"/v1/candidates/{cid}/self-assessments", json={"answers": everything}, headers=staff
    )
    assert strong.status_code == 201, strong.text
    assert strong.json()["recommended_track"] == "rpl"
    assert {r["level"]["code"] for r in strong.json()["ratings"]} == {"superior"}

    # Superior missing for one competency still recommends RPL (Advanced is enough) ...
    def answers(short_competency: str, up_to_rank: int) -> list[dict]:  # type: ignore[type-arg]
        return [
            {
                "indicator": i["id"],
                "demonstrated": i["competency"]["code"] != short_competency
                or i["level"]["rank"] <= up_to_rank,
            }
            for i in indicators
        ]

    almost = await client.post(
        f"/v1/candidates/{cid}/self-assessments",
        json={"answers": answers("leading-change", 3)},
        headers=staff,
    )
    assert almost.json()["recommended_track"] == "rpl"
    # ... but Intermediate in one competency recommends the Training Track, naming it.
    weak = await client.post(
        f"/v1/candidates/{cid}/self-assessments",
        json={"answers": answers("leading-change", 2)},
        headers=staff,
    )
    body = weak.json()
    assert body["recommended_track"] == "training"
    assert "Leading Change" in body["reason"]
    rating = next(r for r in body["ratings"] if r["competency"] == "leading-change")
    assert rating["level"]["code"] == "intermediate"
    history = (await client.get(f"/v1/candidates/{cid}/self-assessments", headers=staff)).json()
    assert len(history) == 3


async def test_self_assessment_must_answer_every_indicator(
    client: AsyncClient, session: AsyncSession
) -> None:
    cid, staff = await _candidate(client, session)
    indicators = await _positive_indicators(client)
    partial = [{"indicator": i["id"], "demonstrated": True} for i in indicators[:10]] + [
        {"indicator": 999999999, "demonstrated": True}
    ]
    response = await client.post(
        f"/v1/candidates/{cid}/self-assessments", json={"answers": partial}, headers=staff
    )
    assert response.status_code == 422
    messages = " ".join(e["message"] for e in response.json()["errors"])
    assert "unknown indicator 999999999" in messages and "unanswered" in messages


async def test_training_track_needs_lmdc_briefs_and_an_accepted_sponsor_before_the_alp(
    client: AsyncClient, session: AsyncSession
) -> None:
    cid, staff = await _candidate(client, session)
    await _move(client, staff, cid, "oriented")
    await _move(client, staff, cid, "enrolled", track="training")
    await _move(client, staff, cid, "in_training")

    early = await _move(client, staff, cid, "alp_in_progress")
    assert early.status_code == 409
    unmet = " ".join(early.json()["unmet_preconditions"])
    assert "LMDC modules not attended" in unmet and "no ALP" in unmet

    modules = [
        c["code"] for c in (await client.get(f"/v1/frameworks/{CSC}")).json()["competencies"]
    ]
    for module in modules:
        r = await client.put(
            f"/v1/candidates/{cid}/lmdc-attendance/{module}",
            json={"attended_on": "2026-10-12"},
            headers=staff,
        )
        assert r.status_code == 200, r.text
    first = (
        await client.post(
            f"/v1/candidates/{cid}/project-briefs",
            json={"title": "A", "summary": "a"},
            headers=staff,
        )
    ).json()
    assert (
        await client.post(
            f"/v1/candidates/{cid}/project-briefs/{first['id']}/approve", headers=staff
        )
    ).status_code == 409
    await client.post(
        f"/v1/candidates/{cid}/project-briefs", json={"title": "B", "summary": "b"}, headers=staff
    )
    assert (
        await client.post(
            f"/v1/candidates/{cid}/project-briefs",
            json={"title": "C", "summary": "c"},
            headers=staff,
        )
    ).status_code == 409
    approved = await client.post(
        f"/v1/candidates/{cid}/project-briefs/{first['id']}/approve", headers=staff
    )
    assert approved.json()["status"] == "approved"
    alp = await client.put(
        f"/v1/candidates/{cid}/alp",
        json={"coach_name": "Coach", "sponsor_name": "Sponsor", "sponsor_position": "Director IV"},
        headers=staff,
    )
    assert alp.status_code == 200
    not_accepted = await _move(client, staff, cid, "alp_in_progress")
    assert not_accepted.json()["unmet_preconditions"] == [
        "the executive sponsor has not accepted the role"
    ]

    await client.post(f"/v1/candidates/{cid}/alp/sponsor-acceptance", headers=staff)
    started = await _move(client, staff, cid, "alp_in_progress")
    assert started.status_code == 201, started.text
    window = (await client.get(f"/v1/candidates/{cid}/alp", headers=staff)).json()
    from datetime import date

    assert (
        date.fromisoformat(window["ends_on"]) - date.fromisoformat(window["starts_on"])
    ).days == 90


async def test_fee_statement_follows_the_track(client: AsyncClient, session: AsyncSession) -> None:
    cid, staff = await _candidate(client, session, track="training")
    fees = (await client.get(f"/v1/candidates/{cid}/fees", headers=staff)).json()
    assert [(i["code"], Decimal(i["amount"])) for i in fees["items"]] == [
        ("lmdc", Decimal("30000.00")),
        ("assessment", Decimal("27400.00")),
    ]
    assert fees["total"] == "57400.00" and fees["currency"] == "PHP"
    await client.patch(f"/v1/candidates/{cid}", json={}, headers=staff)
    hris = await auth_headers(session, Role.agency, "DOH")
    await client.put("/v1/agencies/DOH/candidates/EMP-2", json=person(2, track="rpl"), headers=hris)
    rpl = (await client.get("/v1/candidates", params={"q": "EMP-2"}, headers=hris)).json()["items"][
        0
    ]
    rpl_fees = (await client.get(f"/v1/candidates/{rpl['id']}/fees", headers=hris)).json()
    assert rpl_fees["total"] == "29100.00"


async def test_fees_need_a_track(client: AsyncClient, session: AsyncSession) -> None:
    cid, staff = await _candidate(client, session)
    assert (await client.get(f"/v1/candidates/{cid}/fees", headers=staff)).status_code == 409
