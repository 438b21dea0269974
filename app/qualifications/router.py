"""Job qualification standards: positions and the competency levels they require."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from app.agencies.schemas import AgencyCode
from app.auth.dependencies import AnyRole, Staff
from app.core.database import Session
from app.core.errors import problem_responses
from app.core.http_cache import cached_response, strong_etag
from app.core.pagination import DEFAULT_LIMIT, Cursor, Limit, Page
from app.frameworks.published import PublishedIndex
from app.frameworks.router import IMMUTABLE_CACHE
from app.frameworks.schemas import IndicatorOut, Slug
from app.qualifications.schemas import QualificationStandardIn, QualificationStandardOut
from app.qualifications.service import (
    create_standard,
    get_standard,
    list_standards,
    required_indicators,
)

router = APIRouter(prefix="/v1/qualification-standards", tags=["Qualification standards"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 422),
    summary="Create a qualification standard",
)
async def create_qualification_standard(
    body: QualificationStandardIn, session: Session, caller: Staff
) -> QualificationStandardOut:
    """A position and the level it requires in each of some competencies of one framework
    version, which must be published or retired (not a draft). An unknown agency, framework,
    version, competency or level (a level of that competency's own scale, e.g. `stage-2`), or a
    competency named twice: 422 listing every problem (`body.requirements[2].level`), and
    nothing is stored."""
    return await create_standard(session, body)


@router.get("", responses=problem_responses(401, 422), summary="List qualification standards")
async def list_qualification_standards(
    session: Session,
    caller: AnyRole,
    agency: Annotated[AgencyCode | None, Query(description="Only this agency's standards.")] = None,
    framework: Annotated[
        Slug | None, Query(description="Only standards on this framework.")
    ] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[QualificationStandardOut]:
    """Every qualification standard, oldest first, including the bundled examples
    (`is_example: true`)."""
    items, next_cursor = await list_standards(
        session, agency=agency, framework=framework, cursor=cursor, limit=limit
    )
    return Page(items=items, next_cursor=next_cursor)


@router.get(
    "/{standard_id}",
    responses=problem_responses(401, 404, 422),
    summary="Get a qualification standard",
)
async def get_qualification_standard(
    standard_id: uuid.UUID, session: Session, caller: AnyRole
) -> QualificationStandardOut:
    """One standard with its requirements, each naming the competency and the required level."""
    return await get_standard(session, standard_id)


@router.get(
    "/{standard_id}/indicators",
    response_model=Page[IndicatorOut],
    responses={
        304: {"description": "Not modified (`If-None-Match` matched)."},
        **problem_responses(401, 404, 422),
    },
    summary="List the indicators a standard requires",
)
async def list_required_indicators(
    standard_id: uuid.UUID,
    request: Request,
    session: Session,
    caller: AnyRole,
    published: PublishedIndex,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Response:
    """The behaviours a holder of the position must show, flat and in source order: for each
    required competency, its **positive** indicators at **every level up to and including** the
    required one (Advanced means Basic, Intermediate and Advanced; the levels are cumulative).
    Negative indicators and indicators without a level are not listed. A standard and its
    framework version never change: pages carry a strong `ETag` (`If-None-Match` -> 304) and
    may be kept for a day by any cache that keys on `Authorization`."""
    body = await required_indicators(session, published, standard_id, cursor=cursor, limit=limit)
    return cached_response(request, body, strong_etag(body), cache_control=IMMUTABLE_CACHE)
