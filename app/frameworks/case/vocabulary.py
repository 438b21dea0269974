"""The CASE vocabulary this provider uses: identifiers, paths, item types and their parents."""

import uuid
from typing import Any

# Fixed for good: every identifier ever published derives from it.
CASE_NAMESPACE = uuid.UUID("5e640998-a252-5772-99ac-614d935f3b34")
CASE_PATH = "/ims/case/v1p1"
CASE_V1P0_PATH = "/ims/case/v1p0"
# Serves any published CASE object by identifier, as OpenSALT's ``/uri/`` does (beside the
# binding's versions, not in them: it names objects, not operations); the binding has
# no endpoint of its own for rubric criteria and criterion levels.
RESOLVER_PATH = "/ims/case/uri"
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
DOCUMENT = "CFDocument"

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
TYPE_CODES = {title: code for title, code, _ in ITEM_TYPES}

# Which parent (by CFItemType, or the CFDocument) each kind of item may have.
PARENTS: dict[str, frozenset[str]] = {
    CLUSTER: frozenset({DOCUMENT}),
    COMPETENCY: frozenset({DOCUMENT, CLUSTER}),
    LEVEL: frozenset({DOCUMENT, COMPETENCY}),
    LEVEL_DESCRIPTION: frozenset({COMPETENCY}),
    FEATURE: frozenset({COMPETENCY}),
    ELEMENT: frozenset({COMPETENCY}),
    NEGATIVE_INDICATORS: frozenset({COMPETENCY}),
    INDICATOR: frozenset({COMPETENCY, ELEMENT}),
    NEGATIVE_INDICATOR: frozenset({COMPETENCY, ELEMENT, NEGATIVE_INDICATORS}),
}
ADOPTION_STATUS = {"draft": "Draft", "published": "Adopted", "retired": "Deprecated"}

Json = dict[str, Any]


def case_identifier(slug: str, version: str, path: str) -> str:
    """The CASE identifier of the object at ``path`` (see ``writer.py``) of a version."""
    return str(uuid.uuid5(CASE_NAMESPACE, f"{slug}/{version}/{path}"))


def competency_item_uri(base_url: str, slug: str, version: str, code: str) -> str:
    """Where the CASE provider serves a competency's ``CFItem``."""
    identifier = case_identifier(slug, version, f"competency/{code}")
    return f"{base_url.rstrip('/')}{CASE_PATH}/CFItems/{identifier}"
