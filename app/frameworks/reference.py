"""The bundled frameworks (``reference_data/*.json``), transcribed from the sources.

Loading is idempotent: a version already present is left exactly as it is (published versions
never change), so ``cpro serve`` loads at every start.
"""

from functools import lru_cache
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.frameworks.models import Framework, FrameworkVersion
from app.frameworks.schemas import BundledFramework, FrameworkDocument, VersionStatus
from app.frameworks.service import create_version

REFERENCE_DIR = Path(__file__).parent / "reference_data"


@lru_cache
def bundled_frameworks() -> tuple[BundledFramework, ...]:
    return tuple(
        BundledFramework.model_validate_json(path.read_bytes())
        for path in sorted(REFERENCE_DIR.glob("*.json"))
    )


def bundled_documents() -> list[tuple[FrameworkDocument, VersionStatus]]:
    """Each bundled version as an import document, with its status."""
    documents = []
    for bundle in bundled_frameworks():
        meta = bundle.model_dump(exclude={"versions"})
        for version in bundle.versions:
            content = version.model_dump(exclude={"status"})
            documents.append((FrameworkDocument.model_validate(meta | content), version.status))
    return documents


async def load_reference_frameworks(session: AsyncSession) -> int:
    """Insert the bundled versions that are missing; returns how many were inserted."""
    rows = await session.execute(
        select(Framework.slug, FrameworkVersion.version).join(
            FrameworkVersion, FrameworkVersion.framework_id == Framework.id
        )
    )
    present = {(slug, version) for slug, version in rows}
    inserted = 0
    for document, status in bundled_documents():
        if (document.slug, document.version) not in present:
            await create_version(session, document, status=status)
            inserted += 1
    return inserted
