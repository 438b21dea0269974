"""Fixtures: one migrated database per run, one rolled-back transaction per test.

The schema is built by running the migrations (as production does) and the reference data is
loaded once; each test then runs inside a transaction that is rolled back at its end, and the
app's session joins it through savepoints, so a route's commit is real to the test but never
outlives it.
"""

import asyncio
import io
import logging
from collections.abc import AsyncIterator, Iterator

import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.bootstrap import migrate, prepare
from app.core.database import create_engine, create_sessionmaker, get_session
from app.core.logging import JsonFormatter
from app.core.settings import Settings
from app.main import create_app
from tests.database import fresh_database


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=tmp_path_factory.mktemp("cpro-data"),
        database_url=None,
        log_level="INFO",
        cors_origins=[],
        webhook_allow_private_targets=True,  # the tests' receivers listen on 127.0.0.1
        webhook_timeout_seconds=2.0,
        # Off unless a test turns them on (tests/core/test_rate_limits.py): the suite makes
        # far more requests a minute than any caller should.
        rate_limit_anonymous=0,
        rate_limit_key=0,
    )


@pytest.fixture(scope="session")
def database_url(settings: Settings) -> Iterator[str]:
    with fresh_database() as url:
        migrate(url)
        asyncio.run(prepare(url, settings))
        yield url


@pytest.fixture(scope="session")
async def engine(database_url: str, settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, settings)
    yield engine
    await engine.dispose()


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    async with engine.connect() as connection:
        transaction = await connection.begin()
        session = AsyncSession(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        try:
            yield session
        finally:
            await session.close()
            await transaction.rollback()


@pytest.fixture
async def app(engine: AsyncEngine, session: AsyncSession, settings: Settings):  # type: ignore[no-untyped-def]
    app = create_app(settings)
    app.state.engine = engine
    app.state.sessionmaker = create_sessionmaker(engine)

    async def test_session() -> AsyncIterator[AsyncSession]:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()

    app.dependency_overrides[get_session] = test_session
    return app


@pytest.fixture
async def client(app) -> AsyncIterator[AsyncClient]:  # type: ignore[no-untyped-def]
    transport = ASGITransport(app=app, raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
async def live_app(engine: AsyncEngine, settings: Settings):  # type: ignore[no-untyped-def]
    """The app with its real unit of work: every request commits. For concurrency tests, which
    need several transactions at once; whatever they write must use a fresh agency code."""
    app = create_app(settings)
    app.state.engine = engine
    app.state.sessionmaker = create_sessionmaker(engine)
    return app


@pytest.fixture
async def live_client(live_app) -> AsyncIterator[AsyncClient]:  # type: ignore[no-untyped-def]
    transport = ASGITransport(app=live_app, raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
def access_log() -> Iterator[io.StringIO]:
    """The access lines (``cpro.access``) written while the test runs, as JSON text."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("cpro.access")
    logger.addHandler(handler)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
