"""Run the benchmark: ``.venv/bin/python -m bench [--quick]``.

Starts ``cpro serve`` on a fresh embedded PostgreSQL, loads data, drives load from separate
processes (``wrk`` for plain throughput, an asyncio httpx driver where a scenario needs logic)
and prints one table, also written to ``bench/results/latest.{json,md}`` with a description of
the machine. Scenario sizes can be scaled with the options; the results say what ran.
"""

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import load, mixed, reads, scenarios
from bench.service import Service, machine, wait_ready

RESULTS = Path(__file__).resolve().parent / "results"
ADMIN_KEY = "cpro_bench-admin-key-0123456789abcdef0123456789"


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    parser.add_argument("--sync", type=int, default=100_000, help="candidates sent by HRIS sync")
    parser.add_argument(
        "--candidates", type=int, default=1_000_000, help="candidates in the table for listing"
    )
    parser.add_argument(
        "--releases",
        type=int,
        default=10_000,
        help="assessments released as a cohort (the target is for 10,000)",
    )
    parser.add_argument(
        "--only",
        nargs="*",
        choices=["read", "case", "search", "sync", "list", "release", "mixed"],
        help="run only these scenarios (results are still written)",
    )
    parser.add_argument(
        "--mixed-sync", type=int, default=20_000, help="candidates synced in the mixed scenario"
    )
    parser.add_argument(
        "--mixed-releases", type=int, default=4_000, help="rounds released in the mixed scenario"
    )
    parser.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="CPRO_NAME=VALUE",
        help="run the service with this setting (repeatable; recorded with the results)",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for trying it out")
    args = parser.parse_args()
    if args.quick:
        args.duration, args.sync, args.candidates, args.releases = 3.0, 5_000, 50_000, 1_000
        args.mixed_sync, args.mixed_releases = 4_000, 1_000
    return args


def _ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True, env=env)  # noqa: S603
    subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", "wrk"], check=True, env=env)  # noqa: S603
    return shutil.which("wrk") or "wrk"


def main() -> int:
    args = _arguments()
    wrk = _ensure_wrk()
    results: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        "sizes": {
            "wrk_seconds": args.duration,
            "sync_candidates": args.sync,
            "listed_candidates": args.candidates,
            "released_assessments": args.releases,
            "mixed_sync": args.mixed_sync,
            "mixed_releases": args.mixed_releases,
        },
        "settings": dict(setting.split("=", 1) for setting in args.setting),
        "rows": [],
    }
    with tempfile.TemporaryDirectory(prefix="cpro-bench-") as tmp:
        work = Path(tmp)
        url = load.fresh_database(work / "data")
        env = (
            {k: v for k, v in os.environ.items() if not k.startswith("CPRO_")}
            | {
                "CPRO_DATABASE_URL": url,
                "CPRO_ADMIN_API_KEY": ADMIN_KEY,
                "CPRO_RATE_LIMIT_ANONYMOUS": "0",
                "CPRO_RATE_LIMIT_KEY": "0",
                "CPRO_LOG_LEVEL": "INFO",
            }
            | results["settings"]
        )
        with Service.cpro(env, work) as service:
            wait_ready(service.base)
            admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
            runs = {
                "read": lambda: scenarios.framework_read(service, env, work, wrk, args.duration),
                "search": lambda: (
                    asyncio.run(scenarios.indicator_search(service.base))
                    + reads.search_throughput(service, env, work, wrk, args.duration)
                ),
                "sync": lambda: asyncio.run(
                    scenarios.hris_sync(service.base, admin, url, args.sync)
                ),
                "list": lambda: asyncio.run(
                    scenarios.candidate_listing(service.base, admin, url, args.candidates)
                ),
                "release": lambda: asyncio.run(
                    scenarios.release(service.base, admin, url, args.releases)
                ),
                "case": lambda: reads.case_package(service, env, work, wrk, args.duration),
                "mixed": lambda: asyncio.run(
                    mixed.mixed_load(service.base, admin, url, args.mixed_sync, args.mixed_releases)
                ),
                "rss": lambda: scenarios.peak_rss(service),
            }
            for name, run in runs.items():
                if args.only and name not in args.only and name != "rss":
                    continue
                rows = run()
                for row in rows:
                    print(f"{row['scenario']:<70} {row['measure']:<32} {row['value']}", flush=True)
                results["rows"] += rows
        load.stop_database()
    _write(results)
    return 0


def _table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| scenario | measure | value | target | met |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        met = {True: "yes", False: "**no**", None: ""}[row.get("met")]
        lines.append(
            f"| {row['scenario']} | {row['measure']} | {row['value']} | {row.get('target', '')} "
            f"| {met} |"
        )
    return "\n".join(lines)


def _write(results: dict[str, Any]) -> None:
    RESULTS.mkdir(exist_ok=True)
    table = _table(results["rows"])
    m = results["machine"]
    header = (
        f"# Benchmark, {results['started']}\n\n"
        f"Commit `{m['commit']}`; {m['cpu']} ({m['cores']} cores), {m['memory_gib']} GiB, "
        f"{m['os']}, Python {m['python']}, {m['postgres']}.\n"
        f"Sizes: {json.dumps(results['sizes'])}.\n"
        f"Settings beyond the defaults: {json.dumps(results['settings']) if results['settings'] else 'none'}.\n\n"
    )
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / "latest.md").write_text(header + table + "\n")
    print(header + table)


if __name__ == "__main__":
    sys.exit(main())
