"""Read scenarios measured as a ratio to a FastAPI route serving the same bytes, in the same run:
indicator search with rotating queries, and the CASE package."""

import json
import re
import statistics
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import httpx

from bench.service import Service

# 40 words in turn, as the issue measured it.
SEARCH_WORDS = (
    "coaching", "strategic", "change", "integrity", "communication", "decision", "innovation",
    "team", "partner", "leadership", "vision", "performance", "people", "stakeholders", "risk",
    "trust", "respect", "budget", "develop", "others", "feedback", "learning", "culture",
    "values", "results", "delivery", "customers", "citizens", "policy", "evidence", "diversity",
    "inclusion", "conflict", "negotiation", "planning", "priorities", "resources", "ethics",
    "accountability", "collaboration",
)  # fmt: skip
SEARCH_PATH = "/v1/indicators"
Row = dict[str, Any]


def _row(scenario: str, measure: str, value: Any, target: str = "", met: bool | None = None) -> Row:
    return {"scenario": scenario, "measure": measure, "value": value, "target": target, "met": met}


def _wrk_script(wrk: str, base: str, script: Path, seconds: float) -> dict[str, float]:
    command = [wrk, "-t2", "-c16", f"-d{max(1, round(seconds))}s", "--latency", "-s", str(script)]
    output = subprocess.run(  # noqa: S603 - our own command
        [*command, base + "/"], capture_output=True, text=True, check=True
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    p99 = re.search(r"\s99%\s+([\d.]+)(us|ms|s)", output)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    return {
        "rps": rps,
        "bad": int(errors.group(1)) if errors else 0,
        "p99_ms": float(p99.group(1)) * scale[p99.group(2)] if p99 else float("nan"),
    }


def _rotating_script(path: Path, targets: list[str]) -> Path:
    listed = ", ".join(json.dumps(t) for t in targets)
    path.write_text(
        f"local targets = {{{listed}}}\n"
        "local n = 0\n"
        "request = function()\n"
        "  n = n + 1\n"
        '  return wrk.format("GET", targets[(n % #targets) + 1])\n'
        "end\n"
    )
    return path


def _unique_script(path: Path, words: tuple[str, ...]) -> Path:
    # Every request a query text the service has not seen: "word or x<thread><n>" ranks like
    # "word" (nothing contains the tag) but is new, so PostgreSQL must rank it.
    listed = ", ".join(json.dumps(w) for w in words)
    path.write_text(
        f"local words = {{{listed}}}\n"
        "local n = 0\n"
        "local tag = string.gsub(tostring({}), '[^%w]', '')\n"
        "request = function()\n"
        "  n = n + 1\n"
        f'  return wrk.format("GET", "{SEARCH_PATH}?q=" .. words[(n % #words) + 1] .. '
        '"+or+x" .. tag .. n .. "&limit=20")\n'
        "end\n"
    )
    return path


def _against_floor(
    service: Service,
    env: dict[str, str],
    work: Path,
    wrk: str,
    seconds: float,
    *,
    name: str,
    path: str,
    queries: list[str],
) -> tuple[list[dict[str, float]], list[dict[str, float]]]:
    """wrk over ``queries`` (query strings of ``path``, in turn) against the service and a
    FastAPI route answering each with the service's own bytes; three alternating rounds."""
    answers = {}
    for query in queries:
        response = httpx.get(f"{service.base}{path}?{query}", timeout=30)
        assert response.status_code == 200, response.text[:300]
        kept = {
            k: response.headers[k]
            for k in ("etag", "cache-control", "vary")
            if k in response.headers
        }
        answers[query] = {"body_hex": response.content.hex(), "headers": kept}
    answer_file = work / f"{name}-answers.json"
    answer_file.write_text(json.dumps({"path": path, "answers": answers}))
    script = _rotating_script(work / f"{name}.lua", [f"{path}?{q}" if q else path for q in queries])
    mine: list[dict[str, float]] = []
    floor: list[dict[str, float]] = []
    ready = f"{path}?{queries[0]}" if queries[0] else path
    with Service.baseline("fastapi-map", answer_file, env, work, ready) as bare:
        check = httpx.get(bare.base + ready)
        assert check.content == bytes.fromhex(answers[queries[0]]["body_hex"])
        for _ in range(3):
            for base, into in ((service.base, mine), (bare.base, floor)):
                _wrk_script(wrk, base, script, 1)  # warm up
                result = _wrk_script(wrk, base, script, seconds / 2)
                assert result["bad"] == 0, (name, result)
                into.append(result)
    return mine, floor


def _ratio_rows(
    scenario: str, mine: list[dict[str, float]], floor: list[dict[str, float]], target: float
) -> list[Row]:
    ratio = statistics.median(m["rps"] / f["rps"] for m, f in zip(mine, floor, strict=True))
    return [
        _row(
            scenario,
            "service req/s (median of 3)",
            round(statistics.median(m["rps"] for m in mine)),
        ),
        _row(
            scenario,
            "FastAPI route, same bytes, req/s (median of 3)",
            round(statistics.median(f["rps"] for f in floor)),
        ),
        _row(
            scenario, "service p99 ms (wrk, worst round)", round(max(m["p99_ms"] for m in mine), 2)
        ),
        _row(
            scenario,
            "service / FastAPI route, median of the rounds",
            round(ratio, 2),
            f">= {target}",
            ratio >= target,
        ),
    ]


def search_throughput(
    service: Service, env: dict[str, str], work: Path, wrk: str, seconds: float
) -> list[Row]:
    """(2b) ``/v1/indicators?q=<40 words in turn>&limit=20`` at 16 connections against its
    FastAPI floor; then every query new (PostgreSQL ranks each) for comparison."""
    queries = [f"q={quote_plus(word)}&limit=20" for word in SEARCH_WORDS]
    mine, floor = _against_floor(
        service, env, work, wrk, seconds, name="search", path=SEARCH_PATH, queries=queries
    )
    rows = _ratio_rows("2b. indicator search, 40 words in turn, 16 connections", mine, floor, 0.2)
    unique = _unique_script(work / "search-unique.lua", SEARCH_WORDS)
    _wrk_script(wrk, service.base, unique, 1)
    new_each = _wrk_script(wrk, service.base, unique, seconds / 2)
    assert new_each["bad"] == 0, new_each
    scenario = "2c. indicator search, every query text new (PostgreSQL ranks each), 16 connections"
    floor_rps = statistics.median(f["rps"] for f in floor)
    return [
        *rows,
        _row(scenario, "service req/s", round(new_each["rps"])),
        _row(scenario, "service p99 ms (wrk)", round(new_each["p99_ms"], 2)),
        _row(scenario, "service / FastAPI route of 2b", round(new_each["rps"] / floor_rps, 2)),
    ]


def case_package(
    service: Service, env: dict[str, str], work: Path, wrk: str, seconds: float
) -> list[Row]:
    """(1d) ``GET /ims/case/v1p1/CFPackages/{id}`` of the CSC framework against its floor."""
    documents = httpx.get(service.base + "/ims/case/v1p1/CFDocuments", timeout=30).json()
    listed = documents["CFDocuments"]
    csc = next(
        (d for d in listed if "CSC" in d.get("title", "") and d.get("version") == "2015"),
        next(d for d in listed if "CSC" in d.get("title", "")),
    )
    path = f"/ims/case/v1p1/CFPackages/{csc['identifier']}"
    mine, floor = _against_floor(
        service, env, work, wrk, seconds, name="case", path=path, queries=[""]
    )
    size = len(httpx.get(service.base + path, timeout=30).content)
    return _ratio_rows(
        f"1d. CASE package (CSC, {size // 1024} KiB), 16 connections", mine, floor, 0.7
    )
