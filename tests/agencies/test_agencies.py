from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.roles import Role
from tests.factories import auth_headers


async def test_put_creates_then_updates(client: AsyncClient, session: AsyncSession) -> None:
    admin = await auth_headers(session, Role.admin)
    created = await client.put("/v1/agencies/DBM", json={"name": "Dept of Budget"}, headers=admin)
    assert created.status_code == 201
    assert created.json()["code"] == "DBM"
    updated = await client.put(
        "/v1/agencies/DBM", json={"name": "Department of Budget and Management"}, headers=admin
    )
    assert updated.status_code == 200
    assert updated.json()["name"] == "Department of Budget and Management"
    again = await client.put(
        "/v1/agencies/DBM", json={"name": "Department of Budget and Management"}, headers=admin
    )
    assert again.status_code == 200


async def test_only_admin_puts_agencies(client: AsyncClient, session: AsyncSession) -> None:
    staff = await auth_headers(session, Role.staff)
    response = await client.put("/v1/agencies/DBM", json={"name": "x"}, headers=staff)
    assert response.status_code == 403


async def test_bad_code_and_empty_name_are_422(client: AsyncClient, session: AsyncSession) -> None:
    admin = await auth_headers(session, Role.admin)
    response = await client.put("/v1/agencies/bad code!", json={"name": "  "}, headers=admin)
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {"path.code", "body.name"}


async def test_list_is_ordered_by_code_and_paged(
    client: AsyncClient, session: AsyncSession
) -> None:
    admin = await auth_headers(session, Role.admin)
    for code in ["ZZA", "ZZC", "ZZB"]:
        await client.put(f"/v1/agencies/{code}", json={"name": code}, headers=admin)
    first = (await client.get("/v1/agencies", params={"limit": 1}, headers=admin)).json()
    codes = [first["items"][0]["code"]]
    cursor = first["next_cursor"]
    while cursor:
        page = (
            await client.get("/v1/agencies", params={"limit": 1, "cursor": cursor}, headers=admin)
        ).json()
        codes += [a["code"] for a in page["items"]]
        cursor = page["next_cursor"]
    assert codes == sorted(codes)
    assert {"ZZA", "ZZB", "ZZC"} <= set(codes)


async def test_limit_over_200_is_422(client: AsyncClient, session: AsyncSession) -> None:
    admin = await auth_headers(session, Role.admin)
    response = await client.get("/v1/agencies", params={"limit": 201}, headers=admin)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "query.limit"


async def test_forged_cursor_is_422(client: AsyncClient, session: AsyncSession) -> None:
    admin = await auth_headers(session, Role.admin)
    response = await client.get("/v1/agencies", params={"cursor": "not-a-cursor"}, headers=admin)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "query.cursor"
