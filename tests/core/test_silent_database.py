"""A database connection that goes silent (the network path drops: nothing is refused or reset,
answers just stop coming) gets the request a 503 with Retry-After within
CPRO_DB_COMMAND_TIMEOUT_SECONDS, not a hang. The silence is a real TCP proxy in front of the
real PostgreSQL that starts swallowing every byte."""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from httpx import ASGITransport, AsyncClient
from sqlalchemy.engine import make_url

from app.core.database import create_engine, create_sessionmaker
from app.core.settings import Settings
from app.main import create_app

Connect = Callable[[], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


class SilenceableProxy:
    """Forwards TCP connections to PostgreSQL until ``silence()``; after it, bytes from either
    side are read and dropped, and nothing is ever closed."""

    def __init__(self, upstream: Connect) -> None:
        self.upstream = upstream
        self.silent = False
        self.tasks: set[asyncio.Task[None]] = set()

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        while data := await source.read(65536):
            if not self.silent:
                sink.write(data)
                await sink.drain()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await self.upstream()
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pump(source, sink))
            self.tasks.add(task)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[int]:
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        try:
            yield server.sockets[0].getsockname()[1]
        finally:
            for task in self.tasks:
                task.cancel()
            server.close()


def _upstream_of(database_url: str) -> tuple[Connect, str]:
    """How to reach the test database directly, and its URL with the proxy's host in."""
    url = make_url(database_url)
    socket_dir = url.query.get("host")
    if isinstance(socket_dir, str) and socket_dir.startswith("/"):
        path = str(Path(socket_dir) / f".s.PGSQL.{url.port or 5432}")

        async def connect() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
            return await asyncio.open_unix_connection(path)
    else:
        host, port = url.host or "127.0.0.1", url.port or 5432

        async def connect() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
            return await asyncio.open_connection(host, port)

    via_proxy = url.difference_update_query(["host"]).set(host="127.0.0.1", port=0)
    return connect, via_proxy.render_as_string(hide_password=False)


async def test_a_silent_database_connection_is_a_503_within_the_command_timeout(
    database_url: str, settings: Settings
) -> None:
    connect, template = _upstream_of(database_url)
    proxy = SilenceableProxy(connect)
    bounded = settings.model_copy(
        update={
            "db_command_timeout_seconds": 1.0,
            "db_connect_timeout_seconds": 1.0,
            "db_statement_timeout_ms": 500,
        }
    )
    async with proxy.running() as port:
        engine = create_engine(template.replace(":0/", f":{port}/"), bounded)
        app = create_app(bounded)
        app.state.engine = engine
        app.state.sessionmaker = create_sessionmaker(engine)
        transport = ASGITransport(app=app, raise_app_exceptions=False)
        try:
            async with AsyncClient(transport=transport, base_url="http://testserver") as client:
                search = "/v1/indicators?q=coaching"
                assert (await client.get(search)).status_code == 200
                proxy.silent = True
                started = time.monotonic()
                # A query text not seen before: PostgreSQL must rank it (seen ones are kept).
                answer = await asyncio.wait_for(
                    client.get("/v1/indicators?q=leadership"), timeout=30
                )
                waited = time.monotonic() - started
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(engine.dispose(close=False), timeout=5)
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert int(answer.headers["retry-after"]) > 0
    # Command timeout (1 s) for the query, then for the rollback, plus a reconnect attempt;
    # without the bound the request waits forever (the 30 s above fails the test).
    assert waited < 15, waited
