"""How many SQL statements the main reads cost: a small number, the same for 3 rows as for 30.

An N+1 (a query per item) shows as a count that grows with the data; these tests would fail.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from httpx import AsyncClient
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.auth.roles import Role
from tests.factories import auth_headers, make_agency, person

CSC = "csc-leadership-competencies"


@contextmanager
def counted(engine: AsyncEngine) -> Iterator[list[str]]:
    """Every statement sent to the server meanwhile, less the tests' own savepoints."""
    statements: list[str] = []

    def before_cursor_execute(*args: Any) -> None:
        statement: str = args[2]
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE SAVEPOINT")):
            statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", before_cursor_execute)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", before_cursor_execute)


async def _statements(
    engine: AsyncEngine, client: AsyncClient, url: str, headers: dict[str, str] | None = None
) -> int:
    with counted(engine) as statements:
        response = await client.get(url, headers=headers or {})
    assert response.status_code == 200, response.text
    return len(statements)


async def _sync(
    client: AsyncClient, hris: dict[str, str], first: int, count: int, agency: str = "DOH"
) -> None:
    items = [person(n, external_id=f"EMP-{n:04d}") for n in range(first, first + count)]
    response = await client.post(
        f"/v1/agencies/{agency}/candidates:batch", json={"items": items}, headers=hris
    )
    assert response.status_code == 200, response.text


async def test_framework_documents_cost_a_few_statements_then_none(
    client: AsyncClient, engine: AsyncEngine
) -> None:
    cold = await _statements(engine, client, f"/v1/frameworks/{CSC}")
    warm = await _statements(engine, client, f"/v1/frameworks/{CSC}")
    assert 1 <= cold <= 8
    assert warm == 0  # the current version and its bytes are cached
    pinned = await _statements(engine, client, f"/v1/frameworks/{CSC}/versions/2015")
    assert pinned <= 2  # which version: one query; the document itself is cached


async def test_indicator_pages_cost_the_same_for_3_and_30_items(
    client: AsyncClient, engine: AsyncEngine
) -> None:
    # The first page reads which versions are current and each one's indicators, once.
    cold = await _statements(engine, client, f"/v1/indicators?framework={CSC}&limit=3")
    small = await _statements(engine, client, f"/v1/indicators?framework={CSC}&limit=3")
    large = await _statements(engine, client, f"/v1/indicators?framework={CSC}&limit=30")
    searched = await _statements(engine, client, "/v1/indicators?q=coaching&limit=30")
    again = await _statements(engine, client, "/v1/indicators?q=coaching&limit=3")
    assert cold <= 1 + 5  # five bundled frameworks
    assert small == large == 0
    assert searched == 1  # PostgreSQL ranks a query text once
    assert again == 0


async def test_candidate_list_get_and_feed_do_not_grow_with_the_data(
    client: AsyncClient, session: AsyncSession, engine: AsyncEngine
) -> None:
    await make_agency(session, "DOH")
    hris = await auth_headers(session, Role.agency, "DOH")
    staff = await auth_headers(session, Role.staff)

    await _sync(client, hris, 0, 3)
    listed = (await client.get("/v1/candidates?agency=DOH&limit=50", headers=staff)).json()
    assert len(listed["items"]) == 3
    list_3 = await _statements(engine, client, "/v1/candidates?agency=DOH&limit=50", staff)
    feed_3 = await _statements(engine, client, "/v1/candidate-events?limit=50", hris)
    one = listed["items"][0]["id"]
    get_3 = await _statements(engine, client, f"/v1/candidates/{one}", staff)

    await _sync(client, hris, 3, 27)
    listed = (await client.get("/v1/candidates?agency=DOH&limit=50", headers=staff)).json()
    assert len(listed["items"]) == 30
    list_30 = await _statements(engine, client, "/v1/candidates?agency=DOH&limit=50", staff)
    feed_30 = await _statements(engine, client, "/v1/candidate-events?limit=50", hris)
    get_30 = await _statements(engine, client, f"/v1/candidates/{one}", staff)
    first_page = (await client.get("/v1/candidates?agency=DOH&limit=10", headers=staff)).json()
    paged = await _statements(
        engine,
        client,
        f"/v1/candidates?agency=DOH&limit=10&cursor={first_page['next_cursor']}",
        staff,
    )
    assert list_3 == list_30 <= 4, (list_3, list_30)
    assert paged <= list_30
    assert feed_3 == feed_30 <= 3, (feed_3, feed_30)
    assert get_3 == get_30 <= 4, (get_3, get_30)


async def test_a_sync_batch_sends_the_same_statements_for_3_items_as_for_300(
    engine: AsyncEngine, client: AsyncClient, session: AsyncSession
) -> None:
    """Statements whose text grows with the batch (a placeholder per item or per value) are
    planned apart for every size and, at a size that repeats, get a cached generic plan; the
    one for a thousand placeholders scanned the whole table for each batch."""
    admin = await auth_headers(session, Role.admin)
    await make_agency(session, "DOH")

    async def sync(first: int, count: int, outcome: str = "created") -> list[str]:
        items = [person(n) | {"external_id": f"E-{n}"} for n in range(first, first + count)]
        with counted(engine) as statements:
            response = await client.post(
                "/v1/agencies/DOH/candidates:batch", json={"items": items}, headers=admin
            )
        assert response.status_code == 200, response.text
        assert {i["outcome"] for i in response.json()["items"]} == {outcome}
        # The key's "last used" time is written once a while, not with every request.
        return [s for s in statements if "api_key" not in s]

    small = await sync(0, 3)
    large = await sync(1000, 300)
    assert sorted(large) == sorted(small)
    # Sent again: unchanged, which takes the lookup of unchanged rows.
    small_again = await sync(0, 3, "unchanged")
    again = await sync(1000, 300, "unchanged")
    assert sorted(again) == sorted(small_again)
    assert set(again) - set(small)
    assert all(statement.count("$") < 20 for statement in large + again)
