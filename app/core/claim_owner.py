"""Whether the process holding an ``Idempotency-Key`` claim is still alive.

Every API process registers itself as a claim owner (a row with a random id) and renews the
row's ``heartbeat_at`` every ``HEARTBEAT_SECONDS``; each claim records its owner. A claim whose
owner has not beaten for ``DEAD_AFTER`` (by the database's clock, so hosts' clocks do not
matter) was abandoned: its process died (SIGKILL, OOM, a lost host) before it could store the
response or release the claim, and a retry may run the request again. A process that stops
cleanly deletes its row, so its unfinished claims (if any) are free at once.

The heartbeat runs on a thread with its own event loop and its own database connection, so a
busy event loop or an exhausted request pool never delays it: a live owner is never taken for
dead unless its whole process stalls (or cannot reach the database) for ``DEAD_AFTER``. Each
heartbeat is one short transaction, nothing session-scoped: it works behind PgBouncer in
transaction mode.
"""

import asyncio
import logging
import threading
import uuid
from datetime import datetime, timedelta

from sqlalchemy import delete, func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Base, create_engine
from app.core.settings import Settings

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 1.0
# Six missed beats: a claim is known dead at most seven seconds after its process died.
DEAD_AFTER = timedelta(seconds=6)
# Rows of owners gone this long are deleted (their claims read as dead either way).
FORGOTTEN_AFTER = timedelta(hours=1)
_CLEANUP_EVERY_BEATS = 300


class IdempotencyOwner(Base):
    """A process that may hold ``Idempotency-Key`` claims, alive while its heartbeat is fresh."""

    __tablename__ = "idempotency_owner"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(server_default=func.now())
    heartbeat_at: Mapped[datetime]


class ClaimOwner:
    """This process as a claim owner: ``start()`` registers it, ``stop()`` withdraws it."""

    def __init__(self, database_url: str, settings: Settings) -> None:
        self.id = uuid.uuid4()
        self._database_url = database_url
        self._settings = settings.model_copy(update={"db_pool_size": 1})
        self._stopping = threading.Event()
        self._registered = threading.Event()
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._beat()), name="idempotency-heartbeat", daemon=True
        )

    def start(self) -> None:
        """Start beating; returns once the first heartbeat is stored (or after the connect
        timeout, the heartbeat then retrying on its own)."""
        self._thread.start()
        self._registered.wait(self._settings.db_connect_timeout_seconds + 2 * HEARTBEAT_SECONDS)

    def stop(self) -> None:
        """Stop beating and delete this owner's row: its remaining claims are free at once."""
        self._stopping.set()
        self._thread.join(timeout=self._settings.db_command_timeout + 2 * HEARTBEAT_SECONDS)

    async def _beat(self) -> None:
        engine = create_engine(self._database_url, self._settings)
        failing = False
        beats = 0
        try:
            while not self._stopping.is_set():
                try:
                    async with engine.begin() as connection:
                        await connection.execute(
                            insert(IdempotencyOwner)
                            .values(id=self.id, heartbeat_at=func.now())
                            .on_conflict_do_update(
                                index_elements=[IdempotencyOwner.id],
                                set_={"heartbeat_at": func.now()},
                            )
                        )
                        if beats % _CLEANUP_EVERY_BEATS == 0:
                            await connection.execute(
                                delete(IdempotencyOwner).where(
                                    IdempotencyOwner.heartbeat_at < func.now() - FORGOTTEN_AFTER
                                )
                            )
                    beats += 1
                    self._registered.set()
                    if failing:
                        logger.warning("idempotency heartbeat restored")
                        failing = False
                except Exception as error:  # keep beating: the database may be back next time
                    if not failing:
                        logger.warning(
                            "idempotency heartbeat failed", extra={"error": type(error).__name__}
                        )
                        failing = True
                await asyncio.sleep(HEARTBEAT_SECONDS)
            try:
                async with engine.begin() as connection:
                    await connection.execute(
                        delete(IdempotencyOwner).where(IdempotencyOwner.id == self.id)
                    )
            except Exception as error:  # its claims then free themselves after DEAD_AFTER
                logger.warning(
                    "idempotency owner not withdrawn", extra={"error": type(error).__name__}
                )
        finally:
            await engine.dispose()
