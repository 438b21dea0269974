"""The background work of a service process (``cpro worker``, or inside ``cpro serve``):
webhook deliveries and the periodic sweeps. Assembled here, like the app in ``main``, so that
no area has to import another it should not depend on."""

import asyncio
import contextlib
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.candidates.service import record_lapsed_supplementals
from app.core.settings import Settings
from app.integrations.worker import run_worker
from app.privacy.service import sweep_all

logger = logging.getLogger(__name__)

SWEEP_SECONDS = 600.0
RETENTION_SWEEP_SECONDS = 3600.0


async def _sweep_lapsed_supplementals(
    sessionmaker: async_sessionmaker[AsyncSession], stop: asyncio.Event
) -> None:
    while not stop.is_set():
        try:
            async with sessionmaker() as session, session.begin():
                await record_lapsed_supplementals(session)
        except Exception:
            logger.exception("supplemental deadline sweep failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=SWEEP_SECONDS)


async def _sweep_retention(
    sessionmaker: async_sessionmaker[AsyncSession], retention_days: int, stop: asyncio.Event
) -> None:
    while not stop.is_set():
        try:
            await sweep_all(sessionmaker, retention_days)
        except Exception:
            logger.exception("retention sweep failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=RETENTION_SWEEP_SECONDS)


async def run_background(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    stop: asyncio.Event,
    *,
    concurrency: int = 4,
) -> None:
    await asyncio.gather(
        run_worker(sessionmaker, settings, stop, concurrency=concurrency),
        _sweep_lapsed_supplementals(sessionmaker, stop),
        *(
            [_sweep_retention(sessionmaker, settings.retention_days, stop)]
            if settings.retention_days
            else []
        ),
    )
