"""The provider as a CASE consumer sees it: every published uri resolves, every answer meets the
official 1EdTech CASE 1.1 schema of its path, and a package survives export, import and publish.
"""

import json
import uuid
from typing import Any

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.roles import Role
from app.core.settings import Settings
from app.frameworks.reference import bundled_documents
from tests.factories import auth_headers
from tests.frameworks.case_official import problems
from tests.frameworks.case_walk import Consumer, links

CASE = "/ims/case/v1p1"
PUBLIC = [(doc, status) for doc, status in bundled_documents() if status != "draft"]


async def test_every_uri_of_every_bundled_framework_resolves_and_meets_the_official_schemas(
    client: AsyncClient, settings: Settings
) -> None:
    walk = await Consumer(client, settings.public_root).run()

    assert walk.dangling == []
    assert walk.invalid == []
    packages = [b for b in walk.bodies.values() if isinstance(b, dict) and "CFItems" in b]
    assert len(packages) >= len(PUBLIC)
    items = sum(len(p["CFItems"]) for p in packages)
    # Every item was asked for its associations, and every object of every package answered.
    assert walk.item_association_sets == items
    objects = {uri for package in packages for uri, _, _ in links(package)}
    assert objects <= set(walk.bodies)
    assert walk.schemas_seen >= {
        "CFDocumentSetDType",
        "CFDocumentDType",
        "CFPackageDType",
        "CFItemDType",
        "CFAssociationSetDType",
        "CFAssociationDType",
        "CFItemTypeSetDType",
        "CFLicenseDType",
        "CFRubricDType",
        "CFRubricCriterionDType",
        "CFRubricCriterionLevelDType",
    }


def _foreign(package: dict[str, Any], version: str) -> dict[str, Any]:
    """``package`` as another CASE producer might write it: its own random identifiers, no
    uris, no rubric or definitions (an import ignores them anyway)."""
    renamed: dict[str, str] = {}

    def new_id(old: str) -> str:
        return renamed.setdefault(old, str(uuid.uuid4()))

    def link(old: dict[str, Any]) -> dict[str, Any]:
        return {"identifier": new_id(old["identifier"]), "title": old["title"], "uri": "urn:x"}

    document = package["CFDocument"]
    return {
        "CFDocument": {
            "identifier": new_id(document["identifier"]),
            "uri": "https://elsewhere.example/doc",
            "creator": document["creator"],
            "title": document["title"],
            "version": version,
            "lastChangeDateTime": "2020-01-01T00:00:00Z",
        },
        "CFItems": [
            {k: v for k, v in item.items() if k not in ("uri", "CFItemTypeURI")}
            | {"identifier": new_id(item["identifier"])}
            for item in package["CFItems"]
        ],
        "CFAssociations": [
            {
                "identifier": str(uuid.uuid4()),
                "associationType": a["associationType"],
                "originNodeURI": link(a["originNodeURI"]),
                "destinationNodeURI": link(a["destinationNodeURI"]),
            }
            for a in package["CFAssociations"]
        ],
    }


async def _import_and_publish(
    client: AsyncClient, staff: dict[str, str], slug: str, package: dict[str, Any]
) -> str:
    """Import ``package`` as a draft of ``slug``, publish it; its CFDocument identifier."""
    version = package["CFDocument"]["version"]
    imported = await client.post(
        f"/v1/frameworks/{slug}/versions:import",
        params={"format": "case"},
        content=json.dumps(package).encode(),
        headers=staff | {"Content-Type": "application/json"},
    )
    assert imported.status_code == 201, imported.text
    published = await client.post(
        f"/v1/frameworks/{slug}/versions/{version}/publish", headers=staff
    )
    assert published.status_code == 200, published.text
    exported = await client.get(
        f"/v1/frameworks/{slug}/versions/{version}/export", params={"format": "case"}
    )
    identifier: str = exported.json()["CFDocument"]["identifier"]
    return identifier


async def _package(client: AsyncClient, document_id: str) -> dict[str, Any]:
    response = await client.get(f"{CASE}/CFPackages/{document_id}")
    assert response.status_code == 200, response.text
    package: dict[str, Any] = response.json()
    return package


async def test_an_imported_foreign_case_package_is_walked_without_a_dangling_uri(
    client: AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    staff = await auth_headers(session, Role.staff)
    # The UK framework has clusters, a level scale, a rubric and items at levels, in 45 items.
    uk = (await client.get(f"{CASE}/CFDocuments", params={"filter": "title~'UK Civil'"})).json()
    source = await _package(client, uk["CFDocuments"][0]["identifier"])
    foreign = _foreign(source, "1")
    document_id = await _import_and_publish(client, staff, "imported-case-framework", foreign)

    walk = await Consumer(client, settings.public_root).run(only={document_id})

    assert walk.dangling == []
    assert walk.invalid == []
    package = await _package(client, document_id)
    assert walk.item_association_sets == len(package["CFItems"]) == len(foreign["CFItems"])
    assert len(package["CFAssociations"]) == len(foreign["CFAssociations"])


def _shape(package: dict[str, Any]) -> dict[str, Any]:
    """A package with every identifier and uri replaced by the position of the object it names
    (so two versions of the same content compare equal), without the version's own stamps."""
    order: dict[str, int] = {}
    for uri, _, identifier in links(package):
        if identifier is not None:
            order.setdefault(identifier, len(order))
            order.setdefault(uri, order[identifier])

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: strip(v)
                for k, v in value.items()
                if k not in ("lastChangeDateTime", "title" if "CFRubricCriteria" in value else "")
            }
        if isinstance(value, list):
            return [strip(v) for v in value]
        return order.get(value, value) if isinstance(value, str) else value

    return {key: strip(package[key]) for key in ("CFItems", "CFAssociations", "CFRubrics")}


async def test_a_framework_exported_as_case_imported_and_published_serves_the_same_content(
    client: AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    staff = await auth_headers(session, Role.staff)
    for document, _ in PUBLIC:
        exported = await client.get(
            f"/v1/frameworks/{document.slug}/versions/{document.version}/export",
            params={"format": "case"},
        )
        original = exported.json()
        copy = json.loads(exported.content)
        copy["CFDocument"]["version"] = f"{document.version}-copy"
        copy_id = await _import_and_publish(client, staff, document.slug, copy)

        served = await _package(client, copy_id)
        assert served["CFDocument"]["version"] == f"{document.version}-copy"
        assert len(served["CFItems"]) == len(original["CFItems"])
        assert _shape(served) == _shape(original), document.slug
        if (document.slug, document.version) == ("csc-leadership-competencies", "2014"):
            # The copy's own uris resolve too (one walk: the others cost time, not evidence).
            walk = await Consumer(client, settings.public_root).run(only={copy_id})
            assert (walk.dangling, walk.invalid) == ([], []), document.slug
            assert walk.item_association_sets == len(served["CFItems"])


async def test_unknown_ids_of_every_operation_are_the_official_status_info(
    client: AsyncClient,
) -> None:
    unknown = str(uuid.uuid4())
    for collection in (
        "CFDocuments",
        "CFPackages",
        "CFItems",
        "CFItemAssociations",
        "CFAssociations",
        "CFAssociationGroupings",
        "CFItemTypes",
        "CFConcepts",
        "CFSubjects",
        "CFLicenses",
        "CFRubrics",
    ):
        for sourced_id, code_minor in ((unknown, "unknownobject"), ("nope", "invalid_uuid")):
            response = await client.get(f"{CASE}/{collection}/{sourced_id}")
            assert response.status_code == 404, collection
            body = response.json()
            assert problems("imsx_StatusInfoDType", body) == []
            value = body["imsx_codeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"]
            assert value == code_minor
    resolved = await client.get(f"/ims/case/uri/{unknown}")
    assert resolved.status_code == 404
    assert problems("imsx_StatusInfoDType", resolved.json()) == []
