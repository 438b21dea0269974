"""The candidate list's queries use indexes, not sequential scans, on a realistically sized
table: each filter combination's statement, as the endpoint sends it, is EXPLAINed."""

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.auth.roles import Role
from tests.factories import auth_headers, make_agency

ROWS = 20_000
AGENCIES = [f"PL{n:02d}" for n in range(10)]
STATUSES = ["registered", "oriented", "enrolled", "in_training", "for_assessment", "certified"]
COLUMNS = (
    "id",
    "agency_code",
    "external_id",
    "given_name",
    "family_name",
    "email",
    "position_title",
    "salary_grade",
    "priority",
    "track",
    "status",
    "version",
    "updated_at",
    "created_at",
)
FILTERS = [
    {},
    {"agency": "PL03"},
    {"status": "enrolled"},
    {"agency": "PL05", "status": "certified"},
    {"track": "rpl", "priority": "2"},
    {"updated_after": "2025-11-01T00:00:00Z"},
    {"q": "EMP-0012345"},
    {"q": "reyes123"},
    {"q": "person777@pl07.example"},
    {"agency": "PL02", "q": "cruz"},
    {"q": "santos"},
]
COMMON_NAME = "santos"  # a quarter of the table: read in index order, not gathered and sorted
RARE_SEARCHES = {"EMP-0012345", "reyes123", "person777@pl07.example"}
SEARCH_INDEXES = (
    "ix_candidate_external_id",
    "ix_candidate_email_lower",
    "ix_candidate_family_name_key",
)


async def _load(session: AsyncSession) -> None:
    for code in AGENCIES:
        await make_agency(session, code, f"Plan agency {code}")
    rng = random.Random(7)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    records = []
    for n in range(ROWS):
        at = start + timedelta(minutes=53 * n)
        agency = AGENCIES[n % len(AGENCIES)]
        records.append(
            (
                uuid.uuid4(),
                agency,
                f"EMP-{n:07d}",
                f"Given{n}",
                f"{rng.choice(['Santos', 'Reyes', 'Cruz', 'Garcia'])}{n}",
                f"person{n}@{agency.lower()}.example",
                "Administrative Officer V",
                rng.randint(18, 30),
                rng.randint(1, 4),
                rng.choice(["rpl", "training", None]),
                rng.choice(STATUSES),
                1,
                at,
                at,
            )
        )
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
        "candidate", records=records, columns=COLUMNS
    )
    await session.execute(text("ANALYZE candidate"))


@pytest.fixture
async def many_candidates(session: AsyncSession) -> None:
    await _load(session)


async def _captured_list_statement(
    engine: AsyncEngine, client: AsyncClient, params: dict[str, str], headers: dict[str, str]
) -> tuple[str, Any]:
    seen: list[tuple[str, Any]] = []

    def capture(*args: Any) -> None:
        statement, parameters = args[2], args[3]
        if "FROM candidate" in statement and "LIMIT" in statement:
            seen.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        response = await client.get("/v1/candidates", params=params, headers=headers)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", capture)
    assert response.status_code == 200, response.text
    (found,) = seen
    return found


async def _plan(session: AsyncSession, statement: str, parameters: Any) -> str:
    connection = await session.connection()
    rows = await connection.exec_driver_sql("EXPLAIN " + statement, parameters)
    return "\n".join(row[0] for row in rows)


@pytest.mark.usefixtures("many_candidates")
async def test_every_filter_combination_uses_an_index(
    client: AsyncClient, session: AsyncSession, engine: AsyncEngine
) -> None:
    staff = await auth_headers(session, Role.staff)
    hris = await auth_headers(session, Role.agency, "PL04")
    cases = [(f, staff) for f in FILTERS] + [({}, hris), ({"status": "enrolled"}, hris)]
    for filters, headers in cases:
        first = await client.get("/v1/candidates", params=filters | {"limit": "5"}, headers=headers)
        pages = [filters]
        if first.json()["next_cursor"]:
            pages.append(filters | {"cursor": first.json()["next_cursor"]})
        for params in pages:
            statement, parameters = await _captured_list_statement(engine, client, params, headers)
            plan = await _plan(session, statement, parameters)
            assert "Seq Scan on candidate" not in plan, f"{params}:\n{plan}"
            assert "Index" in plan, f"{params}:\n{plan}"
            if filters.get("q") in RARE_SEARCHES:
                # Found through the search indexes, not by filtering the whole table in order.
                assert any(index in plan for index in SEARCH_INDEXES), f"{params}:\n{plan}"
            if filters.get("q") == COMMON_NAME:
                # An ordered scan of the name index that seeks to the name: the page is its
                # first rows (a bitmap scan would gather every match, then sort).
                lines = [line.strip() for line in plan.splitlines()]
                scan = next(
                    i for i, line in enumerate(lines) if "ix_candidate_family_name_key" in line
                )
                assert lines[scan].startswith("->  Index"), f"{params}:\n{plan}"
                assert lines[scan + 1].startswith("Index Cond:"), f"{params}:\n{plan}"
                assert f">= '{COMMON_NAME}'" in lines[scan + 1], f"{params}:\n{plan}"
