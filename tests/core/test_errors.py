import logging

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.roles import Role
from tests.factories import auth_headers

PROBLEM = "application/problem+json"


async def test_unknown_route_is_a_404_problem(client: AsyncClient) -> None:
    response = await client.get("/v1/no-such-thing")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["type"] == "urn:cpro:problem:not-found"
    assert body["status"] == 404 and body["title"] and body["instance"] == "/v1/no-such-thing"


async def test_wrong_method_is_a_405_problem(client: AsyncClient) -> None:
    response = await client.patch("/healthz")
    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM


async def test_malformed_json_is_a_400_problem(client: AsyncClient, session: AsyncSession) -> None:
    admin = await auth_headers(session, Role.admin)
    response = await client.post(
        "/v1/api-keys",
        content=b'{"role": "reader", ',
        headers={**admin, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"] == "urn:cpro:problem:malformed-json"


async def test_validation_problem_lists_every_field(
    client: AsyncClient, session: AsyncSession
) -> None:
    admin = await auth_headers(session, Role.admin)
    response = await client.post("/v1/api-keys", json={"role": 5}, headers=admin)
    assert response.status_code == 422
    body = response.json()
    assert body["type"] == "urn:cpro:problem:validation-error"
    assert {e["field"] for e in body["errors"]} == {"body.role", "body.name"}
    assert all(e["message"] for e in body["errors"])


@pytest.fixture
def failing_app(app: FastAPI) -> FastAPI:
    @app.get("/v1/test-explodes", include_in_schema=False)
    async def explode() -> None:
        raise RuntimeError("secret internals: password=hunter2")

    return app


async def test_unexpected_error_is_a_500_problem_with_the_logged_request_id(
    failing_app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    transport = ASGITransport(app=failing_app, raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://testserver") as client:
        with caplog.at_level(logging.ERROR):
            response = await client.get("/v1/test-explodes", headers={"X-Request-ID": "req-42"})
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["request_id"] == "req-42" == response.headers["x-request-id"]
    assert "hunter2" not in response.text and "Traceback" not in response.text
    logged = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert any(getattr(r, "request_id", None) == "req-42" for r in logged)


async def test_request_id_is_generated_when_absent_or_unsafe(client: AsyncClient) -> None:
    generated = await client.get("/healthz")
    assert len(generated.headers["x-request-id"]) == 32
    unsafe = await client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert unsafe.headers["x-request-id"] != "bad id\twith spaces"
