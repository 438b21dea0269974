"""One list envelope everywhere: ``{"items": [...], "next_cursor": "..." | null}``.

Cursors are opaque to callers: base64url of the list's name and the sort key of the last item
returned, so paging is keyset-based (stable under inserts, no OFFSET scans), and a cursor is
taken back only by the list that issued it, with values of the types that list compares.
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
from app.core.input_guard import unstorable_reason
from app.core.limits import INT64_MAX, INT64_MIN

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


CursorTypes = Sequence[type | tuple[type, ...]]
_INVALID = "The cursor is not one this service issued for this list."


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    if isinstance(value, UUID):
        return {"u": str(value)}
    return value


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict) and "t" in value:
        if not isinstance(value["t"], str):
            raise ValueError("a cursor's times are text")
        moment = datetime.fromisoformat(value["t"])
        if moment.tzinfo is None:
            raise ValueError("a cursor's times are UTC")
        return moment
    if isinstance(value, dict) and "u" in value:
        if not isinstance(value["u"], str):
            raise ValueError("a cursor's ids are text")
        return UUID(value["u"])
    if isinstance(value, str) and unstorable_reason(value):
        raise ValueError("not a value of any list")
    if isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
        raise ValueError("out of range")
    return value


def encode_cursor(values: Sequence[Any], *, list_name: str) -> str:
    """The cursor after ``values`` (the sort key of a page's last item) in the list named
    ``list_name``: only that list takes it back."""
    raw = json.dumps(
        {"l": list_name, "k": [_encode_value(v) for v in values]}, separators=(",", ":")
    )
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, types: CursorTypes, *, list_name: str) -> list[Any]:
    """The sort key in ``cursor``, one value of each of ``types``; a 422 on ``query.cursor``
    for a cursor of another list, of another shape, or not issued here at all.

    A cursor is a client's input like any other: what it holds reaches the database only once
    it is known to be the values this list compares (a string where the list sorts by time
    would be a database error, a 500)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        document = json.loads(raw)
        if not isinstance(document, dict) or document.get("l") != list_name:
            raise ValueError("another list's cursor")
        values = document.get("k")
        if not isinstance(values, list) or len(values) != len(types):
            raise ValueError("wrong shape")
        decoded = [_decode_value(v) for v in values]
        for value, expected in zip(decoded, types, strict=True):
            if isinstance(value, bool) or not isinstance(value, expected):
                raise ValueError("wrong type")
        return decoded
    except (binascii.Error, ValueError, UnicodeDecodeError, TypeError, RecursionError) as exc:
        raise UnprocessableEntity(
            _INVALID, errors=[FieldError(field="query.cursor", message="invalid cursor")]
        ) from exc


def _sort_key_types(order_by: Sequence[InstrumentedAttribute[Any]]) -> list[type]:
    types: list[type] = []
    for column in order_by:
        try:
            types.append(column.type.python_type)
        except NotImplementedError:
            types.append(object)
    return types


def list_name_of(order_by: Sequence[InstrumentedAttribute[Any]]) -> str:
    """A keyset list's name: its sort columns (``agency.code``). Two lists that sort alike
    take each other's cursors, which is harmless: the values are of the same columns."""
    return ",".join(f"{column.class_.__tablename__}.{column.key}" for column in order_by)


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
    list_name = list_name_of(order_by)
    if cursor is not None:
        after = decode_cursor(cursor, _sort_key_types(order_by), list_name=list_name)
        statement = statement.where(tuple_(*order_by) > tuple_(*after))
    rows = list((await session.scalars(statement.order_by(*order_by).limit(limit + 1))).all())
    next_cursor = None
    if len(rows) > limit:
        next_cursor = encode_cursor(key(rows[limit - 1]), list_name=list_name)
    return rows[:limit], next_cursor
