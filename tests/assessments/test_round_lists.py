"""Round lists: `GET /v1/assessments` and `GET /v1/candidates/{id}/assessments`, per role (an
assessor never sees an unassigned round, an agency never another agency's), each filter, and
paging through more than one page."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.roles import Role
from tests.assessments.cohorts import Cohort, build_cohort
from tests.factories import auth_headers

URL = "/v1/assessments"


@pytest.fixture
async def cohort(token_client: AsyncClient, session: AsyncSession) -> Cohort:
    return await build_cohort(token_client, session)


async def _walk(
    client: AsyncClient, headers: dict[str, str], params: dict[str, Any], url: str = URL
) -> list[dict[str, Any]]:
    """Every item, one page of ``limit`` at a time; asserts a page never exceeds it."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = await client.get(
            url, params=params | ({"cursor": cursor} if cursor else {}), headers=headers
        )
        assert page.status_code == 200, page.text
        body = page.json()
        assert len(body["items"]) <= params.get("limit", 50)
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items


def _names(cohort: Cohort, items: list[dict[str, Any]]) -> list[str]:
    """The cohort's rounds among ``items``, in order (concurrency tests elsewhere commit rounds
    of their own agencies, which staff see too)."""
    by_id = {v: k for k, v in cohort.rounds.items()}
    return [by_id[i["id"]] for i in items if i["id"] in by_id]


ALL = ["open", "ready", "certified", "supplemental", "retake"]


async def test_staff_see_every_round_oldest_first_with_the_scores_missing(
    token_client: AsyncClient, cohort: Cohort
) -> None:
    items = await _walk(token_client, cohort.staff, {"limit": 2})
    assert _names(cohort, items) == ALL
    by_name = {name: i for i in items for name, id_ in cohort.rounds.items() if i["id"] == id_}
    assert (by_name["open"]["status"], by_name["open"]["scores_missing"]) == ("open", 11)
    assert by_name["open"]["scores_required"] == 15
    assert (by_name["ready"]["status"], by_name["ready"]["scores_missing"]) == ("ready", 0)
    assert by_name["certified"]["status"] == "released"
    assert by_name["certified"]["outcome"] == "certified"
    assert by_name["certified"]["agency"] == "DOF"
    # A supplemental round with two failed competencies: 5 written tests + 2 x 2.
    assert (by_name["retake"]["scores_required"], by_name["retake"]["scores_missing"]) == (9, 9)
    assert by_name["retake"]["kind"] == "supplemental"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "open"}, ["open", "retake"]),
        ({"status": "ready"}, ["ready"]),
        ({"status": "released"}, ["certified", "supplemental"]),
        ({"kind": "supplemental"}, ["retake"]),
        ({"kind": "regular", "status": "open"}, ["open"]),
        ({"agency": "DOF"}, ["certified"]),
        ({"agency": "DOH", "status": "released"}, ["supplemental"]),
        ({"agency": "DA"}, []),
    ],
)
async def test_each_filter_narrows_the_list(
    token_client: AsyncClient, cohort: Cohort, params: dict[str, str], expected: list[str]
) -> None:
    items = await _walk(token_client, cohort.staff, params | {"limit": 1})
    assert _names(cohort, items) == expected


async def test_candidate_and_release_time_filters(
    token_client: AsyncClient, cohort: Cohort
) -> None:
    mine = await _walk(
        token_client, cohort.staff, {"candidate_id": cohort.candidates["supplemental"]}
    )
    assert _names(cohort, mine) == ["supplemental", "retake"]
    now = datetime.now(UTC)
    before = (now - timedelta(hours=1)).isoformat()
    after = (now + timedelta(hours=1)).isoformat()
    window = await _walk(
        token_client, cohort.staff, {"released_after": before, "released_before": after}
    )
    assert _names(cohort, window) == ["certified", "supplemental"]
    assert _names(cohort, await _walk(token_client, cohort.staff, {"released_after": after})) == []
    assert (
        _names(cohort, await _walk(token_client, cohort.staff, {"released_before": before})) == []
    )
    reversed_ = await token_client.get(
        URL, params={"released_after": after, "released_before": before}, headers=cohort.staff
    )
    assert reversed_.status_code == 422
    assert reversed_.json()["errors"][0]["field"] == "query.released_before"
    naive = await token_client.get(
        URL, params={"released_after": "2026-01-01T00:00:00"}, headers=cohort.staff
    )
    assert naive.status_code == 422


async def test_an_assessor_sees_only_its_worklist(
    token_client: AsyncClient, cohort: Cohort
) -> None:
    a = await _walk(token_client, cohort.assessor_a, {"limit": 1})
    assert _names(cohort, a) == ["ready", "certified", "supplemental"]
    b = await _walk(token_client, cohort.assessor_b, {"status": "open"})
    assert _names(cohort, b) == ["open", "retake"]
    # Asking for a candidate whose rounds are someone else's shows nothing of them.
    assert (
        await _walk(token_client, cohort.assessor_b, {"candidate_id": cohort.candidates["ready"]})
        == []
    )
    theirs = await token_client.get(
        f"/v1/candidates/{cohort.candidates['ready']}/assessments", headers=cohort.assessor_b
    )
    assert theirs.status_code == 404
    own = await token_client.get(
        f"/v1/candidates/{cohort.candidates['open']}/assessments", headers=cohort.assessor_b
    )
    assert _names(cohort, own.json()["items"]) == ["open"]


async def test_an_agency_sees_only_its_own_candidates_rounds(
    token_client: AsyncClient, cohort: Cohort
) -> None:
    doh = await _walk(token_client, cohort.doh, {"limit": 1})
    assert _names(cohort, doh) == ["open", "ready", "supplemental", "retake"]
    assert await _walk(token_client, cohort.doh, {"agency": "DOF"}) == []
    dof = await _walk(token_client, cohort.dof, {})
    assert _names(cohort, dof) == ["certified"]
    other = await token_client.get(
        f"/v1/candidates/{cohort.candidates['certified']}/assessments", headers=cohort.doh
    )
    assert other.status_code == 404


async def test_a_candidate_sees_its_own_released_results_only(
    token_client: AsyncClient, cohort: Cohort, sign: Callable[..., dict[str, str]]
) -> None:
    supplemental = sign(cpro_role="candidate", cpro_candidate_id=cohort.candidates["supplemental"])
    assert _names(cohort, await _walk(token_client, supplemental, {})) == ["supplemental"]
    page = await token_client.get(
        f"/v1/candidates/{cohort.candidates['supplemental']}/assessments", headers=supplemental
    )
    assert _names(cohort, page.json()["items"]) == ["supplemental"]
    ready = sign(cpro_role="candidate", cpro_candidate_id=cohort.candidates["ready"])
    assert await _walk(token_client, ready, {}) == []
    # Another candidate's id is no way in.
    assert await _walk(token_client, ready, {"candidate_id": cohort.candidates["certified"]}) == []
    other = await token_client.get(
        f"/v1/candidates/{cohort.candidates['certified']}/assessments", headers=ready
    )
    assert other.status_code == 404


async def test_the_candidate_page_lists_the_candidates_rounds_with_filters(
    token_client: AsyncClient, cohort: Cohort
) -> None:
    url = f"/v1/candidates/{cohort.candidates['supplemental']}/assessments"
    assert _names(cohort, await _walk(token_client, cohort.staff, {"limit": 1}, url)) == [
        "supplemental",
        "retake",
    ]
    assert _names(cohort, await _walk(token_client, cohort.doh, {"status": "open"}, url)) == [
        "retake"
    ]
    assert _names(cohort, await _walk(token_client, cohort.staff, {"kind": "regular"}, url)) == [
        "supplemental"
    ]


async def test_readers_cannot_list_rounds(token_client: AsyncClient, session: AsyncSession) -> None:
    reader = await auth_headers(session, Role.reader)
    assert (await token_client.get(URL, headers=reader)).status_code == 403
    assert (await token_client.get(URL)).status_code == 401
