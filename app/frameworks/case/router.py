"""The 1EdTech CASE 1.1 REST binding, read side, for published and retired versions.

No key is needed. Errors take the binding's own ``imsx_StatusInfo`` shape rather than problem
details, since CASE consumers expect it: ``CaseRoute`` renders them for these routes only.
Every answer about a version is bytes and a strong ETag built once per version and process
(``provider.py``); ``If-None-Match`` gets a 304.
"""

import uuid
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import StringConstraints, WithJsonSchema

from app.core.database import Session
from app.core.errors import ProblemError, UnprocessableEntity, problem_responses
from app.core.http_cache import cached_response
from app.frameworks.case import provider, query
from app.frameworks.case.discovery import DISCOVERY_FILE, discovery_document
from app.frameworks.case.provider import Served
from app.frameworks.case.schemas import (
    CFAssociationGroupingOut,
    CFAssociationOut,
    CFAssociationSet,
    CFConceptSet,
    CFDocumentOut,
    CFDocumentSelection,
    CFDocumentSet,
    CFItemOut,
    CFItemTypeSet,
    CFLicenseOut,
    CFPackageOut,
    CFRubricOut,
    CFSubjectSet,
    ImsxStatusInfo,
)
from app.frameworks.case.vocabulary import CASE_NAMESPACE, CASE_PATH, RESOLVER_PATH

# Browsers and clients keep an answer five minutes, shared caches (a CDN) an hour: published
# content never changes, and a retirement (a new status and end date) shows within the hour.
CACHE = "public, max-age=300, s-maxage=3600"
# The binding's code minor values for the statuses these routes return.
_CODE_MINOR = {400: "invalid_selection_field", 404: "unknownobject", 429: "server_busy"}


def status_info(
    status: int, description: str, code_minor: str, field: str = "TargetEndSystem"
) -> JSONResponse:
    """A CASE ``imsx_StatusInfo`` error response; ``field`` names what was refused."""
    return JSONResponse(
        {
            "imsx_codeMajor": "failure",
            "imsx_severity": "error",
            "imsx_description": description,
            "imsx_codeMinor": {
                "imsx_codeMinorField": [
                    {"imsx_codeMinorFieldName": field, "imsx_codeMinorFieldValue": code_minor}
                ]
            },
        },
        status_code=status,
    )


class CaseRoute(APIRoute):
    """Renders this router's errors as ``imsx_StatusInfo`` (the CASE binding's error shape)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handle_case(request: Request) -> Response:
            try:
                return await handle(request)
            except RequestValidationError as exc:
                errors = exc.errors()
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in error['loc'][1:])}: {error['msg']}"
                    for error in errors
                )
                loc: tuple[Any, ...] = tuple(errors[0]["loc"]) if errors else ()
                field = str(loc[1]) if len(loc) > 1 else "TargetEndSystem"
                return status_info(400, problems, "invalid_selection_field", field)
            except UnprocessableEntity as exc:
                # The service-wide input guard (NUL bytes, bounds): a bad parameter, as above.
                found = exc.errors or []
                problems = "; ".join(
                    f"{'.'.join(e.field.split('.')[1:])}: {e.message}" for e in found
                )
                named = found[0].field.split(".")[-1] if found else "TargetEndSystem"
                return status_info(
                    400, problems or str(exc), "invalid_selection_field", named or "TargetEndSystem"
                )
            except ProblemError as exc:
                code_minor = exc.extensions.get("imsx_code_minor") or _CODE_MINOR.get(
                    exc.status, "internal_server_error"
                )
                field = exc.extensions.get("imsx_field") or "TargetEndSystem"
                return status_info(exc.status, exc.detail or exc.title, str(code_minor), field)

        return handle_case


def case_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    descriptions = {
        400: "A parameter is invalid (`invalid_selection_field`, `invalid_sort_field`); "
        "`imsx_codeMinorFieldName` names the refused field.",
        404: "No such object among published and retired versions (`unknownobject`), or the "
        "id is not a UUID (`invalid_uuid`).",
    }
    responses: dict[int | str, dict[str, Any]] = {
        status: {"model": ImsxStatusInfo, "description": descriptions[status]}
        for status in statuses
    }
    # Validation errors are the 400 above, never FastAPI's 422; only an unexpected failure
    # (500) leaves through the service-wide problem details handler.
    responses["default"] = problem_responses(500)[500] | {
        "description": "An unexpected failure: problem details with a `request_id`."
    }
    return responses


def cached_ok(headers: dict[str, str] | None = None) -> dict[int | str, dict[str, Any]]:
    """The 200 and 304 of a cached read."""
    etag = {"ETag": {"description": "Strong ETag of the body.", "schema": {"type": "string"}}}
    cache = {"Cache-Control": {"description": CACHE, "schema": {"type": "string"}}}
    extra = {
        name: {"description": description, "schema": {"type": "string"}}
        for name, description in (headers or {}).items()
    }
    return {
        200: {"headers": etag | cache | extra},
        304: {"description": "`If-None-Match` named the current ETag.", "headers": etag | cache},
    }


router = APIRouter(prefix=CASE_PATH, tags=["CASE 1.1"], route_class=CaseRoute)
resolver_router = APIRouter(tags=["CASE 1.1"], route_class=CaseRoute)


def _sourced_id(example_path: str | None) -> Any:
    """The ``sourcedId`` path parameter; its example names a bundled object (CSC 2015's, at
    ``example_path`` in the mapping of ``writer.py``), which every instance serves."""
    example = (
        str(uuid.uuid5(CASE_NAMESPACE, f"csc-leadership-competencies/2015/{example_path}"))
        if example_path
        else "0e5ac9ab-5ac3-5b31-a3b5-24b8a3a4d7a4"
    )
    # A str, not a UUID: a malformed id is the binding's 404 `invalid_uuid`, not a 400.
    return Path(
        alias="sourcedId",
        max_length=100,
        description="The object's `identifier` (a UUID).",
        examples=[example],
    )


SourcedId = Annotated[str, _sourced_id(None)]
DocumentId = Annotated[str, _sourced_id("document")]
ItemId = Annotated[str, _sourced_id("competency/leading-change")]
AssociationId = Annotated[str, _sourced_id("competency/leading-change/is-child-of")]
ItemTypeId = Annotated[str, _sourced_id("item-type/competency")]
LicenseId = Annotated[str, _sourced_id("license")]
RubricId = Annotated[str, _sourced_id("rubric")]
CriterionId = Annotated[str, _sourced_id("rubric/competency/leading-change")]
# The contract states exactly what `sort`, `filter` and `fields` accept; the service checks it
# itself, so that a refusal is the binding's 400 naming the unknown field.
FieldName = Annotated[
    str,
    StringConstraints(max_length=1000),
    WithJsonSchema({"type": "string", "maxLength": 1000, "pattern": query.FIELDS_PATTERN}),
]
SortField = Annotated[
    str | None,
    Query(
        max_length=100,
        description="A CFDocument field to sort by.",
        examples=["title"],
        json_schema_extra={"enum": list(query.SORTABLE)},
    ),
]
Filter = Annotated[
    str | None,
    Query(
        alias="filter",
        max_length=1000,
        description="Predicates `field<op>'value'` (`=`, `!=`, `>`, `>=`, `<`, `<=`, `~` "
        "contains) joined by ` AND ` and ` OR ` (AND binds tighter), on title, creator, "
        "publisher, adoptionStatus, lastChangeDateTime, version and the other plain fields.",
        examples=["title~'leadership' AND adoptionStatus='Adopted'"],
        json_schema_extra={"pattern": query.FILTER_PATTERN},
    ),
]
Fields = Annotated[
    list[FieldName] | None,
    Query(
        max_length=30,
        description="CFDocument fields to return (repeated, or comma-separated).",
        examples=[["identifier,title,version"]],
    ),
]


def public_root_of(request: Request) -> str:
    # The configured public URL, not the request's Host: published uris must not depend on
    # (or be poisoned through) whatever host a caller or an internal proxy sent.
    return str(request.app.state.settings.public_root)


def respond(request: Request, served: Served, headers: dict[str, str] | None = None) -> Response:
    return cached_response(request, served.body, served.etag, cache_control=CACHE, headers=headers)


async def _one(request: Request, session: Session, operation: str, sourced_id: str) -> Response:
    served = await provider.served(
        provider.index_of(request.app.state),
        session,
        operation,
        sourced_id,
        base_url=public_root_of(request),
    )
    return respond(request, served)


async def list_documents(
    request: Request, session: Session, selection: query.DocumentQuery
) -> tuple[list[dict[str, Any]], int]:
    documents = await provider.cf_documents(
        provider.index_of(request.app.state), session, base_url=public_root_of(request)
    )
    return query.select_documents(documents, selection)


@router.get(
    "/CFDocuments",
    # With `fields`, each document carries the fields asked for only.
    response_model=CFDocumentSet | CFDocumentSelection,
    responses=cached_ok({"X-Total-Count": "How many CFDocuments match, over all pages."})
    | case_responses(400),
    summary="List CFDocuments",
)
async def get_all_cf_documents(
    request: Request,
    session: Session,
    limit: Annotated[int, Query(ge=1, le=1000, description="Page size.")] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000, description="How many to skip.")] = 0,
    sort: SortField = None,
    order_by: Annotated[
        Literal["asc", "desc"], Query(alias="orderBy", description="With `sort`.")
    ] = "asc",
    filter_: Filter = None,
    fields: Fields = None,
) -> Response:
    """The CFDocument of every published and retired framework version (one CASE document per
    version), by framework and then age unless `sort` says otherwise. `X-Total-Count` gives
    how many match. An unknown `sort`, `filter` or `fields` field: 400 `imsx_StatusInfo`
    (`invalid_sort_field` or `invalid_selection_field`) whose `imsx_codeMinorFieldName` is
    that field."""
    page, total = await list_documents(
        request,
        session,
        query.DocumentQuery(
            limit=limit, offset=offset, sort=sort, order_by=order_by, filter=filter_, fields=fields
        ),
    )
    return respond(
        request, provider.encode({"CFDocuments": page}), headers={"X-Total-Count": str(total)}
    )


@router.get(
    "/CFDocuments/{sourcedId}",
    response_model=CFDocumentOut,
    responses=cached_ok() | case_responses(400, 404),
    summary="Get a CFDocument",
)
async def get_cf_document(request: Request, session: Session, sourced_id: DocumentId) -> Response:
    """One framework version as a CFDocument, with the `CFPackageURI` of its whole package and
    the `licenseURI` of what its source states about rights."""
    return await _one(request, session, "CFDocuments", sourced_id)


@router.get(
    "/CFPackages/{sourcedId}",
    response_model=CFPackageOut,
    responses=cached_ok() | case_responses(400, 404),
    summary="Get a CFPackage",
)
async def get_cf_package(request: Request, session: Session, sourced_id: DocumentId) -> Response:
    """A whole framework version (its `sourcedId` is its CFDocument's): the CFDocument, every
    CFItem (clusters, competencies, levels, core descriptions, features, elements, positive
    and negative indicators, told apart by `CFItemType`), the `isChildOf` and `hasSkillLevel`
    CFAssociations, the CFDefinitions (CFItemTypes, CFLicenses), and a CFRubric of the level
    scales. The same package as
    `GET /v1/frameworks/{slug}/versions/{version}/export?format=case`, which describes the
    mapping."""
    return await _one(request, session, "CFPackages", sourced_id)


@router.get(
    "/CFItems/{sourcedId}",
    response_model=CFItemOut,
    responses=cached_ok() | case_responses(400, 404),
    summary="Get a CFItem",
)
async def get_cf_item(request: Request, session: Session, sourced_id: ItemId) -> Response:
    """One item of a published or retired version, with the `CFDocumentURI` of its version."""
    return await _one(request, session, "CFItems", sourced_id)


@router.get(
    "/CFItemAssociations/{sourcedId}",
    response_model=CFAssociationSet,
    responses=cached_ok() | case_responses(400, 404),
    summary="Get a CFItem and its CFAssociations",
)
async def get_cf_item_associations(
    request: Request, session: Session, sourced_id: ItemId
) -> Response:
    """The item (as `GET /CFItems/{sourcedId}` gives it) and every association of which it is
    the origin or the destination: its `isChildOf` parent, its children, and its
    `hasSkillLevel` level (or, for a level, the items at that level)."""
    return await _one(request, session, "CFItemAssociations", sourced_id)


@router.get(
    "/CFAssociations/{sourcedId}",
    response_model=CFAssociationOut,
    responses=cached_ok() | case_responses(400, 404),
    summary="Get a CFAssociation",
)
async def get_cf_association(
    request: Request, session: Session, sourced_id: AssociationId
) -> Response:
    """One association (`isChildOf` or `hasSkillLevel`), with the `CFDocumentURI` of its
    version."""
    return await _one(request, session, "CFAssociations", sourced_id)


@router.get(
    "/CFAssociationGroupings/{sourcedId}",
    response_model=CFAssociationGroupingOut,
    responses=cached_ok() | case_responses(400, 404),
    summary="Get a CFAssociationGrouping",
)
async def get_cf_association_grouping(
    request: Request, session: Session, sourced_id: SourcedId
) -> Response:
    """An association grouping. The bundled frameworks group no associations, so this answers
    404 `unknownobject` unless a package defines one."""
    return await _one(request, session, "CFAssociationGroupings", sourced_id)


@router.get(
    "/CFItemTypes/{sourcedId}",
    response_model=CFItemTypeSet,
    responses=cached_ok() | case_responses(400, 404),
    summary="Get a CFItemType",
)
async def get_cf_item_type(request: Request, session: Session, sourced_id: ItemTypeId) -> Response:
    """An item type of a version (Cluster, Competency, Level, Level Description, Feature,
    Element, Negative Indicators, Indicator, Negative Indicator), first in `CFItemTypes`, then
    its children by `hierarchyCode` (none: the types are flat)."""
    return await _one(request, session, "CFItemTypes", sourced_id)


@router.get(
    "/CFConcepts/{sourcedId}",
    response_model=CFConceptSet,
    responses=cached_ok() | case_responses(400, 404),
    summary="Get a CFConcept",
)
async def get_cf_concept(request: Request, session: Session, sourced_id: SourcedId) -> Response:
    """A concept and its children by `hierarchyCode`. The sources define no concepts, so this
    answers 404 `unknownobject` unless a package defines one."""
    return await _one(request, session, "CFConcepts", sourced_id)


@router.get(
    "/CFSubjects/{sourcedId}",
    response_model=CFSubjectSet,
    responses=cached_ok() | case_responses(400, 404),
    summary="Get a CFSubject",
)
async def get_cf_subject(request: Request, session: Session, sourced_id: SourcedId) -> Response:
    """A subject and its children by `hierarchyCode`. The sources state no subject, so this
    answers 404 `unknownobject` unless a package defines one."""
    return await _one(request, session, "CFSubjects", sourced_id)


@router.get(
    "/CFLicenses/{sourcedId}",
    response_model=CFLicenseOut,
    responses=cached_ok() | case_responses(400, 404),
    summary="Get a CFLicense",
)
async def get_cf_license(request: Request, session: Session, sourced_id: LicenseId) -> Response:
    """What a version's source document states about rights (no source states a licence):
    who published the text and which document it was transcribed from. Each CFDocument's
    `licenseURI` points here."""
    return await _one(request, session, "CFLicenses", sourced_id)


@router.get(
    "/CFRubrics/{sourcedId}",
    response_model=CFRubricOut,
    responses=cached_ok() | case_responses(400, 404),
    summary="Get a CFRubric",
)
async def get_cf_rubric(request: Request, session: Session, sourced_id: RubricId) -> Response:
    """A version's level scales: one criterion per competency (`CFItemURI`), one criterion
    level per rung (`quality` the level name, `score` its rank, `description` the
    competency's core description at that level)."""
    return await _one(request, session, "CFRubrics", sourced_id)


@router.get(
    f"/discovery/{DISCOVERY_FILE}",
    response_model=dict[str, Any],
    responses=cached_ok(),
    summary="CASE service discovery",
)
async def get_discovery(request: Request) -> Response:
    """1EdTech's CASE 1.1 OpenAPI 3 document, unchanged except that its one `servers` entry is
    this provider (`<public URL>/ims/case/v1p1`)."""
    return respond(request, discovery_document(public_root_of(request)))


@resolver_router.get(
    f"{RESOLVER_PATH}/{{sourcedId}}",
    response_model=dict[str, Any],
    responses=cached_ok() | case_responses(400, 404),
    summary="Resolve any CASE uri",
)
async def resolve_case_object(
    request: Request, session: Session, sourced_id: CriterionId
) -> Response:
    """Any object of a published or retired version, by identifier, as its own endpoint
    serves it alone: a CFDocument, CFItem, CFAssociation, CFItemType, CFLicense or CFRubric,
    and the objects the binding has no endpoint for (CFRubricCriterion, and
    CFRubricCriterionLevel), whose `uri` points here, as OpenSALT's `/uri/` does."""
    return await _one(request, session, provider.RESOLVER, sourced_id)
