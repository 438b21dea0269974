"""CASE 1.0 clients: every operation of the binding under ``/ims/case/v1p0``.

Where the CASE 1.0 answer is the 1.1 one (items, associations, rubrics, definitions, item
associations), a permanent redirect (308) to the same path under ``/ims/case/v1p1`` with the
same query. CFDocuments and CFPackages differ (1.1 added ``caseVersion``), so they are served
here, without it. ``uri``s in the answers stay the v1p1 ones: they identify the objects.
"""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse

from app.core.database import Session
from app.core.errors import problem_responses
from app.frameworks.case import provider, query
from app.frameworks.case.provider import V1P0, as_v1p0
from app.frameworks.case.router import (
    CaseRoute,
    DocumentId,
    Fields,
    Filter,
    SortField,
    SourcedId,
    cached_ok,
    case_responses,
    list_documents,
    public_root_of,
    respond,
)
from app.frameworks.case.schemas import (
    CFDocumentSelection,
    CFDocumentV1p0,
    CFDocumentV1p0Set,
    CFPackageV1p0,
)
from app.frameworks.case.vocabulary import CASE_PATH, CASE_V1P0_PATH

router = APIRouter(prefix=CASE_V1P0_PATH, tags=["CASE 1.0"], route_class=CaseRoute)

# The operations whose CASE 1.0 answer is the 1.1 one.
REDIRECTED = (
    "CFItems",
    "CFItemAssociations",
    "CFAssociations",
    "CFAssociationGroupings",
    "CFItemTypes",
    "CFConcepts",
    "CFSubjects",
    "CFLicenses",
    "CFRubrics",
)


@router.get(
    "/CFDocuments",
    response_model=CFDocumentV1p0Set | CFDocumentSelection,
    responses=cached_ok({"X-Total-Count": "How many CFDocuments match, over all pages."})
    | case_responses(400),
    summary="List CFDocuments (CASE 1.0)",
)
async def get_all_cf_documents_v1p0(
    request: Request,
    session: Session,
    limit: Annotated[int, Query(ge=1, le=1000, description="Page size.")] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000, description="How many to skip.")] = 0,
    sort: SortField = None,
    order_by: Annotated[Literal["asc", "desc"], Query(alias="orderBy")] = "asc",
    filter_: Filter = None,
    fields: Fields = None,
) -> Response:
    """As `GET /ims/case/v1p1/CFDocuments` (the same parameters and errors), each document
    without `caseVersion`."""
    page, total = await list_documents(
        request,
        session,
        query.DocumentQuery(
            limit=limit, offset=offset, sort=sort, order_by=order_by, filter=filter_, fields=fields
        ),
    )
    body = {"CFDocuments": [as_v1p0(document) for document in page]}
    return respond(request, provider.encode(body), headers={"X-Total-Count": str(total)})


async def _one_v1p0(
    request: Request, session: Session, operation: str, sourced_id: str
) -> Response:
    served = await provider.served(
        provider.index_of(request.app.state),
        session,
        V1P0 + operation,
        sourced_id,
        base_url=public_root_of(request),
    )
    return respond(request, served)


@router.get(
    "/CFDocuments/{sourcedId}",
    response_model=CFDocumentV1p0,
    responses=cached_ok() | case_responses(400, 404),
    summary="Get a CFDocument (CASE 1.0)",
)
async def get_cf_document_v1p0(
    request: Request, session: Session, sourced_id: DocumentId
) -> Response:
    """As `GET /ims/case/v1p1/CFDocuments/{sourcedId}`, without `caseVersion`."""
    return await _one_v1p0(request, session, "CFDocuments", sourced_id)


@router.get(
    "/CFPackages/{sourcedId}",
    response_model=CFPackageV1p0,
    responses=cached_ok() | case_responses(400, 404),
    summary="Get a CFPackage (CASE 1.0)",
)
async def get_cf_package_v1p0(
    request: Request, session: Session, sourced_id: DocumentId
) -> Response:
    """As `GET /ims/case/v1p1/CFPackages/{sourcedId}`, its CFDocument without `caseVersion`."""
    return await _one_v1p0(request, session, "CFPackages", sourced_id)


def _redirect(collection: str) -> Any:
    async def redirect(request: Request, sourced_id: SourcedId) -> Response:
        identifier = provider.as_identifier(sourced_id)
        target = f"{public_root_of(request).rstrip('/')}{CASE_PATH}/{collection}/{identifier}"
        if request.url.query:
            target = f"{target}?{request.url.query}"
        return RedirectResponse(target, status_code=308)

    redirect.__name__ = f"redirect_{collection.lower()}_v1p0"
    redirect.__doc__ = (
        f"CASE 1.0's `{collection}` answer is the 1.1 one: a permanent redirect to "
        f"`{CASE_PATH}/{collection}/{{sourcedId}}`."
    )
    return redirect


_REDIRECT_RESPONSES: dict[int | str, dict[str, Any]] = {
    308: {
        "description": "The same operation under `/ims/case/v1p1`.",
        "headers": {"Location": {"schema": {"type": "string", "format": "uri"}}},
    }
}

for _collection in REDIRECTED:
    router.add_api_route(
        f"/{_collection}/{{sourcedId}}",
        _redirect(_collection),
        methods=["GET"],
        status_code=308,
        response_class=RedirectResponse,
        responses=_REDIRECT_RESPONSES | case_responses(400, 404) | problem_responses(503),
        summary=f"{_collection} (CASE 1.0): redirect to 1.1",
    )
