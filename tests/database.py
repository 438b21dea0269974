"""A real PostgreSQL for the tests: the embedded one, or the server at CPRO_TEST_DATABASE_URL.

Each test run gets its own freshly created database on that server, dropped at the end.
"""

import asyncio
import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from app.core.database import asyncpg_url


def server_url() -> str:
    """A URL of the test server (any database on it); starts the embedded one if needed."""
    external = os.environ.get("CPRO_TEST_DATABASE_URL")
    if external:
        return external
    from app.core.embedded import start_embedded_postgres

    data_dir = Path(
        os.environ.get("CPRO_TEST_DATA_DIR", Path(tempfile.gettempdir()) / "cpro-test-pg")
    )
    return start_embedded_postgres(data_dir)


def _plain_dsn(url: str, database: str) -> str:
    parsed = make_url(asyncpg_url(url)).set(drivername="postgresql", database=database)
    return parsed.render_as_string(hide_password=False)


async def _admin(url: str, sql: str) -> None:
    dsn = _plain_dsn(url, make_url(asyncpg_url(url)).database or "postgres")
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@contextmanager
def fresh_database(prefix: str = "cpro_test") -> Iterator[str]:
    """Create an empty database and yield its URL; drop it afterwards."""
    url = server_url()
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(url, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(asyncpg_url(url)).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
