"""The migration that gives certificates issued before it their status list positions."""

import asyncio
import uuid

import asyncpg
from alembic import command
from sqlalchemy.engine import make_url

from app.core.database import asyncpg_url
from app.core.schema_version import alembic_config
from tests.database import fresh_database

BEFORE = "5e0d3c1f9a27"
EXISTING = 500


def plain_dsn(url: str) -> str:
    return (
        make_url(asyncpg_url(url))
        .set(drivername="postgresql")
        .render_as_string(hide_password=False)
    )


async def insert_certificates(url: str) -> None:
    connection = await asyncpg.connect(plain_dsn(url))
    try:
        # Certificates alone, without the candidates and rounds they refer to: this session
        # skips the foreign key triggers.
        await connection.execute("SET session_replication_role = replica")
        await connection.executemany(
            "INSERT INTO certificate (serial, candidate_id, assessment_id, holder_name, issued_on,"
            " status) VALUES ($1, $2, $3, 'Someone', current_date, $4)",
            [
                (f"CPRO-OLD-{n:04d}", uuid.uuid4(), uuid.uuid4(), "revoked" if n % 7 else "valid")
                for n in range(EXISTING)
            ],
        )
    finally:
        await connection.close()


async def positions(url: str) -> list[tuple[int, int]]:
    connection = await asyncpg.connect(plain_dsn(url))
    try:
        rows = await connection.fetch("SELECT status_list, status_index FROM certificate")
    finally:
        await connection.close()
    return [(row["status_list"], row["status_index"]) for row in rows]


def test_certificates_issued_before_get_random_distinct_positions() -> None:
    with fresh_database("cpro_status_migration") as url:
        config = alembic_config(url)
        command.upgrade(config, BEFORE)
        asyncio.run(insert_certificates(url))

        command.upgrade(config, "head")

        given = asyncio.run(positions(url))
        assert len(given) == EXISTING and len(set(given)) == EXISTING
        assert {number for number, _ in given} == {1}
        indexes = sorted(index for _, index in given)
        assert indexes[0] >= 0 and indexes[-1] < 131_072
        # Drawn from the whole list, not numbered 0..499.
        assert indexes[-1] > 10 * EXISTING
        command.downgrade(config, BEFORE)
