"""Certificate lists: `GET /v1/certificates` and `GET /v1/candidates/{id}/certificates` per
role (an agency never sees another agency's certificates), each filter, paging; and
`GET /v1/agencies/{code}`."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.roles import Role
from tests.assessments.cohorts import Cohort, build_cohort
from tests.factories import auth_headers

URL = "/v1/certificates"


@pytest.fixture
async def cohort(token_client: AsyncClient, session: AsyncSession) -> Cohort:
    """The cohort's DOF certificate, a DOH one (the ``ready`` round released), and the DOF one
    revoked."""
    cohort = await build_cohort(token_client, session)
    released = await token_client.post(
        f"/v1/assessments/{cohort.rounds['ready']}/release", headers=cohort.staff
    )
    assert released.status_code == 200, released.text
    cohort.serials["ready"] = released.json()["certificate"]["serial"]
    revoked = await token_client.post(
        f"{URL}/{cohort.serials['certified']}/revoke",
        json={"reason": "Issued in error"},
        headers=cohort.admin,
    )
    assert revoked.status_code == 200, revoked.text
    return cohort


async def _walk(
    client: AsyncClient,
    headers: dict[str, str],
    params: dict[str, Any],
    url: str = URL,
    mine: set[str] | None = None,
) -> list[str]:
    serials: list[str] = []
    cursor = None
    while True:
        page = await client.get(
            url, params=params | ({"cursor": cursor} if cursor else {}), headers=headers
        )
        assert page.status_code == 200, page.text
        assert len(page.json()["items"]) <= params.get("limit", 50)
        serials += [i["serial"] for i in page.json()["items"]]
        if mine is not None:
            # Only this test's (concurrency tests elsewhere commit certificates of their own).
            serials = [s for s in serials if s in mine]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return serials


async def test_staff_list_every_certificate_oldest_first_page_by_page(
    token_client: AsyncClient, cohort: Cohort
) -> None:
    mine = set(cohort.serials.values())
    assert await _walk(token_client, cohort.staff, {"limit": 1}, mine=mine) == [
        cohort.serials["certified"],
        cohort.serials["ready"],
    ]
    first = await token_client.get(URL, params={"agency": "DOF"}, headers=cohort.staff)
    (item,) = first.json()["items"]
    assert item["status"] == "revoked" and item["agency"] == "DOF"
    assert item["candidate_id"] == cohort.candidates["certified"]
    assert item["assessment_id"] == cohort.rounds["certified"]
    assert item["verification_url"].endswith(f"/v1/certificates/{item['serial']}")


async def test_each_filter_narrows_the_list(token_client: AsyncClient, cohort: Cohort) -> None:
    dof, doh = cohort.serials["certified"], cohort.serials["ready"]
    today = datetime.now(UTC).date()
    cases: list[tuple[dict[str, Any], list[str]]] = [
        ({"status": "valid"}, [doh]),
        ({"status": "revoked"}, [dof]),
        ({"agency": "DOH"}, [doh]),
        ({"agency": "DOF", "status": "valid"}, []),
        ({"candidate_id": cohort.candidates["certified"]}, [dof]),
        ({"issued_after": today.isoformat()}, [dof, doh]),
        ({"issued_after": (today + timedelta(days=1)).isoformat()}, []),
        ({"issued_before": today.isoformat()}, []),
        ({"issued_before": (today + timedelta(days=1)).isoformat()}, [dof, doh]),
    ]
    for params, expected in cases:
        found = await _walk(token_client, cohort.staff, params | {"limit": 1}, mine={dof, doh})
        assert found == expected, params
    reversed_ = await token_client.get(
        URL,
        params={"issued_after": today.isoformat(), "issued_before": today.isoformat()},
        headers=cohort.staff,
    )
    assert reversed_.status_code == 422
    bad = await token_client.get(URL, params={"status": "lost"}, headers=cohort.staff)
    assert bad.status_code == 422


async def test_an_agency_never_sees_another_agencys_certificates(
    token_client: AsyncClient, cohort: Cohort
) -> None:
    assert await _walk(token_client, cohort.doh, {}) == [cohort.serials["ready"]]
    assert await _walk(token_client, cohort.doh, {"agency": "DOF"}) == []
    assert (
        await _walk(token_client, cohort.doh, {"candidate_id": cohort.candidates["certified"]})
        == []
    )
    assert await _walk(token_client, cohort.dof, {}) == [cohort.serials["certified"]]
    theirs = await token_client.get(
        f"/v1/candidates/{cohort.candidates['certified']}/certificates", headers=cohort.doh
    )
    assert theirs.status_code == 404
    own = await token_client.get(
        f"/v1/candidates/{cohort.candidates['ready']}/certificates", headers=cohort.doh
    )
    assert [i["serial"] for i in own.json()["items"]] == [cohort.serials["ready"]]


async def test_a_candidate_lists_its_own_certificates_only(
    token_client: AsyncClient, cohort: Cohort, sign: Callable[..., dict[str, str]]
) -> None:
    me = sign(cpro_role="candidate", cpro_candidate_id=cohort.candidates["ready"])
    assert await _walk(token_client, me, {}) == [cohort.serials["ready"]]
    url = f"/v1/candidates/{cohort.candidates['ready']}/certificates"
    assert await _walk(token_client, me, {"status": "valid"}, url) == [cohort.serials["ready"]]
    assert await _walk(token_client, me, {"status": "revoked"}, url) == []
    other = await token_client.get(
        f"/v1/candidates/{cohort.candidates['certified']}/certificates", headers=me
    )
    assert other.status_code == 404


async def test_assessors_and_readers_cannot_list_certificates(
    token_client: AsyncClient, cohort: Cohort, session: AsyncSession
) -> None:
    reader = await auth_headers(session, Role.reader)
    for headers in (cohort.assessor_a, reader):
        assert (await token_client.get(URL, headers=headers)).status_code == 403
    assert (await token_client.get(URL)).status_code == 401
    # Verifying one certificate stays public.
    assert (await token_client.get(f"{URL}/{cohort.serials['ready']}")).status_code == 200


async def test_an_agency_reads_its_own_agency_only(
    token_client: AsyncClient, cohort: Cohort
) -> None:
    own = await token_client.get("/v1/agencies/DOH", headers=cohort.doh)
    assert own.status_code == 200 and own.json()["code"] == "DOH"
    assert (await token_client.get("/v1/agencies/DOF", headers=cohort.doh)).status_code == 404
    listed = (await token_client.get("/v1/agencies", headers=cohort.doh)).json()["items"]
    assert [a["code"] for a in listed] == ["DOH"]
    staff = await token_client.get("/v1/agencies/DOF", headers=cohort.staff)
    assert staff.json()["name"] == "Department of Finance"
    missing = await token_client.get("/v1/agencies/NOPE", headers=cohort.staff)
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert (
        await token_client.get("/v1/agencies/bad code", headers=cohort.staff)
    ).status_code == 422
