import asyncio
import uuid

from httpx import AsyncClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.auth.roles import Role
from app.candidates.models import Candidate
from tests.factories import auth_headers, committed_agency_with_keys, person


async def _count(session: AsyncSession, family_name: str) -> int:
    return (
        await session.scalar(
            select(func.count()).select_from(Candidate).where(Candidate.family_name == family_name)
        )
        or 0
    )


async def test_same_key_and_body_replays_the_first_response(
    client: AsyncClient, session: AsyncSession
) -> None:
    staff = await auth_headers(session, Role.staff)
    key = {"Idempotency-Key": str(uuid.uuid4())}
    body = person(1, family_name="Replayed")
    first = await client.post("/v1/candidates", json=body, headers=staff | key)
    second = await client.post("/v1/candidates", json=body, headers=staff | key)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert second.headers["etag"] == first.headers["etag"]
    assert await _count(session, "Replayed") == 1


async def test_same_key_with_another_body_is_422(
    client: AsyncClient, session: AsyncSession
) -> None:
    staff = await auth_headers(session, Role.staff)
    key = {"Idempotency-Key": str(uuid.uuid4())}
    await client.post("/v1/candidates", json=person(1, family_name="One"), headers=staff | key)
    response = await client.post(
        "/v1/candidates", json=person(1, family_name="Two"), headers=staff | key
    )
    assert response.status_code == 422
    assert response.json()["type"] == "urn:cpro:problem:idempotency-key-reused"
    assert await _count(session, "Two") == 0


async def test_keys_are_scoped_to_the_caller(client: AsyncClient, session: AsyncSession) -> None:
    staff_a = await auth_headers(session, Role.staff)
    staff_b = await auth_headers(session, Role.staff)
    key = {"Idempotency-Key": "shared-key"}
    a = await client.post(
        "/v1/candidates", json=person(1, family_name="Scoped"), headers=staff_a | key
    )
    b = await client.post(
        "/v1/candidates", json=person(1, family_name="Scoped"), headers=staff_b | key
    )
    assert a.status_code == b.status_code == 201
    assert "idempotent-replayed" not in b.headers
    assert a.json()["id"] != b.json()["id"]


async def test_concurrent_retries_make_one_record(
    live_client: AsyncClient, engine: AsyncEngine
) -> None:
    code, admin, _ = await committed_agency_with_keys(engine)
    key = {"Idempotency-Key": str(uuid.uuid4())}
    family = f"Race{code}"
    body = {"agency": code, **person(1, family_name=family)}
    responses = await asyncio.gather(
        *(live_client.post("/v1/candidates", json=body, headers=admin | key) for _ in range(10))
    )
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}, statuses
    created_ids = {r.json()["id"] for r in responses if r.status_code == 201}
    assert len(created_ids) == 1
    in_flight = [r for r in responses if r.status_code == 409]
    assert all(r.headers["retry-after"] == "1" for r in in_flight)
    async with engine.connect() as connection:
        count = await connection.scalar(
            select(func.count()).select_from(Candidate).where(Candidate.family_name == family)
        )
    assert count == 1


async def test_overlong_key_is_400(client: AsyncClient, session: AsyncSession) -> None:
    staff = await auth_headers(session, Role.staff)
    response = await client.post(
        "/v1/candidates", json=person(), headers=staff | {"Idempotency-Key": "k" * 300}
    )
    assert response.status_code == 400
