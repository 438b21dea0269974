"""The CASE 1.1 REST binding (read side): public versions only, imsx_StatusInfo errors."""

import json
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient, Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.roles import Role
from app.core.settings import Settings
from app.frameworks.case import CASE_NAMESPACE
from app.frameworks.reference import bundled_documents
from tests.factories import auth_headers
from tests.frameworks.case_official import problems
from tests.frameworks.documents import SLUG, framework_document

CASE = "/ims/case/v1p1"
PUBLIC = [(doc.slug, doc.version) for doc, status in bundled_documents() if status != "draft"]


def _document_id(slug: str, version: str) -> str:
    return str(uuid.uuid5(CASE_NAMESPACE, f"{slug}/{version}/document"))


def _assert_status_info(response: Response, status: int, code_minor: str) -> None:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["imsx_codeMajor"] == "failure"
    assert body["imsx_severity"] == "error"
    assert body["imsx_description"]
    (field,) = body["imsx_codeMinor"]["imsx_codeMinorField"]
    assert field["imsx_codeMinorFieldValue"] == code_minor


async def _package(client: AsyncClient, slug: str, version: str) -> dict[str, Any]:
    response = await client.get(f"{CASE}/CFPackages/{_document_id(slug, version)}")
    assert response.status_code == 200, response.text
    package: dict[str, Any] = response.json()
    return package


async def test_cf_documents_lists_every_published_and_retired_version(
    client: AsyncClient, settings: Settings
) -> None:
    response = await client.get(f"{CASE}/CFDocuments")
    assert response.status_code == 200
    documents = response.json()["CFDocuments"]
    assert {_document_id(*public) for public in PUBLIC} <= {d["identifier"] for d in documents}
    assert response.headers["x-total-count"] == str(len(documents))
    retired_id = _document_id("csc-leadership-competencies", "2014")
    retired = next(d for d in documents if d["identifier"] == retired_id)
    assert (retired["version"], retired["adoptionStatus"]) == ("2014", "Deprecated")
    assert retired["statusEndDate"] and retired["statusStartDate"]
    for document in documents:
        package_uri = document["CFPackageURI"]
        assert package_uri["identifier"] == document["identifier"]
        # Under the configured public URL, whatever Host the request came with.
        base = settings.public_base_url.rstrip("/")
        assert package_uri["uri"] == f"{base}{CASE}/CFPackages/{document['identifier']}"


async def test_cf_documents_pages_with_limit_and_offset(client: AsyncClient) -> None:
    everything = (await client.get(f"{CASE}/CFDocuments")).json()["CFDocuments"]
    pages = []
    for offset in range(len(everything)):
        page = await client.get(f"{CASE}/CFDocuments", params={"limit": 1, "offset": offset})
        assert page.headers["x-total-count"] == str(len(everything))
        pages.extend(page.json()["CFDocuments"])
    assert pages == everything
    beyond = await client.get(f"{CASE}/CFDocuments", params={"offset": len(everything)})
    assert beyond.json() == {"CFDocuments": []}


async def test_cf_documents_sort_filter_and_fields(client: AsyncClient) -> None:
    by_title = await client.get(f"{CASE}/CFDocuments", params={"sort": "title", "orderBy": "desc"})
    titles = [d["title"] for d in by_title.json()["CFDocuments"]]
    assert titles == sorted(titles, reverse=True)

    filtered = await client.get(
        f"{CASE}/CFDocuments",
        params={"filter": "title~'csc leadership' AND adoptionStatus='Adopted'"},
    )
    assert [d["version"] for d in filtered.json()["CFDocuments"]] == ["2015"]
    assert filtered.headers["x-total-count"] == "1"
    either = await client.get(
        f"{CASE}/CFDocuments", params={"filter": "version='2014' OR version='2015'"}
    )
    assert sorted(d["version"] for d in either.json()["CFDocuments"]) == ["2014", "2015"]

    narrow = await client.get(f"{CASE}/CFDocuments", params={"fields": "identifier,title"})
    assert all(set(d) == {"identifier", "title"} for d in narrow.json()["CFDocuments"])


@pytest.mark.parametrize(
    ("params", "code_minor"),
    [
        ({"sort": "nope"}, "invalid_sort_field"),
        ({"sort": "subject"}, "invalid_sort_field"),
        ({"orderBy": "sideways"}, "invalid_selection_field"),
        ({"limit": "0"}, "invalid_selection_field"),
        ({"limit": "many"}, "invalid_selection_field"),
        ({"offset": "-1"}, "invalid_selection_field"),
        ({"fields": "identifier,colour"}, "invalid_selection_field"),
        ({"filter": "title~leadership"}, "invalid_selection_field"),
        ({"filter": "colour='red'"}, "invalid_selection_field"),
        ({"filter": "title='a' AND"}, "invalid_selection_field"),
        ({"filter": ""}, "invalid_selection_field"),
        ({"sort": ""}, "invalid_sort_field"),
        ({"fields": ""}, "invalid_selection_field"),
        ({"filter": "title='a'AND title='b'"}, "invalid_selection_field"),
    ],
)
async def test_bad_cf_documents_parameters_are_400_status_info(
    client: AsyncClient, params: dict[str, str], code_minor: str
) -> None:
    response = await client.get(f"{CASE}/CFDocuments", params=params)
    _assert_status_info(response, 400, code_minor)


async def test_a_package_is_the_case_export_and_its_parts_resolve_one_by_one(
    client: AsyncClient,
) -> None:
    slug, version = "grade9-leadership-competencies", "1"
    package = await _package(client, slug, version)
    exported = await client.get(
        f"/v1/frameworks/{slug}/versions/{version}/export", params={"format": "case"}
    )
    assert json.loads(exported.content) == package
    document = package["CFDocument"]
    link = {key: document[key] for key in ("title", "identifier", "uri")}

    served_document = (await client.get(f"{CASE}/CFDocuments/{document['identifier']}")).json()
    assert served_document == document | {
        "CFPackageURI": link | {"uri": link["uri"].replace("/CFDocuments/", "/CFPackages/")}
    }
    negative = next(i for i in package["CFItems"] if i["CFItemType"] == "Negative Indicator")
    item = await client.get(f"{CASE}/CFItems/{negative['identifier']}")
    assert item.status_code == 200
    assert item.json() == negative | {"CFDocumentURI": link}
    assert item.headers["etag"] and item.headers["cache-control"].startswith("public")
    association = package["CFAssociations"][-1]
    served = await client.get(f"{CASE}/CFAssociations/{association['identifier']}")
    assert served.json() == association | {"CFDocumentURI": link}
    (rubric,) = package["CFRubrics"]
    assert (await client.get(f"{CASE}/CFRubrics/{rubric['identifier']}")).json() == rubric
    # Ids are lower case, but a client may send them in capitals.
    upper = await client.get(f"{CASE}/CFItems/{negative['identifier'].upper()}")
    assert upper.status_code == 200


async def test_unknown_objects_are_404_status_info(client: AsyncClient) -> None:
    package = await _package(client, "csc-leadership-competencies", "2015")
    item_id = package["CFItems"][0]["identifier"]
    for path in (
        f"CFItems/{uuid.uuid4()}",
        f"CFDocuments/{uuid.uuid4()}",
        f"CFPackages/{uuid.uuid4()}",
        f"CFAssociations/{item_id}",  # an item's id is not an association's
        f"CFRubrics/{item_id}",
        f"CFDocuments/{item_id}",
    ):
        _assert_status_info(await client.get(f"{CASE}/{path}"), 404, "unknownobject")
    _assert_status_info(await client.get(f"{CASE}/CFItems/not-a-uuid"), 404, "invalid_uuid")


async def test_drafts_are_not_provided_until_published(
    client: AsyncClient, session: AsyncSession
) -> None:
    staff = await auth_headers(session, Role.staff)
    assert (
        await client.post("/v1/frameworks", json=framework_document(), headers=staff)
    ).status_code == 201
    exported = await client.get(
        f"/v1/frameworks/{SLUG}/versions/1/export", params={"format": "case"}, headers=staff
    )
    package = json.loads(exported.content)
    document_id = package["CFDocument"]["identifier"]
    item_id = package["CFItems"][0]["identifier"]
    _assert_status_info(await client.get(f"{CASE}/CFPackages/{document_id}"), 404, "unknownobject")
    _assert_status_info(await client.get(f"{CASE}/CFItems/{item_id}"), 404, "unknownobject")
    listed = (await client.get(f"{CASE}/CFDocuments")).json()["CFDocuments"]
    assert document_id not in {d["identifier"] for d in listed}

    published = await client.post(f"/v1/frameworks/{SLUG}/versions/1/publish", headers=staff)
    assert published.status_code == 200
    item = await client.get(f"{CASE}/CFItems/{item_id}")
    assert item.status_code == 200
    assert item.json()["CFDocumentURI"]["identifier"] == document_id
    document = (await client.get(f"{CASE}/CFDocuments/{document_id}")).json()
    assert document["adoptionStatus"] == "Adopted"


async def test_unknown_case_paths_and_methods_are_refused(client: AsyncClient) -> None:
    document_id = _document_id("csc-leadership-competencies", "2015")
    assert (await client.post(f"{CASE}/CFDocuments/{document_id}")).status_code == 405
    assert (await client.get(f"{CASE}/CFNothings/{document_id}")).status_code == 404


@pytest.mark.parametrize(
    ("params", "code_minor", "named"),
    [
        ({"sort": "nope"}, "invalid_sort_field", "nope"),
        ({"filter": "colour='red'"}, "invalid_selection_field", "colour"),
        ({"filter": "title='a' OR shade~'b'"}, "invalid_selection_field", "shade"),
        ({"fields": "identifier,colour"}, "invalid_selection_field", "colour"),
    ],
)
async def test_an_unknown_sort_filter_or_fields_field_is_named_in_the_status_info(
    client: AsyncClient, params: dict[str, str], code_minor: str, named: str
) -> None:
    response = await client.get(f"{CASE}/CFDocuments", params=params)
    _assert_status_info(response, 400, code_minor)
    body = response.json()
    assert problems("imsx_StatusInfoDType", body) == []
    (field,) = body["imsx_codeMinor"]["imsx_codeMinorField"]
    assert field["imsx_codeMinorFieldName"] == named
    assert named in body["imsx_description"]


async def test_cf_documents_filter_on_creator_publisher_status_and_last_change(
    client: AsyncClient,
) -> None:
    everything = (await client.get(f"{CASE}/CFDocuments")).json()["CFDocuments"]

    async def matching(expression: str) -> list[dict[str, Any]]:
        response = await client.get(f"{CASE}/CFDocuments", params={"filter": expression})
        assert response.status_code == 200, response.text
        documents: list[dict[str, Any]] = response.json()["CFDocuments"]
        assert response.headers["x-total-count"] == str(len(documents))
        return documents

    csc = "Civil Service Commission (Philippines)"
    by_publisher = await matching(f"publisher='{csc}'")
    assert sorted(d["version"] for d in by_publisher) == ["2014", "2015"]
    assert await matching(f"creator='{csc}'") == by_publisher
    assert [
        d["version"] for d in await matching(f"creator='{csc}' AND adoptionStatus='Deprecated'")
    ] == ["2014"]
    stamps = sorted(d["lastChangeDateTime"] for d in everything)
    assert len(await matching(f"lastChangeDateTime>='{stamps[0]}'")) == len(everything)
    assert await matching(f"lastChangeDateTime<'{stamps[0]}'") == []
    either = await matching("publisher~'commission' OR title~'UK Civil'")
    assert len(either) == 4  # CSC 2014 and 2015, UK 1 and 2
    # AND binds tighter than OR.
    mixed = await matching("title~'UK' AND version='2' OR version='2014'")
    assert sorted((d["title"][:3], d["version"]) for d in mixed) == [("CSC", "2014"), ("UK ", "2")]


async def test_cf_documents_fields_repeated_or_comma_separated_and_the_default_page(
    client: AsyncClient, app: FastAPI
) -> None:
    repeated = await client.get(
        f"{CASE}/CFDocuments", params=[("fields", "identifier"), ("fields", "title,version")]
    )
    assert repeated.status_code == 200
    assert all(set(d) == {"identifier", "title", "version"} for d in repeated.json()["CFDocuments"])
    (limit,) = [
        p
        for p in app.openapi()["paths"][f"{CASE}/CFDocuments"]["get"]["parameters"]
        if p["name"] == "limit"
    ]
    assert limit["schema"]["default"] == 100
    page = await client.get(f"{CASE}/CFDocuments", params={"limit": 2, "sort": "title"})
    assert len(page.json()["CFDocuments"]) == 2
    assert int(page.headers["x-total-count"]) == len(PUBLIC)
