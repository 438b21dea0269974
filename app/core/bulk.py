"""Writing many rows with one set-based statement: the rows sent as one JSON document.

``INSERT ... SELECT FROM json_populate_recordset(...)`` and ``UPDATE ... FROM
json_populate_recordset(...)`` cost one statement and one parameter whatever the number of
rows, and PostgreSQL turns each field into its column's type. An ORM flush or an
``executemany`` instead processes every row's parameters in Python, on the event loop, and
executes the statement once per row; arrays (``unnest``) cost asyncpg a Python type check
per element. The JSON is made by ``encode_rows`` (pure work: in a worker thread when the
rows are thousands).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, Text, bindparam, cast, column, func, literal_column, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import JSON, JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.selectable import TableValuedAlias

from app.core.database import json_text

_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]
_quote = _DIALECT.identifier_preparer.quote


@dataclass(frozen=True)
class EncodedRows:
    """Alike rows as one JSON array of objects."""

    columns: tuple[str, ...]
    document: str
    count: int


def encode_rows(rows: Sequence[Mapping[str, Any]]) -> EncodedRows:
    """``rows`` (dicts with the same keys) for ``insert_rows`` and ``update_rows``. Values are
    encoded as the engine encodes JSONB parameters (``json_text``), so a JSONB column's value
    is stored as it would be by a plain INSERT."""
    if not rows:
        return EncodedRows((), "[]", 0)
    return EncodedRows(tuple(rows[0]), json_text(list(rows)), len(rows))


def _field(table: Table, name: str) -> str:
    column_type = table.c[name].type
    field = f"r.{_quote(name)}"
    # A JSON null reads back as SQL NULL; SQLAlchemy binds None as JSON null unless the column
    # says otherwise, and so does this.
    if isinstance(column_type, JSON | JSONB) and not column_type.none_as_null:
        return f"COALESCE({field}, 'null'::{column_type.compile(dialect=_DIALECT)})"
    return field


def recordset(table: Table, columns: Sequence[str]) -> TableValuedAlias:
    """``json_populate_recordset`` of ``table``'s row type over the bound ``:rows`` (made by
    ``encode_rows``) as a selectable ``r``, for statements built with SQLAlchemy: ``r.c.NAME``
    for each of ``columns``, and ``r.c.ordinality``, the row's place in the document."""
    function = func.json_populate_recordset(
        literal_column(f"NULL::{_quote(table.name)}"),
        cast(bindparam("rows", type_=Text()), JSON()),
    )
    return function.table_valued(
        *(column(name, table.c[name].type) for name in columns), with_ordinality="ordinality"
    ).alias("r")


def _source(table: Table) -> str:
    return (
        f"json_populate_recordset(NULL::{_quote(table.name)}, CAST(:rows AS JSON))"
        " WITH ORDINALITY AS r"
    )


async def insert_rows(session: AsyncSession, table: Table, rows: EncodedRows) -> None:
    """Insert ``rows`` in their order (ids from a sequence follow it); the table's other
    columns get their defaults."""
    if not rows.count:
        return
    names = ", ".join(_quote(name) for name in rows.columns)
    fields = ", ".join(_field(table, name) for name in rows.columns)
    # Only names from the table's own metadata (quoted) go into the text; the rows are bound.
    statement = (
        f"INSERT INTO {_quote(table.name)} ({names})\n"
        f"SELECT {fields} FROM {_source(table)} ORDER BY r.ordinality"
    )
    await session.execute(text(statement), {"rows": rows.document})


async def update_rows(session: AsyncSession, table: Table, key: str, rows: EncodedRows) -> None:
    """Set, in the row whose ``key`` is each row's, its other columns to the row's values
    (one row per key: a key given twice would be updated by either)."""
    if not rows.count:
        return
    assignments = ", ".join(
        f"{_quote(name)} = {_field(table, name)}" for name in rows.columns if name != key
    )
    statement = (
        f"UPDATE {_quote(table.name)} AS t SET {assignments}\n"  # noqa: S608 (names quoted, rows bound)
        f" FROM {_source(table)} WHERE t.{_quote(key)} = r.{_quote(key)}"
    )
    await session.execute(text(statement), {"rows": rows.document})
