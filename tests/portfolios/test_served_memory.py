"""A 20 MiB document through a real ``cpro serve`` process: up and down by digest, while the
server's resident memory is sampled. Streaming in chunk rows keeps it flat: the growth stays
well under the document's own size (a server that buffered the body, or the response, would
grow by at least 20 MiB)."""

import asyncio
import hashlib
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.database import create_sessionmaker
from app.frameworks.models import Competency, Indicator
from app.portfolios.models import Portfolio
from tests.factories import committed_agency_with_keys, person
from tests.portfolios import files
from tests.served import clean_env, served

MIB = 1024 * 1024
DOCUMENT = 20 * MIB
# Headroom for the allocator, asyncpg's buffers and one 256 KiB chunk in flight: a quarter of
# the document. Buffering it whole (request or response) would need all of it, and more.
FLAT = DOCUMENT // 4


def _server_process(base: str) -> psutil.Process:
    port = base.rsplit(":", 1)[1]
    for process in psutil.Process().children(recursive=True):
        if "serve" in process.cmdline() and port in process.cmdline():
            return process
    raise AssertionError("the cpro serve process was not found")


@contextmanager
def peak_rss(process: psutil.Process) -> Iterator[dict[str, int]]:
    """Samples the process's RSS every 5 ms while the block runs."""
    seen = {"start": process.memory_info().rss, "peak": 0}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            seen["peak"] = max(seen["peak"], process.memory_info().rss)
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield seen
    finally:
        stop.set()
        sampler.join()


async def test_a_20_mib_upload_and_download_keep_the_server_memory_flat(
    tmp_path: Path, database_url: str, engine: AsyncEngine
) -> None:
    code, admin, _ = await committed_agency_with_keys(engine)
    env = clean_env(
        CPRO_DATABASE_URL=database_url,
        CPRO_DATA_DIR=str(tmp_path / "data"),
        CPRO_RUN_WORKER="false",
        CPRO_RATE_LIMIT_ANONYMOUS="0",
        CPRO_RATE_LIMIT_KEY="0",
        CPRO_LOG_LEVEL="WARNING",
    )
    pdf = files.pdf_bytes()
    document = pdf + bytes(range(256)) * ((DOCUMENT - len(pdf)) // 256)
    document += bytes(DOCUMENT - len(document))
    digest = hashlib.sha256(document).hexdigest()

    async def body() -> AsyncIterator[bytes]:
        for start in range(0, DOCUMENT, 64 * 1024):
            yield document[start : start + 64 * 1024]
            await asyncio.sleep(0)

    with served(env, tmp_path) as base:
        server = _server_process(base)
        async with AsyncClient(base_url=base, timeout=120) as client:
            created = await client.post(
                "/v1/candidates",
                json={"agency": code, "external_id": "RSS-1", **person(1)},
                headers=admin,
            )
            assert created.status_code == 201, created.text
            cid = created.json()["id"]
            assert (await client.get(f"/v1/candidates/{cid}/portfolio", headers=admin)).is_success
            async with create_sessionmaker(engine)() as session:
                version = await session.scalar(
                    select(Portfolio.framework_version_id).where(Portfolio.candidate_id == cid)
                )
                indicator = await session.scalar(
                    select(Indicator.id)
                    .join(Competency, Competency.id == Indicator.competency_id)
                    .where(Competency.version_id == version, Competency.code == "leading-change")
                    .limit(1)
                )
            entry = await client.post(
                f"/v1/candidates/{cid}/portfolio/evidence",
                json={
                    "competency": "leading-change",
                    "title": "Big scan",
                    "indicators": [indicator],
                },
                headers=admin,
            )
            assert entry.status_code == 201, entry.text
            path = f"/v1/candidates/{cid}/portfolio/evidence/{entry.json()['id']}/documents"
            # Warm-up: first use of the route, its imports and its statements.
            small = await client.post(
                path,
                content=pdf,
                headers=admin
                | {
                    "Content-Type": "application/pdf",
                    "Content-Disposition": "attachment; filename=a.pdf",
                },
            )
            assert small.status_code == 201, small.text
            await client.get(small.json()["href"], headers=admin)

            with peak_rss(server) as up:
                stored = await client.post(
                    path,
                    content=body(),
                    headers=admin
                    | {
                        "Content-Type": "application/pdf",
                        "Content-Disposition": 'attachment; filename="scan.pdf"',
                    },
                )
            assert stored.status_code == 201, stored.text
            assert stored.json()["sha256"] == digest

            with peak_rss(server) as down:
                received = hashlib.sha256()
                size = 0
                async with client.stream("GET", stored.json()["href"], headers=admin) as response:
                    assert response.status_code == 200
                    async for piece in response.aiter_bytes():
                        received.update(piece)
                        size += len(piece)
            assert (size, received.hexdigest()) == (DOCUMENT, digest)

    grew_up = up["peak"] - up["start"]
    grew_down = down["peak"] - down["start"]
    print(
        f"server RSS: {up['start'] / MIB:.1f} MiB before the upload, +{grew_up / MIB:.2f} MiB at "
        f"its peak during the 20 MiB upload, +{grew_down / MIB:.2f} MiB during the download"
    )
    assert grew_up < FLAT, f"upload grew the server by {grew_up / MIB:.1f} MiB"
    assert grew_down < FLAT, f"download grew the server by {grew_down / MIB:.1f} MiB"
