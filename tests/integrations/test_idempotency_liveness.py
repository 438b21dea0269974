"""An ``Idempotency-Key`` claim is "in progress" exactly while the process holding it lives.

The claims here are the ones a first request leaves behind (same key, same body); the owners
are real ``ClaimOwner`` heartbeats, or owner rows whose heartbeat stopped at a known time, as
a killed process leaves them. ``tests/integrations/test_idempotency_crash.py`` kills a real
``cpro serve``."""

import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from httpx import AsyncClient
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.candidates.models import Candidate
from app.core.claim_owner import DEAD_AFTER, ClaimOwner, IdempotencyOwner
from app.core.database import create_sessionmaker
from app.core.idempotency import RETENTION, IdempotencyRecord
from app.core.settings import Settings
from tests.factories import committed_agency_with_keys, person

PATH = "/v1/candidates"


@pytest.fixture
async def owner(database_url: str, settings: Settings) -> AsyncIterator[ClaimOwner]:
    claim_owner = ClaimOwner(database_url, settings)
    claim_owner.start()
    yield claim_owner
    claim_owner.stop()


async def _leave_claim(
    engine: AsyncEngine,
    headers: dict[str, str],
    key: str,
    body: bytes,
    owner: uuid.UUID | None,
    age: timedelta,
) -> None:
    """The record a first request with ``key`` and ``body`` made and never finished."""
    async with create_sessionmaker(engine)() as session, session.begin():
        now = await session.scalar(select(func.now()))
        assert now is not None
        session.add(
            IdempotencyRecord(
                caller=hashlib.sha256(b"caller:" + headers["Authorization"].encode()).hexdigest(),
                key=key,
                method="POST",
                path=PATH,
                request_hash=hashlib.sha256(b"POST " + PATH.encode() + b"?\n" + body).hexdigest(),
                created_at=now - age,
                expires_at=now + RETENTION,
                owner=owner,
            )
        )


async def _owner_last_seen(engine: AsyncEngine, ago: timedelta) -> uuid.UUID:
    """An owner row as a process killed ``ago`` leaves it: its heartbeat stopped then."""
    owner_id = uuid.uuid4()
    async with create_sessionmaker(engine)() as session, session.begin():
        now = await session.scalar(select(func.now()))
        assert now is not None
        session.add(IdempotencyOwner(id=owner_id, heartbeat_at=now - ago))
    return owner_id


async def _retry(
    client: AsyncClient, admin: dict[str, str], key: str, body: bytes
) -> tuple[int, str | None]:
    response = await client.post(
        PATH,
        content=body,
        headers=admin | {"Idempotency-Key": key, "Content-Type": "application/json"},
    )
    return response.status_code, response.json().get("type")


async def _stored(engine: AsyncEngine, family: str) -> int:
    async with engine.connect() as connection:
        count = await connection.scalar(
            select(func.count()).select_from(Candidate).where(Candidate.family_name == family)
        )
    return count or 0


async def test_a_live_owners_claim_stays_in_progress_however_old(
    live_client: AsyncClient, engine: AsyncEngine, owner: ClaimOwner
) -> None:
    code, admin, _ = await committed_agency_with_keys(engine)
    family = f"Live{code}"
    body = json.dumps({"agency": code, **person(1, family_name=family)}).encode()
    key = str(uuid.uuid4())
    # A long request (a big batch on a slow day): five minutes, its process still beating.
    await _leave_claim(engine, admin, key, body, owner.id, age=timedelta(minutes=5))
    status, problem = await _retry(live_client, admin, key, body)
    assert (status, problem) == (409, "urn:cpro:problem:idempotency-key-in-progress")
    assert await _stored(engine, family) == 0


async def test_a_claim_whose_owner_stopped_beating_is_taken_over(
    live_client: AsyncClient, engine: AsyncEngine
) -> None:
    code, admin, _ = await committed_agency_with_keys(engine)
    recent = await _owner_last_seen(engine, DEAD_AFTER - timedelta(seconds=3))
    dead = await _owner_last_seen(engine, DEAD_AFTER + timedelta(seconds=1))
    for n, (owner_id, expected) in enumerate(((recent, 409), (dead, 201))):
        family = f"Crash{n}{code}"
        body = json.dumps({"agency": code, **person(n, family_name=family)}).encode()
        key = str(uuid.uuid4())
        await _leave_claim(engine, admin, key, body, owner_id, age=timedelta(seconds=8))
        status, _ = await _retry(live_client, admin, key, body)
        assert status == expected, (n, status)
        assert await _stored(engine, family) == (1 if expected == 201 else 0)
        if expected == 201:  # and from then on the retry's response is the one replayed
            again = await live_client.post(
                PATH,
                content=body,
                headers=admin | {"Idempotency-Key": key, "Content-Type": "application/json"},
            )
            assert again.status_code == 201
            assert again.headers["idempotent-replayed"] == "true"
            assert await _stored(engine, family) == 1


async def test_an_owner_that_stops_cleanly_frees_its_claims_at_once(
    live_client: AsyncClient, engine: AsyncEngine, database_url: str, settings: Settings
) -> None:
    code, admin, _ = await committed_agency_with_keys(engine)
    family = f"Stop{code}"
    body = json.dumps({"agency": code, **person(1, family_name=family)}).encode()
    key = str(uuid.uuid4())
    claim_owner = ClaimOwner(database_url, settings)
    claim_owner.start()
    await _leave_claim(engine, admin, key, body, claim_owner.id, age=timedelta(0))
    assert (await _retry(live_client, admin, key, body))[0] == 409
    claim_owner.stop()
    async with engine.connect() as connection:
        left = await connection.scalar(
            text("SELECT count(*) FROM idempotency_owner WHERE id = :id"), {"id": claim_owner.id}
        )
    assert left == 0
    assert (await _retry(live_client, admin, key, body))[0] == 201
    assert await _stored(engine, family) == 1
