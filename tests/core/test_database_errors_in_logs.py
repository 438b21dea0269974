"""A statement that fails on personal data leaves none of it in the log: neither SQLAlchemy's
``[parameters: ...]`` nor PostgreSQL's own message, which quotes the offending value."""

import logging

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.database import Session
from app.core.logging import JsonFormatter

GIVEN, FAMILY, EMAIL = "Marisol", "Dimaculangan", "marisol.dimaculangan@doh.example"


def _add_failing_routes(app: FastAPI) -> None:
    # Errors no handler maps to a 4xx (classes 22 and 23 are refused input, logged by class
    # only), so they reach the last-resort handler, which logs the traceback.
    async def name_as_table(session: Session) -> None:
        # 42P01: relation "Marisol Dimaculangan" does not exist
        await session.execute(
            text("SELECT CAST(:name AS regclass), :email"),
            {"name": f"{GIVEN} {FAMILY}", "email": EMAIL},
        )

    async def email_as_role(session: Session) -> None:
        # 42704: role "marisol.dimaculangan@doh.example" does not exist
        await session.execute(text("SELECT CAST(:email AS regrole)"), {"email": EMAIL})

    app.add_api_route("/test-only/name-as-table", name_as_table, methods=["POST"])
    app.add_api_route("/test-only/email-as-role", email_as_role, methods=["POST"])


@pytest.mark.parametrize("route", ["name-as-table", "email-as-role"])
async def test_a_failed_statement_logs_no_parameter_and_no_quoted_value(
    app: FastAPI, client: AsyncClient, caplog: pytest.LogCaptureFixture, route: str
) -> None:
    _add_failing_routes(app)
    caplog.set_level(logging.DEBUG)
    response = await client.post(f"/test-only/{route}")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"

    formatter = JsonFormatter()
    records = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    lines = [formatter.format(record) for record in records]
    failures = [line for line in lines if '"unhandled error"' in line]
    assert len(failures) == 1, lines  # the capture works: the error was logged
    # What the operator needs is still there: where, which error, which statement.
    assert "SQLSTATE 42" in failures[0] and "[SQL: " in failures[0]
    assert "test_database_errors_in_logs.py" in failures[0]
    leaks = [
        (value, line)
        for line in lines
        for value in (GIVEN, FAMILY, EMAIL)
        if value.lower() in line.lower()
    ]
    assert leaks == []


async def test_the_engine_keeps_bound_values_out_of_its_exceptions(engine: AsyncEngine) -> None:
    # Whatever prints an exception (a log line, an error tracker, a traceback on stderr) gets
    # SQLAlchemy's own text, which otherwise ends in "[parameters: (...)]".
    async with engine.connect() as connection:
        with pytest.raises(DBAPIError) as failure:
            await connection.execute(text("SELECT 1 / 0, :email"), {"email": EMAIL})
    assert "division by zero" in str(failure.value)
    assert EMAIL not in str(failure.value)
