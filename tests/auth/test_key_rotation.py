"""Rotating keys with an overlap, expiry, and the last-used stamp."""

from datetime import timedelta

from httpx import AsyncClient
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import ApiKey
from app.auth.roles import Role
from app.core.database import utcnow
from tests.factories import auth_headers, make_agency


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


async def test_rotation_gives_a_twin_key_and_the_old_one_works_until_the_overlap_ends(
    client: AsyncClient, session: AsyncSession
) -> None:
    admin = await auth_headers(session, Role.admin)
    await make_agency(session, "DOH")
    old = (
        await client.post(
            "/v1/api-keys",
            json={"role": "agency", "agency": "DOH", "name": "DOH HRIS"},
            headers=admin,
        )
    ).json()
    rotated = await client.post(
        f"/v1/api-keys/{old['id']}/rotate", json={"overlap_seconds": 3600}, headers=admin
    )
    assert rotated.status_code == 201, rotated.text
    new = rotated.json()
    assert (new["role"], new["agency"], new["name"]) == ("agency", "DOH", "DOH HRIS")
    assert new["id"] != old["id"] and new["key"] != old["key"] and new["expires_at"] is None

    # Both work during the overlap.
    for secret in (old["key"], new["key"]):
        assert (await client.get("/v1/candidates", headers=_bearer(secret))).status_code == 200
    listed = {
        k["id"]: k
        for k in (await client.get("/v1/api-keys?limit=200", headers=admin)).json()["items"]
    }
    ends = listed[old["id"]]["expires_at"]
    assert ends is not None

    # When the overlap is over, the old key is refused and the new one still works.
    await session.execute(
        update(ApiKey)
        .where(ApiKey.id == old["id"])
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    await session.commit()
    assert (await client.get("/v1/candidates", headers=_bearer(old["key"]))).status_code == 401
    assert (await client.get("/v1/candidates", headers=_bearer(new["key"]))).status_code == 200
    # An expired key cannot be rotated again.
    again = await client.post(f"/v1/api-keys/{old['id']}/rotate", json={}, headers=admin)
    assert again.status_code == 409


async def test_rotation_without_overlap_retires_the_old_key_at_once_and_defaults_to_a_day(
    client: AsyncClient, session: AsyncSession
) -> None:
    admin = await auth_headers(session, Role.admin)
    first = (
        await client.post("/v1/api-keys", json={"role": "reader", "name": "r"}, headers=admin)
    ).json()
    now = await client.post(
        f"/v1/api-keys/{first['id']}/rotate", json={"overlap_seconds": 0}, headers=admin
    )
    assert now.status_code == 201
    assert (await client.get("/v1/agencies", headers=_bearer(first["key"]))).status_code == 401

    second = (
        await client.post("/v1/api-keys", json={"role": "reader", "name": "r2"}, headers=admin)
    ).json()
    before = utcnow()
    assert (
        await client.post(f"/v1/api-keys/{second['id']}/rotate", headers=admin)
    ).status_code == 201
    expires = await session.scalar(select(ApiKey.expires_at).where(ApiKey.id == second["id"]))
    assert expires is not None
    assert timedelta(hours=23, minutes=59) < expires - before <= timedelta(days=1, seconds=5)


async def test_rotation_input_is_checked(client: AsyncClient, session: AsyncSession) -> None:
    admin = await auth_headers(session, Role.admin)
    staff = await auth_headers(session, Role.staff)
    key = (
        await client.post("/v1/api-keys", json={"role": "reader", "name": "r"}, headers=admin)
    ).json()
    too_long = await client.post(
        f"/v1/api-keys/{key['id']}/rotate", json={"overlap_seconds": 604_801}, headers=admin
    )
    assert too_long.status_code == 422
    assert too_long.json()["errors"][0]["field"] == "body.overlap_seconds"
    assert (await client.post(f"/v1/api-keys/{key['id']}/rotate", headers=staff)).status_code == 403
    missing = "/v1/api-keys/00000000-0000-0000-0000-000000000000/rotate"
    assert (await client.post(missing, headers=admin)).status_code == 404
    await client.delete(f"/v1/api-keys/{key['id']}", headers=admin)
    assert (await client.post(f"/v1/api-keys/{key['id']}/rotate", headers=admin)).status_code == 409
    # The refused rotations created no key.
    items = (await client.get("/v1/api-keys?limit=200", headers=admin)).json()["items"]
    assert [k["name"] for k in items].count("r") == 1


async def test_last_used_at_is_stamped_on_use(client: AsyncClient, session: AsyncSession) -> None:
    admin = await auth_headers(session, Role.admin)
    key = (
        await client.post("/v1/api-keys", json={"role": "reader", "name": "r"}, headers=admin)
    ).json()
    assert key["last_used_at"] is None
    started = utcnow()
    assert (await client.get("/v1/agencies", headers=_bearer(key["key"]))).status_code == 200
    used = await session.scalar(select(ApiKey.last_used_at).where(ApiKey.id == key["id"]))
    assert used is not None and used >= started - timedelta(seconds=1)
