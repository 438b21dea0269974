"""Writing and reading the audit trail.

Services call ``record`` in the same transaction as the change it describes, so an audited
change and its audit entry commit or roll back together. Entries are found by the id of the
entity they are about (a candidate, an assessment, a certificate serial, a key, ...).
"""

import enum
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol, cast

from sqlalchemy import Select, Table, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEntry
from app.core import bulk
from app.core.logging import request_id_var


class Identified(Protocol):
    """Anything that says who is acting: the request's ``Caller`` (an API key) satisfies it."""

    @property
    def key_id(self) -> uuid.UUID | None: ...

    @property
    def name(self) -> str: ...

    @property
    def subject(self) -> str | None: ...


@dataclass(frozen=True)
class Actor:
    """Who did something: an API key (id and name), a token subject, or the service itself."""

    key_id: uuid.UUID | None
    name: str
    subject: str | None = None

    @classmethod
    def of(cls, who: Identified | None) -> "Actor":
        if who is None:
            return SYSTEM
        if isinstance(who, Actor):
            return who
        return cls(key_id=who.key_id, name=who.name, subject=who.subject)

    @property
    def label(self) -> str:
        """The short text other records (history, events, score changes) keep as "who"."""
        if self.key_id is not None:
            return f"{self.name} (key {self.key_id})"
        if self.subject is not None:
            return f"{self.name} (token {self.subject})"
        return self.name


SYSTEM = Actor(key_id=None, name="system")


_AS_IS = frozenset({str, int, float, bool, type(None)})


def jsonable(value: Any) -> Any:
    """Values as JSON keeps them: decimals as strings (exact), times as ISO 8601."""
    if type(value) in _AS_IS:  # most values: no isinstance chain (Mapping's is slow)
        return value
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return value


def _row(
    actor: Identified | None,
    operation: str,
    entity: str,
    entity_id: object,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
) -> dict[str, Any]:
    who = Actor.of(actor)
    return {
        "actor_key_id": who.key_id,
        "actor_subject": who.subject,
        "actor_name": who.name,
        "operation": operation,
        "entity_type": entity,
        "entity_id": str(entity_id),
        "before": jsonable(before) if before is not None else None,
        "after": jsonable(after) if after is not None else None,
        "request_id": request_id_var.get(),
    }


async def record(
    session: AsyncSession,
    actor: Identified | None,
    operation: str,
    entity: str,
    entity_id: object,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> None:
    """Append one entry: ``actor`` (None: the service itself) did ``operation`` on ``entity``
    ``entity_id``; for changes, the changed fields ``before`` and ``after``."""
    await session.execute(
        insert(AuditEntry), [_row(actor, operation, entity, entity_id, before, after)]
    )


AuditChange = tuple[str, str, object, Mapping[str, Any] | None, Mapping[str, Any] | None]
"""(operation, entity, entity_id, before, after), as ``record`` takes them."""


async def record_many(
    session: AsyncSession, actor: Identified | None, entries: Iterable[AuditChange]
) -> None:
    """``record`` for many entries in one statement (a batch sync writes a thousand)."""
    rows = [_row(actor, *entry) for entry in entries]
    if rows:
        # On the table: the ORM's bulk path costs per row and adds nothing to plain dicts.
        await session.execute(insert(cast(Table, AuditEntry.__table__)), rows)


async def record_reads(
    session: AsyncSession, actor: Identified | None, entity: str, entity_ids: Iterable[object]
) -> None:
    """One ``read`` entry per entity whose personal data the caller received; no values."""
    rows = [_row(actor, "read", entity, entity_id, None, None) for entity_id in entity_ids]
    if rows:
        await session.execute(insert(AuditEntry), rows)


def changes(
    before: Mapping[str, Any], after: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the fields whose value differs, as (before, after)."""
    names = [name for name in after if before.get(name) != after[name]]
    return {n: before.get(n) for n in names}, {n: after[n] for n in names}


def search(
    *,
    entity_id: str | None,
    actor: str | None,
    start: datetime | None,
    end: datetime | None,
) -> Select[AuditEntry]:
    """Entries matching every filter given; ``actor`` is a key id, a token subject or a name."""
    statement = select(AuditEntry)
    if entity_id is not None:
        statement = statement.where(AuditEntry.entity_id == entity_id)
    if actor is not None:
        try:
            key_id = uuid.UUID(actor)
        except ValueError:
            statement = statement.where(
                or_(AuditEntry.actor_subject == actor, AuditEntry.actor_name == actor)
            )
        else:
            statement = statement.where(AuditEntry.actor_key_id == key_id)
    if start is not None:
        statement = statement.where(AuditEntry.at >= start)
    if end is not None:
        statement = statement.where(AuditEntry.at < end)
    return statement


async def entries_about(session: AsyncSession, entity_ids: Iterable[object]) -> list[AuditEntry]:
    ids = [str(i) for i in entity_ids]
    return list(
        (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.entity_id.in_(ids)).order_by(AuditEntry.id)
            )
        ).all()
    )


@dataclass(frozen=True)
class PreparedEntries:
    """``record_many``'s rows made ahead, values encoded, as ``record_prepared`` writes them."""

    rows: bulk.EncodedRows


def prepare_many(actor: Identified | None, entries: Iterable[AuditChange]) -> PreparedEntries:
    """The rows of ``entries`` (in order), encoded: pure work, so that a cohort's thousands
    can be made in a worker thread (the request id is the calling context's)."""
    rows = [_row(actor, *entry) for entry in entries]
    return PreparedEntries(bulk.encode_rows(rows))


async def record_prepared(session: AsyncSession, prepared: PreparedEntries) -> None:
    """``record_many`` for entries made by ``prepare_many``: one set-based statement."""
    await bulk.insert_rows(session, cast(Table, AuditEntry.__table__), prepared.rows)
