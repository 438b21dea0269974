"""A version out as a JSON, CSV or CASE file, and a CSV or CASE file in as a new draft.

Each format round-trips: export -> import -> export gives the same bytes (for CASE, once the
imported draft has the status and ``updated_at`` of the original, which the package states).
"""

import json
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import Identified
from app.core.http_cache import strong_etag
from app.frameworks import case, catalogue, csv_format
from app.frameworks.models import Framework
from app.frameworks.schemas import FrameworkMeta, FrameworkVersionOut
from app.frameworks.service import VersionRef, create_version, export_document

ExportFormat = Literal["json", "csv", "case"]
ImportFormat = Literal["csv", "case"]

# The largest bundled framework is under 100 KB as CSV; 10 MB leaves room for any real one.
MAX_IMPORT_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class ExportFile:
    body: bytes
    media_type: str
    filename: str
    etag: str


def build_export(full: FrameworkVersionOut, file_format: ExportFormat, base_url: str) -> ExportFile:
    """The file for a version's document, built afresh."""
    stem = f"{full.slug}-{full.version}"
    if file_format == "csv":
        body = csv_format.write_csv(export_document(full))
        return ExportFile(body, "text/csv", f"{stem}.csv", strong_etag(body))
    if file_format == "case":
        package = case.package(full, base_url)
        text = json.dumps(package, ensure_ascii=False, indent=2) + "\n"
        body = text.encode()
        return ExportFile(body, "application/json", f"{stem}.case.json", strong_etag(body))
    body = (export_document(full).model_dump_json(indent=2) + "\n").encode()
    return ExportFile(body, "application/json", f"{stem}.json", strong_etag(body))


# A published or retired version's files never change (a retire changes ``updated_at``, hence
# the key), so each is built once per process; drafts are built per request.
_EXPORTS_KEPT = 128
_exports: OrderedDict[tuple[uuid.UUID, datetime, str, str], ExportFile] = OrderedDict()


async def export_version(
    session: AsyncSession, ref: VersionRef, file_format: ExportFormat, *, base_url: str
) -> ExportFile:
    """``ref`` as a file; CASE ``uri``s point under ``base_url`` (this service's root)."""
    key = (ref.version.id, ref.version.updated_at, file_format, base_url)
    if ref.version.status != "draft" and key in _exports:
        _exports.move_to_end(key)
        return _exports[key]
    file = build_export(await catalogue.document(session, ref), file_format, base_url)
    if ref.version.status != "draft":
        _exports[key] = file
        while len(_exports) > _EXPORTS_KEPT:
            _exports.popitem(last=False)
    return file


async def import_version(
    session: AsyncSession,
    slug: str,
    file_format: ImportFormat,
    data: bytes,
    *,
    actor: Identified | None,
) -> VersionRef:
    """Store a CSV or CASE file as a new draft of framework ``slug``.

    Every problem with the file is a 422 listing them all; a version label that exists is a
    409. Nothing is written unless the whole file is good. Framework metadata the format does
    not carry is kept from the framework as it stands (null for a new framework).
    """
    existing = await session.scalar(select(Framework).where(Framework.slug == slug))
    keep = (
        FrameworkMeta(
            slug=existing.slug,
            title=existing.title,
            publisher=existing.publisher,
            jurisdiction=existing.jurisdiction,
            description=existing.description,
            source=existing.source,
        )
        if existing is not None
        else None
    )
    if file_format == "csv":
        document = csv_format.read_csv(data, slug=slug, keep=keep)
    else:
        document = case.read_package(data, slug=slug, keep=keep)
    return await create_version(session, document, actor=actor)
