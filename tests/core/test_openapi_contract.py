import json

from fastapi import FastAPI
from httpx import AsyncClient

from app.core.openapi import CONTRACT_PATH, contract_text
from app.main import api_routes


async def test_committed_contract_matches_the_served_one(client: AsyncClient, app: FastAPI) -> None:
    served = (await client.get("/openapi.json")).json()
    committed = json.loads(CONTRACT_PATH.read_text(encoding="utf-8"))
    assert committed == served, "run `cpro openapi` and commit openapi/openapi.json"
    assert CONTRACT_PATH.read_text(encoding="utf-8") == contract_text(app)


def test_every_route_is_versioned_documented_and_uniquely_named(app: FastAPI) -> None:
    routes = [r for r in api_routes() if r.include_in_schema]
    ids = [r.unique_id for r in routes]
    assert len(ids) == len(set(ids))
    for route in routes:
        # The CASE provider lives where the 1EdTech binding puts it (1.1, and 1.0 for older
        # clients), beside it the resolver of its uris; the signing key where verifiers look
        # for it (RFC 8615), the probes where load balancers look.
        case_paths = ("/ims/case/v1p1/", "/ims/case/v1p0/", "/ims/case/uri/")
        assert route.path.startswith(("/v1/", *case_paths)) or route.path in {
            "/healthz",
            "/readyz",
            "/.well-known/jwks.json",
        }, route.path
        assert route.summary, route.path
        assert route.description, route.path
        assert route.tags, route.path


def test_every_served_path_is_in_the_contract(app: FastAPI) -> None:
    committed = json.loads(CONTRACT_PATH.read_text(encoding="utf-8"))
    served = {r.path for r in api_routes() if r.include_in_schema}
    assert served == set(committed["paths"])
