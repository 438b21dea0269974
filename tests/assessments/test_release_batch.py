"""Releasing a cohort at once: `POST /v1/assessments:release` does what the one-round release
does for each id, reports each, lets complete rounds go when others are refused, reads the same
on a retry, and costs the same number of statements for 2 rounds as for 12."""

import uuid
from datetime import datetime
from typing import Any

from httpx import AsyncClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.audit.models import AuditEntry
from app.auth.roles import Role
from app.candidates.models import CandidateTransition
from app.certificates.models import Certificate
from app.integrations.models import CandidateEvent
from tests.assessments.rounds import TO_ASSESSMENT_BY_RPL, move, open_round, score_all
from tests.core.test_query_counts import counted
from tests.factories import auth_headers, make_agency, person

URL = "/v1/assessments:release"


async def _complete_round(
    client: AsyncClient, staff: dict[str, str], n: int, scores: list[int] | None
) -> tuple[str, dict[str, Any]]:
    """An RPL candidate ready for assessment and an open round; ``scores`` (one per
    competency, every instrument) filled in unless None."""
    created = await client.post(
        "/v1/candidates",
        json={"agency": "DOH", "external_id": f"EMP-{n}", **person(n)},
        headers=staff,
    )
    assert created.status_code == 201, created.text
    cid = created.json()["id"]
    await move(client, staff, cid, TO_ASSESSMENT_BY_RPL)
    assessment = await open_round(client, staff, cid)
    if scores is not None:
        await score_all(
            client, staff, assessment, dict(zip(assessment["competencies"], scores, strict=True))
        )
    return cid, assessment


async def _count(session: AsyncSession, model: type, *where: object) -> int:
    return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_a_cohort_is_released_item_by_item_and_a_retry_reads_the_same(
    client: AsyncClient, session: AsyncSession
) -> None:
    staff = await auth_headers(session, Role.staff)
    await make_agency(session, "DOH")
    certified_cid, certified = await _complete_round(client, staff, 1, [90] * 5)
    supplemental_cid, supplemental = await _complete_round(client, staff, 2, [90, 90, 90, 10, 10])
    incomplete_cid, incomplete = await _complete_round(client, staff, 3, None)
    unknown = str(uuid.uuid4())
    ids = [certified["id"], supplemental["id"], incomplete["id"], unknown, certified["id"]]

    response = await client.post(URL, json={"assessment_ids": ids}, headers=staff)

    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [i["assessment_id"] for i in items] == ids
    assert [i["outcome"] for i in items] == [
        "released",
        "released",
        "rejected",
        "rejected",
        "rejected",
    ]
    assert items[0]["result"] == "certified" and items[0]["certificate_serial"].startswith("CPRO-")
    assert items[1]["result"] == "supplemental" and items[1]["certificate_serial"] is None
    missing = items[2]["problem"]
    assert missing["status"] == 409 and len(missing["missing_scores"]) == 15
    assert missing["type"] == "urn:cpro:problem:conflict" and items[2]["result"] is None
    assert items[3]["problem"]["status"] == 404
    assert items[4]["problem"]["status"] == 409 and "twice" in items[4]["problem"]["detail"]

    statuses = {
        cid: (await client.get(f"/v1/candidates/{cid}", headers=staff)).json()["status"]
        for cid in (certified_cid, supplemental_cid, incomplete_cid)
    }
    assert statuses == {
        certified_cid: "certified",
        supplemental_cid: "supplemental_eligible",
        incomplete_cid: "for_assessment",
    }
    serial = items[0]["certificate_serial"]
    public = await client.get(f"/v1/certificates/{serial}")
    assert public.status_code == 200 and public.json()["status"] == "valid"
    result = (await client.get(f"/v1/assessments/{certified['id']}/result", headers=staff)).json()
    assert result["outcome"] == "certified" and result["certificate"]["serial"] == serial
    assert result["passed_count"] == 5 and "passed" in result["explanation"].lower()
    supplemental_result = await client.get(
        f"/v1/assessments/{supplemental['id']}/result", headers=staff
    )
    assert supplemental_result.json()["supplemental_deadline"] is not None
    still_open = await client.get(f"/v1/assessments/{incomplete['id']}/result", headers=staff)
    assert still_open.status_code == 409

    # Two steps each (assessed, then the outcome), on the feed, in the history, audited.
    for cid in (certified_cid, supplemental_cid):
        history = await _count(
            session, CandidateTransition, CandidateTransition.candidate_id == cid
        )
        assert history == 6  # oriented, enrolled, prequalified, for_assessment + 2
        feed = (
            await session.scalars(
                select(CandidateEvent.data["to"].astext)
                .where(CandidateEvent.candidate_id == cid)
                .order_by(CandidateEvent.position)
            )
        ).all()
        assert feed[-2] == "assessed"
    # Only this test's rows: live tests elsewhere commit releases of their own.
    mine = AuditEntry.entity_id.in_([str(i) for i in ids] + [serial])
    assert (
        await _count(session, AuditEntry, mine, AuditEntry.operation == "assessment.release") == 2
    )
    assert await _count(session, AuditEntry, mine, AuditEntry.operation == "certificate.issue") == 1

    written = (
        await _count(session, CandidateTransition),
        await _count(session, Certificate),
        await _count(session, CandidateEvent),
    )
    retry = await client.post(URL, json={"assessment_ids": ids[:2]}, headers=staff)
    assert [i["outcome"] for i in retry.json()["items"]] == ["already_released"] * 2
    assert retry.json()["items"][0]["certificate_serial"] == serial
    assert [i["result"] for i in retry.json()["items"]] == ["certified", "supplemental"]
    assert written == (
        await _count(session, CandidateTransition),
        await _count(session, Certificate),
        await _count(session, CandidateEvent),
    )
    single = await client.post(f"/v1/assessments/{certified['id']}/release", headers=staff)
    assert single.status_code == 409


async def test_bad_requests_are_422_naming_the_field_and_only_staff_may_release(
    client: AsyncClient, session: AsyncSession
) -> None:
    staff = await auth_headers(session, Role.staff)
    for body, field in (
        ({"assessment_ids": []}, "body.assessment_ids"),
        ({"assessment_ids": [str(uuid.uuid4())] * 1001}, "body.assessment_ids"),
        ({"assessment_ids": ["not-a-uuid"]}, "body.assessment_ids[0]"),
        ({"assessment_ids": [], "cohort": "x"}, "body.cohort"),
    ):
        response = await client.post(URL, json=body, headers=staff)
        assert response.status_code == 422, body
        assert field in [e["field"] for e in response.json()["errors"]]
    for role in (Role.assessor, Role.agency, Role.reader):
        headers = await auth_headers(session, role)
        denied = await client.post(
            URL, json={"assessment_ids": [str(uuid.uuid4())]}, headers=headers
        )
        assert denied.status_code == 403, role


async def test_releasing_12_rounds_costs_the_same_statements_as_2(
    client: AsyncClient, session: AsyncSession, engine: AsyncEngine
) -> None:
    staff = await auth_headers(session, Role.staff)
    await make_agency(session, "DOH")
    rounds = [(await _complete_round(client, staff, n, [90] * 5))[1]["id"] for n in range(14)]

    async def statements(ids: list[str]) -> int:
        with counted(engine) as seen:
            response = await client.post(URL, json={"assessment_ids": ids}, headers=staff)
        assert response.status_code == 200, response.text
        assert {i["outcome"] for i in response.json()["items"]} == {"released"}
        return len(seen)

    assert await statements(rounds[:2]) == await statements(rounds[2:])


async def test_a_cohort_release_moves_each_candidate_twice_as_one_round_at_a_time_would(
    client: AsyncClient, session: AsyncSession
) -> None:
    """The cohort's candidates are written with one set-based statement: each still gains two
    versions (two steps), a new ETag and updated_at, the outcome's deadline or tracks, and the
    feed and audit entries carry exactly what the steps did."""
    staff = await auth_headers(session, Role.staff)
    await make_agency(session, "DOH")
    rounds = [
        await _complete_round(client, staff, n, scores)
        for n, scores in enumerate(([90] * 5, [90, 90, 90, 10, 10], [10] * 5))
    ]
    before = {}
    for cid, _ in rounds:
        read = await client.get(f"/v1/candidates/{cid}", headers=staff)
        before[cid] = (read.json(), read.headers["etag"])

    response = await client.post(
        URL, json={"assessment_ids": [a["id"] for _, a in rounds]}, headers=staff
    )

    assert [i["result"] for i in response.json()["items"]] == [
        "certified",
        "supplemental",
        "reenrollment",
    ]
    for cid, assessment in rounds:
        read = await client.get(f"/v1/candidates/{cid}", headers=staff)
        after, etag = read.json(), read.headers["etag"]
        old, old_etag = before[cid]
        assert after["version"] == old["version"] + 2
        assert etag != old_etag and etag.endswith(f'.{after["version"]}"')
        assert after["updated_at"] > old["updated_at"]
        history = (
            await session.scalars(
                select(CandidateTransition)
                .where(CandidateTransition.candidate_id == uuid.UUID(cid))
                .order_by(CandidateTransition.id)
            )
        ).all()
        assert [h.to_status for h in history[-2:]] == ["assessed", after["status"]]
        assert history[-2].data == {"assessment_id": assessment["id"]}
        assert history[-1].at == datetime.fromisoformat(after["updated_at"])
        versions = (
            await session.scalars(
                select(CandidateEvent.data["version"].as_integer())
                .where(
                    CandidateEvent.candidate_id == uuid.UUID(cid),
                    CandidateEvent.type == "candidate.transitioned",
                )
                .order_by(CandidateEvent.position)
            )
        ).all()
        assert versions[-2:] == [old["version"] + 1, old["version"] + 2]
        audited = (
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.entity_id == cid, AuditEntry.operation == "candidate.transition")
                .order_by(AuditEntry.id)
            )
        ).all()
        assert [a.after for a in audited[-2:]] == [
            {"status": "assessed"},
            {"status": after["status"]},
        ]
    supplemental = (await client.get(f"/v1/candidates/{rounds[1][0]}", headers=staff)).json()
    assert supplemental["supplemental_deadline"] is not None
    reenrolled = (await client.get(f"/v1/candidates/{rounds[2][0]}", headers=staff)).json()
    assert reenrolled["reenrollment_tracks"] == ["training"]
    # No "before" for a release: stored as every other entry without one is (JSON null).
    kinds = (
        await session.execute(
            select(AuditEntry.operation, func.jsonb_typeof(AuditEntry.before))
            .where(
                AuditEntry.entity_id.in_([a["id"] for _, a in rounds]),
                AuditEntry.operation == "assessment.release",
            )
            .distinct()
        )
    ).all()
    assert kinds == [("assessment.release", "null")]
