import asyncio
import uuid
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.auth.roles import Role
from app.core.database import create_sessionmaker
from app.frameworks.models import Framework, FrameworkVersion, Indicator
from app.frameworks.schemas import FrameworkDocument
from app.frameworks.service import create_version
from tests.factories import auth_headers
from tests.frameworks.documents import SLUG, framework_document


async def _row_counts(session: AsyncSession) -> tuple[int, int, int]:
    return (
        await session.scalar(select(func.count()).select_from(Framework)) or 0,
        await session.scalar(select(func.count()).select_from(FrameworkVersion)) or 0,
        await session.scalar(select(func.count()).select_from(Indicator)) or 0,
    )


async def test_post_creates_a_draft_with_every_part_of_the_document(
    client: AsyncClient, session: AsyncSession
) -> None:
    staff = await auth_headers(session, Role.staff)
    response = await client.post("/v1/frameworks", json=framework_document(), headers=staff)
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "draft"
    assert body["published_at"] is None
    assert (body["slug"], body["version"]) == (SLUG, "1")
    assert [c["code"] for c in body["competencies"]] == ["developing-others", "planning-work"]
    developing = body["competencies"][0]
    assert developing["cluster"] == "people"
    assert [i["polarity"] for i in developing["indicators"]] == ["positive", "positive", "negative"]
    assert developing["indicators"][2]["level"] is None
    assert developing["indicators"][0]["complete"] is True

    fetched = await client.get(f"/v1/frameworks/{SLUG}/versions/1", headers=staff)
    assert fetched.status_code == 200
    assert fetched.json() == body


async def test_admin_may_author_too(client: AsyncClient, session: AsyncSession) -> None:
    admin = await auth_headers(session, Role.admin)
    response = await client.post("/v1/frameworks", json=framework_document(), headers=admin)
    assert response.status_code == 201


async def test_a_version_label_that_exists_is_409(
    client: AsyncClient, session: AsyncSession
) -> None:
    staff = await auth_headers(session, Role.staff)
    assert (
        await client.post("/v1/frameworks", json=framework_document(), headers=staff)
    ).status_code == 201
    again = await client.post("/v1/frameworks", json=framework_document(), headers=staff)
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json()["errors"] == [{"field": "body.version", "message": "already exists"}]

    # The bundled CSC 2015 cannot be overwritten by posting a document with its label either.
    csc = (await client.get("/v1/frameworks/csc-leadership-competencies/versions/2015")).json()
    for key in ("status", "published_at", "retired_at", "updated_at"):
        del csc[key]
    clash = await client.post("/v1/frameworks", json=csc, headers=staff)
    assert clash.status_code == 409


async def test_put_replaces_the_whole_draft(client: AsyncClient, session: AsyncSession) -> None:
    staff = await auth_headers(session, Role.staff)
    await client.post("/v1/frameworks", json=framework_document(), headers=staff)
    edited = framework_document(notes="Second draft.")
    edited["competencies"] = edited["competencies"][1:]
    edited["competencies"][0]["indicators"][0]["text"] = "Plans own work each day."
    edited["clusters"] = []

    response = await client.put(f"/v1/frameworks/{SLUG}/versions/1", json=edited, headers=staff)
    assert response.status_code == 200
    body = response.json()
    assert body["notes"] == "Second draft."
    assert body["clusters"] == []
    assert [c["code"] for c in body["competencies"]] == ["planning-work"]
    assert body["competencies"][0]["indicators"][0]["text"] == "Plans own work each day."

    listed = await client.get(f"/v1/frameworks/{SLUG}/indicators?version=1", headers=staff)
    assert [i["text"] for i in listed.json()["items"]] == [
        "Plans own work each day.",
        "Plans the unit's work for the year.",
    ]
    versions = (await client.get(f"/v1/frameworks/{SLUG}/versions", headers=staff)).json()
    assert [(v["competency_count"], v["indicator_count"]) for v in versions["items"]] == [(1, 2)]


async def test_put_must_name_the_version_of_the_url(
    client: AsyncClient, session: AsyncSession
) -> None:
    staff = await auth_headers(session, Role.staff)
    await client.post("/v1/frameworks", json=framework_document(), headers=staff)
    response = await client.put(
        f"/v1/frameworks/{SLUG}/versions/1", json=framework_document(version="2"), headers=staff
    )
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["body.version"]

    other_slug = framework_document(slug="another-framework")
    response = await client.put(f"/v1/frameworks/{SLUG}/versions/1", json=other_slug, headers=staff)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["body.slug"]


async def test_put_of_an_unknown_version_is_404(client: AsyncClient, session: AsyncSession) -> None:
    staff = await auth_headers(session, Role.staff)
    response = await client.put(
        f"/v1/frameworks/{SLUG}/versions/1", json=framework_document(), headers=staff
    )
    assert response.status_code == 404


async def test_publish_then_put_is_409_and_retire_ends_the_life_cycle(
    client: AsyncClient, session: AsyncSession
) -> None:
    staff = await auth_headers(session, Role.staff)
    await client.post("/v1/frameworks", json=framework_document(), headers=staff)
    assert (await client.get(f"/v1/frameworks/{SLUG}")).status_code == 404

    published = await client.post(f"/v1/frameworks/{SLUG}/versions/1/publish", headers=staff)
    assert published.status_code == 200
    assert published.json()["status"] == "published"
    assert published.json()["published_at"] is not None
    assert (published.json()["competency_count"], published.json()["indicator_count"]) == (2, 5)

    current = await client.get(f"/v1/frameworks/{SLUG}")
    assert current.status_code == 200
    assert current.json()["version"] == "1"

    put = await client.put(
        f"/v1/frameworks/{SLUG}/versions/1", json=framework_document(), headers=staff
    )
    assert put.status_code == 409
    again = await client.post(f"/v1/frameworks/{SLUG}/versions/1/publish", headers=staff)
    assert again.status_code == 409
    assert again.json()["allowed_next"] == ["retired"]

    retired = await client.post(f"/v1/frameworks/{SLUG}/versions/1/retire", headers=staff)
    assert retired.status_code == 200
    assert retired.json()["status"] == "retired"
    assert retired.json()["retired_at"] is not None
    # Still readable (assessments pinned to it resolve), but no longer current.
    assert (await client.get(f"/v1/frameworks/{SLUG}/versions/1")).status_code == 200
    assert (await client.get(f"/v1/frameworks/{SLUG}")).status_code == 404
    twice = await client.post(f"/v1/frameworks/{SLUG}/versions/1/retire", headers=staff)
    assert twice.status_code == 409
    assert twice.json()["allowed_next"] == []


async def test_a_draft_cannot_be_retired(client: AsyncClient, session: AsyncSession) -> None:
    staff = await auth_headers(session, Role.staff)
    await client.post("/v1/frameworks", json=framework_document(), headers=staff)
    response = await client.post(f"/v1/frameworks/{SLUG}/versions/1/retire", headers=staff)
    assert response.status_code == 409
    assert response.json()["allowed_next"] == ["published"]


async def test_publishing_a_new_version_makes_it_current(
    client: AsyncClient, session: AsyncSession
) -> None:
    staff = await auth_headers(session, Role.staff)
    await client.post("/v1/frameworks", json=framework_document(), headers=staff)
    await client.post(f"/v1/frameworks/{SLUG}/versions/1/publish", headers=staff)
    await client.post("/v1/frameworks", json=framework_document(version="2"), headers=staff)
    assert (await client.get(f"/v1/frameworks/{SLUG}")).json()["version"] == "1"
    await client.post(f"/v1/frameworks/{SLUG}/versions/2/publish", headers=staff)
    assert (await client.get(f"/v1/frameworks/{SLUG}")).json()["version"] == "2"
    listed = (await client.get("/v1/frameworks", params={"publisher": "Test Publisher"})).json()
    assert [(f["current_version"], f["versions"]) for f in listed["items"]] == [("2", ["1", "2"])]


def _bad_document() -> dict[str, Any]:
    doc = framework_document()
    developing, planning = doc["competencies"]
    developing["cluster"] = "no-such-cluster"
    developing["indicators"][0]["level"] = "expert"
    developing["indicators"][1]["element"] = "no-such-element"
    developing["indicators"][2]["level"] = "basic"  # a negative indicator with a level
    developing["level_descriptions"][1]["level"] = "superior"
    planning["indicators"][0]["text"] = "   "
    doc["competencies"].append({"code": "planning-work", "name": "Planning Work Again"})
    doc["levels"].append({"code": "basic", "name": "Basic again", "rank": 3})
    return doc


async def test_every_problem_of_a_document_is_listed_and_nothing_is_written(
    client: AsyncClient, session: AsyncSession
) -> None:
    staff = await auth_headers(session, Role.staff)
    before = await _row_counts(session)
    # Field types are checked first (an empty text), then references and codes.
    response = await client.post("/v1/frameworks", json=_bad_document(), headers=staff)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert {e["field"] for e in response.json()["errors"]} == {
        "body.competencies[1].indicators[0].text"
    }

    doc = _bad_document()
    doc["competencies"][1]["indicators"][0]["text"] = "Plans own work each week."
    response = await client.post("/v1/frameworks", json=doc, headers=staff)
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert {e["field"] for e in errors} == {
        "body.levels",
        "body.competencies",
        "body.competencies[0].cluster",
        "body.competencies[0].level_descriptions[1].level",
        "body.competencies[0].indicators[0].level",
        "body.competencies[0].indicators[1].element",
        "body.competencies[0].indicators[2].level",
    }
    messages = {e["message"] for e in errors}
    assert "duplicate code 'basic'" in messages
    assert "duplicate code 'planning-work'" in messages
    assert "unknown cluster 'no-such-cluster'" in messages
    assert "unknown level 'expert'" in messages
    assert "unknown element 'no-such-element'" in messages
    assert "negative indicators have no level" in messages
    assert await _row_counts(session) == before


async def test_a_bad_put_leaves_the_draft_as_it_was(
    client: AsyncClient, session: AsyncSession
) -> None:
    staff = await auth_headers(session, Role.staff)
    created = (await client.post("/v1/frameworks", json=framework_document(), headers=staff)).json()
    doc = _bad_document()
    doc["competencies"][1]["indicators"][0]["text"] = "Plans own work each week."
    response = await client.put(f"/v1/frameworks/{SLUG}/versions/1", json=doc, headers=staff)
    assert response.status_code == 422
    assert len(response.json()["errors"]) == 7
    after = await client.get(f"/v1/frameworks/{SLUG}/versions/1", headers=staff)
    assert after.json() == created


@pytest.mark.parametrize(
    ("field", "value", "path"),
    [
        ("slug", "Not A Slug", "body.slug"),
        ("jurisdiction", "Philippines", "body.jurisdiction"),
        ("title", "", "body.title"),
        ("version", "", "body.version"),
    ],
)
async def test_malformed_metadata_is_422(
    client: AsyncClient, session: AsyncSession, field: str, value: str, path: str
) -> None:
    staff = await auth_headers(session, Role.staff)
    response = await client.post(
        "/v1/frameworks", json=framework_document(**{field: value}), headers=staff
    )
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [path]


async def test_unknown_fields_are_refused(client: AsyncClient, session: AsyncSession) -> None:
    staff = await auth_headers(session, Role.staff)
    response = await client.post(
        "/v1/frameworks", json=framework_document(status="published"), headers=staff
    )
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["body.status"]


@pytest.mark.parametrize("role", [Role.reader, Role.agency, Role.assessor])
async def test_other_roles_may_not_author(
    client: AsyncClient, session: AsyncSession, role: Role
) -> None:
    staff = await auth_headers(session, Role.staff)
    await client.post("/v1/frameworks", json=framework_document(), headers=staff)
    headers = await auth_headers(session, role)
    calls = [
        client.post("/v1/frameworks", json=framework_document(version="2"), headers=headers),
        client.put(f"/v1/frameworks/{SLUG}/versions/1", json=framework_document(), headers=headers),
        client.post(f"/v1/frameworks/{SLUG}/versions/1/publish", headers=headers),
        client.post(
            "/v1/frameworks/csc-leadership-competencies/versions/2015/retire", headers=headers
        ),
    ]
    for call in calls:
        response = await call
        assert response.status_code == 403
        assert response.json()["type"] == "urn:cpro:problem:forbidden"


async def test_authoring_without_a_key_is_401(client: AsyncClient) -> None:
    for response in [
        await client.post("/v1/frameworks", json=framework_document()),
        await client.put(f"/v1/frameworks/{SLUG}/versions/1", json=framework_document()),
        await client.post("/v1/frameworks/csc-leadership-competencies/versions/2015/retire"),
    ]:
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")


async def test_a_draft_cannot_rewrite_the_metadata_of_a_published_framework(
    client: AsyncClient, session: AsyncSession
) -> None:
    staff = await auth_headers(session, Role.staff)
    csc = (await client.get("/v1/frameworks/csc-leadership-competencies/versions/2014")).json()
    etag = (await client.get("/v1/frameworks/csc-leadership-competencies/versions/2014")).headers[
        "etag"
    ]
    for key in ("status", "published_at", "retired_at", "updated_at"):
        del csc[key]
    draft = csc | {"version": "2099", "title": "An unpublished title", "description": None}
    response = await client.post("/v1/frameworks", json=draft, headers=staff)
    assert response.status_code == 409
    assert [e["field"] for e in response.json()["errors"]] == ["body.title", "body.description"]

    listed = await client.get("/v1/frameworks", params={"publisher": csc["publisher"]})
    assert listed.json()["items"][0]["title"] == "CSC Leadership Competency Framework"
    assert listed.json()["items"][0]["versions"] == ["2014", "2015"]
    retired = await client.get("/v1/frameworks/csc-leadership-competencies/versions/2014")
    assert retired.headers["etag"] == etag

    # The same metadata is fine: a new version of a published framework.
    same = await client.post("/v1/frameworks", json=csc | {"version": "2099"}, headers=staff)
    assert same.status_code == 201
    put = await client.put(
        "/v1/frameworks/csc-leadership-competencies/versions/2099", json=draft, headers=staff
    )
    assert put.status_code == 409


async def test_an_unpublished_framework_may_change_its_metadata(
    client: AsyncClient, session: AsyncSession
) -> None:
    staff = await auth_headers(session, Role.staff)
    await client.post("/v1/frameworks", json=framework_document(), headers=staff)
    renamed = framework_document(title="Renamed Test Framework")
    response = await client.put(f"/v1/frameworks/{SLUG}/versions/1", json=renamed, headers=staff)
    assert response.status_code == 200
    assert response.json()["title"] == "Renamed Test Framework"


async def test_simultaneous_creations_of_one_new_version_make_one_draft_and_409s(
    engine: AsyncEngine,
) -> None:
    """Four writers at once, each in its own committed transaction (as four requests are)."""
    slug = "race-" + uuid.uuid4().hex[:8]
    document = FrameworkDocument.model_validate(framework_document(slug=slug))
    sessions = create_sessionmaker(engine)

    async def create() -> None:
        async with sessions() as session, session.begin():
            await create_version(session, document)

    try:
        outcomes = await asyncio.gather(*(create() for _ in range(4)), return_exceptions=True)
        assert sorted(type(o).__name__ for o in outcomes) == [
            "Conflict",
            "Conflict",
            "Conflict",
            "NoneType",
        ], outcomes
        async with engine.connect() as connection:
            versions = await connection.scalar(
                select(func.count())
                .select_from(FrameworkVersion)
                .join(Framework)
                .where(Framework.slug == slug)
            )
        assert versions == 1
    finally:
        # Committed for real: take it away so that other tests' catalogues stay as seeded.
        async with engine.begin() as connection:
            await connection.execute(delete(Framework).where(Framework.slug == slug))
