"""The CASE 1.1 provider's reads: published and retired versions, found by CASE identifier.

CASE identifiers are derived (``case.py``), not stored, so finding the version behind an
identifier takes an index. Each process keeps one: identifier -> (version id, collection), built
from the packages of the public versions. Public content never changes (retiring changes dates
only, never identifiers), so an indexed version stays right; each lookup compares the indexed
versions with the public ones in the database (one small query) and indexes what is new.
"""

import re
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import BadRequest, NotFound
from app.frameworks import case, catalogue
from app.frameworks.models import Framework, FrameworkVersion
from app.frameworks.service import VersionRef

PUBLIC = ("published", "retired")
Json = dict[str, Any]

_by_identifier: dict[str, tuple[uuid.UUID, str]] = {}
_indexed: dict[uuid.UUID, list[str]] = {}


async def public_versions(session: AsyncSession) -> list[VersionRef]:
    """Every published and retired version, by framework slug and then age."""
    rows = await session.execute(
        select(Framework, FrameworkVersion)
        .join(FrameworkVersion, FrameworkVersion.framework_id == Framework.id)
        .where(FrameworkVersion.status.in_(PUBLIC))
        .order_by(Framework.slug, FrameworkVersion.created_at, FrameworkVersion.version)
    )
    return [VersionRef(row[0], row[1]) for row in rows]


async def _refresh_index(session: AsyncSession) -> None:
    public = set(
        (
            await session.scalars(
                select(FrameworkVersion.id).where(FrameworkVersion.status.in_(PUBLIC))
            )
        ).all()
    )
    for version_id in set(_indexed) - public:
        for identifier in _indexed.pop(version_id):
            _by_identifier.pop(identifier, None)
    missing = public - set(_indexed)
    if not missing:
        return
    for ref in await public_versions(session):
        if ref.version.id in missing:
            package = case.package(await catalogue.document(session, ref), "")
            found = {obj["identifier"]: kind for kind, obj in case.objects(package)}
            _indexed[ref.version.id] = list(found)
            _by_identifier.update({i: (ref.version.id, kind) for i, kind in found.items()})


def _uuid(sourced_id: str) -> str:
    try:
        return str(uuid.UUID(sourced_id))
    except ValueError as exc:
        raise NotFound(f"{sourced_id!r} is not a UUID.", imsx_code_minor="invaliduuid") from exc


async def cf_object(
    session: AsyncSession, collection: str, sourced_id: str, *, base_url: str
) -> Json:
    """The object of ``collection`` (``CFPackages``, ``CFDocuments``, ``CFItems``,
    ``CFAssociations`` or ``CFRubrics``) with identifier ``sourced_id``, as the binding serves
    it alone; a package's identifier is its CFDocument's."""
    identifier = _uuid(sourced_id)
    kind = "CFDocuments" if collection == "CFPackages" else collection
    await _refresh_index(session)
    found = _by_identifier.get(identifier)
    if found is not None and found[1] == kind:
        row = (
            await session.execute(
                select(Framework, FrameworkVersion)
                .join(FrameworkVersion, FrameworkVersion.framework_id == Framework.id)
                .where(FrameworkVersion.id == found[0], FrameworkVersion.status.in_(PUBLIC))
            )
        ).first()
        if row is not None:
            doc = await catalogue.document(session, VersionRef(row[0], row[1]))
            package = case.package(doc, base_url)
            if collection == "CFPackages":
                return package
            if collection == "CFDocuments":
                return case.cf_document(doc, base_url)
            document = package["CFDocument"]
            for obj_kind, obj in case.objects(package):
                if obj_kind == kind and obj["identifier"] == identifier:
                    if kind == "CFRubrics":
                        return obj
                    # Served alone, an item or association names its document.
                    link = {key: document[key] for key in ("title", "identifier", "uri")}
                    return obj | {"CFDocumentURI": link}
    singular = {"CFPackages": "CFPackage", "CFRubrics": "CFRubric"}.get(collection, kind[:-1])
    raise NotFound(f"No {singular} {identifier}.", imsx_code_minor="unknownobject")


async def cf_documents(session: AsyncSession, *, base_url: str) -> list[Json]:
    """The CFDocument of every public version, as the binding serves it alone."""
    return [
        case.cf_document(await catalogue.document(session, ref), base_url)
        for ref in await public_versions(session)
    ]


# -- listing CFDocuments: sort, orderBy, filter, fields (the binding's query parameters) --------

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


def _invalid(message: str, code_minor: str) -> BadRequest:
    return BadRequest(message, imsx_code_minor=code_minor)


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
            )
        field, operator, value, joiner = match.groups()
        if field not in _SCALAR_FIELDS:
            raise _invalid(
                f"CFDocuments cannot be filtered on {field!r}.", "invalid_selection_field"
            )
        predicates.append((field, operator, value))
        if joiner:
            joiners.add(joiner)
        position = match.end()
    if not predicates or len(joiners) > 1 or (joiners and len(predicates) == 1):
        raise _invalid(
            "A filter uses either AND or OR, between predicates.", "invalid_selection_field"
        )
    return predicates, joiners == {"OR"}


@dataclass(frozen=True)
class DocumentQuery:
    limit: int
    offset: int
    sort: str | None
    order_by: str
    filter: str | None
    fields: str | None


def select_documents(documents: list[Json], query: DocumentQuery) -> tuple[list[Json], int]:
    """One page of ``documents`` after filtering and sorting, and how many matched in all."""
    if query.filter:
        predicates, any_of = _parse_filter(query.filter)
        documents = [d for d in documents if _matches(d, predicates, any_of)]
    if query.sort is not None:
        sort = query.sort
        if sort not in _SCALAR_FIELDS:
            raise _invalid(f"CFDocuments cannot be sorted by {sort!r}.", "invalid_sort_field")
        # Documents without the field come last, whatever the order.
        present = sorted(
            (d for d in documents if d.get(sort) is not None),
            key=lambda d: str(d[sort]),
            reverse=query.order_by == "desc",
        )
        documents = present + [d for d in documents if d.get(sort) is None]
    selected: list[str] | None = None
    if query.fields:
        selected = [name.strip() for name in query.fields.split(",")]
        unknown = [name for name in selected if name not in DOCUMENT_FIELDS]
        if unknown:
            raise _invalid(
                f"Unknown CFDocument field(s): {', '.join(unknown)}.", "invalid_selection_field"
            )
    page = documents[query.offset : query.offset + query.limit]
    if selected is not None:
        page = [{k: v for k, v in d.items() if k in selected} for d in page]
    return page, len(documents)
