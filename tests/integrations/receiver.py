"""A real HTTP receiver on 127.0.0.1 for webhook tests."""

import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str
    status: int = 204
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    requests_started: int = 0
    """Requests that arrived, answered or not (a slow receiver is still sleeping on them)."""

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return list(self.received)


@contextmanager
def receiver(
    status: int = 204, delay: float = 0.0, tls: ssl.SSLContext | None = None
) -> Iterator[Receiver]:
    """A receiver on 127.0.0.1; with ``tls`` (a server context), an https one."""
    state = Receiver(url="", status=status, delay=delay)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            state.requests_started += 1
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            if state.delay:
                time.sleep(state.delay)
            state.received.append(Received({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(state.status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    scheme = "https" if tls is not None else "http"
    state.url = f"{scheme}://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
