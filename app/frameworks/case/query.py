"""``GET /CFDocuments``: the binding's query parameters over the public CFDocuments.

``filter`` takes the binding's simple expressions, ``field op 'value'`` joined by ``AND`` and
``OR`` (AND binds tighter); an unknown ``sort``, ``filter`` or ``fields`` field is a 400 whose
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
SORTABLE = tuple(field for field in DOCUMENT_FIELDS if field in _SCALAR_FIELDS)
_OPERATOR = "(?:!=|>=|<=|=|>|<|~)"


def _grammar(field: str) -> str:
    """The filter grammar, fields matching ``field``: predicates joined by AND or OR, spaces
    around the joiners (AND binds tighter, as in SQL)."""
    predicate = f"{field} *{_OPERATOR} *'[^']*'"
    return f" *{predicate}(?: +(?:AND|OR) +{predicate})* *"


# For the contract: exactly the filters and fields lists this module accepts.
_KNOWN = "(?:" + "|".join(SORTABLE) + ")"
FILTER_PATTERN = f"^{_grammar(_KNOWN)}$"
FIELDS_PATTERN = f"^ *(?:{'|'.join(DOCUMENT_FIELDS)})(?: *, *(?:{'|'.join(DOCUMENT_FIELDS)}))* *$"
_SYNTAX = re.compile(_grammar("[A-Za-z]+"))
_PREDICATE = re.compile(f" *([A-Za-z]+) *({_OPERATOR}) *'([^']*)'(?: +(AND|OR) +| *$)")


def _invalid(message: str, code_minor: str, field: str) -> BadRequest:
    """A 400 whose ``imsx_codeMinorField`` is named after the offending ``field``."""
    return BadRequest(message, imsx_code_minor=code_minor, imsx_field=field)


Predicate = tuple[str, str, str]


def _holds(document: Json, field: str, operator: str, value: str) -> bool:
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


def _matches(document: Json, any_of: list[list[Predicate]]) -> bool:
    return any(all(_holds(document, *p) for p in all_of) for all_of in any_of)


def _parse_filter(expression: str) -> list[list[Predicate]]:
    """``title~'leadership' AND version='2015' OR version='2014'``: OR-ed groups of AND-ed
    predicates."""
    if not _SYNTAX.fullmatch(expression):
        raise _invalid(
            "The filter cannot be read: use field<op>'value' (<op>: = != > >= < <= ~), "
            "joined by ' AND ' or ' OR '.",
            "invalid_selection_field",
            "filter",
        )
    groups: list[list[Predicate]] = [[]]
    for match in _PREDICATE.finditer(expression):
        field, operator, value, joiner = match.groups()
        if field not in _SCALAR_FIELDS:
            raise _invalid(
                f"CFDocuments cannot be filtered on {field!r}.", "invalid_selection_field", field
            )
        groups[-1].append((field, operator, value))
        if joiner == "OR":
            groups.append([])
    return groups


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
    if query.filter is not None:
        any_of = _parse_filter(query.filter)
        documents = [d for d in documents if _matches(d, any_of)]
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
    if query.fields is not None:
        selected = [name.strip(" ") for entry in query.fields for name in entry.split(",")]
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
