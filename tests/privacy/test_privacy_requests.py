"""Data Privacy Act requests: access (everything in one document), erasure, retention."""

from datetime import timedelta

from httpx import AsyncClient
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEntry
from app.auth.roles import Role
from app.candidates.models import Candidate
from app.core.database import utcnow
from app.integrations.models import CandidateEvent
from app.privacy.service import ERASURE_REVOCATION_REASON, sweep_retention
from tests.assessments.rounds import open_round, ready_candidate, score_all
from tests.factories import auth_headers, make_agency, person


async def _certified(
    client: AsyncClient, session: AsyncSession
) -> tuple[str, str, str, dict[str, str]]:
    """Maria Santos of DOH (employee EMP-1), certified: candidate id, assessment id, serial."""
    cid, staff = await ready_candidate(client, session)
    assessment = await open_round(client, staff, cid)
    await score_all(client, staff, assessment, {c: 90 for c in assessment["competencies"]})
    released = await client.post(f"/v1/assessments/{assessment['id']}/release", headers=staff)
    assert released.status_code == 200, released.text
    return cid, assessment["id"], released.json()["certificate"]["serial"], staff


async def test_personal_data_export_holds_everything_about_the_candidate(
    client: AsyncClient, session: AsyncSession
) -> None:
    cid, assessment_id, serial, staff = await _certified(client, session)
    doc = await client.get(f"/v1/candidates/{cid}/personal-data", headers=staff)
    assert doc.status_code == 200, doc.text
    body = doc.json()
    assert body["candidate"]["id"] == cid and body["candidate"]["status"] == "certified"
    assert body["record"]["email"] == "person1@agency.example"
    assert body["record"]["family_name"] == "Santos" and body["record"]["external_id"] == "EMP-1"
    assert [h["to_status"] for h in body["history"]][-2:] == ["assessed", "certified"]
    (assessment,) = body["assessments"]
    assert assessment["id"] == assessment_id and assessment["outcome"] == "certified"
    assert len(assessment["scores"]) == 15 and len(assessment["score_changes"]) == 15
    assert assessment["result"]["passed_count"] == 5
    assert [c["serial"] for c in body["certificates"]] == [serial]
    assert {e["type"] for e in body["events"]} >= {"candidate.created", "candidate.transitioned"}
    operations = [(a["entity_id"], a["operation"]) for a in body["audit"]]
    assert (cid, "candidate.create") in operations
    assert operations.count((assessment_id, "score.write")) == 15
    assert (assessment_id, "assessment.release") in operations
    assert (serial, "certificate.issue") in operations
    assert operations[-1] == (cid, "read")  # this very export is on record


async def test_personal_data_is_for_staff_and_the_candidates_own_agency(
    client: AsyncClient, session: AsyncSession
) -> None:
    doh = await auth_headers(session, Role.agency, await make_agency(session, "DOH"))
    dbm = await auth_headers(session, Role.agency, await make_agency(session, "DBM", "Budget"))
    reader = await auth_headers(session, Role.reader)
    cid = (await client.put("/v1/agencies/DOH/candidates/E1", json=person(1), headers=doh)).json()[
        "id"
    ]
    assert (await client.get(f"/v1/candidates/{cid}/personal-data", headers=doh)).status_code == 200
    assert (await client.get(f"/v1/candidates/{cid}/personal-data", headers=dbm)).status_code == 404
    assert (
        await client.get(f"/v1/candidates/{cid}/personal-data", headers=reader)
    ).status_code == 403


async def test_erasure_anonymizes_keeps_results_and_revokes_the_certificate(
    client: AsyncClient, session: AsyncSession
) -> None:
    cid, assessment_id, serial, staff = await _certified(client, session)
    admin = await auth_headers(session, Role.admin)
    assert (
        await client.post(f"/v1/candidates/{cid}/erasure", json={"reason": "x"}, headers=staff)
    ).status_code == 403
    missing = await client.post(f"/v1/candidates/{cid}/erasure", json={}, headers=admin)
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "body.reason"

    erased = await client.post(
        f"/v1/candidates/{cid}/erasure", json={"reason": "DPO request 118"}, headers=admin
    )
    assert erased.status_code == 200, erased.text
    body = erased.json()
    assert body["revoked_certificates"] == [serial] and body["erased_at"]
    out = body["candidate"]
    assert (out["given_name"], out["family_name"]) == ("Erased", "Erased")
    assert out["email"] is None and out["position_title"] is None and out["external_id"] is None
    assert out["status"] == "certified" and out["salary_grade"] == 22

    certificate = (await client.get(f"/v1/certificates/{serial}")).json()
    assert certificate["holder_name"] == "Erased" and certificate["status"] == "revoked"
    assert certificate["revocation_reason"] == ERASURE_REVOCATION_REASON
    result = await client.get(f"/v1/assessments/{assessment_id}/result", headers=staff)
    assert result.status_code == 200 and result.json()["passed_count"] == 5

    # The trail records both, with the reason and the field names, never the erased values.
    entries = (
        await session.scalars(
            select(AuditEntry)
            .where(AuditEntry.operation.in_(["candidate.erase", "certificate.revoke"]))
            .where(AuditEntry.entity_id.in_([cid, serial]))
        )
    ).all()
    by_op = {e.operation: e for e in entries}
    assert by_op["certificate.revoke"].after == {
        "status": "revoked",
        "reason": ERASURE_REVOCATION_REASON,
    }
    erase = by_op["candidate.erase"]
    assert erase.after is not None and erase.after["reason"] == "DPO request 118"
    assert set(erase.after["erased_fields"]) >= {
        "given_name",
        "family_name",
        "email",
        "external_id",
    }
    assert "Santos" not in str(erase.after) and erase.before is None

    last = await session.scalar(
        select(CandidateEvent)
        .where(CandidateEvent.candidate_id == cid)
        .order_by(CandidateEvent.position.desc())
        .limit(1)
    )
    assert last is not None and last.type == "candidate.updated" and last.data["erased"] is True

    again = await client.post(f"/v1/candidates/{cid}/erasure", json={"reason": "x"}, headers=admin)
    assert again.status_code == 409
    refill = await client.patch(
        f"/v1/candidates/{cid}", json={"email": "m@x.example"}, headers=admin
    )
    assert refill.status_code == 409
    # The employee id was released: the agency syncing the same employee makes a new record.
    resync = await client.put("/v1/agencies/DOH/candidates/EMP-1", json=person(1), headers=admin)
    assert resync.status_code == 201 and resync.json()["id"] != cid


async def test_retention_sweep_anonymizes_only_inactive_candidates_past_the_period(
    client: AsyncClient, session: AsyncSession
) -> None:
    staff = await auth_headers(session, Role.staff)
    await make_agency(session, "DOH")
    ids = {}
    for n, name in enumerate(["old_withdrawn", "new_withdrawn", "old_active"], start=1):
        ids[name] = (
            await client.put(f"/v1/agencies/DOH/candidates/R{n}", json=person(n), headers=staff)
        ).json()["id"]
    for name in ("old_withdrawn", "new_withdrawn"):
        step = await client.post(
            f"/v1/candidates/{ids[name]}/transitions",
            json={"to": "withdrawn", "reason": "left the service"},
            headers=staff,
        )
        assert step.status_code == 201, step.text
    long_ago = utcnow() - timedelta(days=40)
    await session.execute(
        update(Candidate)
        .where(Candidate.id.in_([ids["old_withdrawn"], ids["old_active"]]))
        .values(updated_at=long_ago)
    )

    assert await sweep_retention(session, 0) == 0  # the default keeps everyone
    assert await sweep_retention(session, 30) == 1
    assert await sweep_retention(session, 30) == 0  # erased ones are not erased again
    rows = {
        str(c.id): c
        for c in (
            await session.scalars(select(Candidate).where(Candidate.id.in_(ids.values())))
        ).all()
    }
    assert rows[ids["old_withdrawn"]].family_name == "Erased"
    assert rows[ids["old_withdrawn"]].erased_at is not None
    assert rows[ids["new_withdrawn"]].family_name == "Family2"
    assert rows[ids["old_active"]].family_name == "Family3"
    entry = await session.scalar(
        select(AuditEntry).where(
            AuditEntry.entity_id == ids["old_withdrawn"], AuditEntry.operation == "candidate.erase"
        )
    )
    assert entry is not None and entry.actor_name == "system" and entry.actor_key_id is None
    assert entry.after is not None and "30 days" in entry.after["reason"]
