"""Portfolio documents: streamed in, checked by their own bytes, stored in PostgreSQL in
chunks, streamed out.

An upload is never held whole: each network chunk is hashed, sniffed and added to a
``CHUNK_BYTES`` buffer that is written as one row when full, so a process holds about one
chunk per upload whatever the file's size. The byte limits are checked as the bytes arrive
(413 at the first byte over, before the rest is read); the first bytes already rule out a
file of no accepted type (415 without reading on). Everything is in the request's
transaction, so a refused upload leaves no row behind, and a stored one commits with its
audit entry.
"""

import hashlib
import unicodedata
import uuid
from collections.abc import AsyncIterator, Callable
from email.message import Message
from typing import Annotated

from fastapi import Depends, Request
from python_multipart.multipart import MultipartParser
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit import service as audit
from app.audit.service import Actor
from app.candidates.models import Candidate
from app.core.database import utcnow
from app.core.errors import (
    BadRequest,
    FieldError,
    NotFound,
    PayloadTooLarge,
    UnprocessableEntity,
    UnsupportedMediaType,
)
from app.core.settings import Settings
from app.portfolios.models import (
    DocumentChunk,
    PortfolioDocument,
    PortfolioEvidence,
)
from app.portfolios.service import check_editable, in_a_submission, portfolio_of
from app.portfolios.sniffing import DocumentType, Sniffer

CHUNK_BYTES = 256 * 1024
MULTIPART_ALLOWANCE = 64 * 1024
"""Room for the part headers and boundaries around the file in a multipart body."""
RAW_DECLARED = frozenset({*(t.value for t in DocumentType), "application/octet-stream"})
FILE_FIELD = "file"
NOT_ACCEPTED = (
    "Only PDF, PNG, JPEG and DOCX documents are accepted, as their own bytes show "
    "(the file name and the declared type do not count)."
)


def _header_params(value: str) -> Message:
    message = Message()
    message["content-disposition"] = value
    return message


def clean_filename(raw: str | None, field: str) -> str:
    """The name as given, without any directory and control characters; 422 when none is
    left or it is longer than 255 characters."""
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip().strip(".")
    if not name:
        raise UnprocessableEntity(
            "The upload needs a file name.",
            errors=[FieldError(field=field, message="give the file name: filename=...")],
        )
    if len(name) > 255:
        raise UnprocessableEntity(
            "The file name is too long.",
            errors=[FieldError(field=field, message="at most 255 characters")],
        )
    return name


class _Sink:
    """Counts, hashes, sniffs and stores the document's bytes as they come."""

    def __init__(
        self, session: AsyncSession, document_id: uuid.UUID, limit: int, room: int
    ) -> None:
        self.session, self.document_id = session, document_id
        self.limit, self.room = limit, room
        self.sniffer = Sniffer()
        self.hash = hashlib.sha256()
        self.buffer = bytearray()
        self.chunks = 0

    async def write(self, data: bytes) -> None:
        if not data:
            return
        size = self.sniffer.size + len(data)
        if size > self.limit:
            raise PayloadTooLarge(
                f"The document exceeds {self.limit} bytes (CPRO_MAX_DOCUMENT_BYTES).",
                limit=self.limit,
            )
        if size > self.room:
            raise PayloadTooLarge(
                "The document does not fit in the candidate's portfolio: it has "
                f"{max(self.room, 0)} bytes left (CPRO_MAX_PORTFOLIO_BYTES).",
                limit=self.room,
            )
        self.sniffer.feed(data)
        if self.sniffer.early_verdict() is False:
            raise UnsupportedMediaType(NOT_ACCEPTED)
        self.hash.update(data)
        self.buffer += data
        while len(self.buffer) >= CHUNK_BYTES:
            await self._store(bytes(self.buffer[:CHUNK_BYTES]))
            del self.buffer[:CHUNK_BYTES]

    async def _store(self, data: bytes) -> None:
        await self.session.execute(
            insert(DocumentChunk).values(document_id=self.document_id, seq=self.chunks, data=data)
        )
        self.chunks += 1

    async def close(self) -> DocumentType:
        if self.buffer:
            await self._store(bytes(self.buffer))
            self.buffer.clear()
        if self.sniffer.size == 0:
            raise UnprocessableEntity(
                "The document is empty.",
                errors=[FieldError(field="body", message="no bytes were sent")],
            )
        kind = self.sniffer.verdict()
        if kind is None:
            raise UnsupportedMediaType(NOT_ACCEPTED)
        return kind


class _MultipartFile:
    """Feeds the ``file`` part of a multipart/form-data body to the sink, part data being
    handed over after each network chunk (the parser's callbacks cannot await)."""

    def __init__(self, boundary: str) -> None:
        self.pending: list[bytes] = []
        self.filename: str | None = None
        self.declared: str | None = None
        self.files = 0
        self._in_file = False
        self._headers: dict[str, str] = {}
        self._field = b""
        self._value = b""
        self.parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._part_begin,
                "on_header_field": self._header_field,
                "on_header_value": self._header_value,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
            },
        )

    def _part_begin(self) -> None:
        self._headers, self._in_file = {}, False

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._field.decode("latin-1").lower()] = self._value.decode(
            "utf-8", "replace"
        )
        self._field = self._value = b""

    def _headers_finished(self) -> None:
        disposition = _header_params(self._headers.get("content-disposition", ""))
        if disposition.get_param("name", header="content-disposition") == FILE_FIELD:
            self.files += 1
            self._in_file = self.files == 1
            if self._in_file:
                self.filename = disposition.get_filename()
                self.declared = self._headers.get("content-type")

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self.pending.append(bytes(data[start:end]))

    def _part_end(self) -> None:
        self._in_file = False

    def write(self, data: bytes) -> list[bytes]:
        try:
            self.parser.write(data)
        except Exception as exc:  # the parser's own error types differ between versions
            raise BadRequest("The multipart body is malformed.") from exc
        pending, self.pending = self.pending, []
        return pending


def _media_type(request: Request) -> tuple[str, Message]:
    raw = request.headers.get("content-type")
    if not raw:
        raise UnsupportedMediaType(
            "Send the file as the body with its Content-Type, or as multipart/form-data."
        )
    message = Message()
    message["content-type"] = raw
    return message.get_content_type(), message


def _check_declared(declared: str | None, kind: DocumentType) -> None:
    if declared and declared in {t.value for t in DocumentType} and declared != kind.value:
        raise UnsupportedMediaType(
            f"The body was declared {declared} but its bytes are {kind.value}."
        )


async def receive_document(
    session: AsyncSession,
    settings: Settings,
    request: Request,
    candidate: Candidate,
    evidence_id: uuid.UUID,
    actor: Actor,
) -> PortfolioDocument:
    """Store the request's document on the evidence entry (see the module docstring)."""
    media_type, content_type = _media_type(request)
    multipart: _MultipartFile | None = None
    filename: str | None = None
    declared: str | None = None
    if media_type == "multipart/form-data":
        boundary = content_type.get_param("boundary")
        if not isinstance(boundary, str) or not boundary:
            raise BadRequest("A multipart/form-data body needs a boundary parameter.")
        multipart = _MultipartFile(boundary)
    elif media_type in RAW_DECLARED:
        declared = media_type
        disposition = request.headers.get("content-disposition")
        filename = clean_filename(
            _header_params(disposition).get_filename() if disposition else None,
            "header.content-disposition",
        )
    else:
        raise UnsupportedMediaType(
            f"{media_type} is not accepted. {NOT_ACCEPTED} Send the file as the body "
            "(Content-Type: its type or application/octet-stream), or as multipart/form-data."
        )
    limit = settings.max_document_bytes
    declared_length = request.headers.get("content-length")
    if declared_length and declared_length.isdigit():
        allowance = MULTIPART_ALLOWANCE if multipart else 0
        if int(declared_length) > limit + allowance:
            raise PayloadTooLarge(
                f"The document exceeds {limit} bytes (CPRO_MAX_DOCUMENT_BYTES).", limit=limit
            )

    await check_editable(session, candidate)
    # Not locked while the bytes arrive (a slow client would hold up every other change to the
    # candidate's portfolio): the total is checked again under the lock at the end.
    portfolio = await portfolio_of(session, candidate)
    evidence = await session.scalar(
        select(PortfolioEvidence).where(
            PortfolioEvidence.id == evidence_id,
            PortfolioEvidence.candidate_id == candidate.id,
            PortfolioEvidence.withdrawn_at.is_(None),
        )
    )
    if evidence is None:
        raise NotFound("No evidence entry with that id in this portfolio.")
    now = utcnow()
    document = PortfolioDocument(
        id=uuid.uuid4(),
        candidate_id=candidate.id,
        evidence_id=evidence.id,
        filename=filename or "pending",
        media_type="application/octet-stream",
        size=0,
        sha256="",
        chunk_count=0,
        created_at=now,
    )
    session.add(document)
    await session.flush()
    sink = _Sink(session, document.id, limit, settings.max_portfolio_bytes - portfolio.bytes_used)
    async for data in request.stream():
        for piece in multipart.write(data) if multipart else [data]:
            await sink.write(piece)
    if multipart is not None:
        if multipart.files == 0:
            raise UnprocessableEntity(
                "The multipart body has no file.",
                errors=[FieldError(field=f"body.{FILE_FIELD}", message="field required")],
            )
        if multipart.files > 1:
            raise UnprocessableEntity(
                "Send one file per request.",
                errors=[FieldError(field=f"body.{FILE_FIELD}", message="more than one file")],
            )
        document.filename = clean_filename(multipart.filename, f"body.{FILE_FIELD}")
        declared = multipart.declared
    kind = await sink.close()
    _check_declared(declared, kind)
    await session.refresh(portfolio, with_for_update={"key_share": True})
    await check_editable(session, candidate)
    if portfolio.bytes_used + sink.sniffer.size > settings.max_portfolio_bytes:
        raise PayloadTooLarge(
            "The document does not fit in the candidate's portfolio (CPRO_MAX_PORTFOLIO_BYTES)."
        )
    document.media_type = kind.value
    document.size = sink.sniffer.size
    document.sha256 = sink.hash.hexdigest()
    document.chunk_count = sink.chunks
    portfolio.bytes_used += document.size
    portfolio.changed_at = evidence.updated_at = now
    await session.flush()
    await audit.record(
        session,
        actor,
        "portfolio.document.upload",
        "portfolio_document",
        document.id,
        after={
            "candidate_id": candidate.id,
            "evidence_id": evidence.id,
            "media_type": document.media_type,
            "size": document.size,
            "sha256": document.sha256,
        },
    )
    return document


async def stored_document(
    session: AsyncSession,
    candidate_id: uuid.UUID,
    evidence_id: uuid.UUID,
    document_id: uuid.UUID,
) -> PortfolioDocument:
    """A document of the candidate's (in the draft or only in a submitted snapshot)."""
    document = await session.scalar(
        select(PortfolioDocument).where(
            PortfolioDocument.id == document_id,
            PortfolioDocument.evidence_id == evidence_id,
            PortfolioDocument.candidate_id == candidate_id,
        )
    )
    if document is None:
        raise NotFound("No document with that id on this evidence entry.")
    if document.erased_at is not None:
        raise NotFound("The document's contents were erased at the candidate's request.")
    return document


async def delete_document(
    session: AsyncSession,
    candidate: Candidate,
    evidence_id: uuid.UUID,
    document_id: uuid.UUID,
    actor: Actor,
) -> None:
    """Remove a document from the draft: deleted, or kept (withdrawn) when a submission names
    it, so the snapshot still downloads."""
    await check_editable(session, candidate)
    portfolio = await portfolio_of(session, candidate, for_update=True)
    document = await session.scalar(
        select(PortfolioDocument).where(
            PortfolioDocument.id == document_id,
            PortfolioDocument.evidence_id == evidence_id,
            PortfolioDocument.candidate_id == candidate.id,
            PortfolioDocument.withdrawn_at.is_(None),
        )
    )
    if document is None:
        raise NotFound("No document with that id on this evidence entry.")
    now = utcnow()
    if await session.scalar(select(in_a_submission(documents=[{"id": str(document.id)}]))):
        document.withdrawn_at = now
    else:
        portfolio.bytes_used -= document.size
        await session.delete(document)
    portfolio.changed_at = now
    await session.flush()
    await audit.record(
        session,
        actor,
        "portfolio.document.delete",
        "portfolio_document",
        document_id,
        before={"candidate_id": candidate.id, "sha256": document.sha256},
    )


async def record_download(session: AsyncSession, actor: Actor, document: PortfolioDocument) -> None:
    await audit.record(
        session,
        actor,
        "portfolio.document.read",
        "portfolio_document",
        document.id,
        after={"candidate_id": document.candidate_id, "sha256": document.sha256},
    )


async def document_reader(request: Request) -> AsyncIterator[AsyncSession]:
    """A session that stays open while a download streams (the request's own unit of work
    commits, audit entry included, before the first byte leaves)."""
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with sessionmaker() as session:
        yield session


ReaderSession = Annotated[AsyncSession, Depends(document_reader)]


def chunks_of(
    session: AsyncSession, document_id: uuid.UUID, count: int
) -> Callable[[], AsyncIterator[bytes]]:
    """The document's bytes, one stored chunk at a time."""

    async def chunks() -> AsyncIterator[bytes]:
        for seq in range(count):
            data = await session.scalar(
                select(DocumentChunk.data).where(
                    DocumentChunk.document_id == document_id, DocumentChunk.seq == seq
                )
            )
            if data is None:  # erased between the check and the read
                return
            yield data

    return chunks
