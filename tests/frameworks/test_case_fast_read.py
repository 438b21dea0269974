"""CASE single-object reads answered before routing, from the process's fresh index: the same
bytes and headers as the routes, no database, and a retire seen at once here and within
``CPRO_FRAMEWORK_CACHE_SECONDS`` in other processes."""

import asyncio
import io
import json
from collections.abc import AsyncIterator

from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.auth.roles import Role
from app.core.database import get_session
from app.core.settings import Settings
from tests.factories import auth_headers
from tests.frameworks.test_published_reads import _other_process

CASE = "/ims/case/v1p1"
UK = ("uk-civil-service-leadership-management", "2")
VOLATILE = {"x-request-id", "date"}


def _stable(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k not in VOLATILE}


async def _document_id(client: AsyncClient) -> str:
    exported = await client.get(
        f"/v1/frameworks/{UK[0]}/versions/{UK[1]}/export", params={"format": "case"}
    )
    identifier: str = exported.json()["CFDocument"]["identifier"]
    return identifier


async def _single_reads(client: AsyncClient) -> list[str]:
    """A path of every single-object operation the fast path answers."""
    document_id = await _document_id(client)
    package = (await client.get(f"{CASE}/CFPackages/{document_id}")).json()
    item = package["CFItems"][0]
    return [
        f"{CASE}/CFDocuments/{document_id}",
        f"{CASE}/CFPackages/{document_id}",
        f"{CASE}/CFItems/{item['identifier']}",
        f"{CASE}/CFItemAssociations/{item['identifier']}",
        f"{CASE}/CFAssociations/{package['CFAssociations'][0]['identifier']}",
        f"{CASE}/CFItemTypes/{item['CFItemTypeURI']['identifier']}",
        f"{CASE}/CFLicenses/{package['CFDefinitions']['CFLicenses'][0]['identifier']}",
        f"{CASE}/CFRubrics/{package['CFRubrics'][0]['identifier']}",
        f"/ims/case/uri/{package['CFRubrics'][0]['CFRubricCriteria'][0]['identifier']}",
        f"/ims/case/v1p0/CFDocuments/{document_id}",
        f"/ims/case/v1p0/CFPackages/{document_id}",
    ]


def _count_sessions(app: FastAPI, session: AsyncSession) -> list[None]:
    """The test's session, counted each time a route asks for one."""
    asked: list[None] = []

    async def counted() -> AsyncIterator[AsyncSession]:
        asked.append(None)
        yield session
        await session.commit()

    app.dependency_overrides[get_session] = counted
    return asked


async def test_fresh_reads_are_answered_before_routing_as_the_routes_do(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    paths = await _single_reads(client)
    routed = {path: await client.get(path) for path in paths}
    asked = _count_sessions(app, session)
    for path, answer in routed.items():
        fast = await client.get(path)
        assert fast.status_code == answer.status_code == 200, path
        assert fast.content == answer.content, path
        assert _stable(dict(fast.headers)) == _stable(dict(answer.headers)), path
        etag = answer.headers["etag"]
        again = await client.get(path, headers={"If-None-Match": f'"other", W/{etag}'})
        assert (again.status_code, again.content) == (304, b""), path
        assert again.headers["etag"] == etag and "x-request-id" in again.headers
    assert asked == []  # neither routing nor the database was needed


async def _an_item_id(client: AsyncClient, document_id: str) -> str:
    package = (await client.get(f"{CASE}/CFPackages/{document_id}")).json()
    identifier: str = package["CFItems"][0]["identifier"]
    return identifier


async def test_reads_the_routes_must_judge_still_reach_them(client: AsyncClient) -> None:
    document_id = await _document_id(client)
    document = await client.get(f"{CASE}/CFDocuments/{document_id}")
    upper = await client.get(f"{CASE}/CFDocuments/{document_id.upper()}")
    assert upper.status_code == 200 and upper.content == document.content
    for path, code_minor in (
        (f"{CASE}/CFDocuments/not-a-uuid", "invalid_uuid"),
        (f"{CASE}/CFDocuments/00000000-0000-0000-0000-000000000000", "unknownobject"),
        # An item's id is not a package's.
        (f"{CASE}/CFPackages/{await _an_item_id(client, document_id)}", "unknownobject"),
    ):
        refused = await client.get(path)
        assert refused.status_code == 404, path
        field = refused.json()["imsx_codeMinor"]["imsx_codeMinorField"][0]
        assert field["imsx_codeMinorFieldValue"] == code_minor, path


async def test_keys_query_strings_and_a_stale_index_go_to_the_route(
    client: AsyncClient, app: FastAPI, session: AsyncSession, settings: Settings
) -> None:
    path = (await _single_reads(client))[1]
    await client.get(path)
    asked = _count_sessions(app, session)
    for headers, url in (
        ({"Authorization": "Bearer not-a-key"}, path),
        ({"Origin": "https://portal.example"}, path),
        ({}, f"{path}?x=1"),
    ):
        await client.get(url, headers=headers)
        assert len(asked) == 1, (url, headers)
        asked.clear()
    # Due for a refresh (the cache seconds have passed): the route asks the database again.
    app.state.case_index.forget()
    assert (await client.get(path)).status_code == 200
    assert len(asked) == 1
    assert (await client.get(path)).status_code == 200
    assert len(asked) == 1


async def test_fast_answers_are_logged_under_the_route_template(
    client: AsyncClient, access_log: io.StringIO
) -> None:
    path = (await _single_reads(client))[1]
    await client.get(path)
    access_log.seek(0)
    access_log.truncate()  # only the line of the next request
    await client.get(path)
    (line,) = [json.loads(x) for x in access_log.getvalue().splitlines()]
    assert line["route"] == "/ims/case/v1p1/CFPackages/{sourcedId}" and line["status"] == 200


async def test_a_retire_is_seen_at_once_here_and_within_the_cache_seconds_elsewhere(
    client: AsyncClient, session: AsyncSession, engine: AsyncEngine, settings: Settings
) -> None:
    seconds = 0.5
    path = (await _single_reads(client))[0]
    staff = await auth_headers(session, Role.staff)
    async for other in _other_process(engine, session, settings, seconds):
        before = await other.get(path)
        assert before.json()["adoptionStatus"] != "Deprecated"
        assert (await client.get(path)).content == before.content

        retired = await client.post(
            f"/v1/frameworks/{UK[0]}/versions/{UK[1]}/retire", headers=staff
        )
        assert retired.status_code == 200
        retired_at = asyncio.get_running_loop().time()
        assert (await client.get(path)).json()["adoptionStatus"] == "Deprecated"
        # The other process may answer from its index until it is due for a refresh...
        seen = await other.get(path)
        while seen.json()["adoptionStatus"] != "Deprecated":
            assert seen.content == before.content
            assert asyncio.get_running_loop().time() - retired_at < seconds + 0.2
            await asyncio.sleep(0.05)
            seen = await other.get(path)
        assert seen.headers["etag"] != before.headers["etag"]
