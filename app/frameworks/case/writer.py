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
| rights in the source | CFLicense (CFDefinitions) | `license` | |

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
  ``statusStartDate`` (published) and ``statusEndDate`` (retired). ``lastChangeDateTime`` of
  every object is when the version was published (a draft's: its last edit). The framework's
  jurisdiction has no CASE field; its source is named in the version's CFLicense (``license``,
  ``licenseURI`` on the CFDocument), which says what the source states about rights. An import
  keeps the jurisdiction and source of the framework it goes into.
- The CFRubric is the grid of level scales: one criterion per competency that has a scale (the
  framework-wide one or its own stages), one criterion level per level (``quality`` the name,
  ``score`` the rank, ``description`` the competency's core description at that level). It is
  derived from the items, so an import reads the items and ignores it. The binding has no
  endpoint for criteria and criterion levels: their ``uri`` is the resolver's
  (``/ims/case/uri/<identifier>``).
"""

from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from app.frameworks.case.vocabulary import (
    ADOPTION_STATUS,
    CASE_PATH,
    CLUSTER,
    COMPETENCY,
    ELEMENT,
    FEATURE,
    INCOMPLETE_NOTE,
    INDICATOR,
    ITEM_TYPES,
    LEVEL,
    LEVEL_DESCRIPTION,
    NEGATIVE_INDICATOR,
    NEGATIVE_INDICATORS,
    RESOLVER_PATH,
    TYPE_CODES,
    Json,
    case_identifier,
)
from app.frameworks.schemas import CompetencyDoc, FrameworkVersionOut


def _timestamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _date(value: datetime) -> str:
    return value.astimezone(UTC).date().isoformat()


def _compact(**fields: Any) -> Json:
    """The fields that have a value, in the order given (CASE omits what is unknown)."""
    return {key: value for key, value in fields.items() if value is not None}


class _Package:
    """Builds one CFPackage; ``base`` is the provider's root URL (``uri``s point into it)."""

    def __init__(self, doc: FrameworkVersionOut, base: str) -> None:
        self.doc = doc
        self.base = base.rstrip("/")
        # When the version was published: the same at every request and after every restart.
        # A draft (exported, never served) is stamped with its last edit.
        self.changed = _timestamp(doc.published_at or doc.updated_at)
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

    def resolver_uri(self, identifier: str) -> str:
        return f"{self.base}{RESOLVER_PATH}/{identifier}"

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
        type_id = self.identifier(f"item-type/{TYPE_CODES[item_type]}")
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
            adoptionStatus=ADOPTION_STATUS[doc.status],
            statusStartDate=_date(doc.published_at) if doc.published_at else None,
            statusEndDate=_date(doc.retired_at) if doc.retired_at else None,
            licenseURI=self.link("CFLicenses", self.identifier("license"), self.license_title()),
            notes=doc.notes,
        )

    def license_title(self) -> str:
        return f"Terms of the source: {self.doc.title}"

    def license(self) -> Json:
        """The rights in the source document, as far as the data states them.

        None of the sources states a licence; what is known is who published the text and which
        document it was transcribed from, so that is what the CFLicense says.
        """
        doc = self.doc
        text = ["The source document states no licence."]
        if doc.publisher:
            text.append(f"The text is the publisher's: {doc.publisher}.")
        if doc.source:
            text.append(f"Transcribed from: {doc.source}.")
        identifier = self.identifier("license")
        return {
            "identifier": identifier,
            "uri": self.uri("CFLicenses", identifier),
            "title": self.license_title(),
            "description": "Who holds the text of this framework version, and where it was "
            "transcribed from; ask the publisher before reusing it.",
            "licenseText": " ".join(text),
            "lastChangeDateTime": self.changed,
        }

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
            ],
            "CFLicenses": [self.license()],
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
                    uri=self.resolver_uri(criterion_id),
                    category="Competency",
                    description=competency.name,
                    CFItemURI=competency_links[competency.code],
                    position=position,
                    rubricId=rubric_id,
                    lastChangeDateTime=self.changed,
                    CFRubricCriterionLevels=[
                        _compact(
                            identifier=self.identifier(f"{criterion_path}/level/{level.code}"),
                            uri=self.resolver_uri(
                                self.identifier(f"{criterion_path}/level/{level.code}")
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


# The CFDefinitions lists, each of which the binding serves under its own name.
DEFINITIONS = ("CFItemTypes", "CFLicenses", "CFSubjects", "CFConcepts", "CFAssociationGroupings")


def objects(built: Json) -> Iterator[tuple[str, Json]]:
    """Every object of a package with an identifier, as ``(collection, object)``."""
    yield "CFDocuments", built["CFDocument"]
    for item in built["CFItems"]:
        yield "CFItems", item
    for association in built["CFAssociations"]:
        yield "CFAssociations", association
    for collection in DEFINITIONS:
        for definition in built["CFDefinitions"].get(collection, []):
            yield collection, definition
    for rubric in built["CFRubrics"]:
        yield "CFRubrics", rubric
        for criterion in rubric["CFRubricCriteria"]:
            yield "CFRubricCriteria", criterion
            for level in criterion["CFRubricCriterionLevels"]:
                yield "CFRubricCriterionLevels", level
