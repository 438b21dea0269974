"""1EdTech's CASE 1.1 OpenAPI document (``schemas/README.md``) as validators of responses.

The schema each response must meet comes from the official document itself: the ``200`` of the
path it was served from, so a provider cannot pick a laxer one.
"""

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

OPENAPI_PATH = Path(__file__).parent / "schemas" / "imscasev1p1_openapi3_v1p0.json"
BINDING = "/ims/case/v1p1"
# The objects the binding has no endpoint for, which a rubric's uris name.
RUBRIC_PARTS = {
    "CFRubricCriteria": "CFRubricCriterionDType",
    "CFRubricCriterionLevels": "CFRubricCriterionLevelDType",
}


@cache
def official() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))
    return document


@cache
def validator(schema: str) -> jsonschema.Draft7Validator:
    # OpenAPI 3.0 schema objects use only JSON Schema keywords here; draft 7 checks the formats
    # they name (uri, date, date-time) with the `format-nongpl` extras.
    root = {"$ref": f"#/components/schemas/{schema}", "components": official()["components"]}
    return jsonschema.Draft7Validator(
        root, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )


def problems(schema: str, instance: Any) -> list[str]:
    """Every way ``instance`` fails the official ``schema``, as readable lines."""
    return [
        f"{schema} at {'/'.join(str(p) for p in error.absolute_path) or '(root)'}: {error.message}"
        for error in validator(schema).iter_errors(instance)
    ]


@cache
def _templates() -> list[tuple[re.Pattern[str], str]]:
    """(path regex, 200 schema name) of every operation of the binding."""
    found = []
    for template, item in official()["paths"].items():
        content = item["get"]["responses"]["200"]["content"]["application/json"]
        name = content["schema"]["$ref"].rsplit("/", 1)[-1]
        pattern = re.escape(BINDING + template).replace(re.escape("{sourcedId}"), "[^/]+")
        found.append((re.compile(pattern + "$"), name))
    return found


def schema_of(path: str) -> str | None:
    """The official schema of a 200 from ``path`` (``/ims/case/v1p1/CFItems/<id>``), or None
    when the path is no operation of the binding."""
    for pattern, name in _templates():
        if pattern.match(path):
            return name
    return None


def operations() -> list[str]:
    """The binding's paths, e.g. ``/CFItemAssociations/{sourcedId}``."""
    return sorted(official()["paths"])
