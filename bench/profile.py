"""Profile the service during one scenario with py-spy (sampling, outside the process):

    .venv/bin/python -m bench.profile sync|release|search [--count N] [--out NAME]

Starts ``cpro serve`` on a fresh embedded PostgreSQL as the benchmark does, runs the scenario
while ``py-spy record`` samples the service, and writes ``bench/results/profiles/NAME.txt``:
the functions holding most samples, inclusive and by own time. py-spy is not a dependency of
the service (``pip install py-spy`` in the venv).
"""

import argparse
import asyncio
import collections
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

from bench import load, scenarios
from bench.__main__ import ADMIN_KEY
from bench.service import Service, wait_ready

PROFILES = Path(__file__).resolve().parent / "results" / "profiles"


def _summary(raw: Path, top: int = 60, focus: str = "app/") -> str:
    """Inclusive and own time of the frames under the first ``focus`` frame of each stack (by
    default the service's own code: the server, middlewares and idle threads are left out)."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = stack.split(";")
        routes = [
            i
            for i, frame in enumerate(frames)
            if focus in frame
            and "middleware" not in frame.lower()
            and "app/cli.py" not in frame
            and "app/core/" not in frame
            and "fast_read" not in frame
        ]
        if not routes:
            continue
        frames = frames[routes[0] :]
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count

    def table(counter: collections.Counter[str]) -> str:
        return "\n".join(
            f"{100 * n / total:6.1f}%  {frame}" for frame, n in counter.most_common(top)
        )

    return (
        f"{total} samples\n\n## inclusive (frame anywhere on the stack)\n{table(inclusive)}\n\n"
        f"## own time (innermost frame)\n{table(own)}\n"
    )


async def _release_setup(base: str, admin: dict[str, str], url: str, count: int) -> list[str]:
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        put = await client.put("/v1/agencies/REL", json={"name": "Bench releases"}, headers=admin)
        assert put.status_code in (200, 201)
        template = await scenarios._prepare_round_through_the_api(client, admin)
    return await load.clone_complete_rounds(url, template, count)


async def _release_batches(base: str, admin: dict[str, str], ids: list[str]) -> float:
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        return await scenarios._release_in_batches(client, admin, ids, 1000, 2)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("scenario", choices=["sync", "release", "search"])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    PROFILES.mkdir(parents=True, exist_ok=True)
    name = args.out or args.scenario
    with tempfile.TemporaryDirectory(prefix="cpro-profile-") as tmp:
        work = Path(tmp)
        url = load.fresh_database(work / "data")
        env = {k: v for k, v in os.environ.items() if not k.startswith("CPRO_")} | {
            "CPRO_DATABASE_URL": url,
            "CPRO_ADMIN_API_KEY": ADMIN_KEY,
            "CPRO_RATE_LIMIT_ANONYMOUS": "0",
            "CPRO_RATE_LIMIT_KEY": "0",
            "CPRO_RUN_WORKER": "false",
        }
        admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
        with Service.cpro(env, work) as service:
            wait_ready(service.base)
            raw = work / "raw.txt"
            ids = (
                asyncio.run(_release_setup(service.base, admin, url, args.count))
                if (args.scenario == "release")
                else []
            )
            recorder = subprocess.Popen(  # noqa: S603 - our own command
                [
                    py_spy,
                    "record",
                    "--subprocesses",
                    "--format",
                    "raw",
                    "-r",
                    "200",
                    "-o",
                    str(raw),
                    "-p",
                    str(service.process.pid),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            cpu_before = service.cpu_seconds()
            try:
                if args.scenario == "sync":
                    rows = asyncio.run(scenarios.hris_sync(service.base, admin, url, args.count))
                    for row in rows:
                        print(row["scenario"], row["measure"], row["value"])
                elif args.scenario == "release":
                    seconds = asyncio.run(_release_batches(service.base, admin, ids))
                    print(f"released {len(ids)} in {seconds:.2f} s")
                else:
                    for row in asyncio.run(scenarios.indicator_search(service.base)):
                        print(row["scenario"], row["measure"], row["value"])
            finally:
                recorder.send_signal(2)  # SIGINT: py-spy writes what it has
                recorder.wait(timeout=60)
            cpu = {k: v - cpu_before[k] for k, v in service.cpu_seconds().items()}
            used = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in cpu.items())
            used = f"CPU during the scenario (py-spy's own sampling included): {used}"
            print(used)
            summary = _summary(raw)
            shutil.copy(raw, Path(tempfile.gettempdir()) / f"cpro-profile-{name}.raw")
        load.stop_database()
    (PROFILES / f"{name}.txt").write_text(
        f"# py-spy profile of `cpro serve` and its bulk workers during `{args.scenario}` "
        f"({args.count})\n\n{used}\n\n{summary}"
    )
    print(summary[:4000])


if __name__ == "__main__":
    main()
