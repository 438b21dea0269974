"""The cached current document served before routing answers exactly as the route does."""

import io
import json
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI
from httpx import AsyncClient

from app.core.database import get_session
from app.core.logging import JsonFormatter

CSC = "/v1/frameworks/csc-leadership-competencies"
VOLATILE = {"x-request-id", "date"}


def _stable(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k not in VOLATILE}


async def test_cached_answers_match_the_routed_ones(client: AsyncClient, app: FastAPI) -> None:
    routed = await client.get(CSC)  # fills the cache

    async def no_session() -> AsyncIterator[None]:
        raise AssertionError("the cached answer needs no routing and no database session")
        yield

    app.dependency_overrides[get_session] = no_session
    cached = await client.get(CSC)
    assert cached.status_code == routed.status_code == 200
    assert cached.content == routed.content
    assert _stable(dict(cached.headers)) == _stable(dict(routed.headers))

    etag = routed.headers["etag"]
    not_modified = await client.get(CSC, headers={"If-None-Match": f'W/{etag}, "other"'})
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert not_modified.headers["etag"] == etag
    assert "x-request-id" in not_modified.headers


async def test_callers_with_a_key_still_go_through_the_route(client: AsyncClient) -> None:
    await client.get(CSC)
    refused = await client.get(CSC, headers={"Authorization": "Bearer not-a-key"})
    assert refused.status_code == 401
    assert (await client.get("/v1/frameworks/no-such-framework")).status_code == 404


async def test_cached_answers_are_logged_under_the_route_template(client: AsyncClient) -> None:
    await client.get(CSC)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("cpro.access")
    logger.addHandler(handler)
    try:
        await client.get(CSC)
    finally:
        logger.removeHandler(handler)
    (line,) = [json.loads(x) for x in stream.getvalue().splitlines()]
    assert line["route"] == "/v1/frameworks/{slug}" and line["status"] == 200
