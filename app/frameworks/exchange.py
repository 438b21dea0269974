"""A version out as a JSON, CSV or CASE file, and a CSV or CASE file in as a new draft.

Each format round-trips: export -> import -> export gives the same bytes (for CASE, once the
imported draft has the status and ``updated_at`` of the original, which the package states).
"""

import json
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import Identified
from app.frameworks import case, catalogue, csv_format
from app.frameworks.models import Framework
from app.frameworks.schemas import FrameworkMeta
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


async def export_version(
    session: AsyncSession, ref: VersionRef, file_format: ExportFormat, *, base_url: str
) -> ExportFile:
    """``ref`` as a file; CASE ``uri``s point under ``base_url`` (this service's root)."""
    full = await catalogue.document(session, ref)
    stem = f"{full.slug}-{full.version}"
    if file_format == "csv":
        return ExportFile(csv_format.write_csv(export_document(full)), "text/csv", f"{stem}.csv")
    if file_format == "case":
        package = case.package(full, base_url)
        body = json.dumps(package, ensure_ascii=False, indent=2) + "\n"
        return ExportFile(body.encode(), "application/json", f"{stem}.case.json")
    body = export_document(full).model_dump_json(indent=2) + "\n"
    return ExportFile(body.encode(), "application/json", f"{stem}.json")


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
