"""Bulk requests served by a worker process of their own, beside each API process.

A batch of a thousand candidates or a cohort's release is mostly Python work (parsing,
validating, deciding, encoding rows and answers). In the API process it holds the interpreter
lock that every other request needs, whether it runs on the event loop or in a thread: portal
reads during an HRIS sync and a release (the benchmark's mixed scenario) waited p50 110 ms,
p99 230-343 ms. The same load with the bulk requests served by a second process on the same
database: p50 37 ms, p99 90-124 ms, and the sync and the release themselves ran 20-30% faster
(README, Benchmark, issue 15 third session).

So ``cpro serve`` starts worker processes beside each API process (``CPRO_BULK_PROCESS``,
``CPRO_BULK_WORKERS``, two by default: a release is bound by its Python work, and two
requests in two processes use both cores: 10,000 rounds 4.6-5.4 s with one, 3.0-4.0 s with
two), each listening on a Unix socket only its user can reach, and the API process hands the
bulk requests of callers with a live key it admitted (after request id, rate limits and the
bulk lane's turn) to the one with the fewest in hand, body streamed in, answer streamed out.
The access line and metrics stay with the API process, under the route's template. A worker
that exits is restarted after a growing pause; while none is ready, the API process serves
bulk requests itself, as it always could. A worker exits when its API process does, even one
killed outright: it watches a pipe from it.
"""

import asyncio
import contextlib
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator, Iterable, Sequence
from pathlib import Path

import httpx
from starlette.requests import Request
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

from app.core.bulk_lane import BULK_SUFFIXES, CREDENTIALS_CHECKED, is_bulk
from app.core.errors import BadRequest, ServiceUnavailable, problem_response
from app.core.metrics import BULK_SERVED_BY, MULTIPROCESS_ENV

logger = logging.getLogger(__name__)

# The worker's own settings: what the API process in front of it does already.
_WORKER_SETTINGS = {
    "CPRO_BULK_PROCESS": "false",
    "CPRO_RUN_WORKER": "false",
    "CPRO_RATE_LIMIT_ANONYMOUS": "0",
    "CPRO_RATE_LIMIT_KEY": "0",
    "CPRO_BULK_CONCURRENCY": "0",
    "CPRO_BULK_CONCURRENCY_WHEN_BUSY": "0",
}
# Connection-level headers: they describe one hop, not the request (RFC 9110, 7.6.1).
_HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"transfer-encoding",
        b"te",
        b"trailer",
        b"upgrade",
    }
)
# Set once by the API process on the way out.
_SET_BY_FRONT = frozenset({b"x-request-id", b"date", b"server"})
READY_TIMEOUT_SECONDS = 60.0
WORKER_KEEP_ALIVE_SECONDS = 3600
"""How long the worker keeps an idle connection from its API process (``app.bulk_worker``)."""
_RESTART_PAUSES = (1.0, 2.0, 5.0, 10.0, 30.0)


class _ClientGone(Exception):
    """The caller disconnected while its body was being passed on."""


# The worker's side failed (not this request): it is not answering, or it broke off.
_WORKER_LOST = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.RemoteProtocolError,
    httpx.ReadError,
)


async def _client_gone(scope: Scope, receive: Receive, send: Send) -> None:
    gone = problem_response(
        Request(scope),
        status=BadRequest.status,
        slug=BadRequest.slug,
        title=BadRequest.title,
        detail="The request body ended before it was complete.",
    )
    await gone(scope, receive, send)


class BulkProcess:
    """The worker process of one API process: started, watched, restarted, stopped."""

    def __init__(self, database_url: str) -> None:
        self._database_url = database_url
        self._directory = Path(tempfile.mkdtemp(prefix="cpro-bulk-"))  # 0700: this user only
        self.socket_path = self._directory / "worker.sock"
        self._client = httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(uds=str(self.socket_path)),
            base_url="http://bulk-worker",
            # A cohort's release takes seconds; the worker's statement timeout bounds it.
            timeout=httpx.Timeout(None, connect=2.0),
            # Closed here before the worker would close them (``WORKER_KEEP_ALIVE_SECONDS``):
            # a request sent on a connection the worker is just closing could not be repeated,
            # its body being streamed.
            limits=httpx.Limits(keepalive_expiry=60.0),
        )
        self._process: asyncio.subprocess.Process | None = None
        self._watcher: asyncio.Task[None] | None = None
        self.ready = False
        self._stopping = False
        self._recheck: asyncio.Task[None] | None = None
        self._first_answer = asyncio.Event()
        self.in_flight = 0
        """Requests passed to the worker and not yet answered."""

    def start(self) -> None:
        self._watcher = asyncio.create_task(self._keep_running())

    async def wait_ready(self) -> bool:
        """Until the first start has answered or failed (bulk requests are served here
        meanwhile); callers bound the wait."""
        await self._first_answer.wait()
        return self.ready

    async def stop(self) -> None:
        self.ready, self._stopping = False, True
        for task in (self._watcher, self._recheck):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self._end_process()
        await self._client.aclose()
        shutil.rmtree(self._directory, ignore_errors=True)

    async def _keep_running(self) -> None:
        attempt = 0
        while True:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-P",  # this installation's app, never an app/ in the working directory
                "-m",
                "app.bulk_worker",
                str(self.socket_path),
                stdin=asyncio.subprocess.PIPE,
                env=self._worker_environment(),
                # Its own session: a Ctrl+C to the terminal's group reaches the API process,
                # which stops the worker after the requests in flight, instead of both at once.
                start_new_session=True,
            )
            if await self._answers(self._process):
                self.ready, attempt = True, 0
                logger.info("bulk worker ready (pid %s)", self._process.pid)
            self._first_answer.set()
            code = await self._process.wait()
            self.ready = False
            pause = _RESTART_PAUSES[min(attempt, len(_RESTART_PAUSES) - 1)]
            attempt += 1
            logger.warning(
                "bulk worker (pid %s) exited with code %s; restart in %s s (meanwhile bulk "
                "requests go to the other workers, or are served in the API process if none "
                "is ready)",
                self._process.pid,
                code,
                pause,
            )
            await asyncio.sleep(pause)

    def _worker_environment(self) -> dict[str, str]:
        environment = os.environ | {"CPRO_DATABASE_URL": self._database_url} | _WORKER_SETTINGS
        # The API processes' metrics files: the worker counts no requests, and its pool gauges
        # would stay in their sums after it was killed (README, Metrics).
        environment.pop(MULTIPROCESS_ENV, None)
        return environment

    async def _answers(self, process: asyncio.subprocess.Process) -> bool:
        deadline = asyncio.get_running_loop().time() + READY_TIMEOUT_SECONDS
        while process.returncode is None and asyncio.get_running_loop().time() < deadline:
            with contextlib.suppress(httpx.TransportError):
                if (await self._client.get("/healthz")).status_code == 200:
                    return True
            await asyncio.sleep(0.1)
        if process.returncode is None:
            logger.warning("bulk worker (pid %s) did not answer; stopping it", process.pid)
            process.kill()
        return False

    async def _end_process(self) -> None:
        process = self._process
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout=35)
        except TimeoutError:
            process.kill()
            await process.wait()

    async def forward(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """Pass the request to the worker and its answer back. False: nothing was sent or
        read, serve it here."""
        self.in_flight += 1
        try:
            return await self._pass_on(scope, receive, send)
        finally:
            self.in_flight -= 1

    async def _pass_on(self, scope: Scope, receive: Receive, send: Send) -> bool:
        body_read = False

        async def body() -> AsyncIterator[bytes]:
            nonlocal body_read
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise _ClientGone
                body_read = True
                if chunk := message.get("body", b""):
                    yield chunk
                if not message.get("more_body", False):
                    return

        headers = [
            (k, v) for k, v in scope["headers"] if k not in _HOP_BY_HOP and k != b"x-request-id"
        ]
        headers.append((b"x-request-id", scope["state"]["request_id"].encode("latin-1")))
        target = scope.get("raw_path") or scope["path"].encode()
        if scope.get("query_string"):
            target += b"?" + scope["query_string"]
        request = self._client.build_request(
            scope["method"], target.decode("latin-1"), headers=headers, content=body()
        )
        if request.url.raw_path != target:
            # httpx resolves dot segments ("/v1/agencies/../candidates:batch"); the route must
            # see the path as it was sent, so such a request is served here.
            return False
        try:
            response = await self._client.send(request, stream=True)
        except _ClientGone:
            # As the route would have: the caller is gone, the status is for the access line.
            await _client_gone(scope, receive, send)
            return True
        except httpx.TransportError as failure:
            if isinstance(failure, _WORKER_LOST):
                # Only the worker's own failures mark it lost: a request httpx will not send
                # (two Host headers, say) must not switch the worker off for everyone.
                self._lost()
            if not body_read:
                return False
            unavailable = problem_response(
                Request(scope),
                status=503,
                slug=ServiceUnavailable.slug,
                title=ServiceUnavailable.title,
                detail="The bulk worker stopped while it was given this request; repeating "
                "it is safe (a batch or a release already applied reports so; with the same "
                "Idempotency-Key, a 409 says the stopped attempt's claim has not lapsed yet).",
                headers={"Retry-After": "1"},
            )
            await unavailable(scope, receive, send)
            return True
        answer_headers = [
            (k, v)
            for k, v in response.headers.raw
            if k.lower() not in _HOP_BY_HOP and k.lower() not in _SET_BY_FRONT
        ]
        if "close" in response.headers.get("connection", "").lower():
            # The worker ends the exchange (a 413 after reading what it would of the body):
            # so does this process, with the client, as it would have served in process.
            answer_headers.append((b"connection", b"close"))
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status_code,
                    "headers": answer_headers,
                }
            )
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except _WORKER_LOST:
            # Gone mid-answer: the client's answer is cut short (it has begun), and the next
            # requests go to another worker or stay here until this one is back.
            self._lost()
            raise
        finally:
            await response.aclose()
        BULK_SERVED_BY.labels("worker").inc()
        return True

    def _lost(self) -> None:
        self.ready = False  # the watcher brings it back, or the recheck finds it answering
        if self._recheck is None or self._recheck.done():
            self._recheck = asyncio.get_running_loop().create_task(self._mark_ready_if_answering())

    async def _mark_ready_if_answering(self) -> None:
        # A refused connection while the process still runs (its backlog full, say): ready
        # again once it answers. One at a time; a new process is the watcher's to mark.
        await asyncio.sleep(1.0)
        process = self._process
        if (
            process is not None
            and process.returncode is None
            and not self._stopping
            and await self._answers(process)
            and process is self._process
            and not self._stopping
        ):
            self.ready = True


def least_busy(workers: Iterable[BulkProcess]) -> BulkProcess | None:
    """The ready worker with the fewest requests in hand (the first of equals), if any."""
    return min((w for w in workers if w.ready), key=lambda w: w.in_flight, default=None)


class BulkForwarding:
    """Hands admitted bulk requests of a bulk route (``routes``) to a bulk worker when one is
    ready (``app.state.bulk_processes``, the least busy); everything else goes on here."""

    def __init__(self, app: ASGIApp, *, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self._routes = [route for route in routes if route.path.endswith(BULK_SUFFIXES)]  # type: ignore[attr-defined]

    def _route_of(self, scope: Scope) -> BaseRoute | None:
        for route in self._routes:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return route
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and is_bulk(scope):
            workers: Sequence[BulkProcess] = scope["app"].state.bulk_processes
            # Callers without live credentials are refused here, on no worker's time.
            route = self._route_of(scope) if workers and scope.get(CREDENTIALS_CHECKED) else None
            if route is not None:
                # The access line and metrics name the route, as if it had run here.
                scope["route"] = route
                tried: set[int] = set()
                while (worker := least_busy(w for w in workers if id(w) not in tried)) is not None:
                    if await worker.forward(scope, receive, send):
                        return
                    if worker.ready:
                        break  # nothing sent, and not for the worker's sake: served here
                    tried.add(id(worker))  # gone before it took the request: the next one
                del scope["route"]
                BULK_SERVED_BY.labels("api").inc()
        await self.app(scope, receive, send)
