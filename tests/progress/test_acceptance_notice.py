"""`GET /v1/candidates/{id}/acceptance-notice`: the written notice of acceptance once enrolled,
a self-contained printable page (checked with an HTML parser: no scripts, images, links or
external references; every value escaped), or JSON on request."""

import uuid
from collections.abc import Callable
from html.parser import HTMLParser

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.roles import Role
from app.core.database import utcnow
from tests.assessments.rounds import move
from tests.factories import auth_headers, make_agency, person


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.references: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.references += [f"{name}={value}" for name, value in attrs if name in ("src", "href")]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(markup: str) -> tuple[_Page, str]:
    page = _Page()
    page.feed(markup)
    return page, " ".join(" ".join(page.text).split())


async def _enrolled(
    client: AsyncClient, session: AsyncSession, given: str = "Maria", track: str = "training"
) -> tuple[str, dict[str, str]]:
    staff = await auth_headers(session, Role.staff)
    await make_agency(session, "DOH")
    created = await client.post(
        "/v1/candidates",
        json={
            "agency": "DOH",
            "external_id": "EMP-1",
            **person(1, given_name=given, family_name="Santos"),
        },
        headers=staff,
    )
    assert created.status_code == 201, created.text
    cid = str(created.json()["id"])
    await move(client, staff, cid, [("oriented", {}), ("enrolled", {"track": track})])
    return cid, staff


async def test_the_notice_is_a_self_contained_printable_page(
    token_client: AsyncClient, session: AsyncSession, sign: Callable[..., dict[str, str]]
) -> None:
    cid, _ = await _enrolled(token_client, session)
    me = sign(cpro_role="candidate", cpro_candidate_id=cid)
    response = await token_client.get(f"/v1/candidates/{cid}/acceptance-notice", headers=me)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"
    page, text = _parse(response.text)
    assert not page.tags & {"script", "img", "link", "iframe", "object", "embed", "form"}
    assert page.references == []
    assert "@media print" in response.text and "url(" not in response.text
    today = utcnow().date().isoformat()
    for expected in (
        "Notice of Acceptance",
        "Maria Santos",
        "Supervising Administrative Officer",
        "Department of Health (DOH)",
        "2: Being considered for Division Chief or executive/managerial positions",
        "Training Track",
        f"Date of acceptance {today}",
        "Attend the 10-day Leadership and Management Development Course (LMDC)",
    ):
        assert expected in text, expected


async def test_json_on_request_with_the_same_facts(
    token_client: AsyncClient, session: AsyncSession
) -> None:
    cid, staff = await _enrolled(token_client, session, track="rpl")
    url = f"/v1/candidates/{cid}/acceptance-notice"
    response = await token_client.get(url, headers=staff | {"Accept": "application/json"})
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert (body["candidate_name"], body["agency"], body["agency_name"]) == (
        "Maria Santos",
        "DOH",
        "Department of Health",
    )
    assert (body["priority"], body["track"]) == (2, "rpl")
    assert body["track_name"] == "Recognition of Prior Learning (RPL) Track"
    assert body["next_step"].startswith("Take the Pre-Qualifying Written Test")
    assert body["accepted_at"].startswith(utcnow().date().isoformat())
    for accept, kind in (
        ("text/html;q=0.5, application/json", "application/json"),
        ("application/json;q=0.1, text/html", "text/html"),
        ("*/*", "text/html"),
        ("application/*", "application/json"),
    ):
        negotiated = await token_client.get(url, headers=staff | {"Accept": accept})
        assert negotiated.headers["content-type"].startswith(kind), accept
        assert negotiated.headers["vary"] == "Accept"


async def test_every_value_on_the_page_is_escaped(
    token_client: AsyncClient, session: AsyncSession
) -> None:
    cid, staff = await _enrolled(token_client, session, given="<script>alert(1)</script>")
    markup = (await token_client.get(f"/v1/candidates/{cid}/acceptance-notice", headers=staff)).text
    page, text = _parse(markup)
    assert "script" not in page.tags
    assert "<script>alert(1)</script> Santos" in text


async def test_no_notice_before_enrollment_and_only_for_those_who_may_see_the_candidate(
    token_client: AsyncClient, session: AsyncSession, sign: Callable[..., dict[str, str]]
) -> None:
    cid, staff = await _enrolled(token_client, session)
    registered = await token_client.post(
        "/v1/candidates",
        json={"agency": "DOH", "external_id": "EMP-NEW", **person(2)},
        headers=staff,
    )
    early = await token_client.get(
        f"/v1/candidates/{registered.json()['id']}/acceptance-notice", headers=staff
    )
    assert early.status_code == 409 and early.json()["current_status"] == "registered"
    doh = await auth_headers(session, Role.agency, "DOH")
    assert (
        await token_client.get(f"/v1/candidates/{cid}/acceptance-notice", headers=doh)
    ).status_code == 200
    await make_agency(session, "DOF", "Department of Finance")
    dof = await auth_headers(session, Role.agency, "DOF")
    url = f"/v1/candidates/{cid}/acceptance-notice"
    assert (await token_client.get(url, headers=dof)).status_code == 404
    stranger = sign(cpro_role="candidate", cpro_candidate_id=str(uuid.uuid4()))
    assert (await token_client.get(url, headers=stranger)).status_code == 404
    reader = await auth_headers(session, Role.reader)
    assert (await token_client.get(url, headers=reader)).status_code == 403
