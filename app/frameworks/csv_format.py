"""A framework version as CSV for spreadsheets: one row per indicator, and back (pure).

UTF-8 (a byte-order mark is accepted on import), RFC 4180 (comma, double quotes, CRLF), a header
row with exactly the ``COLUMNS``. Each row names everything needed to place its indicator:

| column | value |
|---|---|
| `framework`, `framework_title` | the framework's slug and title (the same in every row) |
| `version` | the version label (the same in every row) |
| `cluster`, `cluster_name` | the competency's cluster, or empty |
| `competency`, `competency_name` | the competency |
| `element`, `element_name` | the indicator's element, or empty |
| `level`, `level_name`, `level_rank` | the indicator's level, or empty |
| `polarity` | `positive` or `negative` (empty means positive) |
| `text` | the indicator |
| `complete` | `true`, or `false` when the source cuts the text off (empty means true) |

A competency without indicators has one row whose indicator columns (`element` to `complete`)
are all empty, so that it is not lost; a version without competencies has one row with only
`framework`, `framework_title` and `version`. Rows are in document order; importing keeps the order of
first appearance (clusters, competencies, elements) and the row order (indicators).

What the rows do not show is not carried: definitions, features, core descriptions, version
notes, and levels, elements or clusters that no indicator uses. On import, when every competency
gives each level code the same name and rank, the levels are the framework's own scale;
otherwise each competency gets its own scale (stages). The framework's other metadata
(publisher, jurisdiction, description, source) is kept from the framework the rows go into, or
null for a new framework.
"""

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter, ValidationError

from app.core.errors import FieldError
from app.frameworks.document import build_document, refuse
from app.frameworks.schemas import (
    Code,
    ElementDoc,
    FrameworkDocument,
    FrameworkMeta,
    Name,
    Text,
    VersionLabel,
)

COLUMNS = (
    "framework",
    "framework_title",
    "version",
    "cluster",
    "cluster_name",
    "competency",
    "competency_name",
    "element",
    "element_name",
    "level",
    "level_name",
    "level_rank",
    "polarity",
    "text",
    "complete",
)
# The columns that describe an indicator: all empty in a competency's placeholder row.
INDICATOR_COLUMNS = COLUMNS[COLUMNS.index("element") :]


def write_csv(doc: FrameworkDocument) -> bytes:
    """``doc`` as CSV bytes."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    clusters = {cluster.code: cluster.name for cluster in doc.clusters}
    if not doc.competencies:
        writer.writerow([doc.slug, doc.title, doc.version] + [""] * (len(COLUMNS) - 3))
    for competency in doc.competencies:
        head = [
            doc.slug,
            doc.title,
            doc.version,
            competency.cluster or "",
            clusters[competency.cluster] if competency.cluster else "",
            competency.code,
            competency.name,
        ]
        if not competency.indicators:
            writer.writerow(head + [""] * len(INDICATOR_COLUMNS))
        levels = {level.code: level for level in competency.levels or doc.levels}
        elements = {element.code: element.name for element in competency.elements}
        for indicator in competency.indicators:
            level = levels[indicator.level] if indicator.level else None
            writer.writerow(
                [
                    *head,
                    indicator.element or "",
                    elements[indicator.element] if indicator.element else "",
                    indicator.level or "",
                    level.name if level else "",
                    str(level.rank) if level else "",
                    indicator.polarity,
                    indicator.text,
                    "true" if indicator.complete else "false",
                ]
            )
    return out.getvalue().encode("utf-8")


_CODE: TypeAdapter[str] = TypeAdapter(Code)
_NAME: TypeAdapter[str] = TypeAdapter(Name)
_TEXT: TypeAdapter[str] = TypeAdapter(Text)
_VERSION: TypeAdapter[str] = TypeAdapter(VersionLabel)
_RANK = re.compile(r"[0-9]{1,3}")
_BOOLEANS = {"": True, "true": True, "false": False}


@dataclass
class _Competency:
    name: str
    cluster: str | None
    row: int
    elements: dict[str, str] = field(default_factory=dict)
    levels: dict[str, tuple[str, int, int]] = field(default_factory=dict)  # name, rank, row
    indicators: list[dict[str, Any]] = field(default_factory=list)
    placeholder: int | None = None


class _Reader:
    def __init__(self, slug: str) -> None:
        self.slug = slug
        self.problems: list[FieldError] = []
        self.title: tuple[str, int] | None = None
        self.version: tuple[str, int] | None = None
        self.clusters: dict[str, tuple[str, int]] = {}
        self.competencies: dict[str, _Competency] = {}

    def problem(self, path: str, message: str) -> None:
        self.problems.append(FieldError(field=f"csv.{path}", message=message))

    def valid(self, adapter: TypeAdapter[str], value: str, path: str) -> str | None:
        try:
            return adapter.validate_python(value)
        except ValidationError as exc:
            self.problem(path, str(exc.errors()[0]["msg"]))
            return None

    def element_name(self, value: str, path: str) -> str | None:
        try:
            return ElementDoc.model_validate({"code": "x", "name": value}).name
        except ValidationError as exc:
            self.problem(path, str(exc.errors()[0]["msg"]))
            return None

    def optional(self, adapter: TypeAdapter[str], value: str, path: str) -> str | None:
        return self.valid(adapter, value, path) if value.strip() else None

    def same(self, kept: tuple[str, int] | None, value: str, path: str, what: str) -> None:
        if kept is not None and kept[0] != value:
            self.problem(path, f"{what} {value!r} differs from row {kept[1]} ({kept[0]!r})")

    def header(self, cells: list[str]) -> list[str]:
        names = [cell.strip() for cell in cells]
        for name in sorted({n for n in names if names.count(n) > 1}):
            self.problem("header", f"column {name!r} appears more than once")
        for name in names:
            if name not in COLUMNS:
                self.problem("header", f"unknown column {name!r}")
        for name in COLUMNS:
            if name not in names:
                self.problem("header", f"missing column {name!r}")
        return names

    def row(self, n: int, cells: dict[str, str]) -> None:
        at = f"row[{n}]"
        for column, value in cells.items():
            if "\x00" in value:
                self.problem(f"{at}.{column}", "contains a NUL")
                return
        if cells["framework"].strip() != self.slug:
            self.problem(
                f"{at}.framework", f"must be {self.slug!r}, the framework named in the URL"
            )
        if (
            title := self.valid(_NAME, cells["framework_title"], f"{at}.framework_title")
        ) is not None:
            self.same(self.title, title, f"{at}.framework_title", "title")
            self.title = self.title or (title, n)
        if (version := self.valid(_VERSION, cells["version"], f"{at}.version")) is not None:
            self.same(self.version, version, f"{at}.version", "version")
            self.version = self.version or (version, n)

        if not cells["competency"].strip():
            # A version without competencies names itself in a row of its own.
            if any(cells[column].strip() for column in COLUMNS[3:]):
                self.problem(f"{at}.competency", "must not be empty")
            return
        cluster = self.optional(_CODE, cells["cluster"], f"{at}.cluster")
        if cluster is not None:
            name = self.valid(_NAME, cells["cluster_name"], f"{at}.cluster_name")
            if name is not None:
                self.same(self.clusters.get(cluster), name, f"{at}.cluster_name", "name")
                self.clusters.setdefault(cluster, (name, n))
        elif cells["cluster_name"].strip():
            self.problem(f"{at}.cluster_name", "a cluster name needs a cluster code")

        code = self.valid(_CODE, cells["competency"], f"{at}.competency")
        name = self.valid(_NAME, cells["competency_name"], f"{at}.competency_name")
        if code is None or name is None:
            return
        competency = self.competencies.setdefault(code, _Competency(name, cluster, n))
        if competency.name != name:
            self.problem(
                f"{at}.competency_name",
                f"name {name!r} differs from row {competency.row} ({competency.name!r})",
            )
        if competency.cluster != cluster:
            self.problem(
                f"{at}.cluster",
                f"competency {code!r} is in cluster {competency.cluster!r} in row {competency.row}",
            )

        if not any(cells[column].strip() for column in INDICATOR_COLUMNS):
            # A competency without indicators.
            if competency.indicators:
                self.problem(f"{at}.text", "must not be empty")
            competency.placeholder = n
            return
        if competency.placeholder is not None:
            self.problem(
                f"row[{competency.placeholder}].text",
                "must not be empty",
            )
            competency.placeholder = None

        element = self.optional(_CODE, cells["element"], f"{at}.element")
        if element is not None:
            element_name = self.element_name(cells["element_name"], f"{at}.element_name")
            if element_name is not None:
                known = competency.elements.setdefault(element, element_name)
                if known != element_name:
                    self.problem(
                        f"{at}.element_name",
                        f"element {element!r} of {code!r} is named {known!r} in an earlier row",
                    )
        elif cells["element_name"].strip():
            self.problem(f"{at}.element_name", "an element name needs an element code")

        level = self.optional(_CODE, cells["level"], f"{at}.level")
        if level is not None:
            level_name = self.valid(_NAME, cells["level_name"], f"{at}.level_name")
            rank_cell = cells["level_rank"].strip()
            rank = int(rank_cell) if _RANK.fullmatch(rank_cell) else 0
            if not 1 <= rank <= 100:
                self.problem(f"{at}.level_rank", "must be a whole number from 1 to 100")
            elif level_name is not None:
                self.level(competency, level, level_name, rank, n)
        else:
            for column in ("level_name", "level_rank"):
                if cells[column].strip():
                    self.problem(f"{at}.{column}", "needs a level code")

        polarity = cells["polarity"].strip() or "positive"
        if polarity not in ("positive", "negative"):
            self.problem(f"{at}.polarity", "must be 'positive' or 'negative'")
        elif polarity == "negative" and level is not None:
            self.problem(f"{at}.level", "negative indicators have no level")
        complete = _BOOLEANS.get(cells["complete"].strip().lower())
        if complete is None:
            self.problem(f"{at}.complete", "must be 'true' or 'false'")
        if not cells["text"].strip():
            self.problem(f"{at}.text", "must not be empty")
            return
        text = self.valid(_TEXT, cells["text"], f"{at}.text")
        competency.indicators.append(
            {
                "text": text,
                "level": level,
                "polarity": polarity,
                "element": element,
                "complete": complete,
            }
        )

    def level(self, competency: _Competency, code: str, name: str, rank: int, n: int) -> None:
        at = f"row[{n}]"
        known = competency.levels.get(code)
        if known is None:
            for other, (_, other_rank, row) in competency.levels.items():
                if other_rank == rank:
                    self.problem(f"{at}.level_rank", f"rank {rank} is level {other!r} in row {row}")
                    return
            competency.levels[code] = (name, rank, n)
        elif (known[0], known[1]) != (name, rank):
            self.problem(
                f"{at}.level_name",
                f"level {code!r} is {known[0]!r} (rank {known[1]}) in row {known[2]}",
            )

    def document(self, keep: FrameworkMeta | None) -> FrameworkDocument:
        if self.title is None or self.version is None:
            if not self.problems:
                self.problem("row[2]", "no rows: the first row names the version")
            raise refuse("CSV file", self.problems)
        if self.problems:
            raise refuse("CSV file", self.problems)
        # One framework-wide scale when every competency agrees on every level.
        everywhere: dict[str, tuple[str, int]] = {}
        shared = True
        for competency in self.competencies.values():
            for code, (name, rank, _) in competency.levels.items():
                if everywhere.setdefault(code, (name, rank)) != (name, rank):
                    shared = False
        ranks = [rank for _, rank in everywhere.values()]
        shared = shared and len(ranks) == len(set(ranks))

        def scale(levels: Iterable[tuple[str, str, int]]) -> list[dict[str, Any]]:
            return [
                {"code": code, "name": name, "rank": rank}
                for code, name, rank in sorted(levels, key=lambda lv: lv[2])
            ]

        meta = keep.model_dump(exclude={"slug", "title"}) if keep else {}
        return build_document(
            {
                "slug": self.slug,
                "title": self.title[0],
                "publisher": meta.get("publisher"),
                "jurisdiction": meta.get("jurisdiction"),
                "description": meta.get("description"),
                "source": meta.get("source"),
                "version": self.version[0],
                "notes": None,
                "levels": scale((c, n, r) for c, (n, r) in everywhere.items()) if shared else [],
                "clusters": [
                    {"code": code, "name": name} for code, (name, _) in self.clusters.items()
                ],
                "competencies": [
                    {
                        "code": code,
                        "name": competency.name,
                        "cluster": competency.cluster,
                        "levels": []
                        if shared
                        else scale((c, n, r) for c, (n, r, _) in competency.levels.items()),
                        "elements": [
                            {"code": c, "name": n} for c, n in competency.elements.items()
                        ],
                        "indicators": competency.indicators,
                    }
                    for code, competency in self.competencies.items()
                ],
            },
            "csv.document",
            "CSV file",
        )


def read_csv(data: bytes, *, slug: str, keep: FrameworkMeta | None) -> FrameworkDocument:
    """CSV bytes as a document of framework ``slug``; every problem is a 422 naming its row
    (as a spreadsheet numbers them: the header is row 1) and column.

    ``keep`` is the framework as it stands, whose metadata the rows do not carry.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise refuse(
            "CSV file", [FieldError(field="csv", message=f"not UTF-8 text (byte {exc.start})")]
        ) from exc
    records: list[list[str]] = []
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        records.extend(reader)
    except csv.Error as exc:
        raise refuse(
            "CSV file",
            [FieldError(field=f"csv.row[{len(records) + 1}]", message=f"malformed CSV: {exc}")],
        ) from exc
    if not records:
        raise refuse("CSV file", [FieldError(field="csv", message="the file is empty")])
    rows = _Reader(slug)
    header = rows.header(records[0])
    if rows.problems:
        raise refuse("CSV file", rows.problems)
    for n, record in enumerate(records[1:], start=2):
        if not any(cell.strip() for cell in record):
            continue  # blank lines, as spreadsheets leave at the end
        if len(record) != len(header):
            rows.problem(
                f"row[{n}]", f"has {len(record)} cells; the header has {len(header)} columns"
            )
            continue
        rows.row(n, dict(zip(header, record, strict=True)))
    return rows.document(keep)
