from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.roles import Role
from app.bootstrap import load_reference_data
from app.qualifications.models import QualificationRequirement, QualificationStandard
from app.qualifications.reference import load_example_standards
from app.qualifications.schemas import RequirementIn
from app.qualifications.service import requirement_problems
from tests.factories import auth_headers, make_agency
from tests.frameworks.documents import SLUG, framework_document

URL = "/v1/qualification-standards"
CSC = "csc-leadership-competencies"
CSC_2015 = [
    "thinking-strategically-and-creatively",
    "leading-change",
    "building-collaborative-inclusive-working-relationships",
    "managing-performance-and-coaching-for-results",
    "creating-and-nurturing-a-high-performing-organization",
]


def _standard(**changes: Any) -> dict[str, Any]:
    return {
        "position_title": "Chief Administrative Officer",
        "framework": CSC,
        "version": "2015",
        "requirements": [
            {"competency": "leading-change", "level": "superior"},
            {"competency": "thinking-strategically-and-creatively", "level": "basic"},
        ],
    } | changes


async def _all_pages(
    client: AsyncClient, url: str, headers: dict[str, str], params: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = (params or {}) | ({"cursor": cursor} if cursor else {})
        page = await client.get(url, params=query, headers=headers)
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return items


async def _counts(session: AsyncSession) -> tuple[int, int]:
    return (
        await session.scalar(select(func.count()).select_from(QualificationStandard)) or 0,
        await session.scalar(select(func.count()).select_from(QualificationRequirement)) or 0,
    )


# -- the bundled example -----------------------------------------------------------------------


async def test_the_division_chief_example_is_bundled_and_marked_as_an_example(
    client: AsyncClient, session: AsyncSession
) -> None:
    reader = await auth_headers(session, Role.reader)
    standards = await _all_pages(client, URL, reader)
    (example,) = [s for s in standards if s["is_example"]]
    assert example["position_title"] == "Division Chief (example)"
    assert (example["framework"], example["version"], example["agency"]) == (CSC, "2015", None)
    assert [r["competency"]["code"] for r in example["requirements"]] == CSC_2015
    assert {
        (r["level"]["code"], r["level"]["name"], r["level"]["rank"])
        for r in example["requirements"]
    } == {("advanced", "Advanced", 3)}
    fetched = await client.get(f"{URL}/{example['id']}", headers=reader)
    assert fetched.json() == example


async def test_a_division_chief_must_show_every_indicator_up_to_advanced(
    client: AsyncClient, session: AsyncSession
) -> None:
    reader = await auth_headers(session, Role.reader)
    (example,) = [s for s in await _all_pages(client, URL, reader) if s["is_example"]]
    indicators = await _all_pages(
        client, f"{URL}/{example['id']}/indicators", reader, {"limit": 10}
    )
    # Basic + Intermediate + Advanced of all five competencies (NOTES: 26 + 26 + 27).
    assert len(indicators) == 79
    assert len({i["id"] for i in indicators}) == 79
    assert {i["level"]["code"] for i in indicators} == {"basic", "intermediate", "advanced"}
    assert {i["competency"]["code"] for i in indicators} == set(CSC_2015)
    assert {(i["framework"], i["version"], i["polarity"]) for i in indicators} == {
        (CSC, "2015", "positive")
    }
    ids = [i["id"] for i in indicators]
    assert ids == sorted(ids)  # source order
    advanced_leading_change = [
        i
        for i in indicators
        if i["competency"]["code"] == "leading-change" and i["level"]["code"] == "advanced"
    ]
    assert len(advanced_leading_change) == 7


async def test_loading_the_reference_data_again_adds_no_second_example(
    session: AsyncSession,
) -> None:
    before = await _counts(session)
    assert await load_example_standards(session) == 0
    await load_reference_data(session)
    assert await _counts(session) == before


# -- creating and reading ----------------------------------------------------------------------


async def test_staff_create_a_standard_and_anyone_with_a_key_reads_it(
    client: AsyncClient, session: AsyncSession
) -> None:
    agency = await make_agency(session, "DBM", "Department of Budget and Management")
    staff = await auth_headers(session, Role.staff)
    response = await client.post(URL, json=_standard(agency=agency), headers=staff)
    assert response.status_code == 201
    created = response.json()
    assert created["is_example"] is False
    assert created["agency"] == "DBM"
    assert [(r["competency"]["name"], r["level"]["name"]) for r in created["requirements"]] == [
        ("Leading Change", "Superior"),
        ("Thinking Strategically and Creatively", "Basic"),
    ]

    for role in (Role.reader, Role.agency, Role.assessor, Role.admin):
        headers = await auth_headers(session, role, agency if role is Role.agency else None)
        fetched = await client.get(f"{URL}/{created['id']}", headers=headers)
        assert fetched.status_code == 200
        assert fetched.json() == created

    indicators = await _all_pages(client, f"{URL}/{created['id']}/indicators", staff)
    # Leading Change at every level (26) and Thinking Strategically at Basic only (5).
    assert len(indicators) == 31
    by_competency = {
        code: {i["level"]["code"] for i in indicators if i["competency"]["code"] == code}
        for code in ("leading-change", "thinking-strategically-and-creatively")
    }
    assert by_competency == {
        "leading-change": {"basic", "intermediate", "advanced", "superior"},
        "thinking-strategically-and-creatively": {"basic"},
    }


async def test_a_standard_on_stages_uses_the_competency_own_scale(
    client: AsyncClient, session: AsyncSession
) -> None:
    admin = await auth_headers(session, Role.admin)
    body = _standard(
        framework="grade9-leadership-competencies",
        version="1",
        requirements=[
            {"competency": "self-belief", "level": "stage-2"},
            {"competency": "leading-change-through-people", "level": "stage-1"},
        ],
    )
    response = await client.post(URL, json=body, headers=admin)
    assert response.status_code == 201
    assert [r["level"]["name"] for r in response.json()["requirements"]] == [
        "Stage 2 - Is confident in own ability",
        "Stage 1 - Manages the team",
    ]
    indicators = await _all_pages(client, f"{URL}/{response.json()['id']}/indicators", admin)
    # Self Belief stages 1-2 (3 + 3) and Leading Change through People stage 1 (3); the
    # negative indicators of both are left out.
    assert len(indicators) == 9
    assert {i["polarity"] for i in indicators} == {"positive"}


async def test_a_retired_version_may_be_used(client: AsyncClient, session: AsyncSession) -> None:
    staff = await auth_headers(session, Role.staff)
    body = _standard(
        version="2014", requirements=[{"competency": "leading-change", "level": "basic"}]
    )
    response = await client.post(URL, json=body, headers=staff)
    assert response.status_code == 422  # the 2014 version has no levels at all
    assert response.json()["errors"] == [
        {
            "field": "body.requirements[0].level",
            "message": "unknown level 'basic' (levels: none: this competency has no levels)",
        }
    ]

    await client.post("/v1/frameworks", json=framework_document(), headers=staff)
    await client.post(f"/v1/frameworks/{SLUG}/versions/1/publish", headers=staff)
    await client.post(f"/v1/frameworks/{SLUG}/versions/1/retire", headers=staff)
    body = _standard(
        framework=SLUG,
        version="1",
        requirements=[{"competency": "planning-work", "level": "basic"}],
    )
    response = await client.post(URL, json=body, headers=staff)
    assert response.status_code == 201
    indicators = await _all_pages(client, f"{URL}/{response.json()['id']}/indicators", staff)
    assert [i["text"] for i in indicators] == ["Plans own work each week."]


async def test_list_filters_by_agency_and_framework_and_pages(
    client: AsyncClient, session: AsyncSession
) -> None:
    await make_agency(session, "DBM", "Department of Budget and Management")
    staff = await auth_headers(session, Role.staff)
    ids = []
    for n in range(3):
        body = _standard(position_title=f"Chief {n}", agency="DBM")
        ids.append((await client.post(URL, json=body, headers=staff)).json()["id"])
    grade9 = _standard(
        framework="grade9-leadership-competencies",
        version="1",
        requirements=[{"competency": "self-belief", "level": "stage-1"}],
    )
    ids.append((await client.post(URL, json=grade9, headers=staff)).json()["id"])

    by_agency = await _all_pages(client, URL, staff, {"agency": "DBM", "limit": 1})
    assert [s["id"] for s in by_agency] == ids[:3]
    on_grade9 = await _all_pages(
        client, URL, staff, {"framework": "grade9-leadership-competencies"}
    )
    assert [s["id"] for s in on_grade9] == ids[3:]
    on_csc = await _all_pages(client, URL, staff, {"framework": CSC, "limit": 2})
    assert [s["position_title"] for s in on_csc] == [
        "Division Chief (example)",
        "Chief 0",
        "Chief 1",
        "Chief 2",
    ]
    everything = await _all_pages(client, URL, staff, {"limit": 1})
    assert len(everything) == len({s["id"] for s in everything}) == 5
    assert await _all_pages(client, URL, staff, {"agency": "NONE"}) == []


# -- refusals ----------------------------------------------------------------------------------


async def test_every_problem_is_listed_and_nothing_is_written(
    client: AsyncClient, session: AsyncSession
) -> None:
    staff = await auth_headers(session, Role.staff)
    before = await _counts(session)
    body = _standard(
        agency="NOPE",
        requirements=[
            {"competency": "leading-change", "level": "advanced"},
            {"competency": "developing-people", "level": "advanced"},
            {"competency": "thinking-strategically-and-creatively", "level": "expert"},
            {"competency": "leading-change", "level": "basic"},
        ],
    )
    response = await client.post(URL, json=body, headers=staff)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"] == [
        {"field": "body.agency", "message": "unknown agency 'NOPE'"},
        {
            "field": "body.requirements[1].competency",
            "message": "unknown competency 'developing-people' in this version",
        },
        {
            "field": "body.requirements[2].level",
            "message": "unknown level 'expert' (levels: basic, intermediate, advanced, superior)",
        },
        {
            "field": "body.requirements[3].competency",
            "message": "duplicate competency 'leading-change'",
        },
    ]
    assert await _counts(session) == before


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"framework": "no-such-framework"}, "body.framework", "unknown framework"),
        ({"version": "1999"}, "body.version", "unknown version '1999'"),
    ],
)
async def test_unknown_framework_or_version_is_422(
    client: AsyncClient, session: AsyncSession, changes: dict[str, str], field: str, message: str
) -> None:
    staff = await auth_headers(session, Role.staff)
    response = await client.post(URL, json=_standard(agency="NOPE", **changes), headers=staff)
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert [e["field"] for e in errors] == ["body.agency", field]
    assert errors[1]["message"].startswith(message)


async def test_a_draft_version_is_refused(client: AsyncClient, session: AsyncSession) -> None:
    staff = await auth_headers(session, Role.staff)
    await client.post("/v1/frameworks", json=framework_document(), headers=staff)
    before = await _counts(session)
    body = _standard(
        framework=SLUG,
        version="1",
        requirements=[{"competency": "planning-work", "level": "basic"}],
    )
    response = await client.post(URL, json=body, headers=staff)
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "field": "body.version",
            "message": "a draft; a standard needs a published or retired version",
        }
    ]
    assert await _counts(session) == before


async def test_malformed_bodies_are_422_with_field_paths(
    client: AsyncClient, session: AsyncSession
) -> None:
    staff = await auth_headers(session, Role.staff)
    body = _standard(
        position_title=" ",
        agency="not an agency",
        requirements=[{"competency": "leading-change"}, {"competency": "Bad Code", "level": "x"}],
    )
    response = await client.post(URL, json=body, headers=staff)
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {
        "body.position_title",
        "body.agency",
        "body.requirements[0].level",
        "body.requirements[1].competency",
    }
    empty = await client.post(URL, json=_standard(requirements=[]), headers=staff)
    assert empty.status_code == 422
    assert [e["field"] for e in empty.json()["errors"]] == ["body.requirements"]


def test_requirement_problems_without_a_database() -> None:
    scales = {"a": (1, {"low": 10, "high": 11}), "b": (2, {})}
    requirements = [
        RequirementIn(competency="a", level="high"),
        RequirementIn(competency="b", level="low"),
        RequirementIn(competency="a", level="mid"),
        RequirementIn(competency="c", level="low"),
    ]
    assert [(p.field, p.message) for p in requirement_problems(requirements, scales)] == [
        (
            "body.requirements[1].level",
            "unknown level 'low' (levels: none: this competency has no levels)",
        ),
        ("body.requirements[2].competency", "duplicate competency 'a'"),
        ("body.requirements[2].level", "unknown level 'mid' (levels: low, high)"),
        ("body.requirements[3].competency", "unknown competency 'c' in this version"),
    ]


@pytest.mark.parametrize("role", [Role.reader, Role.agency, Role.assessor])
async def test_only_admin_and_staff_create_standards(
    client: AsyncClient, session: AsyncSession, role: Role
) -> None:
    headers = await auth_headers(session, role)
    response = await client.post(URL, json=_standard(), headers=headers)
    assert response.status_code == 403


async def test_reads_need_a_key(client: AsyncClient, session: AsyncSession) -> None:
    reader = await auth_headers(session, Role.reader)
    (example,) = [s for s in await _all_pages(client, URL, reader) if s["is_example"]]
    for url in (URL, f"{URL}/{example['id']}", f"{URL}/{example['id']}/indicators"):
        assert (await client.get(url)).status_code == 401
    assert (await client.post(URL, json=_standard())).status_code == 401


async def test_unknown_or_malformed_id(client: AsyncClient, session: AsyncSession) -> None:
    reader = await auth_headers(session, Role.reader)
    missing = "00000000-0000-4000-8000-000000000000"
    assert (await client.get(f"{URL}/{missing}", headers=reader)).status_code == 404
    assert (await client.get(f"{URL}/{missing}/indicators", headers=reader)).status_code == 404
    malformed = await client.get(f"{URL}/not-a-uuid", headers=reader)
    assert malformed.status_code == 422
    assert malformed.json()["errors"][0]["field"] == "path.standard_id"
