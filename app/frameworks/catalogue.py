"""Reading the catalogue: framework lists, version summaries, cached version documents.

A published version never changes, so its document is built once per process and kept as
pre-encoded bytes with its ETag; the cache key includes ``updated_at`` so that retiring (the one
change a published version sees) makes a new entry.
"""

import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, case, func, literal, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import NotFound
from app.core.http_cache import strong_etag
from app.core.pagination import decode_cursor, encode_cursor
from app.frameworks.models import Framework, FrameworkVersion
from app.frameworks.schemas import (
    FrameworkSummary,
    FrameworkVersionOut,
    VersionStatus,
    VersionSummary,
)
from app.frameworks.service import VersionRef, count_content, get_framework, load_document

_CACHE_SIZE = 256
_documents: OrderedDict[tuple[uuid.UUID, datetime], tuple[FrameworkVersionOut, bytes, str]] = (
    OrderedDict()
)


async def _cached(session: AsyncSession, ref: VersionRef) -> tuple[FrameworkVersionOut, bytes, str]:
    key = (ref.version.id, ref.version.updated_at)
    if ref.version.status != "draft" and key in _documents:
        _documents.move_to_end(key)
        return _documents[key]
    document = await load_document(session, ref)
    body = document.model_dump_json().encode()
    entry = (document, body, strong_etag(body))
    if ref.version.status != "draft":
        _documents[key] = entry
        while len(_documents) > _CACHE_SIZE:
            _documents.popitem(last=False)
    return entry


async def document(session: AsyncSession, ref: VersionRef) -> FrameworkVersionOut:
    return (await _cached(session, ref))[0]


async def document_bytes(session: AsyncSession, ref: VersionRef) -> tuple[bytes, str]:
    _, body, etag = await _cached(session, ref)
    return body, etag


@dataclass(frozen=True, slots=True)
class CurrentDocument:
    body: bytes
    etag: str
    expires: float


class CurrentDocuments:
    """Which version is current, remembered per slug for ``ttl`` seconds with its bytes, so that
    the busiest read (``GET /v1/frameworks/{slug}``) asks the database nothing most of the time.

    A publish or retire in this process forgets the slug at once; other processes may serve the
    previous current version for up to ``ttl`` seconds, well inside the ``max-age`` clients are
    already allowed to keep it for.
    """

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[str, CurrentDocument] = {}

    def get(self, slug: str) -> CurrentDocument | None:
        entry = self._entries.get(slug)
        if entry is None or entry.expires < time.monotonic():
            return None
        return entry

    def put(self, slug: str, body: bytes, etag: str) -> CurrentDocument:
        entry = CurrentDocument(body, etag, time.monotonic() + self.ttl)
        if self.ttl > 0:
            if len(self._entries) >= _CACHE_SIZE and slug not in self._entries:
                self._entries.clear()  # far more slugs than frameworks exist: someone probing
            self._entries[slug] = entry
        return entry

    def forget(self, slug: str) -> None:
        self._entries.pop(slug, None)


async def summaries_of(
    session: AsyncSession, versions: list[FrameworkVersion]
) -> list[VersionSummary]:
    counts = await count_content(session, [v.id for v in versions])
    return [
        VersionSummary(
            version=v.version,
            status=v.status,
            notes=v.notes,
            competency_count=counts[v.id][0],
            indicator_count=counts[v.id][1],
            published_at=v.published_at,
            retired_at=v.retired_at,
            updated_at=v.updated_at,
        )
        for v in versions
    ]


def _visible(include_drafts: bool) -> Any:
    return literal(True) if include_drafts else FrameworkVersion.status != "draft"


async def version_summaries(
    session: AsyncSession, slug: str, *, include_drafts: bool
) -> list[VersionSummary]:
    framework = await get_framework(session, slug)
    versions = list(
        (
            await session.scalars(
                select(FrameworkVersion)
                .where(FrameworkVersion.framework_id == framework.id, _visible(include_drafts))
                .order_by(FrameworkVersion.created_at, FrameworkVersion.version)
            )
        ).all()
    )
    if not versions:
        # Only drafts, and the caller may not see them: the framework is not visible at all.
        raise NotFound(f"No framework {slug!r}.")
    return await summaries_of(session, versions)


def _summary_query(include_drafts: bool) -> Select[Any]:
    """One row per framework: the framework, its overall status, published labels (newest
    first) and every visible label (oldest first)."""
    status = case(
        (func.bool_or(FrameworkVersion.status == "published"), "published"),
        (func.bool_or(FrameworkVersion.status == "draft"), "draft"),
        else_="retired",
    ).label("status")
    published_label = case((FrameworkVersion.status == "published", FrameworkVersion.version))
    published = func.array_remove(
        func.array_agg(
            aggregate_order_by(published_label, FrameworkVersion.published_at.desc().nulls_last())
        ),
        None,
    ).label("published")
    versions = func.array_agg(
        aggregate_order_by(FrameworkVersion.version, FrameworkVersion.created_at)
    ).label("versions")
    return (
        select(Framework, status, published, versions)
        .join(
            FrameworkVersion,
            and_(FrameworkVersion.framework_id == Framework.id, _visible(include_drafts)),
        )
        .group_by(Framework.id)
    )


async def list_frameworks(
    session: AsyncSession,
    *,
    include_drafts: bool,
    publisher: str | None,
    jurisdiction: str | None,
    status: VersionStatus | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[FrameworkSummary], str | None]:
    statement = _summary_query(include_drafts)
    if publisher is not None:
        statement = statement.where(Framework.publisher == publisher)
    if jurisdiction is not None:
        statement = statement.where(Framework.jurisdiction == jurisdiction)
    if status is not None:
        statement = statement.having(statement.selected_columns.status == status)
    if cursor is not None:
        (after,) = decode_cursor(cursor, (str,), list_name="frameworks")
        statement = statement.where(Framework.slug > after)
    rows = (await session.execute(statement.order_by(Framework.slug).limit(limit + 1))).all()
    items = [
        FrameworkSummary(
            slug=framework.slug,
            title=framework.title,
            publisher=framework.publisher,
            jurisdiction=framework.jurisdiction,
            description=framework.description,
            status=row_status,
            current_version=published[0] if published else None,
            versions=list(versions),
        )
        for framework, row_status, published, versions in rows[:limit]
    ]
    next_cursor = (
        encode_cursor([rows[limit - 1][0].slug], list_name="frameworks")
        if len(rows) > limit
        else None
    )
    return items, next_cursor
