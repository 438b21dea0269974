"""Portfolio routes: the template, evidence entries, documents, submission."""

import re
import uuid
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Header, Request, Response, status
from fastapi.responses import StreamingResponse
from starlette.types import Scope

from app.auth.dependencies import Allow
from app.auth.roles import Role
from app.auth.service import Caller
from app.candidates.service import actor_of
from app.core.database import Session
from app.core.errors import NotFound, problem_responses
from app.core.settings import Settings
from app.portfolios import documents, service
from app.portfolios import submission as submissions
from app.portfolios.access import WRITERS, portfolio_access
from app.portfolios.schemas import (
    DocumentOut,
    EvidenceIn,
    EvidenceOut,
    EvidencePatch,
    PortfolioOut,
    SubmissionOut,
)
from app.portfolios.sniffing import DocumentType
from app.portfolios.views import document_out, evidence_out, portfolio_out, submission_out

router = APIRouter(prefix="/v1", tags=["Portfolios"])

# Every role reaches the reads; who sees what is decided per candidate (app/portfolios/access),
# and whoever may not is told the candidate is not there.
Reader = Annotated[Caller, Depends(Allow(*Role))]
Writer = Annotated[Caller, Depends(Allow(*WRITERS))]


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


AppSettings = Annotated[Settings, Depends(_settings)]

_UPLOAD_PATH = re.compile(r"^/v1/candidates/[^/]+/portfolio/evidence/[^/]+/documents/?$")


def document_upload_limit(scope: Scope) -> int | None:
    """For the body-size middleware: an upload's ceiling is the document limit (plus room
    for multipart framing) instead of the 1 MiB every other route has."""
    if scope.get("method") == "POST" and _UPLOAD_PATH.match(scope.get("path", "")):
        settings: Settings = scope["app"].state.settings
        return settings.max_document_bytes + documents.MULTIPART_ALLOWANCE
    return None


@router.get(
    "/candidates/{candidate_id}/portfolio",
    responses=problem_responses(401, 404),
    summary="Get the portfolio (the CPro template, filled in)",
)
async def get_portfolio(
    candidate_id: uuid.UUID, session: Session, caller: Reader, settings: AppSettings
) -> PortfolioOut:
    """The CPro portfolio template for the framework version the candidate is assessed on
    (the version of their latest round; before any round, the current CSC version): per
    competency its evidence entries with the indicators they claim and their documents, and
    the coverage: `required_competencies` (all five, or in a supplemental round only the
    failed ones) and `uncovered` (required ones without evidence). `submissions` lists every
    frozen snapshot.

    Who sees it: the candidate (portal token), staff and admin; an assessor while assigned to
    an unreleased round of the candidate; the candidate's own agency sees titles only
    (`documents_visible: false`, no descriptions, no documents). Anyone else: 404."""
    access = await portfolio_access(session, caller, candidate_id)
    return await portfolio_out(session, access, settings)


@router.post(
    "/candidates/{candidate_id}/portfolio/evidence",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Add an evidence entry",
)
async def add_portfolio_evidence(
    candidate_id: uuid.UUID, body: EvidenceIn, session: Session, caller: Writer
) -> EvidenceOut:
    """A piece of work the candidate did, the competency it demonstrates and the behavioural
    indicators (ids from the portfolio's framework version, of that competency) it claims;
    422 naming each indicator that is not. By the candidate (portal token) or staff. While the
    submitted portfolio is under review in an unreleased round: 409."""
    access = await portfolio_access(session, caller, candidate_id, write=True)
    evidence = await service.add_evidence(
        session, access.candidate, body.model_dump(), actor_of(caller)
    )
    return evidence_out(evidence, [], documents_visible=True)


@router.patch(
    "/candidates/{candidate_id}/portfolio/evidence/{evidence_id}",
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Change an evidence entry",
)
async def patch_portfolio_evidence(
    candidate_id: uuid.UUID,
    evidence_id: uuid.UUID,
    body: EvidencePatch,
    session: Session,
    caller: Writer,
) -> EvidenceOut:
    """Only the fields sent change (`description` and `period` may be set to null). A
    submitted snapshot never changes: editing makes the portfolio a `draft` again."""
    access = await portfolio_access(session, caller, candidate_id, write=True)
    evidence = await service.patch_evidence(
        session,
        access.candidate,
        evidence_id,
        body.model_dump(exclude_unset=True),
        actor_of(caller),
    )
    by_evidence = await service.draft_documents(session, [evidence.id])
    return evidence_out(evidence, by_evidence[evidence.id], documents_visible=True)


@router.delete(
    "/candidates/{candidate_id}/portfolio/evidence/{evidence_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403, 404, 409),
    summary="Remove an evidence entry",
)
async def delete_portfolio_evidence(
    candidate_id: uuid.UUID, evidence_id: uuid.UUID, session: Session, caller: Writer
) -> Response:
    """Removes the entry and its documents from the draft. An entry a submission includes
    stays readable through that submission (its documents still download); only the draft
    forgets it."""
    access = await portfolio_access(session, caller, candidate_id, write=True)
    await service.delete_evidence(session, access.candidate, evidence_id, actor_of(caller))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


_PDF_EXAMPLE = "%PDF-1.7\n... (the file's bytes)"
_UPLOAD_BODY: dict[str, Any] = {
    "required": True,
    "description": "The document: PDF, PNG, JPEG or DOCX, **decided by the file's own bytes** "
    "(a renamed executable is a 415; a declared type that disagrees with the bytes too). "
    "At most `CPRO_MAX_DOCUMENT_BYTES` (default 20 MiB = 20971520 bytes; larger: 413, as "
    "soon as the limit is passed), and the candidate's documents together at most "
    "`CPRO_MAX_PORTFOLIO_BYTES` (default 200 MiB). Either the file as the body, with its "
    "`Content-Type` (or `application/octet-stream`) and `Content-Disposition: attachment; "
    "filename=\"...\"` (RFC 6266, `filename*=UTF-8''...` for non-ASCII names), or "
    "`multipart/form-data` with the file in the part named `file`.",
    "content": {
        # Listed first: the type a client that cannot tell the file's type sends (and the one
        # generic tools generate bodies for).
        "application/octet-stream": {
            "schema": {"type": "string", "format": "binary", "maxLength": 20_971_520},
            "example": _PDF_EXAMPLE,
        },
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {"type": "string", "format": "binary", "maxLength": 20_971_520}
                },
            },
            "encoding": {"file": {"contentType": ", ".join(k.value for k in DocumentType)}},
        },
        **{
            kind.value: {"schema": {"type": "string", "format": "binary", "maxLength": 20_971_520}}
            for kind in DocumentType
        },
    },
}


@router.post(
    "/candidates/{candidate_id}/portfolio/evidence/{evidence_id}/documents",
    status_code=status.HTTP_201_CREATED,
    responses={
        201: {
            "description": "Stored: its digest, size and type as the bytes showed.",
            "headers": {
                "Location": {
                    "description": "Where the document downloads.",
                    "schema": {"type": "string", "maxLength": 256},
                }
            },
        },
        **problem_responses(400, 401, 403, 404, 409, 413, 415, 422),
    },
    summary="Upload a document to an evidence entry",
    openapi_extra={
        "requestBody": _UPLOAD_BODY,
        "parameters": [
            {
                "name": "Content-Disposition",
                "in": "header",
                "required": False,
                "description": 'For a raw body: `attachment; filename="change-plan.pdf"` '
                "(required then; a multipart part carries its own).",
                "schema": {"type": "string", "maxLength": 1024},
                "example": 'attachment; filename="change-plan.pdf"',
            }
        ],
    },
)
async def upload_portfolio_document(
    candidate_id: uuid.UUID,
    evidence_id: uuid.UUID,
    request: Request,
    response: Response,
    session: Session,
    caller: Writer,
    settings: AppSettings,
) -> DocumentOut:
    """Streams the document into the database with its SHA-256 and size, in the same
    transaction as its audit entry; the service never holds the whole file in memory. The
    answer gives the digest to check against, and `Location` where to download it. By the
    candidate (portal token) or staff, while the portfolio is editable (409 while under
    review). This route alone accepts bodies over 1 MiB."""
    access = await portfolio_access(session, caller, candidate_id, write=True)
    document = await documents.receive_document(
        session, settings, request, access.candidate, evidence_id, actor_of(caller)
    )
    out = document_out(document)
    response.headers["Location"] = out.href
    return out


_DOWNLOAD_CONTENT = {
    kind.value: {"schema": {"type": "string", "format": "binary"}} for kind in DocumentType
}


@router.get(
    "/candidates/{candidate_id}/portfolio/evidence/{evidence_id}/documents/{document_id}",
    responses={
        200: {
            "description": "The document's bytes, with its type, `Content-Disposition: "
            "attachment`, `ETag` (its SHA-256) and `X-Content-Type-Options: nosniff`.",
            "content": _DOWNLOAD_CONTENT,
            "headers": {
                "ETag": {
                    "description": "The SHA-256 of the bytes, quoted.",
                    "schema": {"type": "string", "maxLength": 66},
                },
                "Content-Disposition": {
                    "description": "`attachment; filename=\"...\"; filename*=UTF-8''...`",
                    "schema": {"type": "string", "maxLength": 1024},
                },
                "X-Content-Type-Options": {
                    "description": "`nosniff`: browsers keep to the stated type.",
                    "schema": {"type": "string", "enum": ["nosniff"]},
                },
            },
        },
        304: {"description": "`If-None-Match` matched: the copy you have is current."},
        **problem_responses(401, 404),
    },
    response_class=StreamingResponse,
    summary="Download a document",
)
async def download_portfolio_document(
    candidate_id: uuid.UUID,
    evidence_id: uuid.UUID,
    document_id: uuid.UUID,
    session: Session,
    reader: documents.ReaderSession,
    caller: Reader,
    if_none_match: Annotated[str | None, Header(max_length=1024)] = None,
) -> Response:
    """The document as uploaded (also one a submitted snapshot names after it left the
    draft). The candidate, staff, admin, and an assessor while assigned to an unreleased
    round of the candidate; agencies never (404), nor anyone else. Every download is in the
    audit trail."""
    access = await portfolio_access(session, caller, candidate_id)
    document = await documents.stored_document(session, candidate_id, evidence_id, document_id)
    if not access.documents:
        raise NotFound("Documents are not shown to agency keys.")
    etag = f'"{document.sha256}"'
    headers = {
        "ETag": etag,
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-cache",
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }
    if if_none_match and etag in {tag.strip() for tag in if_none_match.split(",")}:
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    await documents.record_download(session, actor_of(caller), document)
    assert document.filename is not None
    ascii_name = document.filename.encode("ascii", "replace").decode().replace('"', "'")
    headers["Content-Disposition"] = (
        f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(document.filename)}"
    )
    headers["Content-Length"] = str(document.size)
    return StreamingResponse(
        documents.chunks_of(reader, document.id, document.chunk_count)(),
        media_type=document.media_type,
        headers=headers,
    )


@router.delete(
    "/candidates/{candidate_id}/portfolio/evidence/{evidence_id}/documents/{document_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403, 404, 409),
    summary="Remove a document from an evidence entry",
)
async def delete_portfolio_document(
    candidate_id: uuid.UUID,
    evidence_id: uuid.UUID,
    document_id: uuid.UUID,
    session: Session,
    caller: Writer,
) -> Response:
    """Removes the document from the draft (its bytes are deleted unless a submission names
    it; then it stays downloadable through that submission). By the candidate or staff, while
    the portfolio is editable."""
    access = await portfolio_access(session, caller, candidate_id, write=True)
    await documents.delete_document(
        session, access.candidate, evidence_id, document_id, actor_of(caller)
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/candidates/{candidate_id}/portfolio:submit",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Submit the portfolio",
)
async def submit_portfolio(
    candidate_id: uuid.UUID, session: Session, caller: Writer
) -> SubmissionOut:
    """Freezes the draft into an immutable, numbered snapshot: entries, indicator claims and
    each document's SHA-256. Refused with 422 when a required competency has no evidence: the
    problem's `uncovered` lists them (and `errors` names each, `portfolio.competencies.<code>`).
    In a supplemental round only the failed competencies are required.

    The round that scores `portfolio_review` names the snapshot it reviews: an open round
    without one takes this one; a round opened later takes the latest snapshot no other round
    reviewed. Editing afterwards makes a new draft; the snapshot never changes."""
    access = await portfolio_access(session, caller, candidate_id, write=True)
    submission = await submissions.submit(session, access.candidate, actor_of(caller))
    return await submission_out(session, submission, documents_visible=True)


@router.get(
    "/candidates/{candidate_id}/portfolio/submissions/{submission_id}",
    responses=problem_responses(401, 404),
    summary="Get a submitted portfolio snapshot",
)
async def get_portfolio_submission(
    candidate_id: uuid.UUID, submission_id: uuid.UUID, session: Session, caller: Reader
) -> SubmissionOut:
    """Exactly what was submitted, as the assessors review it, with `digest` (SHA-256 of the
    entries) and each document's SHA-256. Who sees it: as for the portfolio (agencies get
    titles only)."""
    access = await portfolio_access(session, caller, candidate_id)
    submission = await submissions.get_submission(session, candidate_id, submission_id)
    return await submission_out(session, submission, documents_visible=access.documents)
