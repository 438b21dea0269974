"""The audit trail: changes with before/after, reads without values, admin-only paging, and
append-only enforced by the database itself."""

import pytest
from httpx import AsyncClient
from sqlalchemy import insert, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.audit.models import AuditEntry
from app.auth.models import ApiKey
from app.auth.roles import Role
from app.frameworks.models import Framework, FrameworkVersion
from tests.factories import auth_headers, make_agency, person
from tests.frameworks.documents import SLUG, framework_document


async def _entries(client: AsyncClient, admin: dict[str, str], **params: str) -> list[dict]:  # type: ignore[type-arg]
    items: list[dict] = []  # type: ignore[type-arg]
    cursor = None
    while True:
        query = {"limit": "3", **params} | ({"cursor": cursor} if cursor else {})
        response = await client.get("/v1/audit", params=query, headers=admin)
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


async def test_candidate_changes_and_reads_are_audited_with_who_and_what(
    client: AsyncClient, session: AsyncSession
) -> None:
    admin = await auth_headers(session, Role.admin)
    hris = await auth_headers(session, Role.agency, await make_agency(session, "DOH"))
    created = await client.put("/v1/agencies/DOH/candidates/E1", json=person(1), headers=hris)
    cid = created.json()["id"]
    await client.put(
        "/v1/agencies/DOH/candidates/E1", json=person(1, salary_grade=24), headers=hris
    )
    await client.patch(f"/v1/candidates/{cid}", json={"email": "new@agency.example"}, headers=hris)
    await client.post(
        f"/v1/candidates/{cid}/transitions", json={"to": "oriented", "reason": "x"}, headers=admin
    )
    await client.get(f"/v1/candidates/{cid}", headers=hris)
    await client.get("/v1/candidates", headers=hris)

    entries = await _entries(client, admin, entity_id=cid)
    assert [e["operation"] for e in entries] == [
        "candidate.create",
        "candidate.update",
        "candidate.update",
        "candidate.transition",
        "read",
        "read",
    ]
    create, sync, patch, step, read, listed = entries
    hris_key = await session.scalar(select(ApiKey.id).where(ApiKey.name == "test agency"))
    assert create["actor_key_id"] == str(hris_key) and create["actor_name"] == "test agency"
    assert create["before"] is None and create["after"]["family_name"] == "Family1"
    assert sync["before"] == {"salary_grade": 22} and sync["after"] == {"salary_grade": 24}
    assert patch["before"] == {"email": "person1@agency.example"}
    assert patch["after"] == {"email": "new@agency.example"}
    assert step["before"] == {"status": "registered"} and step["after"] == {"status": "oriented"}
    assert step["actor_name"] == "test admin"
    # Reads say who read whom, never what they saw.
    assert read["before"] is None and read["after"] is None and listed["after"] is None
    assert all(e["entity_type"] == "candidate" and e["request_id"] for e in entries)

    by_actor = await _entries(client, admin, actor=str(hris_key))
    assert {e["entity_id"] for e in by_actor} >= {cid}
    assert all(e["actor_key_id"] == str(hris_key) for e in by_actor)


async def test_key_agency_certificate_and_webhook_changes_are_audited(
    client: AsyncClient, session: AsyncSession
) -> None:
    admin = await auth_headers(session, Role.admin)
    agency = await client.put("/v1/agencies/DBM", json={"name": "Budget"}, headers=admin)
    assert agency.status_code == 201
    await client.put("/v1/agencies/DBM", json={"name": "Dept. of Budget"}, headers=admin)
    key = (
        await client.post("/v1/api-keys", json={"role": "reader", "name": "r"}, headers=admin)
    ).json()
    await client.delete(f"/v1/api-keys/{key['id']}", headers=admin)
    hook = (
        await client.post(
            "/v1/webhook-subscriptions",
            json={"url": "http://127.0.0.1:9/hook", "events": ["candidate.created"]},
            headers=admin,
        )
    ).json()
    await client.delete(f"/v1/webhook-subscriptions/{hook['id']}", headers=admin)

    assert [
        (e["operation"], e["before"], e["after"])
        for e in await _entries(client, admin, entity_id="DBM")
    ] == [
        ("agency.create", None, {"name": "Budget"}),
        ("agency.rename", {"name": "Budget"}, {"name": "Dept. of Budget"}),
    ]
    assert [e["operation"] for e in await _entries(client, admin, entity_id=key["id"])] == [
        "api_key.create",
        "api_key.revoke",
    ]
    assert [e["operation"] for e in await _entries(client, admin, entity_id=hook["id"])] == [
        "webhook_subscription.create",
        "webhook_subscription.delete",
    ]


async def test_audit_filters_by_time_and_is_admin_only(
    client: AsyncClient, session: AsyncSession
) -> None:
    admin = await auth_headers(session, Role.admin)
    staff = await auth_headers(session, Role.staff)
    assert (await client.get("/v1/audit", headers=staff)).status_code == 403
    await client.put("/v1/agencies/NEDA", json={"name": "NEDA"}, headers=admin)
    (entry,) = await _entries(client, admin, entity_id="NEDA")
    assert await _entries(client, admin, entity_id="NEDA", **{"from": entry["at"]}) == [entry]
    assert await _entries(client, admin, entity_id="NEDA", to=entry["at"]) == []
    bad = await client.get("/v1/audit", params={"from": "yesterday"}, headers=admin)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "query.from"


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_entry SET actor_name = 'x'", "DELETE FROM audit_entry", "TRUNCATE audit_entry"],
)
async def test_the_database_refuses_to_change_or_delete_audit_entries(
    engine: AsyncEngine, statement: str
) -> None:
    async with engine.connect() as connection:
        transaction = await connection.begin()
        try:
            await connection.execute(
                insert(AuditEntry).values(
                    actor_name="test", operation="read", entity_type="candidate", entity_id="x"
                )
            )
            with pytest.raises(DBAPIError, match="append-only"):
                await connection.execute(text(statement))
        finally:
            await transaction.rollback()


async def test_framework_authoring_is_audited(client: AsyncClient, session: AsyncSession) -> None:
    staff = await auth_headers(session, Role.staff)
    admin = await auth_headers(session, Role.admin)
    assert (
        await client.post("/v1/frameworks", json=framework_document(), headers=staff)
    ).status_code == 201
    await client.put(
        f"/v1/frameworks/{SLUG}/versions/1", json=framework_document(notes="v2"), headers=staff
    )
    await client.post(f"/v1/frameworks/{SLUG}/versions/1/publish", headers=staff)
    version_id = await session.scalar(
        select(FrameworkVersion.id)
        .join(Framework, Framework.id == FrameworkVersion.framework_id)
        .where(Framework.slug == SLUG, FrameworkVersion.version == "1")
    )
    entries = await _entries(client, admin, entity_id=str(version_id))
    assert [(e["operation"], e["actor_name"]) for e in entries] == [
        ("framework_version.create", "test staff"),
        ("framework_version.replace", "test staff"),
        ("framework_version.publish", "test staff"),
    ]
    assert entries[-1]["before"] == {"status": "draft"}
    assert entries[-1]["after"] == {"status": "published"}
