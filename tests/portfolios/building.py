"""Building a portfolio through the API, as the portal does."""

from typing import Any

from httpx import AsyncClient, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.frameworks.models import Competency, Indicator
from app.portfolios.models import Portfolio


async def indicators_of(session: AsyncSession, cid: str, competency: str) -> list[int]:
    """Indicator ids of ``competency`` in the candidate's portfolio version."""
    version_id = await session.scalar(
        select(Portfolio.framework_version_id).where(Portfolio.candidate_id == cid)
    )
    rows = await session.scalars(
        select(Indicator.id)
        .join(Competency, Indicator.competency_id == Competency.id)
        .where(Competency.version_id == version_id, Competency.code == competency)
        .order_by(Indicator.position)
        .limit(2)
    )
    return list(rows.all())


async def portfolio(client: AsyncClient, headers: dict[str, str], cid: str) -> dict[str, Any]:
    response = await client.get(f"/v1/candidates/{cid}/portfolio", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def add_entry(
    client: AsyncClient,
    session: AsyncSession,
    headers: dict[str, str],
    cid: str,
    competency: str,
    title: str | None = None,
) -> dict[str, Any]:
    await portfolio(client, headers, cid)  # made on first use: its version names the indicators
    response = await client.post(
        f"/v1/candidates/{cid}/portfolio/evidence",
        json={
            "competency": competency,
            "title": title or f"Evidence for {competency}",
            "description": "What I did, with whom, and what changed.",
            "indicators": await indicators_of(session, cid, competency),
            "period": {"start": "2026-03-01", "end": "2026-05-30"},
        },
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def upload(
    client: AsyncClient,
    headers: dict[str, str],
    cid: str,
    eid: str,
    data: Any,
    filename: str = "evidence.pdf",
    content_type: str = "application/pdf",
) -> Response:
    return await client.post(
        f"/v1/candidates/{cid}/portfolio/evidence/{eid}/documents",
        content=data,
        headers=headers
        | {
            "Content-Type": content_type,
            "Content-Disposition": f'attachment; filename="{filename}"',
        },
    )


async def cover(
    client: AsyncClient,
    session: AsyncSession,
    headers: dict[str, str],
    cid: str,
    competencies: list[str],
) -> list[dict[str, Any]]:
    return [await add_entry(client, session, headers, cid, c) for c in competencies]
