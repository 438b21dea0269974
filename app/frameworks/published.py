"""Published and retired versions as a process keeps them: their indicators as prebuilt JSON,
ranked search answers, and which versions are current.

A published version's content never changes (retiring changes its status, not its
indicators), so each version's indicators are read from the database once per process and kept
as the bytes an answer is made of. A search over published versions asks PostgreSQL once per
distinct query text (its own English stemming, ``websearch_to_tsquery`` and ``ts_rank_cd``, in
the same expression the SQL path uses), keeps the ranked ids, and filters and pages them here:
the results, ranking and paging are PostgreSQL's by construction. Which versions are current is
remembered for ``CPRO_FRAMEWORK_CACHE_SECONDS``; a publish or retire in this process forgets it
at once. Drafts never come here: they are read live (``app.frameworks.search``).
"""

import time
import uuid
from array import array
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeAlias

from fastapi import Depends, Request
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.pagination import decode_cursor, encode_cursor
from app.frameworks.models import Indicator
from app.frameworks.schemas import CompetencyRef, IndicatorOut, LevelOut
from app.frameworks.search import base_query, current_version_ids, rank_expression

# Versions whose indicators a process keeps, and distinct searches it remembers per version set.
_VERSIONS_KEPT = 256
_SEARCHES_KEPT = 4096
_RANK_SUFFIX = b"null}"
# The list names in cursors, as the SQL path (app/frameworks/search.py) issues them.
RANKED_LIST = "indicators:ranked"
SOURCE_LIST = "indicators"

# A search's matches as flat (rank in millionths, id) pairs, best first: a kept search that
# matches every indicator costs about 16 bytes an indicator, not a tuple each.
Ranked: TypeAlias = "array[int]"


@dataclass(frozen=True, slots=True)
class IndexedIndicator:
    """An indicator's filterable fields and its JSON, which ends with ``"rank":``."""

    id: int
    framework: str
    competency: str
    element: str | None
    level: str | None
    level_rank: int | None
    polarity: str
    head: bytes

    def json(self, rank: int | None) -> bytes:
        if rank is None:
            return self.head + _RANK_SUFFIX
        return self.head + repr(rank / 1_000_000).encode() + b"}"


@dataclass(frozen=True, slots=True)
class IndicatorFilter:
    """The filters of ``/v1/indicators``, ``/v1/frameworks/{slug}/indicators`` and a standard's
    required indicators (``up_to``: competency code -> highest level rank)."""

    competency: str | None = None
    level: str | None = None
    element: str | None = None
    polarity: str | None = None
    framework: str | None = None
    up_to: dict[str, int] | None = None

    def keeps(self, item: IndexedIndicator) -> bool:
        if self.competency is not None and item.competency != self.competency:
            return False
        if self.level is not None and item.level != self.level:
            return False
        if self.element is not None and item.element != self.element:
            return False
        if self.polarity is not None and item.polarity != self.polarity:
            return False
        if self.framework is not None and item.framework != self.framework:
            return False
        if self.up_to is not None:
            highest = self.up_to.get(item.competency)
            if highest is None or item.level_rank is None or item.level_rank > highest:
                return False
        return True


def _page_bytes(items: Iterable[bytes], next_cursor: str | None) -> bytes:
    cursor = b"null" if next_cursor is None else b'"' + next_cursor.encode() + b'"'
    return b'{"items":[' + b",".join(items) + b'],"next_cursor":' + cursor + b"}"


class PublishedIndicators:
    """One process's indicators of published and retired versions (see the module docstring)."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._versions: OrderedDict[uuid.UUID, tuple[IndexedIndicator, ...]] = OrderedDict()
        self._searches: OrderedDict[tuple[tuple[uuid.UUID, ...], str], Ranked] = OrderedDict()
        self._merged: dict[tuple[uuid.UUID, ...], _Merged] = {}
        self._current: tuple[uuid.UUID, ...] | None = None
        self._current_expires = 0.0

    def forget_current(self) -> None:
        """A version was published or retired: ask the database which are current next time."""
        self._current = None

    async def current_versions(self, session: AsyncSession) -> tuple[uuid.UUID, ...]:
        """The latest published version of every framework, sorted."""
        if self._current is None or self._current_expires < time.monotonic():
            found = tuple(sorted((await session.scalars(current_version_ids())).all()))
            if self.ttl <= 0:
                return found
            self._current, self._current_expires = found, time.monotonic() + self.ttl
        return self._current

    async def of_version(
        self, session: AsyncSession, version_id: uuid.UUID
    ) -> tuple[IndexedIndicator, ...]:
        """A published or retired version's indicators in source order (never a draft's: a draft
        changes)."""
        kept = self._versions.get(version_id)
        if kept is not None:
            self._versions.move_to_end(version_id)
            return kept
        rows = (
            await session.execute(
                base_query().where(Indicator.version_id == version_id).order_by(Indicator.id)
            )
        ).all()
        items = tuple(
            IndexedIndicator(
                id=row[0],
                framework=row[1],
                competency=row[3],
                element=row[5],
                level=row[7],
                level_rank=row[9],
                polarity=row[10],
                head=_head(row),
            )
            for row in rows
        )
        self._versions[version_id] = items
        while len(self._versions) > _VERSIONS_KEPT:
            self._versions.popitem(last=False)
        return items

    async def _ranked(
        self, session: AsyncSession, version_ids: tuple[uuid.UUID, ...], q: str
    ) -> Ranked:
        """(rank in millionths, id) of every indicator of ``version_ids`` matching ``q``, best
        first, as PostgreSQL ranks them."""
        key = (version_ids, q)
        kept = self._searches.get(key)
        if kept is not None:
            self._searches.move_to_end(key)
            return kept
        query = func.websearch_to_tsquery("english", q)
        rank = rank_expression(query)
        rows = (
            await session.execute(
                select(Indicator.id, rank)
                .where(Indicator.version_id.in_(version_ids), Indicator.search.op("@@")(query))
                .order_by(rank.desc(), Indicator.id)
            )
        ).all()
        ranked = array("q")
        for indicator_id, rank_value in rows:
            ranked.extend((int(rank_value), int(indicator_id)))
        self._searches[key] = ranked
        while len(self._searches) > _SEARCHES_KEPT:
            self._searches.popitem(last=False)
        return ranked

    async def page(
        self,
        session: AsyncSession,
        version_ids: Sequence[uuid.UUID],
        keep: IndicatorFilter,
        *,
        q: str | None,
        cursor: str | None,
        limit: int,
    ) -> bytes:
        """One page as ``Page[IndicatorOut]`` JSON: ranked by relevance when ``q`` is given
        (cursor: rank and id), else in source order (cursor: id)."""
        ordered = tuple(sorted(version_ids))
        merged = self._merged.get(ordered)
        if merged is None:
            merged = self._merge(
                ordered, [await self.of_version(session, version_id) for version_id in ordered]
            )
        ranked = await self._ranked(session, ordered, q) if q else None
        return _assemble(merged, ranked, keep, cursor=cursor, limit=limit)

    def _merge(
        self, version_ids: tuple[uuid.UUID, ...], indicators: list[tuple[IndexedIndicator, ...]]
    ) -> "_Merged":
        in_order = tuple(sorted((item for items in indicators for item in items), key=_by_id))
        merged = _Merged(in_order, {item.id: item for item in in_order})
        if len(self._merged) >= _VERSIONS_KEPT:
            self._merged.clear()
        self._merged[version_ids] = merged
        return merged

    def page_if_kept(
        self, keep: IndicatorFilter, *, q: str | None, cursor: str | None, limit: int
    ) -> bytes | None:
        """The page of ``/v1/indicators`` (current versions) when everything it needs is
        already in this process, else None (``page`` then asks the database)."""
        if self._current is None or self._current_expires < time.monotonic():
            return None
        merged = self._merged.get(self._current)
        ranked = self._searches.get((self._current, q)) if q else None
        if merged is None or (q and ranked is None):
            return None
        return _assemble(merged, ranked, keep, cursor=cursor, limit=limit)


@dataclass(frozen=True, slots=True)
class _Merged:
    """The indicators of a set of versions in id (source) order, and by id."""

    in_order: tuple[IndexedIndicator, ...]
    by_id: dict[int, IndexedIndicator]


def _assemble(
    merged: _Merged,
    ranked: "Ranked | None",
    keep: IndicatorFilter,
    *,
    cursor: str | None,
    limit: int,
) -> bytes:
    if ranked is not None:
        after = (
            decode_cursor(cursor, (int, int), list_name=RANKED_LIST) if cursor is not None else None
        )
        after_key = (-after[0], after[1]) if after else None
        by_id = merged.by_id
        found: list[tuple[IndexedIndicator, int]] = []
        for position in range(0, len(ranked), 2):
            rank, indicator_id = ranked[position], ranked[position + 1]
            if after_key is not None and (-rank, indicator_id) <= after_key:
                continue
            item = by_id.get(indicator_id)
            if item is not None and keep.keeps(item):
                found.append((item, rank))
                if len(found) > limit:
                    break
        next_cursor = None
        if len(found) > limit:
            last, last_rank = found[limit - 1]
            next_cursor = encode_cursor([last_rank, last.id], list_name=RANKED_LIST)
        return _page_bytes((item.json(rank) for item, rank in found[:limit]), next_cursor)

    after_id = (
        decode_cursor(cursor, (int,), list_name=SOURCE_LIST)[0] if cursor is not None else None
    )
    listed = _first_kept(merged.in_order, keep, after_id, limit + 1)
    next_cursor = (
        encode_cursor([listed[limit - 1].id], list_name=SOURCE_LIST)
        if len(listed) > limit
        else None
    )
    return _page_bytes((item.json(None) for item in listed[:limit]), next_cursor)


def _by_id(item: IndexedIndicator) -> int:
    return item.id


def _first_kept(
    items: Iterable[IndexedIndicator], keep: IndicatorFilter, after_id: int | None, count: int
) -> list[IndexedIndicator]:
    found: list[IndexedIndicator] = []
    for item in items:
        if after_id is not None and item.id <= after_id:
            continue
        if keep.keeps(item):
            found.append(item)
            if len(found) == count:
                break
    return found


def _head(row: Any) -> bytes:
    body = IndicatorOut(
        id=row[0],
        framework=row[1],
        version=row[2],
        competency=CompetencyRef(code=row[3], name=row[4]),
        element=CompetencyRef(code=row[5], name=row[6]) if row[5] else None,
        level=LevelOut(code=row[7], name=row[8], rank=row[9]) if row[7] else None,
        polarity=row[10],
        text=row[11],
        complete=row[12],
        rank=None,
    ).model_dump_json()
    encoded = body.encode()
    assert encoded.endswith(_RANK_SUFFIX)
    return encoded[: -len(_RANK_SUFFIX)]


def _published_indicators(request: Request) -> PublishedIndicators:
    state = request.app.state
    kept: PublishedIndicators | None = getattr(state, "published_indicators", None)
    if kept is None:
        kept = state.published_indicators = PublishedIndicators(
            state.settings.framework_cache_seconds
        )
    return kept


PublishedIndex = Annotated[PublishedIndicators, Depends(_published_indicators)]
