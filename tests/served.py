"""``cpro serve`` (and ``cpro worker``) as real processes on 127.0.0.1, for end-to-end tests."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

CPRO = [sys.executable, "-m", "app.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def clean_env(**settings: str) -> dict[str, str]:
    """This process's environment without any ``CPRO_`` setting, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CPRO_")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return env | settings


@contextmanager
def served(env: dict[str, str], cwd: Path, *args: str, timeout: float = 120) -> Iterator[str]:
    """Run ``cpro serve ARGS`` until the block ends; yield its base URL once it is ready."""
    port = free_port()
    log = (cwd / f"serve-{port}.log").open("wb")
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
                    "cpro serve did not become ready:\n" + Path(log.name).read_text()[-4000:]
                )
            time.sleep(0.3)
        yield base
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


def stop(process: "subprocess.Popen[bytes]") -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
