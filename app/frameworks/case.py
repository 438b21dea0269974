"""1EdTech CASE 1.1: a framework version as a CFPackage, and a CFPackage back into a version.

Pure (no database). The package validates against the official CFPackage JSON Schema, and
export -> import -> export gives the same package: what CASE has no field for is carried in
standard CASE fields, by these rules.

Identifiers are UUID v5 of ``CASE_NAMESPACE`` and ``<slug>/<version>/<path>``, lower case, so they
are stable across runs and never shared by two versions. The ``<path>`` of each object:

| object | CASE class, `CFItemType` | path | `isChildOf` parent |
|---|---|---|---|
| the version | CFDocument | `document` | |
| cluster | CFItem `Cluster` | `cluster/<code>` | document |
| competency | CFItem `Competency` | `competency/<code>` | its cluster, else document |
| framework-wide level | CFItem `Level` | `level/<code>` | document |
| a competency's own level (stage) | CFItem `Level` | `competency/<c>/level/<code>` | competency |
| core description at a level | CFItem `Level Description` | `competency/<c>/level-description/<level>` | competency |
| feature | CFItem `Feature` | `competency/<c>/feature/<n>` | competency |
| element | CFItem `Element` | `competency/<c>/element/<code>` | competency |
| negative indicators heading | CFItem `Negative Indicators` | `competency/<c>/negative-indicators` | competency |
| indicator | CFItem `Indicator` | `competency/<c>/indicator/<n>` | its element, else competency |
| negative indicator | CFItem `Negative Indicator` | `competency/<c>/indicator/<n>` | its element, else the heading, else competency |
| association | CFAssociation | `<origin path>/is-child-of`, `<origin path>/has-skill-level` | |
| level scales | CFRubric | `rubric` | |
| a competency's scale | CFRubricCriterion | `rubric/competency/<c>` | |
| one level of it | CFRubricCriterionLevel | `rubric/competency/<c>/level/<code>` | |
| item type | CFItemType (CFDefinitions) | `item-type/<type code>` | |

``<n>`` is the 1-based position among the competency's features or indicators.

Fields:

- ``humanCodingScheme`` is the code of a cluster, competency, level or element.
- ``listEnumeration`` is the 1-based position of a cluster, competency (in the framework),
  feature, element or indicator (in its competency); for a level it is the rank.
  ``sequenceNumber`` on ``isChildOf`` orders the children of one parent for display.
- ``fullStatement`` is the text; for a cluster or competency that has a description or
  definition, ``fullStatement`` is that and ``abbreviatedStatement`` the name, otherwise
  ``fullStatement`` is the name and there is no ``abbreviatedStatement``.
- ``alternativeLabel`` is a competency's attribute (the source's label in parentheses).
- ``notes`` is exactly ``INCOMPLETE_NOTE`` when the source cuts the text off (a competency's
  definition, an element name, a core description, an indicator); absent otherwise.
- An indicator's or core description's level is a ``hasSkillLevel`` association to the level.
- The negative indicators' heading ("Doubts own capability or is arrogant") is the
  ``fullStatement`` of the `Negative Indicators` item.
- The CFDocument: ``title``, ``publisher``, ``description`` are the framework's; ``version`` is
  the label and ``notes`` the version's notes; ``creator`` is the publisher (or, when none is
  known, the title); ``adoptionStatus`` is Draft, Adopted or Deprecated, with
  ``statusStartDate`` (published) and ``statusEndDate`` (retired); ``lastChangeDateTime`` is the
  version's ``updated_at``. The framework's jurisdiction and source have no CASE field and are
  not exported; an import keeps those of the framework it goes into.
- The CFRubric is the grid of level scales: one criterion per competency that has a scale (the
  framework-wide one or its own stages), one criterion level per level (``quality`` the name,
  ``score`` the rank, ``description`` the competency's core description at that level). It is
  derived from the items, so an import reads the items and ignores it.
"""

import json
import re
import uuid
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from app.core.errors import FieldError, field_path
from app.frameworks.document import build_document, refuse
from app.frameworks.schemas import (
    ClusterDoc,
    CompetencyDoc,
    ElementDoc,
    FrameworkDocument,
    FrameworkMeta,
    FrameworkVersionOut,
    IndicatorDoc,
    LevelDoc,
    Name,
    Text,
    VersionLabel,
)

# Fixed for good: every identifier ever published derives from it.
CASE_NAMESPACE = uuid.UUID("5e640998-a252-5772-99ac-614d935f3b34")
CASE_PATH = "/ims/case/v1p1"
INCOMPLETE_NOTE = "Incomplete: the source document cuts this text off."

CLUSTER = "Cluster"
COMPETENCY = "Competency"
LEVEL = "Level"
LEVEL_DESCRIPTION = "Level Description"
FEATURE = "Feature"
ELEMENT = "Element"
NEGATIVE_INDICATORS = "Negative Indicators"
INDICATOR = "Indicator"
NEGATIVE_INDICATOR = "Negative Indicator"
_DOCUMENT = "CFDocument"

# (title, type code, description), in the order the CFDefinitions list them.
ITEM_TYPES: tuple[tuple[str, str, str], ...] = (
    (CLUSTER, "cluster", "A grouping of competencies."),
    (COMPETENCY, "competency", "A competency; its definition, when the source gives one."),
    (LEVEL, "level", "A rung of a level scale: framework-wide, or a competency's own stage."),
    (LEVEL_DESCRIPTION, "level-description", "A competency's core description at one level."),
    (FEATURE, "feature", "A feature of a competency (the source's bulleted features)."),
    (ELEMENT, "element", "A named sub-behaviour of a competency."),
    (NEGATIVE_INDICATORS, "negative-indicators", "The heading of a competency's negatives."),
    (INDICATOR, "indicator", "A positive behavioural indicator, at a level when it has one."),
    (NEGATIVE_INDICATOR, "negative-indicator", "A negative behavioural indicator (no level)."),
)
_TYPE_CODES = {title: code for title, code, _ in ITEM_TYPES}

# Which parent (by CFItemType, or the CFDocument) each kind of item may have.
_PARENTS: dict[str, frozenset[str]] = {
    CLUSTER: frozenset({_DOCUMENT}),
    COMPETENCY: frozenset({_DOCUMENT, CLUSTER}),
    LEVEL: frozenset({_DOCUMENT, COMPETENCY}),
    LEVEL_DESCRIPTION: frozenset({COMPETENCY}),
    FEATURE: frozenset({COMPETENCY}),
    ELEMENT: frozenset({COMPETENCY}),
    NEGATIVE_INDICATORS: frozenset({COMPETENCY}),
    INDICATOR: frozenset({COMPETENCY, ELEMENT}),
    NEGATIVE_INDICATOR: frozenset({COMPETENCY, ELEMENT, NEGATIVE_INDICATORS}),
}
_ADOPTION_STATUS = {"draft": "Draft", "published": "Adopted", "retired": "Deprecated"}

Json = dict[str, Any]


def _timestamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _date(value: datetime) -> str:
    return value.astimezone(UTC).date().isoformat()


def _compact(**fields: Any) -> Json:
    """The fields that have a value, in the order given (CASE omits what is unknown)."""
    return {key: value for key, value in fields.items() if value is not None}


def case_identifier(slug: str, version: str, path: str) -> str:
    """The CASE identifier of the object at ``path`` (see the table above) of a version."""
    return str(uuid.uuid5(CASE_NAMESPACE, f"{slug}/{version}/{path}"))


def competency_item_uri(base_url: str, slug: str, version: str, code: str) -> str:
    """Where the CASE provider serves a competency's ``CFItem``."""
    identifier = case_identifier(slug, version, f"competency/{code}")
    return f"{base_url.rstrip('/')}{CASE_PATH}/CFItems/{identifier}"


class _Package:
    """Builds one CFPackage; ``base`` is the provider's root URL (``uri``s point into it)."""

    def __init__(self, doc: FrameworkVersionOut, base: str) -> None:
        self.doc = doc
        self.base = base.rstrip("/")
        self.changed = _timestamp(doc.updated_at)
        self.items: list[Json] = []
        self.associations: list[Json] = []
        self.types_used: set[str] = set()
        self._children: dict[str, int] = defaultdict(int)
        self.document_link = self.link("CFDocuments", self.identifier("document"), doc.title)
        # Linked to before they are listed: they come after the competencies under the document.
        self.framework_levels = {
            level.code: self.link("CFItems", self.identifier(f"level/{level.code}"), level.name)
            for level in doc.levels
        }

    def identifier(self, path: str) -> str:
        return case_identifier(self.doc.slug, self.doc.version, path)

    def uri(self, collection: str, identifier: str) -> str:
        return f"{self.base}{CASE_PATH}/{collection}/{identifier}"

    def link(self, collection: str, identifier: str, title: str) -> Json:
        return {"title": title, "identifier": identifier, "uri": self.uri(collection, identifier)}

    def item(
        self,
        path: str,
        item_type: str,
        full_statement: str,
        *,
        parent: Json,
        abbreviated: str | None = None,
        code: str | None = None,
        enumeration: int | None = None,
        alternative_label: str | None = None,
        complete: bool = True,
        level: Json | None = None,
    ) -> Json:
        """Add a CFItem with its ``isChildOf`` (and ``hasSkillLevel``); return a link to it."""
        identifier = self.identifier(path)
        self.types_used.add(item_type)
        type_id = self.identifier(f"item-type/{_TYPE_CODES[item_type]}")
        self.items.append(
            _compact(
                identifier=identifier,
                uri=self.uri("CFItems", identifier),
                fullStatement=full_statement,
                abbreviatedStatement=abbreviated,
                alternativeLabel=alternative_label,
                CFItemType=item_type,
                CFItemTypeURI=self.link("CFItemTypes", type_id, item_type),
                humanCodingScheme=code,
                listEnumeration=str(enumeration) if enumeration is not None else None,
                notes=None if complete else INCOMPLETE_NOTE,
                lastChangeDateTime=self.changed,
            )
        )
        link = self.link("CFItems", identifier, abbreviated or full_statement)
        self._children[parent["identifier"]] += 1
        self._associate(path, "isChildOf", link, parent, self._children[parent["identifier"]])
        if level is not None:
            self._associate(path, "hasSkillLevel", link, level, None)
        return link

    def _associate(
        self, path: str, kind: str, origin: Json, destination: Json, sequence: int | None
    ) -> None:
        suffix = "is-child-of" if kind == "isChildOf" else "has-skill-level"
        identifier = self.identifier(f"{path}/{suffix}")
        self.associations.append(
            _compact(
                identifier=identifier,
                associationType=kind,
                sequenceNumber=sequence,
                uri=self.uri("CFAssociations", identifier),
                originNodeURI=origin,
                destinationNodeURI=destination,
                lastChangeDateTime=self.changed,
            )
        )

    def document(self) -> Json:
        doc = self.doc
        return _compact(
            identifier=self.document_link["identifier"],
            uri=self.document_link["uri"],
            caseVersion="1.1",
            creator=doc.publisher or doc.title,
            title=doc.title,
            lastChangeDateTime=self.changed,
            publisher=doc.publisher,
            description=doc.description,
            version=doc.version,
            adoptionStatus=_ADOPTION_STATUS[doc.status],
            statusStartDate=_date(doc.published_at) if doc.published_at else None,
            statusEndDate=_date(doc.retired_at) if doc.retired_at else None,
            notes=doc.notes,
        )

    def definitions(self) -> Json:
        return {
            "CFItemTypes": [
                {
                    "identifier": self.identifier(f"item-type/{code}"),
                    "uri": self.uri("CFItemTypes", self.identifier(f"item-type/{code}")),
                    "title": title,
                    "description": description,
                    "hierarchyCode": code,
                    "typeCode": code,
                    "lastChangeDateTime": self.changed,
                }
                for title, code, description in ITEM_TYPES
                if title in self.types_used
            ]
        }

    def rubric(self, competency_links: dict[str, Json]) -> Json | None:
        doc = self.doc
        rubric_id = self.identifier("rubric")
        criteria = []
        for position, competency in enumerate(doc.competencies, start=1):
            scale = competency.levels or doc.levels
            if not scale:
                continue
            criterion_path = f"rubric/competency/{competency.code}"
            criterion_id = self.identifier(criterion_path)
            described = {d.level: d.text for d in competency.level_descriptions}
            criteria.append(
                _compact(
                    identifier=criterion_id,
                    uri=self.uri("CFRubricCriteria", criterion_id),
                    category="Competency",
                    description=competency.name,
                    CFItemURI=competency_links[competency.code],
                    position=position,
                    rubricId=rubric_id,
                    lastChangeDateTime=self.changed,
                    CFRubricCriterionLevels=[
                        _compact(
                            identifier=self.identifier(f"{criterion_path}/level/{level.code}"),
                            uri=self.uri(
                                "CFRubricCriterionLevels",
                                self.identifier(f"{criterion_path}/level/{level.code}"),
                            ),
                            description=described.get(level.code),
                            quality=level.name,
                            score=level.rank,
                            position=n,
                            rubricCriterionId=criterion_id,
                            lastChangeDateTime=self.changed,
                        )
                        for n, level in enumerate(sorted(scale, key=lambda lv: lv.rank), start=1)
                    ],
                )
            )
        if not criteria:
            return None
        return {
            "identifier": rubric_id,
            "uri": self.uri("CFRubrics", rubric_id),
            "title": f"{doc.title} {doc.version}: level scales",
            "description": "One criterion per competency, one level per rung of its scale; a "
            "level's description is the competency's core description at that level.",
            "lastChangeDateTime": self.changed,
            "CFRubricCriteria": criteria,
        }


def _add_competency(
    package: _Package, competency: CompetencyDoc, position: int, parent: Json
) -> Json:
    at = f"competency/{competency.code}"
    link = package.item(
        at,
        COMPETENCY,
        competency.definition or competency.name,
        parent=parent,
        abbreviated=competency.name if competency.definition else None,
        code=competency.code,
        enumeration=position,
        alternative_label=competency.attribute,
        complete=competency.definition_complete,
    )
    levels: dict[str, Json] = {}
    for level in sorted(competency.levels, key=lambda lv: lv.rank):
        levels[level.code] = package.item(
            f"{at}/level/{level.code}",
            LEVEL,
            level.name,
            parent=link,
            code=level.code,
            enumeration=level.rank,
        )
    if not competency.levels:
        levels = package.framework_levels
    for description in competency.level_descriptions:
        package.item(
            f"{at}/level-description/{description.level}",
            LEVEL_DESCRIPTION,
            description.text,
            parent=link,
            complete=description.complete,
            level=levels[description.level],
        )
    for n, feature in enumerate(competency.features, start=1):
        package.item(f"{at}/feature/{n}", FEATURE, feature, parent=link, enumeration=n)
    elements: dict[str, Json] = {}
    for n, element in enumerate(competency.elements, start=1):
        elements[element.code] = package.item(
            f"{at}/element/{element.code}",
            ELEMENT,
            element.name,
            parent=link,
            code=element.code,
            enumeration=n,
            complete=element.complete,
        )
    direct = [
        (n, indicator)
        for n, indicator in enumerate(competency.indicators, start=1)
        if indicator.element is None
    ]
    by_element = [
        (n, indicator)
        for n, indicator in enumerate(competency.indicators, start=1)
        if indicator.element is not None
    ]
    for n, indicator in by_element:
        package.item(
            f"{at}/indicator/{n}",
            NEGATIVE_INDICATOR if indicator.polarity == "negative" else INDICATOR,
            indicator.text,
            parent=elements[str(indicator.element)],
            enumeration=n,
            complete=indicator.complete,
            level=levels[indicator.level] if indicator.level else None,
        )
    for n, indicator in direct:
        if indicator.polarity == "positive":
            package.item(
                f"{at}/indicator/{n}",
                INDICATOR,
                indicator.text,
                parent=link,
                enumeration=n,
                complete=indicator.complete,
                level=levels[indicator.level] if indicator.level else None,
            )
    # The negatives' heading comes after the positives, as in the source.
    negatives: Json | None = None
    if competency.negative_indicators_title is not None:
        negatives = package.item(
            f"{at}/negative-indicators",
            NEGATIVE_INDICATORS,
            competency.negative_indicators_title,
            parent=link,
        )
    for n, indicator in direct:
        if indicator.polarity == "negative":
            package.item(
                f"{at}/indicator/{n}",
                NEGATIVE_INDICATOR,
                indicator.text,
                parent=negatives or link,
                enumeration=n,
                complete=indicator.complete,
            )
    return link


def package(doc: FrameworkVersionOut, base_url: str) -> Json:
    """``doc`` as a CASE 1.1 CFPackage whose ``uri``s point under ``base_url``."""
    built = _Package(doc, base_url)
    document = built.document_link
    clusters: dict[str, Json] = {}
    for n, cluster in enumerate(doc.clusters, start=1):
        clusters[cluster.code] = built.item(
            f"cluster/{cluster.code}",
            CLUSTER,
            cluster.description or cluster.name,
            parent=document,
            abbreviated=cluster.name if cluster.description else None,
            code=cluster.code,
            enumeration=n,
        )
    competencies: dict[str, Json] = {}
    for n, competency in enumerate(doc.competencies, start=1):
        parent = clusters[competency.cluster] if competency.cluster else document
        competencies[competency.code] = _add_competency(built, competency, n, parent)
    for level in sorted(doc.levels, key=lambda lv: lv.rank):
        built.item(
            f"level/{level.code}",
            LEVEL,
            level.name,
            parent=document,
            code=level.code,
            enumeration=level.rank,
        )
    rubric = built.rubric(competencies)
    return {
        "CFDocument": built.document(),
        "CFItems": built.items,
        "CFAssociations": built.associations,
        "CFDefinitions": built.definitions(),
        "CFRubrics": [rubric] if rubric else [],
    }


def cf_document(doc: FrameworkVersionOut, base_url: str) -> Json:
    """The CFDocument of ``doc`` as the REST binding serves it alone: with its CFPackageURI."""
    built = _Package(doc, base_url)
    document = built.document()
    return document | {"CFPackageURI": built.link("CFPackages", document["identifier"], doc.title)}


def objects(built: Json) -> Iterator[tuple[str, Json]]:
    """Every object of a package with an identifier, as ``(collection, object)``."""
    yield "CFDocuments", built["CFDocument"]
    for item in built["CFItems"]:
        yield "CFItems", item
    for association in built["CFAssociations"]:
        yield "CFAssociations", association
    for item_type in built["CFDefinitions"]["CFItemTypes"]:
        yield "CFItemTypes", item_type
    for rubric in built["CFRubrics"]:
        yield "CFRubrics", rubric
        for criterion in rubric["CFRubricCriteria"]:
            yield "CFRubricCriteria", criterion
            for level in criterion["CFRubricCriterionLevels"]:
                yield "CFRubricCriterionLevels", level


# -- import --------------------------------------------------------------------------------------


class _In(BaseModel):
    # Other CASE fields (uri, lastChangeDateTime, ...) are derived on export: ignored here.
    model_config = ConfigDict(extra="ignore")


class _LinkIn(_In):
    identifier: str


class _DocumentIn(_In):
    identifier: str
    title: str
    version: str | None = None
    publisher: str | None = None
    description: str | None = None
    notes: str | None = None


class _ItemIn(_In):
    identifier: str
    full_statement: str = Field(alias="fullStatement")
    item_type: str | None = Field(default=None, alias="CFItemType")
    human_coding_scheme: str | None = Field(default=None, alias="humanCodingScheme")
    list_enumeration: str | None = Field(default=None, alias="listEnumeration")
    abbreviated_statement: str | None = Field(default=None, alias="abbreviatedStatement")
    alternative_label: str | None = Field(default=None, alias="alternativeLabel")
    notes: str | None = None


class _AssociationIn(_In):
    association_type: str = Field(alias="associationType")
    origin: _LinkIn = Field(alias="originNodeURI")
    destination: _LinkIn = Field(alias="destinationNodeURI")


class _PackageIn(_In):
    document: _DocumentIn = Field(alias="CFDocument")
    items: list[_ItemIn] = Field(default_factory=list, alias="CFItems", max_length=100_000)
    associations: list[_AssociationIn] = Field(
        default_factory=list, alias="CFAssociations", max_length=200_000
    )


def text_problems(value: Any, root: tuple[str | int, ...]) -> list[FieldError]:
    """Strings PostgreSQL cannot store (NUL, lone surrogates) anywhere in parsed JSON."""
    problems = []
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(value, root)]
    while stack:
        current, at = stack.pop()
        if isinstance(current, dict):
            stack.extend((v, (*at, str(k))) for k, v in current.items())
        elif isinstance(current, list):
            stack.extend((v, (*at, n)) for n, v in enumerate(current))
        elif isinstance(current, str):
            if "\x00" in current:
                problems.append(FieldError(field=field_path(at), message="contains a NUL"))
            else:
                try:
                    current.encode("utf-8")
                except UnicodeEncodeError:
                    problems.append(
                        FieldError(field=field_path(at), message="not valid Unicode text")
                    )
    return sorted(problems, key=lambda p: p.field)


_POSITION = re.compile(r"[1-9][0-9]{0,5}")
_NAME: TypeAdapter[str] = TypeAdapter(Name)
_TEXT: TypeAdapter[str] = TypeAdapter(Text)
_VERSION: TypeAdapter[str] = TypeAdapter(VersionLabel)
M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


# (order key, index of the CFItem, value)
_Entry = tuple[int, int, Any]


def _ordered(entries: list[_Entry]) -> list[_Entry]:
    return sorted(entries, key=lambda entry: (entry[0], entry[1]))


def _values(entries: list[_Entry]) -> list[Any]:
    return [value for _, _, value in _ordered(entries)]


class _Reader:
    """Turns a parsed package into a document, collecting every problem on the way."""

    def __init__(self, pkg: _PackageIn) -> None:
        self.pkg = pkg
        self.items = pkg.items
        self.problems: list[FieldError] = []
        self.by_id: dict[str, int] = {}
        self.parent: dict[int, tuple[str, int]] = {}
        self.skill: dict[int, tuple[str, int]] = {}

    def problem(self, path: str, message: str) -> None:
        self.problems.append(FieldError(field=f"case.{path}", message=message))

    def check(self) -> None:
        if self.problems:
            raise refuse("CASE package", self.problems)

    def valid(self, adapter: TypeAdapter[T], value: Any, path: str) -> T | None:
        try:
            return adapter.validate_python(value)
        except ValidationError as exc:
            self.problem(path, str(exc.errors()[0]["msg"]))
            return None

    def model(
        self, model: type[M], data: dict[str, Any], at: str, fields: dict[str, str]
    ) -> M | None:
        """``data`` as ``model``; a problem is reported at the CASE field it came from."""
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            for error in exc.errors():
                key = str(error["loc"][0]) if error["loc"] else ""
                self.problem(f"{at}.{fields.get(key, key)}", str(error["msg"]))
            return None

    def kind(self, identifier: str) -> str:
        if identifier == self.pkg.document.identifier:
            return _DOCUMENT
        return str(self.items[self.by_id[identifier]].item_type)

    def position(self, i: int) -> int:
        value = self.items[i].list_enumeration
        if value is None or not _POSITION.fullmatch(value):
            self.problem(f"CFItems[{i}].listEnumeration", "must be a whole number from 1")
            return 0
        return int(value)

    def unique(self, entries: list[tuple[Any, int]], field: str, what: str) -> None:
        seen: dict[Any, int] = {}
        for key, i in entries:
            if key in seen:
                self.problem(
                    f"CFItems[{i}].{field}", f"{what} {key!r} is also CFItems[{seen[key]}]"
                )
            else:
                seen[key] = i

    def link_up(self) -> None:
        """Index the items and their ``isChildOf`` and ``hasSkillLevel`` associations."""
        document_id = self.pkg.document.identifier
        for i, item in enumerate(self.items):
            if item.identifier in self.by_id or item.identifier == document_id:
                self.problem(f"CFItems[{i}].identifier", "duplicate identifier")
                continue
            self.by_id[item.identifier] = i
            if item.item_type not in _PARENTS:
                expected = ", ".join(repr(t) for t in _PARENTS)
                self.problem(
                    f"CFItems[{i}].CFItemType",
                    f"unknown item type {item.item_type!r}; expected one of {expected}",
                )
        for a, association in enumerate(self.pkg.associations):
            if association.association_type not in ("isChildOf", "hasSkillLevel"):
                continue  # other relations (exactMatchOf, ...) carry nothing a version keeps
            origin = self.by_id.get(association.origin.identifier)
            target = association.destination.identifier
            if origin is None:
                self.problem(
                    f"CFAssociations[{a}].originNodeURI.identifier", "no CFItem has this identifier"
                )
                continue
            if target != document_id and target not in self.by_id:
                self.problem(
                    f"CFAssociations[{a}].destinationNodeURI.identifier",
                    "neither the CFDocument nor a CFItem has this identifier",
                )
                continue
            links = self.parent if association.association_type == "isChildOf" else self.skill
            if origin in links:
                self.problem(
                    f"CFAssociations[{a}]",
                    f"CFItems[{origin}] already has an {association.association_type} "
                    f"association (CFAssociations[{links[origin][1]}])",
                )
                continue
            links[origin] = (target, a)
        self.check()
        for i, item in enumerate(self.items):
            item_type = str(item.item_type)
            if i not in self.parent:
                self.problem(f"CFItems[{i}]", "no isChildOf association (every item has a parent)")
                continue
            target, a = self.parent[i]
            if self.kind(target) not in _PARENTS[item_type]:
                self.problem(
                    f"CFAssociations[{a}].destinationNodeURI.identifier",
                    f"a {item_type} cannot be a child of a {self.kind(target)}",
                )
            if i in self.skill:
                if item_type not in (INDICATOR, LEVEL_DESCRIPTION):
                    self.problem(
                        f"CFAssociations[{self.skill[i][1]}]", f"a {item_type} has no level"
                    )
                elif self.kind(self.skill[i][0]) != LEVEL:
                    self.problem(
                        f"CFAssociations[{self.skill[i][1]}].destinationNodeURI.identifier",
                        "the destination of hasSkillLevel must be a Level",
                    )
            elif item_type == LEVEL_DESCRIPTION:
                self.problem(f"CFItems[{i}]", "a Level Description has a hasSkillLevel association")
        self.check()

    def competency_of(self, i: int) -> int:
        """The competency an item belongs to (through its element or heading)."""
        j = self.by_id[self.parent[i][0]]
        if self.items[j].item_type == COMPETENCY:
            return j
        return self.by_id[self.parent[j][0]]

    def names(self, i: int) -> tuple[str, str | None, dict[str, str]]:
        """(name, longer text, model field -> CASE field) of a cluster or competency item."""
        item = self.items[i]
        if item.abbreviated_statement is not None:
            return item.abbreviated_statement, item.full_statement, {"name": "abbreviatedStatement"}
        return item.full_statement, None, {"name": "fullStatement"}

    def complete(self, i: int) -> bool:
        return self.items[i].notes != INCOMPLETE_NOTE

    def clusters(self, ids: list[int]) -> list[_Entry]:
        clusters = []
        for i in ids:
            name, description, fields = self.names(i)
            data = {"code": self.items[i].human_coding_scheme, "name": name}
            data["description"] = description
            fields |= {"code": "humanCodingScheme", "description": "fullStatement"}
            if (cluster := self.model(ClusterDoc, data, f"CFItems[{i}]", fields)) is not None:
                clusters.append((self.position(i), i, cluster.model_dump()))
        self.unique([(c["code"], i) for _, i, c in clusters], "humanCodingScheme", "code")
        self.unique([(p, i) for p, i, _ in clusters], "listEnumeration", "position")
        return clusters

    def scales(self, ids: list[int]) -> dict[int | None, list[_Entry]]:
        """Level scales: the framework's (key None) and each competency's own (its index)."""
        scales: dict[int | None, list[_Entry]] = defaultdict(list)
        for i in ids:
            target = self.parent[i][0]
            owner = None if self.kind(target) == _DOCUMENT else self.by_id[target]
            data = {
                "code": self.items[i].human_coding_scheme,
                "name": self.items[i].full_statement,
                "rank": self.position(i),
            }
            fields = {
                "code": "humanCodingScheme",
                "name": "fullStatement",
                "rank": "listEnumeration",
            }
            if (level := self.model(LevelDoc, data, f"CFItems[{i}]", fields)) is not None:
                scales[owner].append((level.rank, i, level.model_dump()))
        for scale in scales.values():
            self.unique([(lv["code"], i) for _, i, lv in scale], "humanCodingScheme", "level")
            self.unique([(rank, i) for rank, i, _ in scale], "listEnumeration", "rank")
        return scales

    def competencies(self, ids: list[int], cluster_codes: dict[str, str]) -> list[_Entry]:
        competencies = []
        for i in ids:
            item = self.items[i]
            name, definition, fields = self.names(i)
            data = {
                "code": item.human_coding_scheme,
                "name": name,
                "cluster": cluster_codes.get(self.parent[i][0]),
                "attribute": item.alternative_label,
                "definition": definition,
                "definition_complete": self.complete(i),
            }
            fields |= {
                "code": "humanCodingScheme",
                "attribute": "alternativeLabel",
                "definition": "fullStatement",
            }
            if (competency := self.model(CompetencyDoc, data, f"CFItems[{i}]", fields)) is not None:
                competencies.append((self.position(i), i, competency.model_dump()))
        self.unique([(c["code"], i) for _, i, c in competencies], "humanCodingScheme", "code")
        self.unique([(p, i) for p, i, _ in competencies], "listEnumeration", "position")
        return competencies

    def level(self, i: int, scale: list[_Entry]) -> str | None:
        """The code of item ``i``'s level, which must be on its competency's scale."""
        if i not in self.skill:
            return None
        target, a = self.skill[i]
        for _, j, level in scale:
            if self.items[j].identifier == target:
                return str(level["code"])
        self.problem(
            f"CFAssociations[{a}].destinationNodeURI.identifier",
            "not a level of this competency's scale",
        )
        return None

    def parts(
        self, of_type: dict[str, list[int]], scales: dict[int | None, list[_Entry]]
    ) -> dict[int, dict[str, list[_Entry]]]:
        """What each competency holds, by its index: elements, features, heading, indicators,
        level descriptions."""
        parts: dict[int, dict[str, list[_Entry]]] = defaultdict(lambda: defaultdict(list))
        items = self.items
        for i in of_type[ELEMENT]:
            data = {
                "code": items[i].human_coding_scheme,
                "name": items[i].full_statement,
                "complete": self.complete(i),
            }
            fields = {"code": "humanCodingScheme", "name": "fullStatement"}
            if (element := self.model(ElementDoc, data, f"CFItems[{i}]", fields)) is not None:
                parts[self.competency_of(i)]["elements"].append(
                    (self.position(i), i, element.model_dump())
                )
        for i in of_type[FEATURE]:
            feature = self.valid(_TEXT, items[i].full_statement, f"CFItems[{i}].fullStatement")
            parts[self.competency_of(i)]["features"].append((self.position(i), i, feature))
        for i in of_type[NEGATIVE_INDICATORS]:
            title = self.valid(_TEXT, items[i].full_statement, f"CFItems[{i}].fullStatement")
            parts[self.competency_of(i)]["heading"].append((0, i, title))
        element_codes = {
            items[i].identifier: element["code"]
            for held in parts.values()
            for _, i, element in held["elements"]
        }
        for i in [*of_type[INDICATOR], *of_type[NEGATIVE_INDICATOR]]:
            owner = self.competency_of(i)
            negative = items[i].item_type == NEGATIVE_INDICATOR
            data = {
                "text": items[i].full_statement,
                "level": self.level(i, scales[owner] or scales[None]),
                "polarity": "negative" if negative else "positive",
                "element": element_codes.get(self.parent[i][0]),
                "complete": self.complete(i),
            }
            fields = {"text": "fullStatement"}
            if (indicator := self.model(IndicatorDoc, data, f"CFItems[{i}]", fields)) is not None:
                parts[owner]["indicators"].append((self.position(i), i, indicator.model_dump()))
        for i in of_type[LEVEL_DESCRIPTION]:
            owner = self.competency_of(i)
            scale = scales[owner] or scales[None]
            level = self.level(i, scale)
            rank = next((r for r, _, lv in scale if lv["code"] == level), 0)
            text = self.valid(_TEXT, items[i].full_statement, f"CFItems[{i}].fullStatement")
            description = {"level": level, "text": text, "complete": self.complete(i)}
            parts[owner]["level_descriptions"].append((rank, i, description))
        for held in parts.values():
            self.unique(
                [(e["code"], i) for _, i, e in held["elements"]], "humanCodingScheme", "code"
            )
            for name in ("elements", "features", "indicators"):
                self.unique([(p, i) for p, i, _ in held[name]], "listEnumeration", "position")
            self.unique(
                [(d["level"], i) for _, i, d in held["level_descriptions"]],
                "fullStatement",
                "another description for level",
            )
            if len(held["heading"]) > 1:
                self.problem(
                    f"CFItems[{held['heading'][1][1]}].CFItemType",
                    "a competency has one Negative Indicators heading",
                )
        return parts

    def metadata(self) -> Json:
        head = self.pkg.document

        def optional(adapter: TypeAdapter[str], value: str | None, field: str) -> str | None:
            return None if value is None else self.valid(adapter, value, f"CFDocument.{field}")

        return {
            "title": self.valid(_NAME, head.title, "CFDocument.title"),
            "publisher": optional(_NAME, head.publisher, "publisher"),
            "description": optional(_TEXT, head.description, "description"),
            "version": self.valid(_VERSION, head.version, "CFDocument.version"),
            "notes": optional(_TEXT, head.notes, "notes"),
        }

    def document(self, slug: str, keep: FrameworkMeta | None) -> FrameworkDocument:
        self.link_up()
        of_type: dict[str, list[int]] = defaultdict(list)
        for i, item in enumerate(self.items):
            of_type[str(item.item_type)].append(i)
        clusters = self.clusters(of_type[CLUSTER])
        cluster_codes = {self.items[i].identifier: c["code"] for _, i, c in clusters}
        scales = self.scales(of_type[LEVEL])
        competencies = self.competencies(of_type[COMPETENCY], cluster_codes)
        parts = self.parts(of_type, scales)
        meta = self.metadata()
        self.check()
        content = []
        for _, i, competency in _ordered(competencies):
            held = parts[i]
            heading = held["heading"]
            content.append(
                competency
                | {
                    "features": _values(held["features"]),
                    "negative_indicators_title": heading[0][2] if heading else None,
                    "levels": _values(scales[i]),
                    "level_descriptions": _values(held["level_descriptions"]),
                    "elements": _values(held["elements"]),
                    "indicators": _values(held["indicators"]),
                }
            )
        return build_document(
            meta
            | {
                "slug": slug,
                "jurisdiction": keep.jurisdiction if keep else None,
                "source": keep.source if keep else None,
                "levels": _values(scales[None]),
                "clusters": _values(clusters),
                "competencies": content,
            },
            "case.document",
            "CASE package",
        )


def read_package(data: bytes, *, slug: str, keep: FrameworkMeta | None) -> FrameworkDocument:
    """A CFPackage (JSON bytes) as a document of framework ``slug``; every problem is a 422.

    ``keep`` is the framework as it stands, whose jurisdiction and source the import keeps.
    """
    try:
        raw = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise refuse("CASE package", [FieldError(field="case", message="not UTF-8 text")]) from exc
    except (ValueError, RecursionError) as exc:
        message = f"not valid JSON: {exc}" if isinstance(exc, ValueError) else "nested too deeply"
        raise refuse("CASE package", [FieldError(field="case", message=message)]) from exc
    if problems := text_problems(raw, ("case",)):
        raise refuse("CASE package", problems)
    try:
        parsed = _PackageIn.model_validate(raw)
    except ValidationError as exc:
        raise refuse(
            "CASE package",
            [
                FieldError(field=field_path(("case", *error["loc"])), message=str(error["msg"]))
                for error in exc.errors()
            ],
        ) from exc
    return _Reader(parsed).document(slug, keep)
