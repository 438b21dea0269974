"""Export as JSON, CSV and CASE; each imports back to the same bytes; CASE validates.

``schemas/case-v1p1-cfpackage.json`` is the official 1EdTech CASE 1.1 CFPackage JSON Schema
(draft 2019-09) as vendored in the 1EdTech OpenCASE repository (Apache-2.0).
"""

import csv
import io
import json
import re
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.roles import Role
from app.frameworks import case
from app.frameworks.reference import bundled_documents
from app.frameworks.service import get_version
from tests.factories import auth_headers
from tests.frameworks.documents import SLUG, framework_document

SCHEMA_PATH = Path(__file__).parent / "schemas" / "case-v1p1-cfpackage.json"
BUNDLED = [(doc.slug, doc.version) for doc, _ in bundled_documents()]
BUNDLED_IDS = [f"{slug}@{version}" for slug, version in BUNDLED]
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
MEDIA = {"json": "application/json", "csv": "text/csv; charset=utf-8", "case": "application/json"}


def _validator() -> jsonschema.Draft201909Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return jsonschema.Draft201909Validator(
        schema, format_checker=jsonschema.Draft201909Validator.FORMAT_CHECKER
    )


async def _export(
    client: AsyncClient, slug: str, version: str, fmt: str, headers: dict[str, str] | None = None
) -> bytes:
    response = await client.get(
        f"/v1/frameworks/{slug}/versions/{version}/export",
        params={"format": fmt},
        headers=headers or {},
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == MEDIA[fmt]
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    return response.content


async def _import(
    client: AsyncClient, slug: str, fmt: str, body: bytes, headers: dict[str, str]
) -> dict[str, Any]:
    if fmt == "json":
        response = await client.post(
            "/v1/frameworks", content=body, headers=headers | {"Content-Type": "application/json"}
        )
    else:
        media = "text/csv" if fmt == "csv" else "application/json"
        response = await client.post(
            f"/v1/frameworks/{slug}/versions:import",
            params={"format": fmt},
            content=body,
            headers=headers | {"Content-Type": media},
        )
    assert response.status_code == 201, response.text
    body_json: dict[str, Any] = response.json()
    return body_json


@pytest.mark.parametrize("fmt", ["json", "csv", "case"])
@pytest.mark.parametrize(("slug", "version"), BUNDLED, ids=BUNDLED_IDS)
async def test_every_bundled_version_exports_imports_and_exports_to_the_same_bytes(
    client: AsyncClient, session: AsyncSession, slug: str, version: str, fmt: str
) -> None:
    admin = await auth_headers(session, Role.admin)
    first = await _export(client, slug, version, fmt)

    # Free the label (the original stays, renamed) so the import can take it again.
    original = (await get_version(session, slug, version)).version
    original.version = f"{version}-was"
    await session.commit()
    imported = await _import(client, slug, fmt, first, admin)
    assert (imported["slug"], imported["version"], imported["status"]) == (slug, version, "draft")

    # A CASE package states the version's status and last change: give the copy the original's.
    copy = (await get_version(session, slug, version)).version
    copy.status, copy.updated_at = original.status, original.updated_at
    copy.published_at, copy.retired_at = original.published_at, original.retired_at
    await session.commit()

    assert await _export(client, slug, version, fmt, admin) == first


@pytest.mark.parametrize(("slug", "version"), BUNDLED, ids=BUNDLED_IDS)
async def test_case_export_of_every_bundled_version_is_a_valid_cfpackage(
    client: AsyncClient, slug: str, version: str
) -> None:
    package = json.loads(await _export(client, slug, version, "case"))
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in _validator().iter_errors(package)]
    assert errors == []

    objects = list(case.objects(package))
    identifiers = [obj["identifier"] for _, obj in objects]
    assert all(UUID.fullmatch(i) for i in identifiers)
    assert len(identifiers) == len(set(identifiers))
    stamps = {obj["lastChangeDateTime"] for _, obj in objects}
    assert len(stamps) == 1
    assert datetime.fromisoformat(stamps.pop().replace("Z", "+00:00")).tzinfo is not None
    items = {item["identifier"]: item for item in package["CFItems"]}
    document_id = package["CFDocument"]["identifier"]
    for association in package["CFAssociations"]:
        assert association["originNodeURI"]["identifier"] in items
        assert association["destinationNodeURI"]["identifier"] in {*items, document_id}
    parents = [a for a in package["CFAssociations"] if a["associationType"] == "isChildOf"]
    assert sorted(a["originNodeURI"]["identifier"] for a in parents) == sorted(items)
    type_ids = {t["identifier"] for t in package["CFDefinitions"]["CFItemTypes"]}
    assert {item["CFItemTypeURI"]["identifier"] for item in items.values()} <= type_ids


async def test_case_identifiers_are_stable_and_never_shared_between_versions(
    client: AsyncClient,
) -> None:
    older = json.loads(await _export(client, "csc-leadership-competencies", "2014", "case"))
    newer = json.loads(await _export(client, "csc-leadership-competencies", "2015", "case"))
    again = json.loads(await _export(client, "csc-leadership-competencies", "2015", "case"))
    assert newer == again
    ids = {obj["identifier"] for _, obj in case.objects(older)}
    assert ids.isdisjoint(obj["identifier"] for _, obj in case.objects(newer))
    leading_change = next(
        item
        for item in newer["CFItems"]
        if item["CFItemType"] == "Competency" and item["humanCodingScheme"] == "leading-change"
    )
    assert leading_change["abbreviatedStatement"] == "Leading Change"
    assert leading_change["identifier"] == str(
        uuid.uuid5(
            case.CASE_NAMESPACE, "csc-leadership-competencies/2015/competency/leading-change"
        )
    )


async def test_case_export_carries_levels_polarity_and_incomplete_text_in_standard_fields(
    client: AsyncClient,
) -> None:
    grade9 = json.loads(await _export(client, "grade9-leadership-competencies", "1", "case"))
    by_id = {item["identifier"]: item for item in grade9["CFItems"]}
    negatives = [i for i in grade9["CFItems"] if i["CFItemType"] == "Negative Indicator"]
    assert negatives and all("extensions" not in i for i in negatives)
    heading = next(i for i in grade9["CFItems"] if i["CFItemType"] == "Negative Indicators")
    assert heading["fullStatement"] == "Doubts own capability or is arrogant"
    stages = [i for i in grade9["CFItems"] if i["CFItemType"] == "Level"]
    assert {s["humanCodingScheme"] for s in stages} >= {"stage-1", "stage-2"}
    skill = [a for a in grade9["CFAssociations"] if a["associationType"] == "hasSkillLevel"]
    assert skill
    assert all(by_id[a["destinationNodeURI"]["identifier"]]["CFItemType"] == "Level" for a in skill)
    (rubric,) = grade9["CFRubrics"]
    assert len(rubric["CFRubricCriteria"]) == 15
    assert all(c["CFRubricCriterionLevels"] for c in rubric["CFRubricCriteria"])

    csc = json.loads(await _export(client, "csc-leadership-competencies", "2015", "case"))
    incomplete = [i for i in csc["CFItems"] if i.get("notes") == case.INCOMPLETE_NOTE]
    assert {i["CFItemType"] for i in incomplete} == {"Indicator", "Level Description"}
    criterion_levels = csc["CFRubrics"][0]["CFRubricCriteria"][0]["CFRubricCriterionLevels"]
    assert [(lv["quality"], lv["score"]) for lv in criterion_levels] == [
        ("Basic", 1),
        ("Intermediate", 2),
        ("Advanced", 3),
        ("Superior", 4),
    ]
    assert all(lv["description"] for lv in criterion_levels)


async def test_csv_export_has_a_header_and_one_row_per_indicator(client: AsyncClient) -> None:
    exported = (await _export(client, "csc-leadership-competencies", "2015", "csv")).decode()
    rows = list(csv.DictReader(io.StringIO(exported, newline="")))
    assert len(rows) == 106
    assert {row["version"] for row in rows} == {"2015"}
    assert rows[0]["level"] == "basic" and rows[0]["level_rank"] == "1"
    assert sum(row["complete"] == "false" for row in rows) == 4
    assert exported.endswith("\r\n")

    older = (await _export(client, "csc-leadership-competencies", "2014", "csv")).decode()
    placeholders = list(csv.DictReader(io.StringIO(older, newline="")))
    assert len(placeholders) == 7 and all(row["text"] == "" for row in placeholders)


async def test_json_export_is_the_framework_document(client: AsyncClient) -> None:
    exported = json.loads(await _export(client, "grade9-leadership-competencies", "1", "json"))
    read = (await client.get("/v1/frameworks/grade9-leadership-competencies/versions/1")).json()
    for key in ("status", "published_at", "retired_at", "updated_at"):
        read.pop(key)
    assert exported == read


async def test_drafts_export_only_for_admin_and_staff(
    client: AsyncClient, session: AsyncSession
) -> None:
    staff = await auth_headers(session, Role.staff)
    reader = await auth_headers(session, Role.reader)
    created = await client.post("/v1/frameworks", json=framework_document(), headers=staff)
    assert created.status_code == 201
    url = f"/v1/frameworks/{SLUG}/versions/1/export"
    for fmt in ("json", "csv", "case"):
        assert (await client.get(url, params={"format": fmt})).status_code == 404
        assert (await client.get(url, params={"format": fmt}, headers=reader)).status_code == 404
        hidden = await client.get(url, params={"format": fmt}, headers=staff)
        assert hidden.status_code == 200
        assert hidden.headers["cache-control"] == "private, no-cache"
    package = json.loads((await client.get(url, params={"format": "case"}, headers=staff)).content)
    assert package["CFDocument"]["adoptionStatus"] == "Draft"
    assert list(_validator().iter_errors(package)) == []


async def test_export_supports_conditional_requests_and_rejects_unknown_formats(
    client: AsyncClient,
) -> None:
    url = "/v1/frameworks/csc-leadership-competencies/versions/2015/export"
    first = await client.get(url, params={"format": "csv"})
    again = await client.get(
        url, params={"format": "csv"}, headers={"If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 304
    bad = await client.get(url, params={"format": "xml"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "query.format"
