"""Taking a candidate to an assessment round through the API, as the portal and staff do."""

from typing import Any

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.roles import Role
from tests.factories import auth_headers, make_agency, person

CSC = "csc-leadership-competencies"
TO_ASSESSMENT_BY_RPL = [
    ("oriented", {}),
    ("enrolled", {"track": "rpl"}),
    ("prequalified", {"score": 80}),
    ("for_assessment", {}),
]


async def move(
    client: AsyncClient, headers: dict[str, str], cid: str, steps: list[tuple[str, Any]]
) -> None:
    """Take the candidate through ``steps`` (status, data), each of which must succeed."""
    for to, data in steps:
        response = await client.post(
            f"/v1/candidates/{cid}/transitions",
            json={"to": to, "reason": "step", "data": data},
            headers=headers,
        )
        assert response.status_code == 201, response.text


async def open_round(
    client: AsyncClient, headers: dict[str, str], cid: str, kind: str = "regular"
) -> dict[str, Any]:
    response = await client.post(
        f"/v1/candidates/{cid}/assessments",
        json={"framework": CSC, "policy": "cpro-2015", "kind": kind},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def score_all(
    client: AsyncClient, headers: dict[str, str], assessment: dict[str, Any], scores: dict[str, int]
) -> None:
    """Every required score of the round: each instrument of a competency gets its score."""
    body = [
        {
            "competency": r["competency"],
            "instrument": r["instrument"],
            "score": scores[r["competency"]],
        }
        for r in assessment["required_scores"]
    ]
    response = await client.put(
        f"/v1/assessments/{assessment['id']}/scores", json={"scores": body}, headers=headers
    )
    assert response.status_code == 200, response.text


async def ready_candidate(
    client: AsyncClient, session: AsyncSession, track: str = "rpl"
) -> tuple[str, dict[str, str]]:
    """Maria Santos (DOH, EMP-1), ready for assessment by RPL, or enrolled on ``track``; and the
    staff key that moved her."""
    staff = await auth_headers(session, Role.staff)
    await make_agency(session, "DOH")
    created = await client.post(
        "/v1/candidates",
        json={
            "agency": "DOH",
            "external_id": "EMP-1",
            **person(1, given_name="Maria", family_name="Santos"),
        },
        headers=staff,
    )
    assert created.status_code == 201, created.text
    cid = str(created.json()["id"])
    if track == "rpl":
        await move(client, staff, cid, TO_ASSESSMENT_BY_RPL)
    else:
        await move(client, staff, cid, [("oriented", {}), ("enrolled", {"track": track})])
    return cid, staff
