"""The rules of DOMAIN.md end to end through the API: candidate -> assessment -> scores ->
release -> result -> status -> certificate, for every outcome and the supplemental round."""

from decimal import Decimal

import jwt
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.roles import Role
from tests.assessments.rounds import open_round, ready_candidate, score_all
from tests.factories import auth_headers

CSC = "csc-leadership-competencies"
INSTRUMENTS = ("written_test", "portfolio_review", "behavioral_event_interview")


async def test_all_five_passed_certifies_with_a_verifiable_credential(
    client: AsyncClient, session: AsyncSession
) -> None:
    cid, staff = await ready_candidate(client, session)
    assessment = await open_round(client, staff, cid)
    assert len(assessment["competencies"]) == 5 and len(assessment["required_scores"]) == 15

    early = await client.post(f"/v1/assessments/{assessment['id']}/release", headers=staff)
    assert early.status_code == 409 and len(early.json()["missing_scores"]) == 15

    await score_all(client, staff, assessment, {c: 90 for c in assessment["competencies"]})
    released = await client.post(f"/v1/assessments/{assessment['id']}/release", headers=staff)
    assert released.status_code == 200, released.text
    result = released.json()
    assert result["outcome"] == "certified" and result["passed_count"] == 5
    assert result["policy"] == "cpro-2015" and result["version"] == "2015"
    assert all(Decimal(c["weighted_score"]) == Decimal("90.00") for c in result["competencies"])
    serial = result["certificate"]["serial"]
    assert "passed" in result["explanation"].lower()

    candidate = (await client.get(f"/v1/candidates/{cid}", headers=staff)).json()
    assert candidate["status"] == "certified"

    public = await client.get(f"/v1/certificates/{serial}")
    assert public.status_code == 200
    assert public.json()["holder_name"] == "Maria Santos" and public.json()["status"] == "valid"
    assert (await client.get("/v1/certificates/CPRO-0000-0000-0000-0000")).status_code == 404

    token = (await client.get(f"/v1/certificates/{serial}/credential")).text
    jwks = jwt.PyJWKSet.from_dict((await client.get("/.well-known/jwks.json")).json())
    header = jwt.get_unverified_header(token)
    key = next(k for k in jwks.keys if k.key_id == header["kid"])
    claims = jwt.decode(token, key=key.key, algorithms=["EdDSA"], options={"verify_aud": False})
    assert "OpenBadgeCredential" in claims["type"]
    assert claims["credentialSubject"]["identifier"][0]["identityHash"] == "Maria Santos"

    # Scores are frozen after release.
    frozen = await client.put(
        f"/v1/assessments/{assessment['id']}/scores",
        json={
            "scores": [
                {
                    "competency": assessment["competencies"][0],
                    "instrument": "written_test",
                    "score": 1,
                }
            ]
        },
        headers=staff,
    )
    assert frozen.status_code == 409

    admin = await auth_headers(session, Role.admin)
    revoked = await client.post(
        f"/v1/certificates/{serial}/revoke", json={"reason": "test"}, headers=admin
    )
    assert revoked.json()["status"] == "revoked"
    assert (await client.get(f"/v1/certificates/{serial}/credential")).status_code == 409


async def test_weighted_score_uses_the_policy_weights(
    client: AsyncClient, session: AsyncSession
) -> None:
    cid, staff = await ready_candidate(client, session)
    assessment = await open_round(client, staff, cid)
    first, *others = assessment["competencies"]
    body = [
        {"competency": first, "instrument": i, "score": s}
        for i, s in zip(INSTRUMENTS, (55, 72, 81), strict=True)
    ]
    body += [{"competency": c, "instrument": i, "score": 95} for c in others for i in INSTRUMENTS]
    await client.put(
        f"/v1/assessments/{assessment['id']}/scores", json={"scores": body}, headers=staff
    )
    result = (
        await client.post(f"/v1/assessments/{assessment['id']}/release", headers=staff)
    ).json()
    # (10*55 + 50*72 + 40*81) / 100 = 73.90
    assert result["competencies"][0]["weighted_score"] == "73.90"


async def test_three_passed_opens_a_supplemental_round_that_can_certify(
    client: AsyncClient, session: AsyncSession
) -> None:
    cid, staff = await ready_candidate(client, session)
    assessment = await open_round(client, staff, cid)
    codes = assessment["competencies"]
    await score_all(
        client, staff, assessment, {c: (90 if i < 3 else 50) for i, c in enumerate(codes)}
    )
    result = (
        await client.post(f"/v1/assessments/{assessment['id']}/release", headers=staff)
    ).json()
    assert result["outcome"] == "supplemental" and result["passed_count"] == 3
    assert result["supplemental_deadline"] and result["certificate"] is None
    candidate = (await client.get(f"/v1/candidates/{cid}", headers=staff)).json()
    assert candidate["status"] == "supplemental_eligible"
    assert candidate["supplemental_deadline"] == result["supplemental_deadline"]

    supplemental = await open_round(client, staff, cid, kind="supplemental")
    assert sorted(supplemental["failed_before"]) == sorted(codes[3:])
    required = {(r["competency"], r["instrument"]) for r in supplemental["required_scores"]}
    assert required == {(c, "written_test") for c in codes} | {
        (c, i) for c in codes[3:] for i in INSTRUMENTS[1:]
    }
    await score_all(client, staff, supplemental, {c: 85 for c in codes})
    final = (
        await client.post(f"/v1/assessments/{supplemental['id']}/release", headers=staff)
    ).json()
    assert final["outcome"] == "certified" and final["certificate"]["serial"]
    assert (await client.get(f"/v1/candidates/{cid}", headers=staff)).json()[
        "status"
    ] == "certified"


async def test_two_passed_sends_rpl_candidates_to_training_only(
    client: AsyncClient, session: AsyncSession
) -> None:
    cid, staff = await ready_candidate(client, session, track="rpl")
    assessment = await open_round(client, staff, cid)
    await score_all(
        client,
        staff,
        assessment,
        {c: (90 if i < 2 else 40) for i, c in enumerate(assessment["competencies"])},
    )
    result = (
        await client.post(f"/v1/assessments/{assessment['id']}/release", headers=staff)
    ).json()
    assert result["outcome"] == "reenrollment" and result["reenrollment_tracks"] == ["training"]
    candidate = (await client.get(f"/v1/candidates/{cid}", headers=staff)).json()
    assert candidate["status"] == "reenrollment_required" and candidate["reenrollment_tracks"] == [
        "training"
    ]
    refused = await client.post(
        f"/v1/candidates/{cid}/transitions",
        json={"to": "enrolled", "reason": "again", "data": {"track": "rpl"}},
        headers=staff,
    )
    assert refused.status_code == 422
    again = await client.post(
        f"/v1/candidates/{cid}/transitions",
        json={"to": "enrolled", "reason": "again", "data": {"track": "training"}},
        headers=staff,
    )
    assert again.status_code == 201


async def test_scores_outside_the_range_or_the_round_are_422_and_write_nothing(
    client: AsyncClient, session: AsyncSession
) -> None:
    cid, staff = await ready_candidate(client, session)
    assessment = await open_round(client, staff, cid)
    code = assessment["competencies"][0]
    response = await client.put(
        f"/v1/assessments/{assessment['id']}/scores",
        json={
            "scores": [
                {"competency": code, "instrument": "written_test", "score": 101},
                {"competency": "nope", "instrument": "written_test", "score": 50},
            ]
        },
        headers=staff,
    )
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {
        "body.scores[0].score",
        "body.scores[1].competency",
    }
    assert (await client.get(f"/v1/assessments/{assessment['id']}", headers=staff)).json()[
        "scores"
    ] == []


async def test_assessors_score_only_assigned_assessments(
    client: AsyncClient, session: AsyncSession
) -> None:
    cid, staff = await ready_candidate(client, session)
    admin = await auth_headers(session, Role.admin)
    assigned = (
        await client.post("/v1/api-keys", json={"role": "assessor", "name": "A"}, headers=admin)
    ).json()
    other = (
        await client.post("/v1/api-keys", json={"role": "assessor", "name": "B"}, headers=admin)
    ).json()
    assessment = await open_round(client, staff, cid)
    await client.put(
        f"/v1/assessments/{assessment['id']}/assessors",
        json={"assessors": [assigned["id"]]},
        headers=staff,
    )
    body = {
        "scores": [
            {"competency": assessment["competencies"][0], "instrument": "written_test", "score": 70}
        ]
    }
    outsider = await client.put(
        f"/v1/assessments/{assessment['id']}/scores",
        json=body,
        headers={"Authorization": f"Bearer {other['key']}"},
    )
    assert outsider.status_code == 404
    insider = await client.put(
        f"/v1/assessments/{assessment['id']}/scores",
        json=body,
        headers={"Authorization": f"Bearer {assigned['key']}"},
    )
    assert insider.status_code == 200
    assert insider.json()["scores"][0]["updated_by"].startswith("A (key")


async def test_a_regular_assessment_needs_a_candidate_for_assessment(
    client: AsyncClient, session: AsyncSession
) -> None:
    cid, staff = await ready_candidate(client, session, track="training")
    response = await client.post(
        f"/v1/candidates/{cid}/assessments",
        json={"framework": CSC, "policy": "cpro-2015"},
        headers=staff,
    )
    assert response.status_code == 409


async def test_bundled_policy_states_its_assumed_pass_mark(
    client: AsyncClient, session: AsyncSession
) -> None:
    reader = await auth_headers(session, Role.reader)
    policy = (await client.get("/v1/assessment-policies/cpro-2015", headers=reader)).json()
    assert policy["weights"] == {
        "written_test": "10",
        "portfolio_review": "50",
        "behavioral_event_interview": "40",
    }
    assert "ASSUMPTION" in policy["notes"]


async def test_policies_are_immutable_and_validated(
    client: AsyncClient, session: AsyncSession
) -> None:
    admin = await auth_headers(session, Role.admin)
    body = {
        "code": "cpro-2015",
        "weights": {"written_test": 1, "portfolio_review": 1, "behavioral_event_interview": 1},
        "pass_mark": 50,
        "score_min": 0,
        "score_max": 100,
    }
    assert (
        await client.post("/v1/assessment-policies", json=body, headers=admin)
    ).status_code == 409
    bad = await client.post(
        "/v1/assessment-policies", json=body | {"code": "bad", "pass_mark": 150}, headers=admin
    )
    assert bad.status_code == 422
    assert (
        await client.post(
            "/v1/assessment-policies", json=body | {"code": "cpro-2027"}, headers=admin
        )
    ).status_code == 201
