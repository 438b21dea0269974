"""A key in use by a long transaction (a cohort release) does not hold up the key's other
requests: recording "last used" never waits for another transaction's lock."""

import asyncio

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth.models import ApiKey
from app.auth.service import authenticate, digest_of
from app.core.database import create_sessionmaker, utcnow
from tests.factories import committed_agency_with_keys


async def test_a_request_with_a_key_held_by_a_long_transaction_does_not_wait(
    engine: AsyncEngine,
) -> None:
    _, admin, _ = await committed_agency_with_keys(engine)
    secret = admin["Authorization"].removeprefix("Bearer ")
    sessions = create_sessionmaker(engine)
    async with sessions() as long_running, sessions() as other:
        # The long transaction has recorded its own use of the key and not committed yet.
        await long_running.execute(
            update(ApiKey).where(ApiKey.digest == digest_of(secret)).values(last_used_at=utcnow())
        )
        caller = await asyncio.wait_for(authenticate(other, secret), timeout=5)
        assert caller is not None
        await other.commit()
        await long_running.rollback()
    async with sessions() as check:
        used = await check.scalar(
            select(ApiKey.last_used_at).where(ApiKey.digest == digest_of(secret))
        )
    assert used is None  # the long one rolled back; the other skipped its lock
