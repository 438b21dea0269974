"""The list's `q`: employee id and e-mail exactly, family names by prefix in any case; results
in order of family name, paged with a cursor that only works with the same filters."""

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.roles import Role
from tests.factories import auth_headers, make_agency, person


async def _sync(client: AsyncClient, headers: dict[str, str], families: list[str]) -> None:
    items = [
        person(n, external_id=f"E{n}", family_name=family) for n, family in enumerate(families)
    ]
    items[-1]["external_id"] = "cruz"  # an employee id equal to the search: an exact match
    response = await client.post(
        "/v1/agencies/DOH/candidates:batch", json={"items": items}, headers=headers
    )
    assert response.status_code == 200, response.text


async def _all_pages(
    client: AsyncClient, headers: dict[str, str], params: dict[str, object]
) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        query = params | ({"cursor": cursor} if cursor else {})
        response = await client.get("/v1/candidates", params=query, headers=headers)
        assert response.status_code == 200, response.text
        pages.append([c["family_name"] for c in response.json()["items"]])
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return pages


async def test_a_search_pages_in_family_name_order_with_exact_id_matches_among_them(
    client: AsyncClient, session: AsyncSession
) -> None:
    await make_agency(session, "DOH")
    hris = await auth_headers(session, Role.agency, "DOH")
    await _sync(
        client, hris, ["Cruzado", "Reyes", "CRUZ-LOPEZ", "Dela Cruz", "Cruz", "Bautista", "Zamora"]
    )

    pages = await _all_pages(client, hris, {"q": "cruz", "limit": 2})

    # "Zamora" is there by employee id; "Dela Cruz" does not start with the search.
    assert pages == [["Cruz", "CRUZ-LOPEZ"], ["Cruzado", "Zamora"]]
    assert await _all_pages(client, hris, {"q": "CRUZA"}) == [["Cruzado"]]
    assert await _all_pages(client, hris, {"q": "person1@agency.example"}) == [["Reyes"]]
    assert await _all_pages(client, hris, {"q": "cruz", "priority": 3}) == [[]]
    # The last character before the surrogate block: the range's end skips the block.
    assert await _all_pages(client, hris, {"q": "cruz\ud7ff"}) == [[]]


async def test_a_cursor_works_only_with_the_list_it_came_from(
    client: AsyncClient, session: AsyncSession
) -> None:
    await make_agency(session, "DOH")
    hris = await auth_headers(session, Role.agency, "DOH")
    await _sync(client, hris, ["Cruz", "Cruzado", "Reyes", "Santos"])
    by_name = await client.get("/v1/candidates", params={"q": "cruz", "limit": 1}, headers=hris)
    by_registration = await client.get("/v1/candidates", params={"limit": 1}, headers=hris)

    for params in (
        {"cursor": by_name.json()["next_cursor"]},
        {"q": "cruz", "cursor": by_registration.json()["next_cursor"]},
    ):
        refused = await client.get("/v1/candidates", params=params, headers=hris)
        assert refused.status_code == 422, params
        assert refused.json()["errors"][0]["field"] == "query.cursor"
