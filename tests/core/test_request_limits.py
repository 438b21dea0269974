"""Limits on what one request may ask of the service (OWASP API4): body size, string lengths,
page size, and how long a statement may run."""

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.auth.roles import Role
from app.core.database import Session, create_engine, create_sessionmaker
from app.core.pagination import MAX_LIMIT
from app.core.settings import Settings
from app.main import api_routes, create_app
from tests.candidates.test_mass_assignment import RAW_BODIES
from tests.factories import auth_headers, make_agency

PROBLEM = "application/problem+json"


def realistic_batch(size: int = 1000) -> dict[str, Any]:
    """An HRIS batch with every field filled, at the lengths real records have."""
    given = ["Maria Cristina", "Jose Antonio", "Ana Liza", "Juan Carlos", "Ma. Teresa"]
    family = ["Dela Cruz", "Santos", "Reyes", "Bautista", "Macapagal-Arroyo", "Villanueva"]
    titles = ["Supervising Administrative Officer", "Chief Administrative Officer", "Attorney V"]
    return {
        "items": [
            {
                "external_id": f"EMP-2024-{n:05d}",
                "given_name": given[n % len(given)],
                "family_name": family[n % len(family)],
                "email": f"employee.{n:05d}@doh.gov.ph",
                "position_title": titles[n % len(titles)],
                "salary_grade": 18 + n % 8,
                "priority": 1 + n % 3,
                "track": "rpl",
            }
            for n in range(size)
        ]
    }


async def test_a_body_over_the_limit_is_refused_by_its_declared_length(
    client: AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    staff = await auth_headers(session, Role.staff)
    body = b'{"given_name": "' + b"x" * settings.max_body_bytes + b'"}'
    response = await client.post(
        "/v1/candidates",
        content=body,
        headers={**staff, "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["type"] == "urn:cpro:problem:payload-too-large"
    assert str(settings.max_body_bytes) in problem["detail"]


async def _chunks(total: int, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    yield b'{"items": ["'
    for _ in range(total // size):
        yield b"x" * size
    yield b'"]}'


@pytest.mark.parametrize("idempotency", [False, True])
async def test_a_streamed_body_without_a_length_is_cut_off_at_the_limit(
    client: AsyncClient, session: AsyncSession, settings: Settings, idempotency: bool
) -> None:
    """Chunked, no Content-Length: counted as it arrives, also when the idempotency middleware
    (which buffers bodies) reads it first."""
    agency = await auth_headers(session, Role.agency, await make_agency(session, "DOH"))
    headers = {**agency, "Content-Type": "application/json"}
    if idempotency:
        headers["Idempotency-Key"] = "streamed-too-large"
    response = await client.post(
        "/v1/agencies/DOH/candidates:batch",
        content=_chunks(settings.max_body_bytes + 1),
        headers=headers,
    )
    assert "content-length" not in response.request.headers
    assert response.status_code == 413, response.text
    assert response.json()["type"] == "urn:cpro:problem:payload-too-large"
    assert response.headers["x-request-id"]


async def test_a_realistic_batch_of_1000_records_fits_under_the_default_limit(
    client: AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    agency = await auth_headers(session, Role.agency, await make_agency(session, "DOH"))
    body = json.dumps(realistic_batch(), indent=2).encode()
    assert settings.max_body_bytes == 1_048_576
    assert len(body) < settings.max_body_bytes // 3  # ~292 KB pretty-printed: room to spare
    response = await client.post(
        "/v1/agencies/DOH/candidates:batch",
        content=body,
        headers={**agency, "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text[:300]
    assert [i["outcome"] for i in response.json()["items"]] == ["created"] * 1000


def _unbounded_strings(contract: dict[str, Any]) -> list[str]:
    schemas = contract["components"]["schemas"]
    found: list[str] = []
    seen: set[str] = set()

    def visit(schema: dict[str, Any], where: str) -> None:
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[1]
            if name not in seen:
                seen.add(name)
                visit(schemas[name], name)
            return
        options = schema.get("anyOf", [])
        types = {option.get("type") for option in options}
        for option in options:
            # A decimal is number-or-string; its digits are capped by max_digits instead.
            if option.get("type") == "string" and "number" in types and len(options) == 2:
                continue
            visit(option, where)
        for key in ("oneOf", "allOf"):
            for option in schema.get(key, []):
                visit(option, where)
        if (
            schema.get("type") == "string"
            and "maxLength" not in schema
            and "enum" not in schema
            and "const" not in schema
            and schema.get("format") not in ("date", "date-time", "uuid", "binary")
        ):
            found.append(where)
        for member, member_schema in schema.get("properties", {}).items():
            visit(member_schema, f"{where}.{member}")
        for key in ("items", "additionalProperties"):
            if isinstance(schema.get(key), dict):
                visit(schema[key], f"{where}[]")

    for path, operations in contract["paths"].items():
        for method, operation in operations.items():
            for content in operation.get("requestBody", {}).get("content", {}).values():
                if (method, path) not in RAW_BODIES:
                    visit(content["schema"], f"{method.upper()} {path}")
    return found


def test_every_string_in_a_request_body_has_a_max_length() -> None:
    unbounded = _unbounded_strings(create_app().openapi())
    assert not unbounded, "give these a max_length: " + ", ".join(unbounded)


def test_the_walk_finds_an_unbounded_string() -> None:
    contract = {
        "paths": {"/x": {"post": {"requestBody": {"content": {"application/json": {"schema": {
            "$ref": "#/components/schemas/X"}}}}}}},
        "components": {"schemas": {"X": {"properties": {"note": {"type": "string"}}}}},
    }  # fmt: skip
    assert _unbounded_strings(contract) == ["X.note"]


async def test_every_list_caps_its_page_size(client: AsyncClient, session: AsyncSession) -> None:
    contract = create_app().openapi()
    limits = [
        (path, parameter["schema"])
        for path, operations in contract["paths"].items()
        for operation in operations.values()
        for parameter in operation.get("parameters", [])
        if parameter["name"] == "limit" and parameter["in"] == "query"
    ]
    assert len(limits) >= 5
    assert all("maximum" in schema for _, schema in limits), limits
    # The CASE binding pages its CFDocuments by its own rules (limit up to 1,000 documents).
    ours = [(path, schema) for path, schema in limits if not path.startswith("/ims/case/")]
    assert all(schema["maximum"] <= MAX_LIMIT for _, schema in ours), ours
    admin = await auth_headers(session, Role.admin)
    too_many = await client.get("/v1/api-keys", params={"limit": MAX_LIMIT + 1}, headers=admin)
    assert too_many.status_code == 422
    assert too_many.json()["errors"][0]["field"] == "query.limit"
    assert (
        await client.get("/v1/api-keys", params={"limit": MAX_LIMIT}, headers=admin)
    ).status_code == 200


async def test_the_statement_timeout_cancels_a_long_query(
    database_url: str, settings: Settings
) -> None:
    engine = create_engine(
        database_url, settings.model_copy(update={"db_statement_timeout_ms": 200})
    )
    try:
        async with engine.connect() as connection:
            with pytest.raises(DBAPIError) as cancelled:
                await connection.execute(text("SELECT pg_sleep(5)"))
        assert cancelled.value.orig.pgcode == "57014"  # type: ignore[union-attr]
    finally:
        await engine.dispose()


@pytest.fixture
async def impatient_engine(database_url: str, settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(
        database_url, settings.model_copy(update={"db_statement_timeout_ms": 200})
    )
    yield engine
    await engine.dispose()


async def test_a_cancelled_statement_is_a_503_problem_with_retry_after(
    impatient_engine: AsyncEngine, settings: Settings
) -> None:
    app = create_app(settings.model_copy(update={"db_statement_timeout_ms": 200}))
    app.state.engine = impatient_engine
    app.state.sessionmaker = create_sessionmaker(impatient_engine)

    async def slow_report(session: Session) -> dict[str, str]:
        await session.execute(text("SELECT pg_sleep(5)"))
        return {}

    # A stand-in for a query gone slow: no route of the service sleeps on purpose.
    app.add_api_route("/test/slow-report", slow_report)
    assert all(route.path != "/test/slow-report" for route in api_routes())
    transport = ASGITransport(app=app, raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/test/slow-report")
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM
    assert int(response.headers["retry-after"]) > 0
    problem = response.json()
    assert problem["type"] == "urn:cpro:problem:statement-timeout"
    assert problem["request_id"] == response.headers["x-request-id"]
