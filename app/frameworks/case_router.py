"""The 1EdTech CASE 1.1 REST binding, read side, for published and retired versions.

No key is needed. Errors take the binding's own ``imsx_StatusInfo`` shape rather than problem
details, since CASE consumers expect it: ``CaseRoute`` renders them for these routes only.
"""

import json
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from app.core.database import Session
from app.core.errors import ProblemError, UnprocessableEntity, problem_responses
from app.core.http_cache import cached_response, strong_etag
from app.frameworks import case_provider
from app.frameworks.case import CASE_PATH
from app.frameworks.case_schemas import (
    CFAssociationOut,
    CFDocumentOut,
    CFDocumentSelection,
    CFDocumentSet,
    CFItemOut,
    CFPackageOut,
    CFRubricOut,
    ImsxStatusInfo,
)

CACHE = "public, max-age=300"
# The binding's code minor values for the statuses these routes return.
_CODE_MINOR = {400: "invalid_selection_field", 404: "unknownobject", 429: "server_busy"}


def status_info(status: int, description: str, code_minor: str) -> JSONResponse:
    """A CASE ``imsx_StatusInfo`` error response."""
    return JSONResponse(
        {
            "imsx_codeMajor": "failure",
            "imsx_severity": "error",
            "imsx_description": description,
            "imsx_CodeMinor": {
                "imsx_codeMinorField": [
                    {
                        "imsx_codeMinorFieldName": "TargetEndSystem",
                        "imsx_codeMinorFieldValue": code_minor,
                    }
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
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in error['loc'][1:])}: {error['msg']}"
                    for error in exc.errors()
                )
                return status_info(400, problems, "invalid_selection_field")
            except UnprocessableEntity as exc:
                # The service-wide input guard (NUL bytes, bounds): a bad parameter, as above.
                problems = "; ".join(
                    f"{'.'.join(e.field.split('.')[1:])}: {e.message}" for e in exc.errors or []
                )
                return status_info(400, problems or str(exc), "invalid_selection_field")
            except ProblemError as exc:
                code_minor = exc.extensions.get("imsx_code_minor") or _CODE_MINOR.get(
                    exc.status, "internal_server_error"
                )
                return status_info(exc.status, exc.detail or exc.title, str(code_minor))

        return handle_case


def case_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    descriptions = {
        400: "A query parameter is invalid (`invalid_selection_field`, `invalid_sort_field`).",
        404: "No such object among published and retired versions (`unknownobject`), or the "
        "id is not a UUID (`invaliduuid`).",
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


router = APIRouter(prefix=CASE_PATH, tags=["CASE 1.1"], route_class=CaseRoute)

SourcedId = Annotated[
    str,
    # A str, not a UUID: a malformed id is the binding's 404 `invaliduuid`, not a 400.
    Path(
        alias="sourcedId",
        description="The object's `identifier` (a UUID).",
        examples=["0e5ac9ab-5ac3-5b31-a3b5-24b8a3a4d7a4"],
    ),
]


def _base_url(request: Request) -> str:
    # The configured public URL, not the request's Host: published uris must not depend on
    # (or be poisoned through) whatever host a caller or an internal proxy sent.
    return str(request.app.state.settings.public_root)


def _respond(request: Request, body: Any, headers: dict[str, str] | None = None) -> Response:
    encoded = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return cached_response(
        request, encoded, strong_etag(encoded), cache_control=CACHE, headers=headers
    )


async def _one(request: Request, session: Session, collection: str, sourced_id: str) -> Response:
    obj = await case_provider.cf_object(
        session, collection, sourced_id, base_url=_base_url(request)
    )
    return _respond(request, obj)


@router.get(
    "/CFDocuments",
    # With `fields`, each document carries the fields asked for only.
    response_model=CFDocumentSet | CFDocumentSelection,
    responses=case_responses(400),
    summary="List CFDocuments",
)
async def get_all_cf_documents(
    request: Request,
    session: Session,
    limit: Annotated[int, Query(ge=1, le=1000, description="Page size.")] = 100,
    offset: Annotated[int, Query(ge=0, description="How many to skip.")] = 0,
    sort: Annotated[
        str | None,
        Query(max_length=100, description="A CFDocument field to sort by.", examples=["title"]),
    ] = None,
    order_by: Annotated[
        Literal["asc", "desc"], Query(alias="orderBy", description="With `sort`.")
    ] = "asc",
    filter_: Annotated[
        str | None,
        Query(
            alias="filter",
            max_length=1000,
            description="Predicates `field<op>'value'` (`=`, `!=`, `>`, `>=`, `<`, `<=`, `~` "
            "contains) joined by ` AND ` or ` OR `.",
            examples=["title~'leadership' AND adoptionStatus='Adopted'"],
        ),
    ] = None,
    fields: Annotated[
        str | None,
        Query(
            max_length=1000,
            description="Comma-separated CFDocument fields to return.",
            examples=["identifier,title,version"],
        ),
    ] = None,
) -> Response:
    """The CFDocument of every published and retired framework version (one CASE document per
    version), by framework and then age unless `sort` says otherwise. `X-Total-Count` gives
    how many match. Bad parameters: 400 `imsx_StatusInfo` with `invalid_selection_field` or
    `invalid_sort_field`."""
    documents = await case_provider.cf_documents(session, base_url=_base_url(request))
    page, total = case_provider.select_documents(
        documents,
        case_provider.DocumentQuery(
            limit=limit, offset=offset, sort=sort, order_by=order_by, filter=filter_, fields=fields
        ),
    )
    return _respond(request, {"CFDocuments": page}, headers={"X-Total-Count": str(total)})


@router.get(
    "/CFDocuments/{sourcedId}",
    response_model=CFDocumentOut,
    responses=case_responses(404),
    summary="Get a CFDocument",
)
async def get_cf_document(request: Request, session: Session, sourced_id: SourcedId) -> Response:
    """One framework version as a CFDocument, with the `CFPackageURI` of its whole package."""
    return await _one(request, session, "CFDocuments", sourced_id)


@router.get(
    "/CFPackages/{sourcedId}",
    response_model=CFPackageOut,
    responses=case_responses(404),
    summary="Get a CFPackage",
)
async def get_cf_package(request: Request, session: Session, sourced_id: SourcedId) -> Response:
    """A whole framework version (its `sourcedId` is its CFDocument's): the CFDocument, every
    CFItem (clusters, competencies, levels, core descriptions, features, elements, positive
    and negative indicators, told apart by `CFItemType`), the `isChildOf` and `hasSkillLevel`
    CFAssociations, the CFItemTypes, and a CFRubric of the level scales. The same package as
    `GET /v1/frameworks/{slug}/versions/{version}/export?format=case`, which describes the
    mapping."""
    return await _one(request, session, "CFPackages", sourced_id)


@router.get(
    "/CFItems/{sourcedId}",
    response_model=CFItemOut,
    responses=case_responses(404),
    summary="Get a CFItem",
)
async def get_cf_item(request: Request, session: Session, sourced_id: SourcedId) -> Response:
    """One item of a published or retired version, with the `CFDocumentURI` of its version."""
    return await _one(request, session, "CFItems", sourced_id)


@router.get(
    "/CFAssociations/{sourcedId}",
    response_model=CFAssociationOut,
    responses=case_responses(404),
    summary="Get a CFAssociation",
)
async def get_cf_association(request: Request, session: Session, sourced_id: SourcedId) -> Response:
    """One association (`isChildOf` or `hasSkillLevel`), with the `CFDocumentURI` of its
    version."""
    return await _one(request, session, "CFAssociations", sourced_id)


@router.get(
    "/CFRubrics/{sourcedId}",
    response_model=CFRubricOut,
    responses=case_responses(404),
    summary="Get a CFRubric",
)
async def get_cf_rubric(request: Request, session: Session, sourced_id: SourcedId) -> Response:
    """A version's level scales: one criterion per competency (`CFItemURI`), one criterion
    level per rung (`quality` the level name, `score` its rank, `description` the
    competency's core description at that level)."""
    return await _one(request, session, "CFRubrics", sourced_id)
