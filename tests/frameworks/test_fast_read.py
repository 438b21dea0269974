"""The cached current document served before routing answers exactly as the route does."""

import io
import json
from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient

from app.core.database import get_session

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


async def test_cached_answers_are_logged_under_the_route_template(
    client: AsyncClient, access_log: io.StringIO
) -> None:
    await client.get(CSC)
    access_log.seek(0)
    access_log.truncate()  # only the line of the next request
    await client.get(CSC)
    (line,) = [json.loads(x) for x in access_log.getvalue().splitlines()]
    assert line["route"] == "/v1/frameworks/{slug}" and line["status"] == 200


SEARCHES = (
    "q=coaching&limit=5",
    "q=coaching&limit=5&framework=csc-leadership-competencies",
    "q=team+or+partner&polarity=negative",
    "q=%22public+service%22&limit=200",
    "limit=7&framework=grade9-leadership-competencies&polarity=negative",
    "",
)


async def test_kept_searches_are_answered_before_routing_as_the_route_does(
    client: AsyncClient, app: FastAPI
) -> None:
    routed = {query: await client.get(f"/v1/indicators?{query}") for query in SEARCHES}
    cursor = routed[SEARCHES[0]].json()["next_cursor"]
    routed["next"] = await client.get(
        "/v1/indicators", params={"q": "coaching", "limit": 5, "cursor": cursor}
    )

    async def no_session() -> AsyncIterator[None]:
        raise AssertionError("a kept search needs no routing and no database session")
        yield

    app.dependency_overrides[get_session] = no_session
    for query, answer in routed.items():
        if query == "next":
            fast = await client.get(
                "/v1/indicators", params={"q": "coaching", "limit": 5, "cursor": cursor}
            )
        else:
            fast = await client.get(f"/v1/indicators?{query}")
        assert fast.status_code == answer.status_code == 200, query
        assert fast.content == answer.content, query
        assert _stable(dict(fast.headers)) == _stable(dict(answer.headers)), query
    etag = routed[SEARCHES[0]].headers["etag"]
    not_modified = await client.get(
        f"/v1/indicators?{SEARCHES[0]}", headers={"If-None-Match": etag}
    )
    assert not_modified.status_code == 304 and not_modified.content == b""


async def test_searches_the_route_must_judge_still_reach_it(client: AsyncClient) -> None:
    await client.get("/v1/indicators?q=coaching")  # kept from now on
    for query, status in (
        ("q=coaching&limit=0", 422),
        ("q=coaching&limit=201", 422),
        ("q=coaching&polarity=neutral", 422),
        ("q=coaching&framework=Not_A_Slug", 422),
        ("q=coaching&cursor=bm90LWEtY3Vyc29y", 422),
        ("q=" + "x" * 201, 422),
    ):
        response = await client.get(f"/v1/indicators?{query}")
        assert response.status_code == status, query
        assert response.headers["content-type"] == "application/problem+json", query
    refused = await client.get(
        "/v1/indicators?q=coaching", headers={"Authorization": "Bearer nope"}
    )
    assert refused.status_code == 401


async def test_kept_searches_are_logged_under_the_route_template(
    client: AsyncClient, access_log: io.StringIO
) -> None:
    await client.get("/v1/indicators?q=coaching")
    access_log.seek(0)
    access_log.truncate()  # only the line of the next request
    await client.get("/v1/indicators?q=coaching")
    (line,) = [json.loads(x) for x in access_log.getvalue().splitlines()]
    assert line["route"] == "/v1/indicators" and line["status"] == 200


async def test_a_failure_in_the_fast_path_is_the_routes_500_problem(
    app: FastAPI, client: AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fast path runs outside FastAPI's own error handling: what it raises still gets the
    problem+json 500 with the request id, once, that a route's failure gets."""
    from app.frameworks.published import PublishedIndicators

    assert (await client.get("/v1/indicators?q=coaching")).status_code == 200  # kept now

    def broken(*args: object, **kwargs: object) -> bytes:
        raise RuntimeError("internals")

    monkeypatch.setattr(PublishedIndicators, "page_if_kept", broken)
    transport = ASGITransport(app=app, raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://testserver") as raw:
        response = await raw.get("/v1/indicators?q=coaching", headers={"X-Request-ID": "fp-1"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["request_id"] == "fp-1"
    assert response.headers.get_list("x-request-id") == ["fp-1"]
    assert "internals" not in response.text
