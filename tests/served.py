"""``cpro serve`` (and ``cpro worker``) as real processes on 127.0.0.1, for end-to-end tests."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

CPRO = [sys.executable, "-m", "app.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def clean_env(**settings: str) -> dict[str, str]:
    """This process's environment without any ``CPRO_`` setting, plus ``settings``.

    ``CPRO_DB_TRANSACTION_POOLER`` stays: it says how the test database is reached (through
    PgBouncer: ``scripts/pgbouncer-test``), and a served process must connect the same way."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("CPRO_") or k == "CPRO_DB_TRANSACTION_POOLER"
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return env | settings


@dataclass
class Served:
    url: str
    process: "subprocess.Popen[bytes]"
    log: Path
    started_at: float
    """``time.monotonic()`` when the process was spawned."""
    ready_at: float
    """``time.monotonic()`` when ``/readyz`` first answered 200."""


@contextmanager
def served(env: dict[str, str], cwd: Path, *args: str, timeout: float = 120) -> Iterator[str]:
    """Run ``cpro serve ARGS`` until the block ends; yield its base URL once it is ready."""
    with serving(env, cwd, *args, timeout=timeout) as server:
        yield server.url


@contextmanager
def serving(env: dict[str, str], cwd: Path, *args: str, timeout: float = 120) -> Iterator[Served]:
    """``served``, yielding the process too (a test may kill it: it is then simply reaped)."""
    port = free_port()
    log_path = cwd / f"serve-{port}.log"
    log = log_path.open("wb")
    started_at = time.monotonic()
    server = subprocess.Popen(
        [*CPRO, "serve", "--port", str(port), *args],
        env=env,
        cwd=cwd,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    "cpro serve did not become ready:\n" + log_path.read_text()[-4000:]
                )
            time.sleep(0.1)
        yield Served(base, server, log_path, started_at, time.monotonic())
    finally:
        stop(server)
        log.close()


@contextmanager
def processes(commands: Sequence[Sequence[str]], env: dict[str, str], cwd: Path) -> Iterator[None]:
    """Run each ``cpro`` command (e.g. ``["worker"]``) until the block ends."""
    running = [
        subprocess.Popen(
            [*CPRO, *command],
            env=env,
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for command in commands
    ]
    try:
        yield
    finally:
        for process in running:
            stop(process)


def children_of(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (``cpro serve``'s bulk worker)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # pid (command) state ppid ...: the command may hold spaces, so split after ")"
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if parent == pid:
            found.append(int(stat.parent.name))
    return found


def kill_outright(process: "subprocess.Popen[bytes]") -> None:
    """SIGKILL ``cpro serve`` and its bulk worker at once: a crash of the whole service (killed
    alone, the API process leaves its worker to finish what it has, then exit)."""
    children = children_of(process.pid)
    process.send_signal(signal.SIGKILL)
    for child in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)


def stop(process: "subprocess.Popen[bytes]") -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
