"""What changed between two versions of a framework (pure; no database).

Levels, clusters and competencies are matched by code. Indicators have no code of their own, so
they are matched by where they sit and what they say:

1. An indicator's *place* is (competency code, element code, level code, polarity).
2. Within one place, indicators with the same text are the same indicator (paired in document
   order); if only their ``complete`` flag differs, the indicator is *changed*.
3. The indicators of a place left unpaired by rule 2 are then paired by their order among the
   unpaired ones: the first left in the old version with the first left in the new, and so on.
   Each such pair is an indicator whose text was *changed* in place.
4. What is still unpaired is *removed* (old version) or *added* (new version).

An indicator that moves to another competency, element or level is therefore removed from its old
place and added at the new one.
"""

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import TypeVar

from pydantic import BaseModel

from app.frameworks.schemas import (
    ClusterDoc,
    CompetencyDoc,
    FieldChange,
    FrameworkDocument,
    IndicatorChange,
    IndicatorDiff,
    IndicatorRef,
    IndicatorText,
    ItemChange,
    ItemDiff,
    ItemRef,
    LevelDoc,
    Polarity,
    VersionDiff,
)

Item = TypeVar("Item", LevelDoc, ClusterDoc, CompetencyDoc)
Place = tuple[str, str | None, str | None, Polarity]

# The fields compared for each kind of item; indicators are compared separately.
LEVEL_FIELDS = ("name", "rank")
CLUSTER_FIELDS = ("name", "description")
COMPETENCY_FIELDS = (
    "name",
    "cluster",
    "attribute",
    "definition",
    "definition_complete",
    "features",
    "negative_indicators_title",
    "levels",
    "level_descriptions",
    "elements",
)


def _field_changes(old: BaseModel, new: BaseModel, fields: Sequence[str]) -> list[FieldChange]:
    before = old.model_dump(mode="json", include=set(fields))
    after = new.model_dump(mode="json", include=set(fields))
    return [
        FieldChange(field=name, before=before[name], after=after[name])
        for name in fields
        if before[name] != after[name]
    ]


def diff_items(old: Sequence[Item], new: Sequence[Item], fields: Sequence[str]) -> ItemDiff:
    """Items matched by code: added and changed in the new order, removed in the old order."""
    old_by_code = {item.code: item for item in old}
    new_codes = {item.code for item in new}
    changed = []
    for item in new:
        if item.code in old_by_code:
            changes = _field_changes(old_by_code[item.code], item, fields)
            if changes:
                changed.append(ItemChange(code=item.code, name=item.name, changes=changes))
    return ItemDiff(
        added=[ItemRef(code=i.code, name=i.name) for i in new if i.code not in old_by_code],
        removed=[ItemRef(code=i.code, name=i.name) for i in old if i.code not in new_codes],
        changed=changed,
    )


def _indicators_by_place(doc: FrameworkDocument) -> dict[Place, list[IndicatorRef]]:
    places: dict[Place, list[IndicatorRef]] = defaultdict(list)
    for competency in doc.competencies:
        for indicator in competency.indicators:
            place = (competency.code, indicator.element, indicator.level, indicator.polarity)
            places[place].append(
                IndicatorRef(
                    competency=competency.code,
                    element=indicator.element,
                    level=indicator.level,
                    polarity=indicator.polarity,
                    text=indicator.text,
                    complete=indicator.complete,
                )
            )
    return places


def _pair(
    old: list[IndicatorRef],
    new: list[IndicatorRef],
    same: Callable[[IndicatorRef, IndicatorRef], bool],
) -> tuple[list[tuple[IndicatorRef, IndicatorRef]], list[IndicatorRef], list[IndicatorRef]]:
    """Pair each new indicator with the first unpaired old one that is ``same``; returns the
    pairs and what is left of ``old`` and ``new``, each in its own order."""
    pairs = []
    left_old = list(old)
    left_new = []
    for indicator in new:
        match = next((o for o in left_old if same(o, indicator)), None)
        if match is None:
            left_new.append(indicator)
        else:
            left_old.remove(match)
            pairs.append((match, indicator))
    return pairs, left_old, left_new


def _change(before: IndicatorRef, after: IndicatorRef) -> IndicatorChange:
    return IndicatorChange(
        competency=after.competency,
        element=after.element,
        level=after.level,
        polarity=after.polarity,
        before=IndicatorText(text=before.text, complete=before.complete),
        after=IndicatorText(text=after.text, complete=after.complete),
    )


def diff_indicators(old: FrameworkDocument, new: FrameworkDocument) -> IndicatorDiff:
    """Indicators matched by place, then text, then order within the place (module docstring)."""
    old_places = _indicators_by_place(old)
    new_places = _indicators_by_place(new)
    added: list[IndicatorRef] = []
    removed: list[IndicatorRef] = []
    changed: list[IndicatorChange] = []
    # New places first in the new document's order, then the places the new version dropped.
    for place in [*new_places, *(p for p in old_places if p not in new_places)]:
        same_text, old_left, new_left = _pair(
            old_places.get(place, []), new_places.get(place, []), lambda o, n: o.text == n.text
        )
        changed += [_change(o, n) for o, n in same_text if o.complete != n.complete]
        in_place, old_left, new_left = _pair(old_left, new_left, lambda o, n: True)
        changed += [_change(o, n) for o, n in in_place]
        removed += old_left
        added += new_left
    return IndicatorDiff(added=added, removed=removed, changed=changed)


def diff_versions(old: FrameworkDocument, new: FrameworkDocument) -> VersionDiff:
    """Everything that differs from ``old`` to ``new`` (two versions of one framework)."""
    return VersionDiff(
        framework=new.slug,
        from_version=old.version,
        to_version=new.version,
        levels=diff_items(old.levels, new.levels, LEVEL_FIELDS),
        clusters=diff_items(old.clusters, new.clusters, CLUSTER_FIELDS),
        competencies=diff_items(old.competencies, new.competencies, COMPETENCY_FIELDS),
        indicators=diff_indicators(old, new),
    )
