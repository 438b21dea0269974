"""A method a path does not serve is a 405 whose ``Allow`` lists exactly the methods of that
path, however many routes serve it (``GET`` and ``POST /v1/api-keys`` are two); ``OPTIONS`` is a
CORS preflight only where CORS is configured."""

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.auth.roles import Role
from app.core.settings import Settings
from tests.core.test_rate_limits import _address, _app, _client
from tests.factories import auth_headers


def _allowed(header: str) -> set[str]:
    return {method.strip() for method in header.split(",")}


async def test_allow_lists_every_method_of_the_path(
    client: AsyncClient, session: AsyncSession
) -> None:
    admin = await auth_headers(session, Role.admin)
    contract = (await client.get("/openapi.json")).json()
    for path, concrete in [
        ("/v1/api-keys", "/v1/api-keys"),
        ("/v1/candidates/{candidate_id}", "/v1/candidates/00000000-0000-4000-8000-000000000000"),
        ("/v1/assessments/{assessment_id}/evidence", "/v1/assessments/x/evidence"),
    ]:
        documented = {m.upper() for m in contract["paths"][path]}
        for method in ("OPTIONS", "TRACE"):
            response = await client.request(method, concrete, headers=admin)
            assert response.status_code == 405, (method, concrete)
            assert response.headers["content-type"] == "application/problem+json"
            served = _allowed(response.headers["allow"])
            # HEAD comes with every GET (RFC 9110 9.3.2); nothing else beyond the contract.
            assert served - {"HEAD"} == documented, (concrete, served)


async def test_options_is_a_preflight_only_where_cors_is_configured(
    engine: AsyncEngine, settings: Settings
) -> None:
    portal = "https://portal.example"
    preflight = {"Origin": portal, "Access-Control-Request-Method": "POST"}
    with_cors = settings.model_copy(update={"cors_origins": [portal]})
    async with _client(_app(engine, with_cors, anonymous=0, key=0), _address()) as client:
        allowed = await client.options("/v1/api-keys", headers=preflight)
    async with _client(_app(engine, settings, anonymous=0, key=0), _address()) as client:
        refused = await client.options("/v1/api-keys", headers=preflight)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == portal
    assert refused.status_code == 405
    assert _allowed(refused.headers["allow"]) == {"GET", "POST"}
