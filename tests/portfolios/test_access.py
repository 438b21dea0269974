"""Who sees a portfolio and its documents: the candidate, staff, admin, and an assessor while
assigned to an unreleased round of the candidate; the candidate's own agency the titles only;
everyone else 404."""

from collections.abc import Callable

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.roles import Role
from app.auth.service import create_api_key
from tests.assessments.rounds import open_round, ready_candidate, score_all
from tests.factories import auth_headers, make_agency, person
from tests.portfolios import files
from tests.portfolios.building import add_entry, upload


async def _assessor(session: AsyncSession) -> tuple[str, dict[str, str]]:
    key, secret = await create_api_key(session, role=Role.assessor, name="panel assessor")
    await session.commit()
    return str(key.id), {"Authorization": f"Bearer {secret}"}


async def test_the_document_role_matrix(
    portal: AsyncClient,
    session: AsyncSession,
    candidate_token: Callable[[str], dict[str, str]],
) -> None:
    cid, staff = await ready_candidate(portal, session)
    other = await portal.post(
        "/v1/candidates", json={"agency": "DOH", "external_id": "EMP-2", **person(2)}, headers=staff
    )
    entry = await add_entry(portal, session, staff, cid, "leading-change", "Licensing go-live")
    pdf = files.pdf_bytes()
    document = (await upload(portal, staff, cid, entry["id"], pdf)).json()
    assigned_id, assigned = await _assessor(session)
    _, unassigned = await _assessor(session)
    assessment = await open_round(portal, staff, cid)
    put = await portal.put(
        f"/v1/assessments/{assessment['id']}/assessors",
        json={"assessors": [assigned_id]},
        headers=staff,
    )
    assert put.status_code == 200, put.text
    await make_agency(session, "DBM")
    callers = {
        "candidate": candidate_token(cid),
        "another candidate": candidate_token(other.json()["id"]),
        "staff": staff,
        "admin": await auth_headers(session, Role.admin),
        "assigned assessor": assigned,
        "unassigned assessor": unassigned,
        "own agency": await auth_headers(session, Role.agency, "DOH"),
        "another agency": await auth_headers(session, Role.agency, "DBM"),
        "reader": await auth_headers(session, Role.reader),
    }
    portfolio_path = f"/v1/candidates/{cid}/portfolio"
    expected = {
        # caller: (portfolio, document)
        "candidate": (200, 200),
        "another candidate": (404, 404),
        "staff": (200, 200),
        "admin": (200, 200),
        "assigned assessor": (200, 200),
        "unassigned assessor": (404, 404),
        "own agency": (200, 404),
        "another agency": (404, 404),
        "reader": (404, 404),
    }
    answers = {}
    for name, headers in callers.items():
        seen = await portal.get(portfolio_path, headers=headers)
        got = await portal.get(document["href"], headers=headers)
        answers[name] = (seen.status_code, got.status_code)
        if got.status_code == 200:
            assert got.content == pdf
        if seen.status_code == 200:
            leading = next(c for c in seen.json()["competencies"] if c["code"] == "leading-change")
            assert leading["evidence"][0]["title"] == "Licensing go-live"
            if name == "own agency":
                assert seen.json()["documents_visible"] is False
                assert leading["evidence"][0]["description"] is None
                assert leading["evidence"][0]["documents"] == []
            else:
                assert leading["evidence"][0]["documents"][0]["id"] == document["id"]
    assert answers == expected

    # Only the candidate and staff build it: others get 403 by role, or 404 for another's.
    body = {"competency": "leading-change", "title": "x", "indicators": entry["indicators"]}
    writes = {
        name: (
            await portal.post(f"{portfolio_path}/evidence", json=body, headers=callers[name])
        ).status_code
        for name in ("candidate", "another candidate", "assigned assessor", "own agency")
    }
    assert writes == {
        "candidate": 201,
        "another candidate": 404,
        "assigned assessor": 403,
        "own agency": 403,
    }

    # Once the round is released, its assessor is no longer assigned to an open one.
    await score_all(portal, staff, assessment, dict.fromkeys(assessment["competencies"], 90))
    released = await portal.post(f"/v1/assessments/{assessment['id']}/release", headers=staff)
    assert released.status_code == 200, released.text
    assert (await portal.get(document["href"], headers=assigned)).status_code == 404
    assert (await portal.get(portfolio_path, headers=assigned)).status_code == 404
