from fastapi import APIRouter, Response, status
from sqlalchemy import select

from app.agencies.models import Agency
from app.agencies.schemas import AgencyCode, AgencyIn, AgencyOut
from app.agencies.service import get_agency as get_agency_by_code
from app.agencies.service import upsert_agency
from app.auth.dependencies import AdminOnly, AnyRole
from app.auth.roles import Role
from app.core.database import Session
from app.core.errors import NotFound, problem_responses
from app.core.pagination import DEFAULT_LIMIT, Cursor, Limit, Page, paginate

router = APIRouter(prefix="/v1/agencies", tags=["Agencies"])


@router.put(
    "/{code}",
    responses={
        201: {"model": AgencyOut, "description": "The agency was created."},
        **problem_responses(401, 403, 422),
    },
    summary="Create or rename an agency",
)
async def put_agency(
    code: AgencyCode,
    body: AgencyIn,
    session: Session,
    caller: AdminOnly,
    response: Response,
) -> AgencyOut:
    """Create the agency with this code (201) or update its name (200). Safe to retry."""
    agency, created = await upsert_agency(session, code, body.name, caller)
    if created:
        response.status_code = status.HTTP_201_CREATED
    return AgencyOut.model_validate(agency)


@router.get("", responses=problem_responses(401, 422), summary="List agencies")
async def list_agencies(
    session: Session, caller: AnyRole, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT
) -> Page[AgencyOut]:
    """Every agency, ordered by code; an agency key lists its own agency only."""
    statement = select(Agency)
    if caller.role is Role.agency:
        statement = statement.where(Agency.code == caller.agency_code)
    agencies, next_cursor = await paginate(
        session,
        statement,
        order_by=[Agency.code],
        cursor=cursor,
        limit=limit,
        key=lambda a: (a.code,),
    )
    return Page(items=[AgencyOut.model_validate(a) for a in agencies], next_cursor=next_cursor)


@router.get("/{code}", responses=problem_responses(401, 403, 404, 422), summary="Get an agency")
async def get_agency(code: AgencyCode, session: Session, caller: AnyRole) -> AgencyOut:
    """One agency by its code. An agency key reads its own agency only (another agency's code
    is 404 for it)."""
    if caller.role is Role.agency and caller.agency_code != code:
        raise NotFound(f"No agency with code {code!r}.")
    return AgencyOut.model_validate(await get_agency_by_code(session, code))
