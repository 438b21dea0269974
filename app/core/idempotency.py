"""``Idempotency-Key`` for every POST (IETF httpapi idempotency-key draft; Stripe's semantics).

The first request with a key runs and its response is stored for 24 hours; a retry with the
same key and the same body gets the stored response again (marked ``Idempotent-Replayed:
true``); the same key with another body is a 422; a retry while the first is still running is a
409. Keys are scoped to the caller's credentials, so one caller never sees another's response.
Responses with status 5xx are not stored: the retry runs again.

A claim (a record without a response yet) names the process that holds it; once that process
is known dead (``app.core.claim_owner``: no heartbeat for six seconds), a retry takes the
claim over and runs the request, so a crash costs a retrying client seconds, not a minute.
"""

import hashlib
import re
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, Text, delete, exists, func, select, update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.claim_owner import DEAD_AFTER, ClaimOwner, IdempotencyOwner
from app.core.database import Base, utcnow
from app.core.errors import problem_response

HEADER = b"idempotency-key"
RETENTION = timedelta(hours=24)
# A claim without an owner (made by an app whose lifespan never ran, or before owners were
# recorded) still "in progress" after this long was lost; a retry may then run again.
UNOWNED_ABANDONED_AFTER = timedelta(seconds=60)
_REPLAYED_HEADERS = {"content-type", "etag", "location"}


class IdempotencyRecord(Base):
    """A POST's response, kept for 24 hours so that a retry with the same key replays it."""

    __tablename__ = "idempotency_record"

    caller: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(Text)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None]
    response_headers: Mapped[dict[str, str] | None] = mapped_column(JSONB)
    response_body: Mapped[bytes | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(index=True)
    owner: Mapped[uuid.UUID | None]
    """The ``IdempotencyOwner`` (process) that ran, or is running, the first request."""


def _abandoned() -> Any:
    """The claim's request will never finish: its owner is dead (or, unowned, it is old)."""
    owner_alive = exists().where(
        IdempotencyOwner.id == IdempotencyRecord.owner,
        IdempotencyOwner.heartbeat_at > func.now() - DEAD_AFTER,
    )
    unowned_and_old = IdempotencyRecord.owner.is_(None) & (
        IdempotencyRecord.created_at < func.now() - UNOWNED_ABANDONED_AFTER
    )
    return IdempotencyRecord.status_code.is_(None) & (
        unowned_and_old | (IdempotencyRecord.owner.is_not(None) & ~owner_alive)
    )


# As the contract documents it: visible ASCII (a UUID, a hash, a counter), no spaces.
_KEY = re.compile(r"[!-~]{1,255}")


def _caller_scope(scope: Scope) -> str:
    authorization = dict(scope["headers"]).get(b"authorization", b"")
    return hashlib.sha256(b"caller:" + authorization).hexdigest()


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        sent = dict(scope["headers"])
        raw_key = sent.get(HEADER)
        # Without a key the route answers 401 whatever was sent before: every POST needs one, and
        # anonymous callers would otherwise share one replay scope.
        if raw_key is None or b"authorization" not in sent:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        key = raw_key.decode("latin-1").strip()
        if not _KEY.fullmatch(key):
            response = problem_response(
                request,
                status=400,
                slug="bad-idempotency-key",
                title="Bad Idempotency-Key",
                detail="The Idempotency-Key header must be 1 to 255 visible ASCII characters.",
            )
            await response(scope, receive, send)
            return

        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        fingerprint = hashlib.sha256(
            scope["method"].encode()
            + b" "
            + scope["path"].encode()
            + b"?"
            + scope.get("query_string", b"")
            + b"\n"
            + body
        ).hexdigest()
        caller = _caller_scope(scope)
        sessionmaker: async_sessionmaker[AsyncSession] = scope["app"].state.sessionmaker
        claim_owner: ClaimOwner | None = getattr(scope["app"].state, "claim_owner", None)
        owner = claim_owner.id if claim_owner is not None else None

        claimed, record = await self._claim(sessionmaker, caller, key, scope, fingerprint, owner)
        if not claimed:
            assert record is not None
            await self._answer_existing(request, record, fingerprint, scope, receive, send)
            return

        sent_body = False

        async def replay_receive() -> Message:
            nonlocal sent_body
            if not sent_body:
                sent_body = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        status = 500
        headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []

        held: list[Message] = []
        finished = False

        async def capture(message: Message) -> None:
            nonlocal status, headers, finished
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                held.append(message)
                return
            if message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                held.append(message)
                if not message.get("more_body", False):
                    # Stored before the client hears it: an answer a client has seen is always
                    # replayed, even if the process dies right after sending it.
                    await self._finish(
                        sessionmaker, caller, key, owner, status, headers, b"".join(chunks)
                    )
                    finished = True
                    for held_message in held:
                        await send(held_message)
                    held.clear()
                return
            await send(message)

        try:
            await self.app(scope, replay_receive, capture)
        finally:
            if not finished:
                await self._finish(
                    sessionmaker, caller, key, owner, status, headers, b"".join(chunks)
                )

    async def _claim(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        caller: str,
        key: str,
        scope: Scope,
        fingerprint: str,
        owner: uuid.UUID | None,
    ) -> tuple[bool, IdempotencyRecord | None]:
        now = utcnow()
        async with sessionmaker() as session, session.begin():
            await session.execute(
                delete(IdempotencyRecord).where(
                    IdempotencyRecord.caller == caller,
                    IdempotencyRecord.key == key,
                    (IdempotencyRecord.expires_at < now) | _abandoned(),
                )
            )
            inserted = await session.scalar(
                insert(IdempotencyRecord)
                .values(
                    caller=caller,
                    key=key,
                    method=scope["method"],
                    path=scope["path"],
                    request_hash=fingerprint,
                    created_at=now,
                    expires_at=now + RETENTION,
                    owner=owner,
                )
                .on_conflict_do_nothing()
                .returning(IdempotencyRecord.key)
            )
            if inserted is not None:
                return True, None
            record = await session.scalar(
                select(IdempotencyRecord).where(
                    IdempotencyRecord.caller == caller, IdempotencyRecord.key == key
                )
            )
            return False, record

    async def _answer_existing(
        self,
        request: Request,
        record: IdempotencyRecord,
        fingerprint: str,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        response: Response
        if record.request_hash != fingerprint:
            response = problem_response(
                request,
                status=422,
                slug="idempotency-key-reused",
                title="Idempotency-Key reused",
                detail="This Idempotency-Key was used with a different request; use a new key.",
            )
        elif record.status_code is None:
            response = problem_response(
                request,
                status=409,
                slug="idempotency-key-in-progress",
                title="Request in progress",
                detail="A request with this Idempotency-Key is still being processed; retry shortly.",
                headers={"Retry-After": "1"},
            )
        else:
            headers: dict[str, Any] = dict(record.response_headers or {})
            headers["Idempotent-Replayed"] = "true"
            response = Response(
                content=record.response_body or b"",
                status_code=record.status_code,
                headers=headers,
            )
        await response(scope, receive, send)

    async def _finish(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        caller: str,
        key: str,
        owner: uuid.UUID | None,
        status: int,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
    ) -> None:
        # Only this claim: had it been taken over (its owner wrongly thought dead), the record
        # is the new owner's to finish.
        where = (
            (IdempotencyRecord.caller == caller)
            & (IdempotencyRecord.key == key)
            & IdempotencyRecord.owner.is_not_distinct_from(owner)
            & IdempotencyRecord.status_code.is_(None)
        )
        async with sessionmaker() as session, session.begin():
            if status >= 500:
                await session.execute(delete(IdempotencyRecord).where(where))
                return
            kept = {
                name.decode("latin-1"): value.decode("latin-1")
                for name, value in headers
                if name.decode("latin-1").lower() in _REPLAYED_HEADERS
            }
            await session.execute(
                update(IdempotencyRecord)
                .where(where)
                .values(status_code=status, response_headers=kept, response_body=body)
            )
