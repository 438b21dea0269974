import hashlib

from httpx import AsyncClient
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import ApiKey
from app.auth.roles import Role
from tests.factories import auth_headers, make_agency

PROBLEM = "application/problem+json"


async def test_missing_key_is_a_401_problem(client: AsyncClient) -> None:
    response = await client.get("/v1/agencies")
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["type"] == "urn:cpro:problem:unauthorized"


async def test_wrong_key_is_a_401_problem(client: AsyncClient) -> None:
    response = await client.get("/v1/agencies", headers={"Authorization": "Bearer cpro_not-a-key"})
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    assert "unknown or revoked" in response.json()["detail"]


async def test_non_bearer_authorization_is_refused(client: AsyncClient) -> None:
    response = await client.get("/v1/agencies", headers={"Authorization": "Basic YWRtaW46YWRtaW4="})
    assert response.status_code == 401


async def test_admin_creates_a_reader_key_that_works(
    client: AsyncClient, session: AsyncSession
) -> None:
    admin = await auth_headers(session, Role.admin)
    created = await client.post(
        "/v1/api-keys", json={"role": "reader", "name": "integrator"}, headers=admin
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["role"] == "reader" and body["agency"] is None and body["id"]
    assert body["key"].startswith("cpro_") and len(body["key"]) >= 5 + 43

    reader = {"Authorization": f"Bearer {body['key']}"}
    assert (await client.get("/v1/agencies", headers=reader)).status_code == 200


async def test_reader_may_not_create_keys(client: AsyncClient, session: AsyncSession) -> None:
    reader = await auth_headers(session, Role.reader)
    response = await client.post(
        "/v1/api-keys", json={"role": "admin", "name": "x"}, headers=reader
    )
    assert response.status_code == 403
    assert response.headers["content-type"] == PROBLEM
    assert "reader" in response.json()["detail"]


async def test_only_a_digest_of_the_key_is_stored(
    client: AsyncClient, session: AsyncSession
) -> None:
    admin = await auth_headers(session, Role.admin)
    body = (
        await client.post("/v1/api-keys", json={"role": "staff", "name": "s"}, headers=admin)
    ).json()
    stored = await session.get(ApiKey, __import__("uuid").UUID(body["id"]))
    assert stored is not None
    assert stored.digest == hashlib.sha256(body["key"].encode()).digest()
    row = (
        await session.execute(text("SELECT * FROM api_key WHERE id = :id"), {"id": stored.id})
    ).one()
    assert all(body["key"] not in str(value) for value in row)


async def test_agency_key_needs_an_existing_agency(
    client: AsyncClient, session: AsyncSession
) -> None:
    admin = await auth_headers(session, Role.admin)
    missing = await client.post(
        "/v1/api-keys", json={"role": "agency", "name": "hris"}, headers=admin
    )
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "body.agency"

    unknown = await client.post(
        "/v1/api-keys", json={"role": "agency", "agency": "NOPE", "name": "hris"}, headers=admin
    )
    assert unknown.status_code == 422

    await make_agency(session, "DOH")
    created = await client.post(
        "/v1/api-keys", json={"role": "agency", "agency": "DOH", "name": "hris"}, headers=admin
    )
    assert created.status_code == 201
    assert created.json()["agency"] == "DOH"


async def test_unknown_role_and_extra_fields_are_422(
    client: AsyncClient, session: AsyncSession
) -> None:
    admin = await auth_headers(session, Role.admin)
    response = await client.post(
        "/v1/api-keys", json={"role": "root", "name": "x", "extra": 1}, headers=admin
    )
    assert response.status_code == 422
    fields = {error["field"] for error in response.json()["errors"]}
    assert fields == {"body.role", "body.extra"}
    assert (await session.scalar(select(ApiKey).where(ApiKey.name == "x"))) is None


async def test_revoked_key_gets_401(client: AsyncClient, session: AsyncSession) -> None:
    admin = await auth_headers(session, Role.admin)
    body = (
        await client.post("/v1/api-keys", json={"role": "reader", "name": "r"}, headers=admin)
    ).json()
    revoked = await client.delete(f"/v1/api-keys/{body['id']}", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    response = await client.get("/v1/agencies", headers={"Authorization": f"Bearer {body['key']}"})
    assert response.status_code == 401


async def test_revoking_an_unknown_key_is_404(client: AsyncClient, session: AsyncSession) -> None:
    admin = await auth_headers(session, Role.admin)
    response = await client.delete(
        "/v1/api-keys/00000000-0000-4000-8000-000000000000", headers=admin
    )
    assert response.status_code == 404


async def test_key_list_pages_with_a_cursor_and_never_shows_secrets(
    client: AsyncClient, session: AsyncSession
) -> None:
    admin = await auth_headers(session, Role.admin)
    for n in range(4):
        await client.post("/v1/api-keys", json={"role": "reader", "name": f"r{n}"}, headers=admin)
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/v1/api-keys", params=params, headers=admin)).json()
        assert len(page["items"]) <= 2
        assert all("key" not in item for item in page["items"])
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) >= 5
