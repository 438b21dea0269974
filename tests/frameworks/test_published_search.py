"""Indicator search over published versions, answered in-process, gives exactly what
PostgreSQL's own full-text search gives: the same indicators, ranks, order and pages.

The reference is written here in plain SQL (``websearch_to_tsquery('english', ...)``,
``ts_rank_cd``, the newest published version of each framework), not with the service's code.
"""

import json
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

CSC = "csc-leadership-competencies"
GRADE9 = "grade9-leadership-competencies"
UK = "uk-civil-service-leadership-management"

QUERIES = (
    "coaching",
    "coach",
    "strategic",
    "change",
    "changes",
    "integrity",
    "communication",
    "communicates",
    "decision",
    "decisions making",
    '"public service"',
    '"coaching culture"',
    "innovation -digital",
    "coaching -culture",
    "team or partner",
    "leadership",
    "leaders",
    "vision",
    "performance",
    "people",
    "stakeholders",
    "risk",
    "the",  # a stop word only: nothing
    "xylophonist",  # no match
    "diverse or inclusive or equality",
    "work",
    "develop",
    "others",
    "trust and respect",
    "budget",
)

CURRENT = """
    SELECT DISTINCT ON (v.framework_id) v.id FROM framework_version v
    WHERE v.status = 'published'
    ORDER BY v.framework_id, v.published_at DESC, v.created_at DESC
"""
RANKED = """
    SELECT i.id, round(ts_rank_cd(i.search, query) * 1000000)::bigint AS rank
    FROM indicator i
    JOIN framework_version v ON v.id = i.version_id
    JOIN framework f ON f.id = v.framework_id,
    websearch_to_tsquery('english', :q) AS query
    WHERE i.version_id IN (SELECT DISTINCT ON (v.framework_id) v.id FROM framework_version v
        WHERE v.status = 'published'
        ORDER BY v.framework_id, v.published_at DESC, v.created_at DESC) AND i.search @@ query
      AND (CAST(:framework AS text) IS NULL OR f.slug = :framework)
      AND (CAST(:polarity AS text) IS NULL OR i.polarity = :polarity)
    ORDER BY rank DESC, i.id
"""


async def _reference(
    session: AsyncSession, q: str, framework: str | None = None, polarity: str | None = None
) -> list[tuple[int, float]]:
    rows = await session.execute(
        text(RANKED), {"q": q, "framework": framework, "polarity": polarity}
    )
    return [(row.id, row.rank / 1_000_000) for row in rows]


async def _pages(client: AsyncClient, url: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        response = await client.get(url, params=params | ({"cursor": cursor} if cursor else {}))
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= params.get("limit", 50)
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
        assert len(page["items"]) == params.get("limit", 50)


@pytest.mark.parametrize("limit", [200, 7])
async def test_every_query_ranks_and_pages_as_postgresql_does(
    client: AsyncClient, session: AsyncSession, limit: int
) -> None:
    matched = 0
    for q in QUERIES:
        expected = await _reference(session, q)
        found = await _pages(client, "/v1/indicators", {"q": q, "limit": limit})
        assert [(i["id"], i["rank"]) for i in found] == expected, q
        matched += bool(expected)
    assert matched >= len(QUERIES) - 3  # the set really exercises ranking


async def test_filtered_queries_rank_and_page_as_postgresql_does(
    client: AsyncClient, session: AsyncSession
) -> None:
    for q in ("coaching", "people", "change", "team or partner", "work"):
        for framework, polarity in ((CSC, None), (GRADE9, "negative"), (None, "positive")):
            expected = await _reference(session, q, framework, polarity)
            params = {"q": q, "limit": 5} | {
                k: v for k, v in (("framework", framework), ("polarity", polarity)) if v
            }
            found = await _pages(client, "/v1/indicators", params)
            assert [(i["id"], i["rank"]) for i in found] == expected, params


async def test_items_are_the_indicators_as_stored(
    client: AsyncClient, session: AsyncSession
) -> None:
    rows = await session.execute(
        text("""
        SELECT i.id, f.slug, v.version, c.code, c.name, e.code AS element_code,
               e.name AS element_name, l.code AS level_code, l.name AS level_name, l.rank,
               i.polarity, i.text, i.complete
        FROM indicator i JOIN framework_version v ON v.id = i.version_id
        JOIN framework f ON f.id = v.framework_id JOIN competency c ON c.id = i.competency_id
        LEFT JOIN element e ON e.id = i.element_id LEFT JOIN level l ON l.id = i.level_id
        WHERE i.version_id IN (SELECT DISTINCT ON (v.framework_id) v.id FROM framework_version v
        WHERE v.status = 'published'
        ORDER BY v.framework_id, v.published_at DESC, v.created_at DESC) ORDER BY i.id
        """)
    )
    expected = [
        {
            "id": r.id,
            "framework": r.slug,
            "version": r.version,
            "competency": {"code": r.code, "name": r.name},
            "element": {"code": r.element_code, "name": r.element_name} if r.element_code else None,
            "level": {"code": r.level_code, "name": r.level_name, "rank": r.rank}
            if r.level_code
            else None,
            "polarity": r.polarity,
            "text": r.text,
            "complete": r.complete,
            "rank": None,
        }
        for r in rows
    ]
    assert len(expected) > 300
    assert await _pages(client, "/v1/indicators", {"limit": 200}) == expected
    assert await _pages(client, "/v1/indicators", {"limit": 33}) == expected


async def test_one_framework_search_ranks_as_postgresql_does(
    client: AsyncClient, session: AsyncSession
) -> None:
    for q in ("performance", "coaching", '"coaching culture"', "vision or mission"):
        expected = await _reference(session, q, CSC)
        found = await _pages(client, f"/v1/frameworks/{CSC}/indicators", {"q": q, "limit": 4})
        assert [(i["id"], i["rank"]) for i in found] == expected, q


async def test_a_repeated_search_asks_the_database_nothing(
    client: AsyncClient, engine: AsyncEngine
) -> None:
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    first = await client.get("/v1/indicators", params={"q": "coaching", "limit": 5})
    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        again = await client.get("/v1/indicators", params={"q": "coaching", "limit": 5})
        cursor = json.loads(again.content)["next_cursor"]
        following = await client.get(
            "/v1/indicators", params={"q": "coaching", "limit": 5, "cursor": cursor}
        )
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    assert again.content == first.content and following.status_code == 200
    assert statements == []


async def test_search_answers_are_cacheable(client: AsyncClient) -> None:
    response = await client.get("/v1/indicators", params={"q": "coaching"})
    assert response.headers["cache-control"] == "public, max-age=300"
    etag = response.headers["etag"]
    assert etag.startswith('"')
    again = await client.get(
        "/v1/indicators", params={"q": "coaching"}, headers={"If-None-Match": etag}
    )
    assert again.status_code == 304 and again.content == b""
