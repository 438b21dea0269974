"""Erasure deletes the documents' bytes and the evidence text (keeping digests and counts);
the personal-data export lists every document with its digest; the retention sweep erases
portfolios too."""

import hashlib
from datetime import timedelta

from httpx import AsyncClient
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.roles import Role
from app.candidates.models import Candidate
from app.core.database import utcnow
from app.portfolios.models import DocumentChunk, PortfolioDocument
from app.privacy.service import sweep_retention
from tests.assessments.rounds import ready_candidate
from tests.factories import auth_headers
from tests.portfolios import files
from tests.portfolios.building import cover, portfolio, upload


async def _chunks_of(session: AsyncSession, cid: str) -> int:
    return (
        await session.scalar(
            select(func.count())
            .select_from(DocumentChunk)
            .join(PortfolioDocument, PortfolioDocument.id == DocumentChunk.document_id)
            .where(PortfolioDocument.candidate_id == cid)
        )
        or 0
    )


async def test_erasure_removes_the_bytes_and_the_text_and_keeps_the_digests(
    portal: AsyncClient, session: AsyncSession
) -> None:
    cid, staff = await ready_candidate(portal, session)
    codes = [c["code"] for c in (await portfolio(portal, staff, cid))["competencies"]]
    entries = await cover(portal, session, staff, cid, codes)
    data = files.docx_bytes("Names of the people on my team")
    document = (
        await upload(
            portal, staff, cid, entries[0]["id"], data, "team.docx", "application/octet-stream"
        )
    ).json()
    submitted = (await portal.post(f"/v1/candidates/{cid}/portfolio:submit", headers=staff)).json()

    export = await portal.get(f"/v1/candidates/{cid}/personal-data", headers=staff)
    assert export.status_code == 200, export.text
    listed = export.json()["portfolio"]["documents"]
    assert [(d["id"], d["sha256"], d["size"]) for d in listed] == [
        (document["id"], hashlib.sha256(data).hexdigest(), len(data))
    ]
    assert len(export.json()["portfolio"]["submissions"]) == 1
    assert await _chunks_of(session, cid) > 0

    admin = await auth_headers(session, Role.admin)
    erased = await portal.post(
        f"/v1/candidates/{cid}/erasure", json={"reason": "DPO request 7"}, headers=admin
    )
    assert erased.status_code == 200, erased.text
    assert await _chunks_of(session, cid) == 0
    gone = await portal.get(document["href"], headers=staff)
    assert gone.status_code == 404
    after = await portal.get(
        f"/v1/candidates/{cid}/portfolio/submissions/{submitted['id']}", headers=staff
    )
    snapshot = after.json()
    assert snapshot["digest"] == submitted["digest"]
    assert snapshot["evidence_count"] == 5 and snapshot["document_count"] == 1
    assert {e["title"] for e in snapshot["entries"]} == {"Erased"}
    assert all(e["description"] is None for e in snapshot["entries"])
    kept = next(e for e in snapshot["entries"] if e["documents"])["documents"][0]
    assert kept["sha256"] == document["sha256"] and kept["filename"] is None
    draft = await portfolio(portal, staff, cid)
    assert draft["editable"] is False
    titles = {e["title"] for c in draft["competencies"] for e in c["evidence"]}
    assert titles == {"Erased"}
    row = await session.get(PortfolioDocument, document["id"])
    assert row is not None and row.sha256 == document["sha256"] and row.erased_at is not None


async def test_the_retention_sweep_erases_the_portfolio_documents_too(
    portal: AsyncClient, session: AsyncSession
) -> None:
    cid, staff = await ready_candidate(portal, session)
    entries = await cover(portal, session, staff, cid, ["leading-change"])
    assert (
        await upload(portal, staff, cid, entries[0]["id"], files.pdf_bytes())
    ).status_code == 201
    withdrawn = await portal.post(
        f"/v1/candidates/{cid}/transitions",
        json={"to": "withdrawn", "reason": "left the service"},
        headers=staff,
    )
    assert withdrawn.status_code == 201, withdrawn.text
    await session.execute(
        update(Candidate)
        .where(Candidate.id == cid)
        .values(updated_at=utcnow() - timedelta(days=40))
    )
    assert await sweep_retention(session, 30) == 1
    assert await _chunks_of(session, cid) == 0
