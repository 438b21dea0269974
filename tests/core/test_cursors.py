"""A cursor is taken back only by the list that issued it, holding values of the types that list
compares: a well-formed cursor of another list is a 422 on ``query.cursor``, never a 500."""

import base64
import json

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.roles import Role
from tests.factories import auth_headers, make_agency


def _cursor(document: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("path", "cursor"),
    [
        # What schemathesis sent (each a JSON array of one value, as cursors used to be).
        ("/v1/assessment-policies", "WzExXQ"),
        ("/v1/frameworks", "Wzld"),
        ("/v1/agencies", "Wzhd"),
        # This service's own envelope, naming the list, but with a value of the wrong type.
        ("/v1/agencies", _cursor({"l": "agency.code", "k": [11]})),
        ("/v1/frameworks", _cursor({"l": "frameworks", "k": [{"t": "2026-01-01T00:00:00"}]})),
        ("/v1/candidate-events", _cursor({"l": "candidate-events", "k": ["1"]})),
        ("/v1/indicators", _cursor({"l": "indicators", "k": [True]})),
        # An id or a time that is not text (UUID(1) and fromisoformat(5) raise a TypeError's
        # cousins the cursor check did not expect).
        ("/v1/indicators", _cursor({"l": "indicators", "k": [{"u": 1}]})),
        ("/v1/frameworks", _cursor({"l": "frameworks", "k": [{"t": 5}]})),
        ("/v1/candidates", _cursor({"l": "candidates", "k": ["c", "x\u0000", "y"]})),
    ],
)
async def test_a_foreign_or_forged_cursor_is_a_422_on_the_cursor(
    client: AsyncClient, session: AsyncSession, path: str, cursor: str
) -> None:
    admin = await auth_headers(session, Role.admin)
    name = "after" if path == "/v1/candidate-events" else "cursor"
    response = await client.get(path, params={name: cursor}, headers=admin)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "query.cursor"


async def test_a_real_cursor_of_one_list_is_refused_by_another(
    client: AsyncClient, session: AsyncSession
) -> None:
    admin = await auth_headers(session, Role.admin)
    for code in ("AAA", "AAB"):
        await make_agency(session, code)
    first = await client.get("/v1/agencies", params={"limit": 1}, headers=admin)
    cursor = first.json()["next_cursor"]
    assert cursor is not None
    # The list that issued it takes it...
    second = await client.get("/v1/agencies", params={"limit": 1, "cursor": cursor}, headers=admin)
    assert second.status_code == 200
    assert second.json()["items"] != first.json()["items"]
    # ...another list whose sort key is a string too does not.
    foreign = await client.get("/v1/assessment-policies", params={"cursor": cursor}, headers=admin)
    assert foreign.status_code == 422
    assert foreign.json()["errors"][0]["field"] == "query.cursor"
