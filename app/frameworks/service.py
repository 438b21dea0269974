"""Frameworks: import a document into rows, read it back, move versions through their states."""

import uuid
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import Select, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import Identified, record
from app.core.database import utcnow
from app.core.errors import Conflict, FieldError, NotFound, UnprocessableEntity
from app.frameworks.document import document_problems
from app.frameworks.models import (
    Cluster,
    Competency,
    Element,
    Framework,
    FrameworkVersion,
    Indicator,
    Level,
    LevelDescription,
)
from app.frameworks.schemas import (
    ClusterDoc,
    CompetencyDoc,
    ElementDoc,
    FrameworkDocument,
    FrameworkMeta,
    FrameworkVersionOut,
    IndicatorDoc,
    LevelDescriptionDoc,
    LevelDoc,
    VersionContent,
    VersionStatus,
)


@dataclass(frozen=True)
class VersionRef:
    framework: Framework
    version: FrameworkVersion


def _version_query() -> Select[Framework, FrameworkVersion]:
    return select(Framework, FrameworkVersion).join(
        FrameworkVersion, FrameworkVersion.framework_id == Framework.id
    )


async def get_framework(session: AsyncSession, slug: str) -> Framework:
    framework = await session.scalar(select(Framework).where(Framework.slug == slug))
    if framework is None:
        raise NotFound(f"No framework {slug!r}.")
    return framework


async def current_version(session: AsyncSession, slug: str) -> VersionRef:
    """The latest published version of ``slug``."""
    row = (
        await session.execute(
            _version_query()
            .where(Framework.slug == slug, FrameworkVersion.status == "published")
            .order_by(FrameworkVersion.published_at.desc(), FrameworkVersion.created_at.desc())
            .limit(1)
        )
    ).first()
    if row is None:
        await get_framework(session, slug)
        raise NotFound(f"Framework {slug!r} has no published version.")
    return VersionRef(*row)


async def get_version(session: AsyncSession, slug: str, version: str) -> VersionRef:
    row = (
        await session.execute(
            _version_query().where(Framework.slug == slug, FrameworkVersion.version == version)
        )
    ).first()
    if row is None:
        await get_framework(session, slug)
        raise NotFound(f"Framework {slug!r} has no version {version!r}.")
    return VersionRef(*row)


def check_document(doc: VersionContent, prefix: str = "body") -> None:
    problems = document_problems(doc, prefix)
    if problems:
        raise UnprocessableEntity(
            f"The framework document has {len(problems)} problem(s).", errors=problems
        )


# Metadata lives on the framework and is shared by all its versions' documents.
META_FIELDS = ("title", "publisher", "jurisdiction", "description", "source")


async def _upsert_framework(session: AsyncSession, meta: FrameworkMeta) -> Framework:
    framework = await session.scalar(
        select(Framework).where(Framework.slug == meta.slug).with_for_update()
    )
    if framework is None:
        framework = Framework(id=uuid.uuid4(), created_at=utcnow(), slug=meta.slug)
        session.add(framework)
    else:
        changed = [f for f in META_FIELDS if getattr(framework, f) != getattr(meta, f)]
        released = await session.scalar(
            select(FrameworkVersion.id)
            .where(
                FrameworkVersion.framework_id == framework.id, FrameworkVersion.status != "draft"
            )
            .limit(1)
        )
        if changed and released is not None:
            # Otherwise an unpublished draft would rewrite what published versions serve.
            raise Conflict(
                f"Framework {meta.slug!r} has a published version, which never changes; its "
                "metadata (shared by every version) must stay as it is.",
                errors=[
                    FieldError(field=f"body.{f}", message="differs from the published framework")
                    for f in changed
                ],
            )
    framework.title = meta.title
    framework.publisher = meta.publisher
    framework.jurisdiction = meta.jurisdiction
    framework.description = meta.description
    framework.source = meta.source
    await session.flush()
    return framework


async def _insert_content(
    session: AsyncSession, version: FrameworkVersion, doc: VersionContent
) -> None:
    """Write ``doc``'s clusters, competencies, levels, elements and indicators for ``version``."""
    clusters = [
        Cluster(
            version_id=version.id, code=c.code, name=c.name, description=c.description, position=i
        )
        for i, c in enumerate(doc.clusters)
    ]
    session.add_all(clusters)
    await session.flush()
    cluster_ids = {c.code: c.id for c in clusters}

    competencies = [
        Competency(
            version_id=version.id,
            cluster_id=cluster_ids[c.cluster] if c.cluster else None,
            code=c.code,
            name=c.name,
            attribute=c.attribute,
            definition=c.definition,
            definition_complete=c.definition_complete,
            features=list(c.features),
            negative_indicators_title=c.negative_indicators_title,
            position=i,
        )
        for i, c in enumerate(doc.competencies)
    ]
    framework_levels = [
        Level(version_id=version.id, competency_id=None, code=lv.code, name=lv.name, rank=lv.rank)
        for lv in doc.levels
    ]
    session.add_all([*competencies, *framework_levels])
    await session.flush()

    own_levels: dict[int, list[Level]] = {}
    elements: dict[int, list[Element]] = {}
    for row, c in zip(competencies, doc.competencies, strict=True):
        own_levels[row.id] = [
            Level(
                version_id=version.id,
                competency_id=row.id,
                code=lv.code,
                name=lv.name,
                rank=lv.rank,
            )
            for lv in c.levels
        ]
        elements[row.id] = [
            Element(competency_id=row.id, code=e.code, name=e.name, complete=e.complete, position=i)
            for i, e in enumerate(c.elements)
        ]
        session.add_all([*own_levels[row.id], *elements[row.id]])
    await session.flush()

    shared_level_ids = {lv.code: lv.id for lv in framework_levels}
    for row, c in zip(competencies, doc.competencies, strict=True):
        level_ids = {lv.code: lv.id for lv in own_levels[row.id]} or shared_level_ids
        element_ids = {e.code: e.id for e in elements[row.id]}
        session.add_all(
            LevelDescription(
                competency_id=row.id, level_id=level_ids[d.level], text=d.text, complete=d.complete
            )
            for d in c.level_descriptions
        )
        session.add_all(
            Indicator(
                version_id=version.id,
                competency_id=row.id,
                element_id=element_ids[ind.element] if ind.element else None,
                level_id=level_ids[ind.level] if ind.level else None,
                polarity=ind.polarity,
                text=ind.text,
                complete=ind.complete,
                position=i,
            )
            for i, ind in enumerate(c.indicators)
        )
    await session.flush()


FRAMEWORK_LOCK_NAMESPACE = 72015
"""Advisory locks (namespace, hashtext(slug)) serialize writers of one framework."""


async def create_version(
    session: AsyncSession,
    doc: FrameworkDocument,
    *,
    status: VersionStatus = "draft",
    actor: Identified | None = None,
) -> VersionRef:
    """Store ``doc`` as a new version (a draft unless loading reference data); ``actor`` is
    who asked (None: the service, loading reference data)."""
    check_document(doc)
    # One writer per slug at a time, until commit: two simultaneous posts of one new version
    # (or one new framework) then meet the check below instead of a unique violation.
    await session.execute(
        select(func.pg_advisory_xact_lock(FRAMEWORK_LOCK_NAMESPACE, func.hashtext(doc.slug)))
    )
    framework = await _upsert_framework(session, doc)
    exists = await session.scalar(
        select(FrameworkVersion.id).where(
            FrameworkVersion.framework_id == framework.id, FrameworkVersion.version == doc.version
        )
    )
    if exists is not None:
        raise Conflict(
            f"Framework {doc.slug!r} already has a version {doc.version!r}; a change is a new version.",
            errors=[FieldError(field="body.version", message="already exists")],
        )
    now = utcnow()
    version = FrameworkVersion(
        id=uuid.uuid4(),
        framework_id=framework.id,
        version=doc.version,
        status=status,
        notes=doc.notes,
        created_at=now,
        updated_at=now,
        published_at=now if status in ("published", "retired") else None,
        retired_at=now if status == "retired" else None,
    )
    session.add(version)
    await session.flush()
    await _insert_content(session, version, doc)
    await record(
        session,
        actor,
        "framework_version.create",
        "framework_version",
        version.id,
        after={"slug": doc.slug, "version": doc.version, "status": status},
    )
    return VersionRef(framework, version)


async def replace_draft(
    session: AsyncSession, ref: VersionRef, doc: FrameworkDocument, *, actor: Identified | None
) -> VersionRef:
    """Replace a draft's whole content (and the framework's metadata) with ``doc``."""
    if ref.version.status != "draft":
        raise Conflict(
            f"Version {ref.version.version!r} is {ref.version.status}; only drafts change. "
            "Create a new version instead."
        )
    mismatched = [
        FieldError(field=f"body.{name}", message="must match the URL")
        for name, value, url in (
            ("slug", doc.slug, ref.framework.slug),
            ("version", doc.version, ref.version.version),
        )
        if value != url
    ]
    problems = mismatched + document_problems(doc)
    if problems:
        raise UnprocessableEntity(
            f"The framework document has {len(problems)} problem(s).", errors=problems
        )
    framework = await _upsert_framework(session, doc)
    await session.execute(delete(Competency).where(Competency.version_id == ref.version.id))
    await session.execute(delete(Level).where(Level.version_id == ref.version.id))
    await session.execute(delete(Cluster).where(Cluster.version_id == ref.version.id))
    ref.version.notes = doc.notes
    ref.version.updated_at = utcnow()
    await _insert_content(session, ref.version, doc)
    # The content is versioned data, not personal data: the entry says a draft was replaced.
    await record(
        session,
        actor,
        "framework_version.replace",
        "framework_version",
        ref.version.id,
        after={"slug": doc.slug, "version": doc.version, "competencies": len(doc.competencies)},
    )
    return VersionRef(framework, ref.version)


async def set_status(
    session: AsyncSession, ref: VersionRef, status: VersionStatus, *, actor: Identified | None
) -> VersionRef:
    """Publish a draft or retire a published version; anything else is a 409."""
    allowed = {"draft": "published", "published": "retired"}
    if allowed.get(ref.version.status) != status:
        raise Conflict(
            f"A {ref.version.status} version cannot become {status}.",
            allowed_next=[allowed[ref.version.status]] if ref.version.status in allowed else [],
        )
    now = utcnow()
    await record(
        session,
        actor,
        f"framework_version.{'publish' if status == 'published' else 'retire'}",
        "framework_version",
        ref.version.id,
        before={"status": ref.version.status},
        after={"status": status},
    )
    ref.version.status = status
    ref.version.updated_at = now
    if status == "published":
        ref.version.published_at = now
    else:
        ref.version.retired_at = now
    await session.flush()
    return ref


async def load_document(session: AsyncSession, ref: VersionRef) -> FrameworkVersionOut:
    """The whole version as a document: seven queries, whatever its size."""
    version_id = ref.version.id
    levels = (
        await session.scalars(
            select(Level).where(Level.version_id == version_id).order_by(Level.rank, Level.id)
        )
    ).all()
    clusters = (
        await session.scalars(
            select(Cluster).where(Cluster.version_id == version_id).order_by(Cluster.position)
        )
    ).all()
    competencies = (
        await session.scalars(
            select(Competency)
            .where(Competency.version_id == version_id)
            .order_by(Competency.position)
        )
    ).all()
    elements = (
        await session.scalars(
            select(Element)
            .join(Competency, Element.competency_id == Competency.id)
            .where(Competency.version_id == version_id)
            .order_by(Element.position)
        )
    ).all()
    descriptions = (
        await session.scalars(
            select(LevelDescription)
            .join(Level, LevelDescription.level_id == Level.id)
            .where(Level.version_id == version_id)
            .order_by(Level.rank, LevelDescription.id)
        )
    ).all()
    indicators = (
        await session.scalars(
            select(Indicator).where(Indicator.version_id == version_id).order_by(Indicator.id)
        )
    ).all()

    level_code = {lv.id: lv.code for lv in levels}
    element_code = {e.id: e.code for e in elements}
    cluster_code = {c.id: c.code for c in clusters}
    by_competency: dict[int | None, list[LevelDoc]] = defaultdict(list)
    for lv in levels:
        by_competency[lv.competency_id].append(LevelDoc(code=lv.code, name=lv.name, rank=lv.rank))
    elements_of: dict[int, list[ElementDoc]] = defaultdict(list)
    for e in elements:
        elements_of[e.competency_id].append(
            ElementDoc(code=e.code, name=e.name, complete=e.complete)
        )
    descriptions_of: dict[int, list[LevelDescriptionDoc]] = defaultdict(list)
    for d in descriptions:
        descriptions_of[d.competency_id].append(
            LevelDescriptionDoc(level=level_code[d.level_id], text=d.text, complete=d.complete)
        )
    indicators_of: dict[int, list[IndicatorDoc]] = defaultdict(list)
    for ind in indicators:
        indicators_of[ind.competency_id].append(
            IndicatorDoc(
                text=ind.text,
                level=level_code[ind.level_id] if ind.level_id else None,
                polarity=ind.polarity,
                element=element_code[ind.element_id] if ind.element_id else None,
                complete=ind.complete,
            )
        )
    framework = ref.framework
    return FrameworkVersionOut(
        slug=framework.slug,
        title=framework.title,
        publisher=framework.publisher,
        jurisdiction=framework.jurisdiction,
        description=framework.description,
        source=framework.source,
        version=ref.version.version,
        notes=ref.version.notes,
        status=ref.version.status,
        published_at=ref.version.published_at,
        retired_at=ref.version.retired_at,
        updated_at=ref.version.updated_at,
        levels=by_competency[None],
        clusters=[
            ClusterDoc(code=c.code, name=c.name, description=c.description) for c in clusters
        ],
        competencies=[
            CompetencyDoc(
                code=c.code,
                name=c.name,
                cluster=cluster_code[c.cluster_id] if c.cluster_id else None,
                attribute=c.attribute,
                definition=c.definition,
                definition_complete=c.definition_complete,
                features=list(c.features),
                negative_indicators_title=c.negative_indicators_title,
                levels=by_competency[c.id],
                level_descriptions=descriptions_of[c.id],
                elements=elements_of[c.id],
                indicators=indicators_of[c.id],
            )
            for c in competencies
        ],
    )


def export_document(full: FrameworkVersionOut) -> FrameworkDocument:
    """The import shape of a version (no status or timestamps)."""
    return FrameworkDocument.model_validate(
        full.model_dump(exclude={"status", "published_at", "retired_at", "updated_at"})
    )


async def count_content(
    session: AsyncSession, version_ids: list[uuid.UUID]
) -> dict[uuid.UUID, tuple[int, int]]:
    """(competencies, indicators) per version, in two grouped queries."""
    competencies = dict(
        (
            await session.execute(
                select(Competency.version_id, func.count())
                .where(Competency.version_id.in_(version_ids))
                .group_by(Competency.version_id)
            )
        ).all()
    )
    indicators = dict(
        (
            await session.execute(
                select(Indicator.version_id, func.count())
                .where(Indicator.version_id.in_(version_ids))
                .group_by(Indicator.version_id)
            )
        ).all()
    )
    return {vid: (competencies.get(vid, 0), indicators.get(vid, 0)) for vid in version_ids}
