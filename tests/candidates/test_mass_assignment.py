"""Mass assignment (OWASP API3): request bodies take only the members their schema names, a
candidate edit cannot reach its agency, status or ids, and each role reads what it should."""

from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.roles import Role
from app.main import create_app
from tests.factories import auth_headers, make_agency, person

# Bodies these routes parse themselves (CSV, CASE JSON), not through a schema of members.
RAW_BODIES = {
    ("post", "/v1/frameworks/{slug}/versions:import"),
    ("post", "/v1/agencies/{agency}/candidates:import"),
}


def _request_schemas(contract: dict[str, Any]) -> dict[str, list[str]]:
    """Every component schema reachable from a request body, with the operations using it."""
    schemas = contract["components"]["schemas"]
    found: dict[str, list[str]] = {}

    def visit(schema: dict[str, Any], operation: str) -> None:
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[1]
            first = name not in found
            found.setdefault(name, []).append(operation)
            if first:
                visit(schemas[name], operation)
            return
        for key in ("anyOf", "oneOf", "allOf"):
            for option in schema.get(key, []):
                visit(option, operation)
        for member in schema.get("properties", {}).values():
            visit(member, operation)
        for key in ("items", "additionalProperties"):
            if isinstance(schema.get(key), dict):
                visit(schema[key], operation)

    for path, operations in contract["paths"].items():
        for method, operation in operations.items():
            for content in operation.get("requestBody", {}).get("content", {}).values():
                if (method, path) not in RAW_BODIES:
                    visit(content["schema"], f"{method.upper()} {path}")
    return found


def test_every_request_body_refuses_members_it_does_not_name() -> None:
    contract = create_app().openapi()
    schemas = contract["components"]["schemas"]
    request_schemas = _request_schemas(contract)
    assert "CandidatePatch" in request_schemas and "ScoreIn" in request_schemas
    open_ones = [
        f"{name} (used by {users[0]})"
        for name, users in request_schemas.items()
        if "properties" in schemas[name] and schemas[name].get("additionalProperties") is not False
    ]
    assert not open_ones, "give these extra='forbid': " + ", ".join(open_ones)


@pytest.mark.parametrize(
    "member",
    [
        {"agency": "DBM"},
        {"status": "certified"},
        {"id": "00000000-0000-0000-0000-000000000001"},
        {"external_id": "EMP-999"},
        {"track": "rpl"},
        {"version": 99},
        {"created_at": "2020-01-01T00:00:00Z"},
    ],
)
async def test_a_candidate_edit_cannot_set_agency_status_or_ids(
    client: AsyncClient, session: AsyncSession, member: dict[str, Any]
) -> None:
    await make_agency(session, "DOH")
    await make_agency(session, "DBM")
    for role in (Role.agency, Role.staff, Role.admin):
        headers = await auth_headers(session, role, "DOH" if role is Role.agency else None)
        created = await client.put(
            f"/v1/agencies/DOH/candidates/EMP-{role.value}", json=person(1), headers=headers
        )
        candidate = created.json()
        response = await client.patch(
            f"/v1/candidates/{candidate['id']}",
            json={"position_title": "Chief Administrative Officer", **member},
            headers=headers,
        )
        assert response.status_code == 422, response.text
        (field,) = member
        assert [e["field"] for e in response.json()["errors"]] == [f"body.{field}"]
        after = (await client.get(f"/v1/candidates/{candidate['id']}", headers=headers)).json()
        assert after == candidate  # nothing changed, not even the other member


# Snapshot of what each role reads of a candidate (GET /v1/candidates/{id}). Today every role
# that may read a candidate sees the same fields: agency keys their own agency's candidates,
# staff and admin all of them. Change this deliberately when a role's view changes.
CANDIDATE_FIELDS = {
    "agency",
    "allowed_transitions",
    "created_at",
    "email",
    "external_id",
    "family_name",
    "given_name",
    "id",
    "position_title",
    "priority",
    "priority_reason",
    "reenrollment_tracks",
    "salary_grade",
    "status",
    "supplemental_deadline",
    "track",
    "updated_at",
    "version",
}
CANDIDATE_FIELDS_BY_ROLE = {
    Role.admin: CANDIDATE_FIELDS,
    Role.staff: CANDIDATE_FIELDS,
    Role.agency: CANDIDATE_FIELDS,
}


async def test_each_role_reads_the_candidate_fields_of_the_snapshot(
    client: AsyncClient, session: AsyncSession
) -> None:
    await make_agency(session, "DOH")
    agency = await auth_headers(session, Role.agency, "DOH")
    cid = (
        await client.put("/v1/agencies/DOH/candidates/EMP-1", json=person(1), headers=agency)
    ).json()["id"]
    seen = {}
    for role in CANDIDATE_FIELDS_BY_ROLE:
        headers = agency if role is Role.agency else await auth_headers(session, role)
        response = await client.get(f"/v1/candidates/{cid}", headers=headers)
        assert response.status_code == 200
        seen[role] = set(response.json())
    assert seen == CANDIDATE_FIELDS_BY_ROLE
