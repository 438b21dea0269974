from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from app.audit.models import AuditEntry
from app.audit.schemas import AuditEntryOut
from app.audit.service import search
from app.auth.dependencies import AdminOnly
from app.core.database import Session
from app.core.errors import problem_responses
from app.core.pagination import DEFAULT_LIMIT, Cursor, Limit, Page, paginate

router = APIRouter(prefix="/v1/audit", tags=["Audit"])


@router.get("", responses=problem_responses(401, 403, 422), summary="Read the audit trail")
async def list_audit_entries(
    session: Session,
    caller: AdminOnly,
    entity_id: Annotated[
        str | None,
        Query(max_length=200, description="Only entries about this entity (candidate id, ...)."),
    ] = None,
    actor: Annotated[
        str | None,
        Query(max_length=200, description="An API key id, a token subject, or a key's name."),
    ] = None,
    from_: Annotated[
        datetime | None, Query(alias="from", description="ISO 8601; entries at or after it.")
    ] = None,
    to: Annotated[datetime | None, Query(description="ISO 8601; entries before it.")] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[AuditEntryOut]:
    """Who did what, when, oldest first: every change (with the changed fields before and
    after) and every read of a candidate's personal data (without values). Entries can be
    neither changed nor deleted, not even by the service's own database role."""
    entries, next_cursor = await paginate(
        session,
        search(entity_id=entity_id, actor=actor, start=from_, end=to),
        order_by=[AuditEntry.id],
        cursor=cursor,
        limit=limit,
        key=lambda e: (e.id,),
    )
    return Page(items=[AuditEntryOut.model_validate(e) for e in entries], next_cursor=next_cursor)
