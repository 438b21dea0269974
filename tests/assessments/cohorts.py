"""Rounds in every state for two agencies, with two assessors, built through the API: what the
round and certificate list tests look at."""

from dataclasses import dataclass, field
from typing import Any

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.roles import Role
from app.auth.service import create_api_key
from tests.assessments.rounds import TO_ASSESSMENT_BY_RPL, move, open_round, score_all
from tests.factories import auth_headers, make_agency, person


@dataclass
class Cohort:
    staff: dict[str, str]
    admin: dict[str, str]
    doh: dict[str, str]
    """The DOH agency key."""
    dof: dict[str, str]
    assessor_a: dict[str, str]
    assessor_b: dict[str, str]
    candidates: dict[str, str] = field(default_factory=dict)
    """name -> candidate id."""
    rounds: dict[str, str] = field(default_factory=dict)
    """name -> assessment id."""
    serials: dict[str, str] = field(default_factory=dict)


async def _assessor(session: AsyncSession, name: str) -> tuple[str, dict[str, str]]:
    key, secret = await create_api_key(session, role=Role.assessor, name=name)
    await session.commit()
    return str(key.id), {"Authorization": f"Bearer {secret}"}


async def _candidate(client: AsyncClient, staff: dict[str, str], agency: str, n: int) -> str:
    created = await client.post(
        "/v1/candidates",
        json={"agency": agency, "external_id": f"EMP-L{n}", **person(n)},
        headers=staff,
    )
    assert created.status_code == 201, created.text
    cid = str(created.json()["id"])
    await move(client, staff, cid, TO_ASSESSMENT_BY_RPL)
    return cid


async def _assign(
    client: AsyncClient, staff: dict[str, str], assessment_id: str, key_id: str
) -> None:
    response = await client.put(
        f"/v1/assessments/{assessment_id}/assessors", json={"assessors": [key_id]}, headers=staff
    )
    assert response.status_code == 200, response.text


async def _release(client: AsyncClient, staff: dict[str, str], assessment_id: str) -> Any:
    response = await client.post(f"/v1/assessments/{assessment_id}/release", headers=staff)
    assert response.status_code == 200, response.text
    return response.json()


async def build_cohort(client: AsyncClient, session: AsyncSession) -> Cohort:
    """In creation order: ``open`` (DOH, assessor B, 4 of 15 scores), ``ready`` (DOH, assessor
    A, all scores), ``certified`` (DOF, assessor A, released: certified), ``supplemental`` (DOH,
    released with three passes) and its ``retake`` (a supplemental round, open, assessor B)."""
    await make_agency(session, "DOH")
    await make_agency(session, "DOF", "Department of Finance")
    id_a, assessor_a = await _assessor(session, "assessor A")
    id_b, assessor_b = await _assessor(session, "assessor B")
    cohort = Cohort(
        staff=await auth_headers(session, Role.staff),
        admin=await auth_headers(session, Role.admin),
        doh=await auth_headers(session, Role.agency, "DOH"),
        dof=await auth_headers(session, Role.agency, "DOF"),
        assessor_a=assessor_a,
        assessor_b=assessor_b,
    )
    staff = cohort.staff
    plan = [("open", "DOH", id_b), ("ready", "DOH", id_a), ("certified", "DOF", id_a)]
    plan.append(("supplemental", "DOH", id_a))
    for n, (name, agency, assessor) in enumerate(plan, start=1):
        cid = await _candidate(client, staff, agency, n)
        round_ = await open_round(client, staff, cid)
        await _assign(client, staff, round_["id"], assessor)
        cohort.candidates[name], cohort.rounds[name] = cid, round_["id"]
        competencies = round_["competencies"]
        if name == "open":
            partial = dict(round_, required_scores=round_["required_scores"][:4])
            await score_all(client, staff, partial, dict.fromkeys(competencies, 80))
        elif name == "supplemental":
            await score_all(
                client, staff, round_, dict(zip(competencies, [90, 90, 90, 10, 10], strict=True))
            )
            await _release(client, staff, round_["id"])
        else:
            await score_all(client, staff, round_, dict.fromkeys(competencies, 90))
            if name == "certified":
                result = await _release(client, staff, round_["id"])
                cohort.serials[name] = result["certificate"]["serial"]
    retake = await open_round(client, staff, cohort.candidates["supplemental"], "supplemental")
    await _assign(client, staff, retake["id"], id_b)
    cohort.rounds["retake"] = retake["id"]
    return cohort
