"""Flat indicator listing and full-text search (PostgreSQL, English stemming, ranked)."""

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, Select, and_, cast, false, func, literal, or_, select, tuple_
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.core.pagination import decode_cursor, encode_cursor
from app.frameworks.models import Competency, Element, Framework, FrameworkVersion, Indicator, Level
from app.frameworks.schemas import CompetencyRef, IndicatorOut, LevelOut


def _base_query() -> Any:
    statement: Any = (
        select(
            Indicator.id,
            Framework.slug,
            FrameworkVersion.version,
            Competency.code,
            Competency.name,
            Element.code,
            Element.name,
            Level.code,
            Level.name,
            Level.rank,
            Indicator.polarity,
            Indicator.text,
            Indicator.complete,
        )
        .join(FrameworkVersion, Indicator.version_id == FrameworkVersion.id)
        .join(Framework, FrameworkVersion.framework_id == Framework.id)
        .join(Competency, Indicator.competency_id == Competency.id)
        .outerjoin(Element, Indicator.element_id == Element.id)
        .outerjoin(Level, Indicator.level_id == Level.id)
    )
    return statement


def current_version_ids() -> Select[uuid.UUID]:
    """The latest published version of every framework."""
    latest = aliased(FrameworkVersion)
    return (
        select(latest.id)
        .where(latest.status == "published")
        .ext(distinct_on(latest.framework_id))
        .order_by(latest.framework_id, latest.published_at.desc(), latest.created_at.desc())
    )


async def search_indicators(
    session: AsyncSession,
    *,
    version_ids: list[uuid.UUID] | Select[uuid.UUID],
    competency: str | None = None,
    level: str | None = None,
    element: str | None = None,
    polarity: str | None = None,
    framework: str | None = None,
    up_to: Sequence[tuple[str, int]] | None = None,
    q: str | None = None,
    cursor: str | None,
    limit: int,
) -> tuple[list[IndicatorOut], str | None]:
    """One page of indicators; ranked by relevance when ``q`` is given, else in source order.

    ``up_to``, pairs of (competency code, level rank), keeps only the indicators of those
    competencies whose level ranks at most the given rank (unlevelled indicators drop out).
    """
    statement = _base_query().where(Indicator.version_id.in_(version_ids))
    if competency is not None:
        statement = statement.where(Competency.code == competency)
    if level is not None:
        statement = statement.where(Level.code == level)
    if element is not None:
        statement = statement.where(Element.code == element)
    if polarity is not None:
        statement = statement.where(Indicator.polarity == polarity)
    if framework is not None:
        statement = statement.where(Framework.slug == framework)
    if up_to is not None:
        statement = statement.where(
            or_(
                false(),
                *(and_(Competency.code == code, Level.rank <= rank) for code, rank in up_to),
            )
        )

    if q:
        query = func.websearch_to_tsquery("english", q)
        # An integer (rank in millionths), so the cursor carries exactly the value compared.
        rank = cast(func.round(func.ts_rank_cd(Indicator.search, query) * 1_000_000), BigInteger)
        statement = statement.add_columns(rank).where(Indicator.search.op("@@")(query))
        if cursor is not None:
            after_rank, after_id = decode_cursor(cursor, (int, int), list_name="indicators:ranked")
            statement = statement.where(tuple_(-rank, Indicator.id) > tuple_(-after_rank, after_id))
        statement = statement.order_by(rank.desc(), Indicator.id)
    else:
        statement = statement.add_columns(literal(None))
        if cursor is not None:
            (after_id,) = decode_cursor(cursor, (int,), list_name="indicators")
            statement = statement.where(Indicator.id > after_id)
        statement = statement.order_by(Indicator.id)

    rows = (await session.execute(statement.limit(limit + 1))).all()
    items = [
        IndicatorOut(
            id=row[0],
            framework=row[1],
            version=row[2],
            competency=CompetencyRef(code=row[3], name=row[4]),
            element=CompetencyRef(code=row[5], name=row[6]) if row[5] else None,
            level=LevelOut(code=row[7], name=row[8], rank=row[9]) if row[7] else None,
            polarity=row[10],
            text=row[11],
            complete=row[12],
            rank=(row[13] / 1_000_000) if row[13] is not None else None,
        )
        for row in rows[:limit]
    ]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = (
            encode_cursor([last[13], last[0]], list_name="indicators:ranked")
            if q
            else encode_cursor([last[0]], list_name="indicators")
        )
    return items, next_cursor
