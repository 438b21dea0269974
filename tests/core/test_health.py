from httpx import ASGITransport, AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.database import create_engine, create_sessionmaker
from app.core.settings import Settings
from app.main import create_app


async def test_healthz_answers_without_the_database(client: AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_is_200_on_a_migrated_database(client: AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200


async def test_readyz_is_503_when_the_database_is_unreachable(settings: Settings) -> None:
    app = create_app(settings)
    app.state.engine = create_engine("postgresql://nobody@127.0.0.1:1/none", settings)
    app.state.sessionmaker = create_sessionmaker(app.state.engine)
    transport = ASGITransport(app=app, raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/readyz")
    await app.state.engine.dispose()
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) > 0


async def test_readyz_is_503_when_the_schema_is_behind(
    engine: AsyncEngine, settings: Settings
) -> None:
    async with engine.begin() as connection:
        (head,) = (await connection.execute(text("SELECT version_num FROM alembic_version"))).one()
        await connection.execute(text("UPDATE alembic_version SET version_num = 'old'"))
    try:
        app = create_app(settings)
        app.state.engine = engine
        transport = ASGITransport(app=app, raise_app_exceptions=False)
        async with AsyncClient(transport=transport, base_url="http://testserver") as client:
            response = await client.get("/readyz")
        assert response.status_code == 503
        assert "migration head" in response.json()["detail"]
    finally:
        async with engine.begin() as connection:
            await connection.execute(
                text("UPDATE alembic_version SET version_num = :h"), {"h": head}
            )
