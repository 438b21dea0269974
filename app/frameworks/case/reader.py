"""A CASE 1.1 CFPackage back into a framework version (the mapping is in ``writer.py``)."""

import json
import re
from collections import defaultdict
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from app.core.errors import FieldError, field_path
from app.frameworks.case.vocabulary import (
    CLUSTER,
    COMPETENCY,
    DOCUMENT,
    ELEMENT,
    FEATURE,
    INCOMPLETE_NOTE,
    INDICATOR,
    LEVEL,
    LEVEL_DESCRIPTION,
    NEGATIVE_INDICATOR,
    NEGATIVE_INDICATORS,
    PARENTS,
    Json,
)
from app.frameworks.document import build_document, refuse
from app.frameworks.schemas import (
    ClusterDoc,
    CompetencyDoc,
    ElementDoc,
    FrameworkDocument,
    FrameworkMeta,
    IndicatorDoc,
    LevelDoc,
    Name,
    Text,
    VersionLabel,
)


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
            return DOCUMENT
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
            if item.item_type not in PARENTS:
                expected = ", ".join(repr(t) for t in PARENTS)
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
            if self.kind(target) not in PARENTS[item_type]:
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
            owner = None if self.kind(target) == DOCUMENT else self.by_id[target]
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
