"""How the CASE provider serves: cached bytes equal to freshly built ones, conditional GETs,
publish-time stamps, service discovery, and CASE 1.0 clients."""

import json
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.roles import Role
from app.core.settings import Settings
from app.frameworks import catalogue
from app.frameworks.case import provider, writer
from app.frameworks.reference import bundled_documents
from app.frameworks.service import get_version
from tests.factories import auth_headers
from tests.frameworks.case_official import official, operations, problems

CASE = "/ims/case/v1p1"
V1P0 = "/ims/case/v1p0"
PUBLIC = [(doc.slug, doc.version) for doc, status in bundled_documents() if status != "draft"]
UK = ("uk-civil-service-leadership-management", "2")


def _encode(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


async def _fresh(session: AsyncSession, slug: str, version: str, base: str) -> dict[str, Any]:
    """Every answer about one version, built now from the database: operation -> id -> JSON."""
    full = await catalogue.document(session, await get_version(session, slug, version))
    package = writer.package(full, base)
    document = writer.cf_document(full, base)
    link = {key: document[key] for key in ("title", "identifier", "uri")}
    answers: dict[str, dict[str, Any]] = {
        "CFPackages": {document["identifier"]: package},
        "CFDocuments": {document["identifier"]: document},
        "CFItemAssociations": {},
        "uri": {},
    }
    for kind, obj in writer.objects(package):
        alone = obj | {"CFDocumentURI": link} if kind in ("CFItems", "CFAssociations") else obj
        if kind == "CFDocuments":
            alone = document
        answers["uri"][obj["identifier"]] = alone
        if kind == "CFItemTypes":
            answers.setdefault(kind, {})[obj["identifier"]] = {"CFItemTypes": [obj]}
        elif kind != "CFDocuments":
            answers.setdefault(kind, {})[obj["identifier"]] = alone
        if kind == "CFItems":
            answers["CFItemAssociations"][obj["identifier"]] = {
                "CFItem": alone,
                "CFAssociations": [
                    a
                    for a in package["CFAssociations"]
                    if obj["identifier"]
                    in (a["originNodeURI"]["identifier"], a["destinationNodeURI"]["identifier"])
                ],
            }
    return answers


@pytest.mark.parametrize(("slug", "version"), PUBLIC, ids=[f"{s}@{v}" for s, v in PUBLIC])
async def test_cached_answers_are_the_freshly_built_bytes_for_every_bundled_version(
    session: AsyncSession, settings: Settings, slug: str, version: str
) -> None:
    base = settings.public_root
    answers = await _fresh(session, slug, version, base)
    index = provider.ProviderIndex(settings.framework_cache_seconds)
    checked = 0
    for operation, by_id in answers.items():
        for identifier, payload in by_id.items():
            first = await provider.served(index, session, operation, identifier, base_url=base)
            again = await provider.served(index, session, operation, identifier, base_url=base)
            assert first.body == _encode(payload), (operation, identifier)
            assert again is first  # built once per version and process
            checked += 1
    assert checked >= 3


async def test_reads_are_conditional_and_cacheable_by_a_cdn(client: AsyncClient) -> None:
    document_id = await _document_id(client, *UK)
    package = (await client.get(f"{CASE}/CFPackages/{document_id}")).json()
    item = package["CFItems"][0]
    criterion = package["CFRubrics"][0]["CFRubricCriteria"][0]
    for path in (
        f"{CASE}/CFDocuments",
        f"{CASE}/CFDocuments/{document_id}",
        f"{CASE}/CFPackages/{document_id}",
        f"{CASE}/CFItems/{item['identifier']}",
        f"{CASE}/CFItemAssociations/{item['identifier']}",
        f"{CASE}/CFAssociations/{package['CFAssociations'][0]['identifier']}",
        f"{CASE}/CFItemTypes/{item['CFItemTypeURI']['identifier']}",
        f"{CASE}/CFLicenses/{package['CFDefinitions']['CFLicenses'][0]['identifier']}",
        f"{CASE}/CFRubrics/{package['CFRubrics'][0]['identifier']}",
        f"/ims/case/uri/{criterion['identifier']}",
        f"{CASE}/discovery/imscasev1p1_openapi3_v1p0.json",
    ):
        response = await client.get(path)
        assert response.status_code == 200, path
        etag = response.headers["etag"]
        assert etag.startswith('"'), path  # strong
        cache_control = response.headers["cache-control"]
        assert "public" in cache_control and "s-maxage=" in cache_control, path
        again = await client.get(path, headers={"If-None-Match": etag})
        assert (again.status_code, again.content) == (304, b""), path
        assert again.headers["etag"] == etag


async def _document_id(client: AsyncClient, slug: str, version: str) -> str:
    exported = await client.get(
        f"/v1/frameworks/{slug}/versions/{version}/export", params={"format": "case"}
    )
    identifier: str = exported.json()["CFDocument"]["identifier"]
    return identifier


async def test_last_change_is_the_publish_time_across_requests_restarts_and_retirement(
    client: AsyncClient, session: AsyncSession, app: FastAPI, settings: Settings
) -> None:
    ref = await get_version(session, *UK)
    assert ref.version.published_at is not None
    published = ref.version.published_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    document_id = await _document_id(client, *UK)
    before = await client.get(f"{CASE}/CFPackages/{document_id}")
    stamps = {obj["lastChangeDateTime"] for _, obj in writer.objects(before.json())}
    assert stamps == {published}

    # A new process (a restart) builds the same bytes.
    app.state.case_index = provider.ProviderIndex(settings.framework_cache_seconds)
    restarted = await client.get(f"{CASE}/CFPackages/{document_id}")
    assert restarted.content == before.content
    assert restarted.headers["etag"] == before.headers["etag"]

    staff = await auth_headers(session, Role.staff)
    retired = await client.post(f"/v1/frameworks/{UK[0]}/versions/{UK[1]}/retire", headers=staff)
    assert retired.status_code == 200
    after = await client.get(f"{CASE}/CFDocuments/{document_id}")
    assert after.headers["etag"] != before.headers["etag"]
    document = after.json()
    assert (document["adoptionStatus"], document["lastChangeDateTime"]) == ("Deprecated", published)
    assert document["statusEndDate"]
    item = before.json()["CFItems"][0]
    served_item = (await client.get(f"{CASE}/CFItems/{item['identifier']}")).json()
    assert served_item["lastChangeDateTime"] == published


async def test_discovery_serves_the_official_document_with_this_provider_as_server(
    client: AsyncClient, settings: Settings, app: FastAPI
) -> None:
    response = await client.get(f"{CASE}/discovery/imscasev1p1_openapi3_v1p0.json")
    assert response.status_code == 200
    served = response.json()
    assert served["servers"] == [
        {
            "url": f"{settings.public_root}{CASE}",
            "description": "This CASE 1.1 provider (read-only; no key needed).",
        }
    ]
    assert {k: v for k, v in served.items() if k != "servers"} == {
        k: v for k, v in official().items() if k != "servers"
    }
    # Every operation the document describes is one this provider serves.
    ours = app.openapi()["paths"]
    for path in operations():
        assert "get" in ours.get(CASE + path, {}), path


async def test_case_1_0_clients_get_documents_and_packages_and_a_redirect_elsewhere(
    client: AsyncClient, settings: Settings
) -> None:
    listing = await client.get(f"{V1P0}/CFDocuments", params={"sort": "title"})
    current = await client.get(f"{CASE}/CFDocuments", params={"sort": "title"})
    assert listing.status_code == 200
    assert listing.headers["x-total-count"] == current.headers["x-total-count"]
    assert listing.json()["CFDocuments"] == [
        {k: v for k, v in d.items() if k != "caseVersion"} for d in current.json()["CFDocuments"]
    ]
    document_id = await _document_id(client, *UK)
    document = (await client.get(f"{V1P0}/CFDocuments/{document_id}")).json()
    assert "caseVersion" not in document and document["identifier"] == document_id
    package = (await client.get(f"{V1P0}/CFPackages/{document_id}")).json()
    assert "caseVersion" not in package["CFDocument"]
    assert (
        package["CFItems"]
        == (await client.get(f"{CASE}/CFPackages/{document_id}")).json()["CFItems"]
    )

    item = package["CFItems"][0]
    targets = {
        "CFItems": item["identifier"],
        "CFItemAssociations": item["identifier"],
        "CFAssociations": package["CFAssociations"][0]["identifier"],
        "CFItemTypes": item["CFItemTypeURI"]["identifier"],
        "CFLicenses": package["CFDefinitions"]["CFLicenses"][0]["identifier"],
        "CFRubrics": package["CFRubrics"][0]["identifier"],
        "CFConcepts": document_id,  # none defined: the redirect, then the 1.1 404
        "CFSubjects": document_id,
        "CFAssociationGroupings": document_id,
    }
    for collection, identifier in targets.items():
        response = await client.get(f"{V1P0}/{collection}/{identifier.upper()}")
        assert response.status_code == 308, collection
        location = response.headers["location"]
        assert location == f"{settings.public_root}{CASE}/{collection}/{identifier}"
        followed = await client.get(location.removeprefix(settings.public_root))
        defined = collection not in ("CFConcepts", "CFSubjects", "CFAssociationGroupings")
        assert followed.status_code == (200 if defined else 404), collection
    bad = await client.get(f"{V1P0}/CFItems/not-a-uuid")
    assert bad.status_code == 404
    assert problems("imsx_StatusInfoDType", bad.json()) == []


async def test_the_contract_examples_of_sourced_ids_name_served_objects(
    client: AsyncClient, app: FastAPI
) -> None:
    undefined = ("CFConcepts", "CFSubjects", "CFAssociationGroupings")
    tried = 0
    for path, item in app.openapi()["paths"].items():
        if not path.startswith(("/ims/case/v1p1/", "/ims/case/uri/")) or "{sourcedId}" not in path:
            continue
        (parameter,) = item["get"]["parameters"]
        (example,) = parameter["schema"]["examples"]
        response = await client.get(path.replace("{sourcedId}", example))
        expected = 404 if any(f"/{name}/" in path for name in undefined) else 200
        assert response.status_code == expected, path
        tried += 1
    assert tried == 12
