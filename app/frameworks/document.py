"""Rules a framework document must satisfy beyond its field types (pure; no database)."""

from collections import Counter
from collections.abc import Hashable, Iterable
from typing import Any, TypeVar

from pydantic import ValidationError

from app.core.errors import FieldError, UnprocessableEntity, field_path
from app.frameworks.schemas import FrameworkDocument, VersionContent

T = TypeVar("T", bound=Hashable)

# An import lists at most this many problems (a garbage file could otherwise have thousands).
MAX_PROBLEMS = 500


def _duplicates(codes: Iterable[T]) -> set[T]:
    return {code for code, count in Counter(codes).items() if count > 1}


def document_problems(doc: VersionContent, prefix: str = "body") -> list[FieldError]:
    """Every reference or uniqueness problem in ``doc``, each with its JSON path."""
    problems: list[FieldError] = []

    def problem(path: str, message: str) -> None:
        problems.append(FieldError(field=f"{prefix}.{path}", message=message))

    for name, codes in (
        ("levels", [level.code for level in doc.levels]),
        ("clusters", [cluster.code for cluster in doc.clusters]),
        ("competencies", [competency.code for competency in doc.competencies]),
    ):
        for code in sorted(_duplicates(codes)):
            problem(name, f"duplicate code {code!r}")
    for rank in sorted(_duplicates(level.rank for level in doc.levels)):
        problem("levels", f"duplicate rank {rank}")

    cluster_codes = {cluster.code for cluster in doc.clusters}
    framework_levels = {level.code for level in doc.levels}
    for c, competency in enumerate(doc.competencies):
        at = f"competencies[{c}]"
        if competency.cluster is not None and competency.cluster not in cluster_codes:
            problem(f"{at}.cluster", f"unknown cluster {competency.cluster!r}")
        if competency.levels and doc.levels:
            problem(
                f"{at}.levels", "a competency has its own scale only when the framework has none"
            )
        for code in sorted(_duplicates(level.code for level in competency.levels)):
            problem(f"{at}.levels", f"duplicate code {code!r}")
        for rank in sorted(_duplicates(level.rank for level in competency.levels)):
            problem(f"{at}.levels", f"duplicate rank {rank}")
        for code in sorted(_duplicates(element.code for element in competency.elements)):
            problem(f"{at}.elements", f"duplicate code {code!r}")
        levels = {level.code for level in competency.levels} or framework_levels
        elements = {element.code for element in competency.elements}
        for code in sorted(_duplicates(d.level for d in competency.level_descriptions)):
            problem(f"{at}.level_descriptions", f"more than one description for level {code!r}")
        for d, description in enumerate(competency.level_descriptions):
            if description.level not in levels:
                problem(
                    f"{at}.level_descriptions[{d}].level", f"unknown level {description.level!r}"
                )
        for i, indicator in enumerate(competency.indicators):
            if indicator.level is not None and indicator.level not in levels:
                problem(f"{at}.indicators[{i}].level", f"unknown level {indicator.level!r}")
            if indicator.polarity == "negative" and indicator.level is not None:
                problem(f"{at}.indicators[{i}].level", "negative indicators have no level")
            if indicator.element is not None and indicator.element not in elements:
                problem(f"{at}.indicators[{i}].element", f"unknown element {indicator.element!r}")
    return problems


def refuse(what: str, problems: list[FieldError]) -> UnprocessableEntity:
    """The 422 for an import with ``problems`` (the first ``MAX_PROBLEMS`` of them listed)."""
    listed = problems[:MAX_PROBLEMS]
    more = f"; the first {MAX_PROBLEMS} are listed" if len(problems) > MAX_PROBLEMS else ""
    return UnprocessableEntity(f"The {what} has {len(problems)} problem(s){more}.", errors=listed)


def build_document(data: dict[str, Any], prefix: str, what: str) -> FrameworkDocument:
    """Validate an assembled document; problems are reported under ``prefix``."""
    try:
        doc = FrameworkDocument.model_validate(data)
    except ValidationError as exc:
        raise refuse(
            what,
            [
                FieldError(field=field_path((prefix, *error["loc"])), message=str(error["msg"]))
                for error in exc.errors()
            ],
        ) from exc
    problems = document_problems(doc, prefix)
    if problems:
        raise refuse(what, problems)
    return doc
