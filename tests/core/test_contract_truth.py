"""The contract says what is served: who may call (security), every problem an operation can
answer (as ``application/problem+json``), the headers that come with them, and a bound on every
string, integer and array. Derived from the routes, so a route added later is described too."""

from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, FastAPI
from httpx import AsyncClient
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.dependencies import Anyone, Staff
from app.auth.roles import Role
from app.core.database import Session
from app.core.errors import PROBLEM_MEDIA_TYPE
from tests.factories import auth_headers

METHODS = {"get", "put", "post", "patch", "delete"}


def _operations(contract: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in contract["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def _schemas(node: Any, where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        if isinstance(node.get("type"), str | list):
            yield where, node
        for key, value in node.items():
            if key not in {"examples", "example", "default", "const", "enum"}:
                yield from _schemas(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _schemas(value, f"{where}/{index}")


async def test_public_operations_take_an_optional_key_and_the_others_require_one(
    client: AsyncClient,
) -> None:
    contract = (await client.get("/openapi.json")).json()
    operations = {(m, p): o for p, m, o in _operations(contract)}
    bearer = [{"bearer": []}]
    assert operations[("get", "/v1/frameworks/{slug}")]["security"] == [{}, *bearer]
    assert operations[("get", "/v1/certificates/{serial}")]["security"] == [{}, *bearer]
    assert operations[("post", "/v1/candidates")]["security"] == bearer
    assert "security" not in operations[("get", "/healthz")]
    assert set(contract["components"]["securitySchemes"]) == {"bearer"}


async def test_every_problem_is_documented_as_problem_json_with_its_headers(
    client: AsyncClient,
) -> None:
    contract = (await client.get("/openapi.json")).json()
    assert "HTTPValidationError" not in contract["components"]["schemas"]
    for path, method, operation in _operations(contract):
        responses = operation["responses"]
        where = f"{method.upper()} {path}"
        if "default" in responses:  # the CASE binding documents its own errors
            assert {"429", "503"} <= set(responses), where
            continue
        assert {"422", "500"} <= set(responses), where
        if operation.get("security"):
            assert "401" in responses, where
            assert "WWW-Authenticate" in responses["401"]["headers"], where
        if operation.get("security") == [{"bearer": []}]:
            assert "403" in responses, where
        if "requestBody" in operation:
            assert {"400", "413", "415"} <= set(responses), where
        if any(p["in"] == "path" for p in operation.get("parameters", [])):
            assert "404" in responses, where
        if path not in {"/healthz", "/readyz"}:
            assert "429" in responses, where
            assert "Retry-After" in responses["429"]["headers"], where
            for code, response in responses.items():
                assert {"RateLimit", "RateLimit-Policy"} <= set(response["headers"]), (where, code)
        for code, response in responses.items():
            content = response.get("content", {})
            if code.startswith(("4", "5")) and not path.startswith("/ims/case/"):
                assert set(content) == {PROBLEM_MEDIA_TYPE}, (where, code)
                assert content[PROBLEM_MEDIA_TYPE]["schema"] == {
                    "$ref": "#/components/schemas/Problem"
                }
        if "304" in responses:
            assert "ETag" in responses["200"]["headers"], where
        if method == "post":
            names = [p["name"] for p in operation["parameters"]]
            assert "Idempotency-Key" in names, where


async def test_every_string_integer_and_array_is_bounded(client: AsyncClient) -> None:
    contract = (await client.get("/openapi.json")).json()
    unbounded = []
    for where, schema in _schemas(contract):
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if "string" in types and not {"maxLength", "enum", "const"} & set(schema):
            unbounded.append(where)
        if "integer" in types and not {"format", "minimum", "maximum"} <= set(schema):
            unbounded.append(where)
        if "array" in types and "maxItems" not in schema:
            unbounded.append(where)
    assert not unbounded, unbounded[:20]


async def test_the_versions_list_is_documented_in_the_envelope(client: AsyncClient) -> None:
    contract = (await client.get("/openapi.json")).json()
    ok = contract["paths"]["/v1/frameworks/{slug}/versions"]["get"]["responses"]["200"]
    ref = ok["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert set(contract["components"]["schemas"][ref]["properties"]) == {"items", "next_cursor"}


class _Note(BaseModel):
    text: str


async def test_a_route_added_later_is_described_and_guarded_without_writing_any_of_it(
    app: FastAPI, client: AsyncClient, session: AsyncSession
) -> None:
    router = APIRouter(prefix="/v1")

    @router.post("/notes", status_code=201, summary="A note")
    async def create_note(note: _Note, session: Session, caller: Staff) -> _Note:
        """Stores nothing."""
        return note

    @router.get("/notes/{note_id}", summary="One note")
    async def get_note(note_id: str, caller: Anyone) -> _Note:
        """Public."""
        return _Note(text=note_id)

    app.include_router(router)
    contract = app.openapi()
    post = contract["paths"]["/v1/notes"]["post"]
    get = contract["paths"]["/v1/notes/{note_id}"]["get"]
    assert post["security"] == [{"bearer": []}]
    assert {"400", "401", "403", "413", "415", "422", "429", "500", "503"} <= set(post["responses"])
    assert get["security"] == [{}, {"bearer": []}]
    assert {"401", "404", "422", "429", "500"} <= set(get["responses"])
    assert "403" not in get["responses"]
    assert get["parameters"][0]["schema"]["maxLength"] == 512
    note = contract["components"]["schemas"]["_Note"]["properties"]["text"]
    assert note["maxLength"] == 65_536

    staff = await auth_headers(session, Role.staff)
    hostile = await client.post("/v1/notes", json={"text": "a\x00"}, headers=staff)
    long_path = await client.get("/v1/notes/" + "n" * 513)
    assert hostile.status_code == 422
    assert hostile.json()["errors"][0]["field"] == "body.text"
    assert long_path.status_code == 422
    assert long_path.json()["errors"][0]["field"] == "path.note_id"
