"""``GET /CFDocuments``: the binding's query parameters over the public CFDocuments.

``filter`` takes the binding's simple expressions, ``field op 'value'`` joined by ``AND`` or
``OR`` (one kind per filter); an unknown ``sort``, ``filter`` or ``fields`` field is a 400 whose
``imsx_codeMinorField`` names it.
"""

import re
from dataclasses import dataclass
from typing import Any

from app.core.errors import BadRequest

Json = dict[str, Any]

DOCUMENT_FIELDS = (
    "identifier",
    "uri",
    "frameworkType",
    "caseVersion",
    "creator",
    "title",
    "lastChangeDateTime",
    "officialSourceURL",
    "publisher",
    "description",
    "subject",
    "subjectURI",
    "language",
    "version",
    "adoptionStatus",
    "statusStartDate",
    "statusEndDate",
    "licenseURI",
    "notes",
    "CFPackageURI",
)
_SCALAR_FIELDS = frozenset(DOCUMENT_FIELDS) - {
    "subject",
    "subjectURI",
    "licenseURI",
    "CFPackageURI",
}
_PREDICATE = re.compile(r"\s*([A-Za-z]+)\s*(!=|>=|<=|=|>|<|~)\s*'([^']*)'\s*(?:(AND|OR)\s+|$)")


def _invalid(message: str, code_minor: str, field: str) -> BadRequest:
    """A 400 whose ``imsx_codeMinorField`` is named after the offending ``field``."""
    return BadRequest(message, imsx_code_minor=code_minor, imsx_field=field)


def _matches(document: Json, predicates: list[tuple[str, str, str]], any_of: bool) -> bool:
    def holds(field: str, operator: str, value: str) -> bool:
        actual = document.get(field)
        if actual is None:
            return operator == "!="
        text = str(actual)
        return {
            "=": text == value,
            "!=": text != value,
            ">": text > value,
            ">=": text >= value,
            "<": text < value,
            "<=": text <= value,
            "~": value.lower() in text.lower(),
        }[operator]

    results = (holds(*predicate) for predicate in predicates)
    return any(results) if any_of else all(results)


def _parse_filter(expression: str) -> tuple[list[tuple[str, str, str]], bool]:
    """``title~'leadership' AND version='2015'``: predicates, and whether they are OR-ed."""
    predicates, joiners, position = [], set(), 0
    while position < len(expression):
        match = _PREDICATE.match(expression, position)
        if match is None or match.start() != position:
            raise _invalid(
                f"The filter cannot be read at character {position + 1}: use "
                "field<op>'value' joined by AND or OR (<op>: = != > >= < <= ~).",
                "invalid_selection_field",
                "filter",
            )
        field, operator, value, joiner = match.groups()
        if field not in _SCALAR_FIELDS:
            raise _invalid(
                f"CFDocuments cannot be filtered on {field!r}.", "invalid_selection_field", field
            )
        predicates.append((field, operator, value))
        if joiner:
            joiners.add(joiner)
        position = match.end()
    if not predicates or len(joiners) > 1 or (joiners and len(predicates) == 1):
        raise _invalid(
            "A filter uses either AND or OR, between predicates.",
            "invalid_selection_field",
            "filter",
        )
    return predicates, joiners == {"OR"}


@dataclass(frozen=True)
class DocumentQuery:
    limit: int
    offset: int
    sort: str | None
    order_by: str
    filter: str | None
    # Each entry may itself be comma-separated: ``fields=a&fields=b`` and ``fields=a,b`` agree.
    fields: list[str] | None


def select_documents(documents: list[Json], query: DocumentQuery) -> tuple[list[Json], int]:
    """One page of ``documents`` after filtering and sorting, and how many matched in all."""
    if query.filter:
        predicates, any_of = _parse_filter(query.filter)
        documents = [d for d in documents if _matches(d, predicates, any_of)]
    if query.sort is not None:
        sort = query.sort
        if sort not in _SCALAR_FIELDS:
            raise _invalid(f"CFDocuments cannot be sorted by {sort!r}.", "invalid_sort_field", sort)
        # Documents without the field come last, whatever the order.
        present = sorted(
            (d for d in documents if d.get(sort) is not None),
            key=lambda d: str(d[sort]),
            reverse=query.order_by == "desc",
        )
        documents = present + [d for d in documents if d.get(sort) is None]
    selected: list[str] | None = None
    if query.fields:
        selected = [name.strip() for entry in query.fields for name in entry.split(",")]
        unknown = [name for name in selected if name not in DOCUMENT_FIELDS]
        if unknown:
            raise _invalid(
                f"Unknown CFDocument field(s): {', '.join(unknown)}.",
                "invalid_selection_field",
                unknown[0],
            )
    page = documents[query.offset : query.offset + query.limit]
    if selected is not None:
        page = [{k: v for k, v in d.items() if k in selected} for d in page]
    return page, len(documents)
