"""No free database connection: the request waits at most the pool timeout, then gets a 503."""

import time

from httpx import ASGITransport, AsyncClient

from app.core.database import create_engine, create_sessionmaker
from app.core.settings import Settings
from app.main import create_app


async def test_an_exhausted_pool_is_a_503_with_retry_after_not_a_hang(
    database_url: str, settings: Settings
) -> None:
    tight = settings.model_copy(update={"db_pool_size": 1, "db_pool_timeout_seconds": 0.5})
    engine = create_engine(database_url, tight)
    app = create_app(tight)
    app.state.engine = engine
    app.state.sessionmaker = create_sessionmaker(engine)
    try:
        # pool_size 1 and as many again in overflow: two held connections take them all.
        async with engine.connect(), engine.connect():
            transport = ASGITransport(app=app, raise_app_exceptions=False)
            async with AsyncClient(transport=transport, base_url="http://testserver") as client:
                started = time.monotonic()
                response = await client.get("/v1/frameworks")
                waited = time.monotonic() - started
        assert response.status_code == 503, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"] == "urn:cpro:problem:service-unavailable"
        assert int(response.headers["retry-after"]) > 0
        # Once, and the one the problem names.
        assert response.headers.get_list("x-request-id") == [response.json()["request_id"]]
        assert waited < 3, waited
        async with AsyncClient(
            transport=ASGITransport(app=app), base_url="http://testserver"
        ) as client:
            assert (await client.get("/v1/frameworks")).status_code == 200
    finally:
        await engine.dispose()
