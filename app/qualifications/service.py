"""Qualification standards: check a position's requirements against a framework version, store
them, and list the indicators a holder of the position must show.

The rule for "at a level" is cumulative: a requirement of Advanced asks for every positive
indicator of that competency at Basic, Intermediate and Advanced (all ranks up to and including
the required one). The CSC levels are an ordered scale from Basic to Superior, and neither the
sources nor the domain notes say that a higher level excuses the behaviours of a lower one.
Negative indicators and indicators without a level are never listed.
"""

import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.agencies.service import agency_exists
from app.core.database import utcnow
from app.core.errors import FieldError, NotFound, UnprocessableEntity
from app.core.pagination import paginate
from app.frameworks.models import Competency, Framework, FrameworkVersion, Level
from app.frameworks.published import IndicatorFilter, PublishedIndicators
from app.frameworks.schemas import CompetencyRef, LevelOut
from app.qualifications.models import QualificationRequirement, QualificationStandard
from app.qualifications.schemas import (
    QualificationStandardIn,
    QualificationStandardOut,
    RequirementIn,
    RequirementOut,
)

# competency code -> (competency id, {level code: level id})
Scales = Mapping[str, tuple[int, Mapping[str, int]]]


def requirement_problems(requirements: Sequence[RequirementIn], scales: Scales) -> list[FieldError]:
    """Unknown competencies, levels outside the competency's scale and repeated competencies,
    each at its JSON path."""
    problems: list[FieldError] = []
    seen: set[str] = set()
    for i, requirement in enumerate(requirements):
        at = f"body.requirements[{i}]"
        if requirement.competency not in scales:
            problems.append(
                FieldError(
                    field=f"{at}.competency",
                    message=f"unknown competency {requirement.competency!r} in this version",
                )
            )
            continue
        if requirement.competency in seen:
            problems.append(
                FieldError(
                    field=f"{at}.competency",
                    message=f"duplicate competency {requirement.competency!r}",
                )
            )
        seen.add(requirement.competency)
        levels = scales[requirement.competency][1]
        if requirement.level not in levels:
            known = ", ".join(levels) or "none: this competency has no levels"
            problems.append(
                FieldError(
                    field=f"{at}.level",
                    message=f"unknown level {requirement.level!r} (levels: {known})",
                )
            )
    return problems


async def _scales(
    session: AsyncSession, version_id: uuid.UUID
) -> dict[str, tuple[int, dict[str, int]]]:
    competencies = (
        await session.execute(
            select(Competency.id, Competency.code).where(Competency.version_id == version_id)
        )
    ).all()
    levels = (
        await session.execute(
            select(Level.competency_id, Level.code, Level.id)
            .where(Level.version_id == version_id)
            .order_by(Level.rank)
        )
    ).all()
    by_scale: dict[int | None, dict[str, int]] = defaultdict(dict)
    for competency_id, code, level_id in levels:
        by_scale[competency_id][code] = level_id
    return {
        code: (competency_id, by_scale.get(competency_id) or by_scale[None])
        for competency_id, code in competencies
    }


async def _version(
    session: AsyncSession, body: QualificationStandardIn, problems: list[FieldError]
) -> FrameworkVersion | None:
    framework_id = await session.scalar(
        select(Framework.id).where(Framework.slug == body.framework)
    )
    if framework_id is None:
        problems.append(
            FieldError(field="body.framework", message=f"unknown framework {body.framework!r}")
        )
        return None
    version = await session.scalar(
        select(FrameworkVersion).where(
            FrameworkVersion.framework_id == framework_id, FrameworkVersion.version == body.version
        )
    )
    if version is None:
        problems.append(
            FieldError(field="body.version", message=f"unknown version {body.version!r}")
        )
        return None
    if version.status == "draft":
        problems.append(
            FieldError(
                field="body.version",
                message="a draft; a standard needs a published or retired version",
            )
        )
        return None
    return version


async def create_standard(
    session: AsyncSession, body: QualificationStandardIn, *, is_example: bool = False
) -> QualificationStandardOut:
    """Check everything, then store the standard; any problem is a 422 listing all of them."""
    problems: list[FieldError] = []
    if body.agency is not None and not await agency_exists(session, body.agency):
        problems.append(FieldError(field="body.agency", message=f"unknown agency {body.agency!r}"))
    version = await _version(session, body, problems)
    scales = await _scales(session, version.id) if version is not None else {}
    if version is not None:
        problems += requirement_problems(body.requirements, scales)
    if problems or version is None:
        raise UnprocessableEntity(
            f"The qualification standard has {len(problems)} problem(s).", errors=problems
        )

    standard = QualificationStandard(
        id=uuid.uuid4(),
        position_title=body.position_title,
        agency_code=body.agency,
        version_id=version.id,
        is_example=is_example,
        created_at=utcnow(),
    )
    session.add(standard)
    await session.flush()
    session.add_all(
        QualificationRequirement(
            standard_id=standard.id,
            competency_id=scales[r.competency][0],
            level_id=scales[r.competency][1][r.level],
            position=i,
        )
        for i, r in enumerate(body.requirements)
    )
    await session.flush()
    return (await _render(session, [standard]))[0]


async def _render(
    session: AsyncSession, standards: Sequence[QualificationStandard]
) -> list[QualificationStandardOut]:
    """The API shape of ``standards``, in two queries whatever their number."""
    if not standards:
        return []
    versions = {
        version_id: (slug, label)
        for version_id, slug, label in (
            await session.execute(
                select(FrameworkVersion.id, Framework.slug, FrameworkVersion.version)
                .join(Framework, FrameworkVersion.framework_id == Framework.id)
                .where(FrameworkVersion.id.in_({s.version_id for s in standards}))
            )
        ).all()
    }
    requirements: dict[uuid.UUID, list[RequirementOut]] = defaultdict(list)
    rows = await session.execute(
        select(
            QualificationRequirement.standard_id,
            Competency.code,
            Competency.name,
            Level.code,
            Level.name,
            Level.rank,
        )
        .join(Competency, QualificationRequirement.competency_id == Competency.id)
        .join(Level, QualificationRequirement.level_id == Level.id)
        .where(QualificationRequirement.standard_id.in_([s.id for s in standards]))
        .order_by(QualificationRequirement.standard_id, QualificationRequirement.position)
    )
    for standard_id, code, name, level_code, level_name, rank in rows:
        requirements[standard_id].append(
            RequirementOut(
                competency=CompetencyRef(code=code, name=name),
                level=LevelOut(code=level_code, name=level_name, rank=rank),
            )
        )
    return [
        QualificationStandardOut(
            id=s.id,
            position_title=s.position_title,
            agency=s.agency_code,
            framework=versions[s.version_id][0],
            version=versions[s.version_id][1],
            is_example=s.is_example,
            requirements=requirements[s.id],
            created_at=s.created_at,
        )
        for s in standards
    ]


async def _get(session: AsyncSession, standard_id: uuid.UUID) -> QualificationStandard:
    standard = await session.get(QualificationStandard, standard_id)
    if standard is None:
        raise NotFound(f"No qualification standard {standard_id}.")
    return standard


async def get_standard(session: AsyncSession, standard_id: uuid.UUID) -> QualificationStandardOut:
    return (await _render(session, [await _get(session, standard_id)]))[0]


async def list_standards(
    session: AsyncSession,
    *,
    agency: str | None,
    framework: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[QualificationStandardOut], str | None]:
    """One page of standards, oldest first."""
    statement = select(QualificationStandard)
    if agency is not None:
        statement = statement.where(QualificationStandard.agency_code == agency)
    if framework is not None:
        statement = statement.where(
            QualificationStandard.version_id.in_(
                select(FrameworkVersion.id)
                .join(Framework, FrameworkVersion.framework_id == Framework.id)
                .where(Framework.slug == framework)
            )
        )
    standards, next_cursor = await paginate(
        session,
        statement,
        order_by=[QualificationStandard.created_at, QualificationStandard.id],
        cursor=cursor,
        limit=limit,
        key=lambda s: (s.created_at, s.id),
    )
    return await _render(session, standards), next_cursor


async def required_indicators(
    session: AsyncSession,
    published: PublishedIndicators,
    standard_id: uuid.UUID,
    *,
    cursor: str | None,
    limit: int,
) -> bytes:
    """One page (``Page[IndicatorOut]`` JSON) of the positive indicators of each required
    competency at every rank up to and including the required level, in source order (see the
    module docstring for why cumulative). A standard and its version never change, so the page
    is made of the version's indicators as the process keeps them."""
    standard = await _get(session, standard_id)
    up_to = (
        await session.execute(
            select(Competency.code, Level.rank)
            .select_from(QualificationRequirement)
            .join(Competency, QualificationRequirement.competency_id == Competency.id)
            .join(Level, QualificationRequirement.level_id == Level.id)
            .where(QualificationRequirement.standard_id == standard.id)
        )
    ).all()
    return await published.page(
        session,
        [standard.version_id],
        IndicatorFilter(polarity="positive", up_to={code: rank for code, rank in up_to}),
        q=None,
        cursor=cursor,
        limit=limit,
    )
