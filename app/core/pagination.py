"""One list envelope everywhere: ``{"items": [...], "next_cursor": "..." | null}``.

Cursors are opaque to callers: base64url of the sort key of the last item returned, so paging is
keyset-based (stable under inserts, no OFFSET scans).
"""

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar
from uuid import UUID

from fastapi import Query
from pydantic import BaseModel, Field
from sqlalchemy import Select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from app.core.errors import FieldError, UnprocessableEntity

ItemT = TypeVar("ItemT")
RowT = TypeVar("RowT")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class Page(BaseModel, Generic[ItemT]):
    """A page of results. Pass `next_cursor` back as `cursor` for the next page; null at the end."""

    items: list[ItemT]
    next_cursor: str | None = Field(default=None, examples=["WyIyMDI2LTExLTIzIl0"])


Limit = Annotated[
    int,
    Query(ge=1, le=MAX_LIMIT, description=f"Page size, 1 to {MAX_LIMIT}.", examples=[50]),
]
Cursor = Annotated[
    str | None,
    Query(
        max_length=2048,
        description="The `next_cursor` of the previous page; omit for the first.",
    ),
]


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    if isinstance(value, UUID):
        return {"u": str(value)}
    return value


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict) and "t" in value:
        return datetime.fromisoformat(value["t"])
    if isinstance(value, dict) and "u" in value:
        return UUID(value["u"])
    return value


def encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps([_encode_value(v) for v in values], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, arity: int) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
        if not isinstance(values, list) or len(values) != arity:
            raise ValueError("wrong shape")
        return [_decode_value(v) for v in values]
    except (binascii.Error, ValueError, UnicodeDecodeError, TypeError) as exc:
        raise UnprocessableEntity(
            "The cursor is not one this service issued for this list.",
            errors=[FieldError(field="query.cursor", message="invalid cursor")],
        ) from exc


async def paginate(
    session: AsyncSession,
    statement: Select[RowT],
    *,
    order_by: Sequence[InstrumentedAttribute[Any]],
    cursor: str | None,
    limit: int,
    key: Callable[[RowT], Sequence[Any]],
) -> tuple[list[RowT], str | None]:
    """Run ``statement`` as one keyset page ordered ascending by ``order_by`` (unique together)."""
    if cursor is not None:
        after = decode_cursor(cursor, len(order_by))
        statement = statement.where(tuple_(*order_by) > tuple_(*after))
    rows = list((await session.scalars(statement.order_by(*order_by).limit(limit + 1))).all())
    next_cursor = encode_cursor(key(rows[limit - 1])) if len(rows) > limit else None
    return rows[:limit], next_cursor
