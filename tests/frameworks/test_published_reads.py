"""Reads of published and retired versions come from bytes a process made once: they equal the
bytes built afresh for every bundled framework, revalidate to 304, and a publish or retire is
seen at once by the process that made it and within ``CPRO_FRAMEWORK_CACHE_SECONDS`` by others.
"""

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from httpx import ASGITransport, AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.auth.roles import Role
from app.core.database import create_sessionmaker, get_session
from app.core.settings import Settings
from app.frameworks.exchange import build_export
from app.frameworks.models import Framework, FrameworkVersion
from app.frameworks.search import search_indicators
from app.frameworks.service import VersionRef, load_document
from app.main import create_app
from app.qualifications.models import QualificationStandard
from app.qualifications.service import _render
from tests.factories import auth_headers
from tests.frameworks.documents import SLUG, framework_document

BASE = "http://127.0.0.1:8000"


async def _bundled_versions(session: AsyncSession) -> list[VersionRef]:
    rows = await session.execute(
        select(Framework, FrameworkVersion)
        .join(FrameworkVersion, FrameworkVersion.framework_id == Framework.id)
        .where(FrameworkVersion.status != "draft")
        .order_by(Framework.slug, FrameworkVersion.version)
    )
    return [VersionRef(*row) for row in rows]


async def test_cached_bytes_equal_fresh_ones_for_every_bundled_version(
    client: AsyncClient, session: AsyncSession
) -> None:
    refs = await _bundled_versions(session)
    assert {ref.framework.slug for ref in refs} >= {
        "csc-leadership-competencies",
        "grade9-leadership-competencies",
        "uk-civil-service-leadership-management",
        "ncpm-cpm-competencies",
        "canada-leadership-development",
    }
    for ref in refs:
        slug, label = ref.framework.slug, ref.version.version
        fresh = await load_document(session, ref)
        url = f"/v1/frameworks/{slug}/versions/{label}"
        for _ in range(2):  # built, then from the process's bytes
            served = await client.get(url)
            assert served.content == fresh.model_dump_json().encode(), url
        assert (
            await client.get(url, headers={"If-None-Match": served.headers["etag"]})
        ).status_code == 304

        for file_format in ("json", "csv", "case"):
            expected = build_export(fresh, file_format, BASE)  # type: ignore[arg-type]
            for _ in range(2):
                served = await client.get(f"{url}/export", params={"format": file_format})
                assert served.status_code == 200
                assert served.content == expected.body, (url, file_format)
                assert served.headers["etag"] == expected.etag
            assert served.headers["cache-control"].startswith("public, max-age=")
            again = await client.get(
                f"{url}/export",
                params={"format": file_format},
                headers={"If-None-Match": expected.etag},
            )
            assert again.status_code == 304

        items, _ = await search_indicators(
            session, version_ids=[ref.version.id], cursor=None, limit=200
        )
        listed: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = await client.get(
                f"/v1/frameworks/{slug}/indicators",
                params={"version": label, "limit": 37} | ({"cursor": cursor} if cursor else {}),
            )
            listed += page.json()["items"]
            cursor = page.json()["next_cursor"]
            if cursor is None:
                break
        assert listed == [json.loads(item.model_dump_json()) for item in items], url


async def test_required_indicators_are_the_ones_built_afresh(
    client: AsyncClient, session: AsyncSession
) -> None:
    reader = await auth_headers(session, Role.reader)
    standard = await session.scalar(
        select(QualificationStandard).where(QualificationStandard.is_example)
    )
    assert standard is not None
    (out,) = await _render(session, [standard])
    up_to = [(r.competency.code, r.level.rank) for r in out.requirements]
    expected, _ = await search_indicators(
        session,
        version_ids=[standard.version_id],
        polarity="positive",
        up_to=up_to,
        cursor=None,
        limit=200,
    )
    url = f"/v1/qualification-standards/{standard.id}/indicators"
    for _ in range(2):
        served = await client.get(url, params={"limit": 200}, headers=reader)
        assert served.status_code == 200
        assert served.json()["items"] == [json.loads(i.model_dump_json()) for i in expected]
    assert served.headers["cache-control"] == "public, max-age=86400"
    again = await client.get(
        url, params={"limit": 200}, headers=reader | {"If-None-Match": served.headers["etag"]}
    )
    assert again.status_code == 304


async def _texts(client: AsyncClient, q: str) -> set[tuple[str, str]]:
    found = await client.get("/v1/indicators", params={"q": q, "framework": SLUG, "limit": 200})
    assert found.status_code == 200
    return {(i["version"], i["text"]) for i in found.json()["items"]}


def _version_2() -> dict[str, Any]:
    document = framework_document(version="2", notes="Second.")
    document["competencies"][0]["indicators"][1]["text"] = "Mentors supervisors in coaching."
    return document


async def _publish(client: AsyncClient, staff: dict[str, str], version: str) -> None:
    response = await client.post(f"/v1/frameworks/{SLUG}/versions/{version}/publish", headers=staff)
    assert response.status_code == 200, response.text


async def test_a_publish_or_retire_is_seen_at_once_in_the_same_process(
    client: AsyncClient, session: AsyncSession
) -> None:
    staff = await auth_headers(session, Role.staff)
    assert (
        await client.post("/v1/frameworks", json=framework_document(), headers=staff)
    ).status_code == 201
    assert await _texts(client, "mentors") == set()
    await _publish(client, staff, "1")
    assert await _texts(client, "mentors") == {("1", "Mentors team leaders in giving feedback.")}
    assert (await client.get(f"/v1/frameworks/{SLUG}")).json()["version"] == "1"

    assert (
        await client.post("/v1/frameworks", json=_version_2(), headers=staff)
    ).status_code == 201
    assert await _texts(client, "mentors") == {("1", "Mentors team leaders in giving feedback.")}
    await _publish(client, staff, "2")
    assert await _texts(client, "mentors") == {("2", "Mentors supervisors in coaching.")}
    assert (await client.get(f"/v1/frameworks/{SLUG}")).json()["version"] == "2"

    retired = await client.post(f"/v1/frameworks/{SLUG}/versions/2/retire", headers=staff)
    assert retired.status_code == 200
    assert await _texts(client, "mentors") == {("1", "Mentors team leaders in giving feedback.")}
    assert (await client.get(f"/v1/frameworks/{SLUG}")).json()["version"] == "1"
    old = await client.get(f"/v1/frameworks/{SLUG}/versions/2")
    assert old.json()["status"] == "retired"
    assert old.headers["cache-control"] == "public, max-age=86400"


async def _other_process(
    engine: AsyncEngine, session: AsyncSession, settings: Settings, seconds: float
) -> AsyncIterator[AsyncClient]:
    """Another API process on the same database (its own caches), seeing the test's data."""
    other = create_app(settings.model_copy(update={"framework_cache_seconds": seconds}))
    other.state.engine = engine
    other.state.sessionmaker = create_sessionmaker(engine)

    async def same_session() -> AsyncIterator[AsyncSession]:
        yield session
        await session.commit()

    other.dependency_overrides[get_session] = same_session
    transport = ASGITransport(app=other, raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://other") as client:
        yield client


async def test_other_processes_see_a_publish_within_the_cache_seconds(
    client: AsyncClient, session: AsyncSession, engine: AsyncEngine, settings: Settings
) -> None:
    seconds = 0.5
    staff = await auth_headers(session, Role.staff)
    assert (
        await client.post("/v1/frameworks", json=framework_document(), headers=staff)
    ).status_code == 201
    await _publish(client, staff, "1")
    async for other in _other_process(engine, session, settings, seconds):
        assert await _texts(other, "mentors") == {("1", "Mentors team leaders in giving feedback.")}
        assert (await other.get(f"/v1/frameworks/{SLUG}")).json()["version"] == "1"

        assert (
            await client.post("/v1/frameworks", json=_version_2(), headers=staff)
        ).status_code == 201
        await _publish(client, staff, "2")
        published_at = asyncio.get_running_loop().time()
        # Until its cache expires the other process may still answer with version 1...
        seen: set[tuple[str, str]] = await _texts(other, "mentors")
        while seen != {("2", "Mentors supervisors in coaching.")}:
            assert seen == {("1", "Mentors team leaders in giving feedback.")}
            assert asyncio.get_running_loop().time() - published_at < seconds + 0.2
            await asyncio.sleep(0.05)
            seen = await _texts(other, "mentors")
        # ...and within it, everything it serves is version 2.
        await asyncio.sleep(seconds)
        assert (await other.get(f"/v1/frameworks/{SLUG}")).json()["version"] == "2"

        retired = await client.post(f"/v1/frameworks/{SLUG}/versions/2/retire", headers=staff)
        assert retired.status_code == 200
        await asyncio.sleep(seconds + 0.05)
        assert await _texts(other, "mentors") == {("1", "Mentors team leaders in giving feedback.")}
        assert (await other.get(f"/v1/frameworks/{SLUG}")).json()["version"] == "1"
