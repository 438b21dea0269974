import uuid
from datetime import timedelta

from fastapi import APIRouter, status
from sqlalchemy import select

from app.auth.dependencies import AdminOnly
from app.auth.models import ApiKey
from app.auth.roles import Role
from app.auth.schemas import ApiKeyCreated, ApiKeyIn, ApiKeyOut, RotationIn
from app.auth.service import create_api_key, revoke_api_key, rotate_api_key
from app.core.database import Session
from app.core.errors import problem_responses
from app.core.pagination import DEFAULT_LIMIT, Cursor, Limit, Page, paginate

router = APIRouter(prefix="/v1/api-keys", tags=["API keys"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 422),
    summary="Create an API key",
)
async def create_key(body: ApiKeyIn, session: Session, caller: AdminOnly) -> ApiKeyCreated:
    """Create a key for a role (and, for role `agency`, one agency). The secret `key` is in this
    response only: the service keeps just a digest of it."""
    key, secret = await create_api_key(
        session, role=Role(body.role), name=body.name, agency_code=body.agency, actor=caller
    )
    return ApiKeyCreated(**ApiKeyOut.model_validate(key).model_dump(), key=secret)


@router.get("", responses=problem_responses(401, 403, 422), summary="List API keys")
async def list_keys(
    session: Session, caller: AdminOnly, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT
) -> Page[ApiKeyOut]:
    """All keys, oldest first, revoked ones included (with `revoked_at`). Secrets are never listed."""
    keys, next_cursor = await paginate(
        session,
        select(ApiKey),
        order_by=[ApiKey.created_at, ApiKey.id],
        cursor=cursor,
        limit=limit,
        key=lambda k: (k.created_at, k.id),
    )
    return Page(items=[ApiKeyOut.model_validate(k) for k in keys], next_cursor=next_cursor)


@router.delete("/{key_id}", responses=problem_responses(401, 403, 404), summary="Revoke an API key")
async def revoke_key(key_id: uuid.UUID, session: Session, caller: AdminOnly) -> ApiKeyOut:
    """Revoke a key at once; requests with it get 401 from now on. Revoking twice is harmless."""
    return ApiKeyOut.model_validate(await revoke_api_key(session, key_id, caller))


@router.post(
    "/{key_id}/rotate",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Rotate an API key",
)
async def rotate_key(
    key_id: uuid.UUID, session: Session, caller: AdminOnly, body: RotationIn | None = None
) -> ApiKeyCreated:
    """A new key with the same role, agency and name; its secret `key` is in this response
    only. The old key keeps working for `overlap_seconds` (default one day, at most seven), then
    gets 401, so the holder can switch without downtime. A revoked or expired key: 409."""
    overlap = timedelta(seconds=(body or RotationIn()).overlap_seconds)
    key, secret = await rotate_api_key(session, key_id, overlap, caller)
    return ApiKeyCreated(**ApiKeyOut.model_validate(key).model_dump(), key=secret)
