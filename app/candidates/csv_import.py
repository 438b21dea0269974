"""Candidate CSV import, for agencies without an HRIS API: the batch upsert, fed from a sheet."""

import csv
import io
from typing import Any

from app.candidates.service import SYNCED_FIELDS
from app.core.errors import BadRequest, FieldError, UnprocessableEntity

COLUMNS = ("external_id", *SYNCED_FIELDS)
REQUIRED = ("external_id", "given_name", "family_name")
MAX_ROWS = 1000
_INTEGERS = ("salary_grade", "priority")


def parse_candidates_csv(body: bytes) -> list[dict[str, Any]]:
    """Rows as batch items. Empty cells are absent fields; integer columns that are not
    integers are passed through as text so the row is rejected with a clear message."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadRequest("The CSV must be UTF-8.") from exc
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    missing = [c for c in REQUIRED if c not in header]
    unknown = [c for c in header if c not in COLUMNS]
    if missing or unknown:
        raise UnprocessableEntity(
            "The CSV header is not usable.",
            errors=[
                FieldError(field=f"csv.header.{c}", message="required column missing")
                for c in missing
            ]
            + [
                FieldError(
                    field=f"csv.header.{c}",
                    message=f"unknown column; expected some of {', '.join(COLUMNS)}",
                )
                for c in unknown
            ],
        )
    items: list[dict[str, Any]] = []
    try:
        for row in reader:
            if len(items) >= MAX_ROWS:
                raise UnprocessableEntity(
                    f"At most {MAX_ROWS} rows per import.",
                    errors=[FieldError(field="csv", message=f"more than {MAX_ROWS} rows")],
                )
            item: dict[str, Any] = {}
            for column, value in row.items():
                if column is None or value is None or not value.strip():
                    continue
                value = value.strip()
                item[column] = (
                    int(value) if column in _INTEGERS and value.lstrip("-").isdigit() else value
                )
            items.append(item)
    except csv.Error as exc:
        raise BadRequest(f"The CSV could not be read: {exc}.") from exc
    if not items:
        raise UnprocessableEntity(
            "The CSV has no rows.", errors=[FieldError(field="csv", message="no data rows")]
        )
    return items
