"""Documents: up and down by digest, typed by their own bytes, limited while streaming."""

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.audit.models import AuditEntry
from app.core.database import create_sessionmaker
from app.portfolios.models import DocumentChunk, PortfolioDocument
from app.portfolios.sniffing import DocumentType
from tests.assessments.rounds import ready_candidate
from tests.factories import committed_agency_with_keys, person
from tests.portfolios import files
from tests.portfolios.building import add_entry, indicators_of, portfolio, upload

MIB = 1024 * 1024


async def _documents(session: AsyncSession, cid: str) -> tuple[int, int]:
    """The candidate's document rows and chunk rows (live tests elsewhere commit their own)."""
    return (
        await session.scalar(
            select(func.count())
            .select_from(PortfolioDocument)
            .where(PortfolioDocument.candidate_id == cid)
        )
        or 0,
        await session.scalar(
            select(func.count())
            .select_from(DocumentChunk)
            .join(PortfolioDocument, PortfolioDocument.id == DocumentChunk.document_id)
            .where(PortfolioDocument.candidate_id == cid)
        )
        or 0,
    )


@pytest.mark.parametrize(
    ("make", "filename", "declared", "kind"),
    [
        (files.pdf_bytes, "plan.pdf", "application/pdf", DocumentType.pdf),
        (lambda: files.image_bytes("PNG"), "chart.png", "image/png", DocumentType.png),
        (
            lambda: files.image_bytes("JPEG"),
            "photo.jpg",
            "application/octet-stream",
            DocumentType.jpeg,
        ),
        (files.docx_bytes, "report.docx", DocumentType.docx.value, DocumentType.docx),
    ],
    ids=["pdf", "png", "jpeg-as-octet-stream", "docx"],
)
async def test_a_document_goes_up_and_comes_back_byte_for_byte(
    portal: AsyncClient,
    session: AsyncSession,
    make: Callable[[], bytes],
    filename: str,
    declared: str,
    kind: DocumentType,
) -> None:
    cid, staff = await ready_candidate(portal, session)
    entry = await add_entry(portal, session, staff, cid, "leading-change")
    data = make()
    stored = await upload(portal, staff, cid, entry["id"], data, filename, declared)
    assert stored.status_code == 201, stored.text
    body = stored.json()
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert body["size"] == len(data)
    assert body["media_type"] == kind.value
    assert stored.headers["location"] == body["href"]

    got = await portal.get(body["href"], headers=staff)
    assert got.status_code == 200
    assert hashlib.sha256(got.content).hexdigest() == body["sha256"]
    assert got.headers["content-type"] == kind.value
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["etag"] == f'"{body["sha256"]}"'
    assert got.headers["content-disposition"].startswith(f'attachment; filename="{filename}"')
    again = await portal.get(body["href"], headers=staff | {"If-None-Match": got.headers["etag"]})
    assert again.status_code == 304

    reads = (
        await session.scalars(
            select(AuditEntry).where(
                AuditEntry.entity_id == body["id"],
                AuditEntry.operation == "portfolio.document.read",
            )
        )
    ).all()
    assert len(reads) == 1  # the download; the 304 sent no document
    listed = await portfolio(portal, staff, cid)
    leading = next(c for c in listed["competencies"] if c["code"] == "leading-change")
    assert leading["evidence"][0]["documents"][0]["sha256"] == body["sha256"]
    assert listed["bytes_used"] == len(data)


async def test_a_multipart_upload_is_stored_like_a_raw_one(
    portal: AsyncClient, session: AsyncSession
) -> None:
    cid, staff = await ready_candidate(portal, session)
    entry = await add_entry(portal, session, staff, cid, "leading-change")
    data = files.docx_bytes()
    stored = await portal.post(
        f"/v1/candidates/{cid}/portfolio/evidence/{entry['id']}/documents",
        files={"file": ("Ulat sa pagbabago ñ.docx", data, DocumentType.docx.value)},
        headers=staff,
    )
    assert stored.status_code == 201, stored.text
    assert stored.json()["filename"] == "Ulat sa pagbabago ñ.docx"
    got = await portal.get(stored.json()["href"], headers=staff)
    assert got.content == data
    assert (
        "filename*=UTF-8''Ulat%20sa%20pagbabago%20%C3%B1.docx" in got.headers["content-disposition"]
    )


@pytest.mark.parametrize(
    ("data", "filename", "declared"),
    [
        (files.elf_bytes(), "evidence.pdf", "application/pdf"),
        (files.script_bytes(), "evidence.pdf", "application/pdf"),
        (
            files.plain_zip_bytes({"word/document.xml": b"<x/>"}),
            "report.docx",
            "application/octet-stream",
        ),
        (files.docm_bytes(), "report.docx", DocumentType.docx.value),
        (files.pdf_bytes(), "chart.png", "image/png"),
    ],
    ids=["elf-named-pdf", "script-named-pdf", "zip-named-docx", "docm", "pdf-declared-png"],
)
async def test_a_file_that_is_not_what_it_claims_is_415_and_leaves_nothing(
    portal: AsyncClient, session: AsyncSession, data: bytes, filename: str, declared: str
) -> None:
    cid, staff = await ready_candidate(portal, session)
    entry = await add_entry(portal, session, staff, cid, "leading-change")
    refused = await upload(portal, staff, cid, entry["id"], data, filename, declared)
    assert refused.status_code == 415, refused.text
    assert refused.json()["type"] == "urn:cpro:problem:unsupported-media-type"
    assert await _documents(session, cid) == (0, 0)


async def test_other_declared_types_and_missing_names_are_refused_before_reading(
    portal: AsyncClient, session: AsyncSession
) -> None:
    cid, staff = await ready_candidate(portal, session)
    entry = await add_entry(portal, session, staff, cid, "leading-change")
    path = f"/v1/candidates/{cid}/portfolio/evidence/{entry['id']}/documents"
    html = await upload(portal, staff, cid, entry["id"], b"<html>", "x.html", "text/html")
    assert html.status_code == 415
    nameless = await portal.post(
        path, content=files.pdf_bytes(), headers=staff | {"Content-Type": "application/pdf"}
    )
    assert nameless.status_code == 422
    assert nameless.json()["errors"][0]["field"] == "header.content-disposition"
    traversal = await upload(
        portal, staff, cid, entry["id"], files.pdf_bytes(), "../../etc/passwd.pdf"
    )
    assert traversal.status_code == 201 and traversal.json()["filename"] == "passwd.pdf"


async def test_20_mib_is_accepted_and_one_byte_more_is_refused_while_streaming(
    portal: AsyncClient, session: AsyncSession
) -> None:
    cid, staff = await ready_candidate(portal, session)
    entry = await add_entry(portal, session, staff, cid, "leading-change")
    pdf = files.pdf_bytes()
    exact = pdf + bytes(20 * MIB - len(pdf))
    stored = await upload(portal, staff, cid, entry["id"], exact)
    assert stored.status_code == 201, stored.text
    assert stored.json()["size"] == 20 * MIB
    assert stored.json()["sha256"] == hashlib.sha256(exact).hexdigest()
    before = await _documents(session, cid)

    sent = 0
    total = 40 * MIB + 1

    async def body() -> AsyncIterator[bytes]:  # chunked: no Content-Length to refuse up front
        nonlocal sent
        piece = 64 * 1024
        yield pdf
        sent = len(pdf)
        while sent < total:
            step = min(piece, total - sent)
            sent += step
            yield bytes(step)

    refused = await portal.post(
        f"/v1/candidates/{cid}/portfolio/evidence/{entry['id']}/documents",
        content=body(),
        headers=staff
        | {
            "Content-Type": "application/pdf",
            "Content-Disposition": "attachment; filename=big.pdf",
        },
    )
    assert refused.status_code == 413, refused.text
    assert refused.json()["type"] == "urn:cpro:problem:payload-too-large"
    # Refused at the first byte over 20 MiB: the second half of the body was never read.
    assert sent < 20 * MIB + 256 * 1024
    assert await _documents(session, cid) == before

    declared = await portal.post(
        f"/v1/candidates/{cid}/portfolio/evidence/{entry['id']}/documents",
        content=pdf + bytes(20 * MIB + 1 - len(pdf)),
        headers=staff
        | {
            "Content-Type": "application/pdf",
            "Content-Disposition": "attachment; filename=big.pdf",
        },
    )
    assert declared.status_code == 413
    assert await _documents(session, cid) == before


async def test_the_portfolio_limit_counts_every_document_of_the_candidate(
    portal_app: FastAPI, portal: AsyncClient, session: AsyncSession
) -> None:
    pdf = files.pdf_bytes()
    portal_app.state.settings = portal_app.state.settings.model_copy(
        update={"max_portfolio_bytes": 2 * len(pdf) + 10}
    )
    cid, staff = await ready_candidate(portal, session)
    entry = await add_entry(portal, session, staff, cid, "leading-change")
    for _ in range(2):
        assert (await upload(portal, staff, cid, entry["id"], pdf)).status_code == 201
    full = await upload(portal, staff, cid, entry["id"], pdf)
    assert full.status_code == 413
    assert "CPRO_MAX_PORTFOLIO_BYTES" in full.json()["detail"]
    assert (await portfolio(portal, staff, cid))["bytes_used"] == 2 * len(pdf)


async def test_an_upload_to_another_candidates_evidence_is_not_found(
    portal: AsyncClient, session: AsyncSession
) -> None:
    cid, staff = await ready_candidate(portal, session)
    entry = await add_entry(portal, session, staff, cid, "leading-change")
    other = await portal.post(
        "/v1/candidates",
        json={"agency": "DOH", "external_id": "EMP-2", "given_name": "Jose", "family_name": "Cruz"},
        headers=staff,
    )
    assert other.status_code == 201, other.text
    wrong = await upload(portal, staff, other.json()["id"], entry["id"], files.pdf_bytes())
    assert wrong.status_code == 404
    assert await _documents(session, cid) == (0, 0)


async def test_a_removed_document_is_deleted_unless_a_submission_names_it(
    portal: AsyncClient, session: AsyncSession
) -> None:
    cid, staff = await ready_candidate(portal, session)
    codes = [c["code"] for c in (await portfolio(portal, staff, cid))["competencies"]]
    entries = [await add_entry(portal, session, staff, cid, code) for code in codes]
    png, pdf = files.image_bytes("PNG"), files.pdf_bytes()
    draft_only = (
        await upload(portal, staff, cid, entries[0]["id"], png, "a.png", "image/png")
    ).json()
    deleted = await portal.delete(draft_only["href"], headers=staff)
    assert deleted.status_code == 204
    assert (await portal.get(draft_only["href"], headers=staff)).status_code == 404
    assert await _documents(session, cid) == (0, 0)
    assert (await portfolio(portal, staff, cid))["bytes_used"] == 0

    submitted_one = (await upload(portal, staff, cid, entries[0]["id"], pdf)).json()
    assert (await portal.post(f"/v1/candidates/{cid}/portfolio:submit", headers=staff)).is_success
    assert (await portal.delete(submitted_one["href"], headers=staff)).status_code == 204
    draft = await portfolio(portal, staff, cid)
    assert all(not e["documents"] for c in draft["competencies"] for e in c["evidence"])
    kept = await portal.get(submitted_one["href"], headers=staff)
    assert kept.status_code == 200 and kept.content == pdf
    assert (await portal.delete(submitted_one["href"], headers=staff)).status_code == 404


async def test_two_uploads_at_once_cannot_together_pass_the_portfolio_limit(
    live_app: FastAPI, live_client: AsyncClient, engine: AsyncEngine
) -> None:
    """Each upload fits alone, both do not: the total is checked again, under the
    portfolio's lock, when the bytes are in, so the later of the two commits is refused."""
    code, admin, _ = await committed_agency_with_keys(engine)
    pdf = files.pdf_bytes()
    document = pdf + bytes(512 * 1024)
    live_app.state.settings = live_app.state.settings.model_copy(
        update={"max_portfolio_bytes": len(document) * 3 // 2}
    )
    created = await live_client.post(
        "/v1/candidates", json={"agency": code, "external_id": "LIM-1", **person(1)}, headers=admin
    )
    cid = created.json()["id"]
    await portfolio(live_client, admin, cid)
    async with create_sessionmaker(engine)() as reading:
        indicators = await indicators_of(reading, cid, "leading-change")
    entry = await live_client.post(
        f"/v1/candidates/{cid}/portfolio/evidence",
        json={"competency": "leading-change", "title": "Scan", "indicators": indicators},
        headers=admin,
    )
    assert entry.status_code == 201, entry.text

    async def slowly() -> AsyncIterator[bytes]:
        for start in range(0, len(document), 64 * 1024):
            yield document[start : start + 64 * 1024]
            await asyncio.sleep(0.01)

    async def send() -> int:
        response = await upload(live_client, admin, cid, entry.json()["id"], slowly())
        return response.status_code

    assert sorted(await asyncio.gather(send(), send())) == [201, 413]
    assert (await portfolio(live_client, admin, cid))["bytes_used"] == len(document)


async def test_a_multipart_file_over_the_limit_is_refused_while_streaming(
    portal: AsyncClient, session: AsyncSession
) -> None:
    cid, staff = await ready_candidate(portal, session)
    entry = await add_entry(portal, session, staff, cid, "leading-change")
    sent = 0
    head = (
        b"--cut\r\n"
        b'Content-Disposition: form-data; name="file"; filename="scan.pdf"\r\n'
        b"Content-Type: application/pdf\r\n\r\n" + files.pdf_bytes()
    )

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        yield head
        while sent < 30 * MIB:
            sent += 64 * 1024
            yield bytes(64 * 1024)
        yield b"\r\n--cut--\r\n"

    refused = await portal.post(
        f"/v1/candidates/{cid}/portfolio/evidence/{entry['id']}/documents",
        content=body(),
        headers=staff | {"Content-Type": "multipart/form-data; boundary=cut"},
    )
    assert refused.status_code == 413, refused.text
    assert sent < 20 * MIB + 256 * 1024
    assert await _documents(session, cid) == (0, 0)
