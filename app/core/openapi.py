"""The committed OpenAPI contract: what FastAPI generates from the routes, completed with what
every operation really does, and written to ``openapi/openapi.json``.

FastAPI knows each route's parameters, body and declared responses; it does not know what the
service's middlewares and shared handlers answer for every route. ``complete_contract`` adds that,
per operation, from facts read off the route itself, so a new route is described truthfully
without writing any of it:

- **security**: from the route's guard (``key_use``): required (``[{"bearer": []}]``), optional
  (``[{}, {"bearer": []}]``: public data, where a key sent must still be valid) or none;
- **problem responses** (``application/problem+json``, the ``Problem`` schema): 401 where a key
  may be sent, 403 where one is required, 400/413/415 where there is a body, 404 where there are
  path parameters, 422 always (query hygiene), 429 where rate limited, 500 always, 503 where the
  database is used; statuses a route declares itself keep their descriptions;
- **headers**: ``RateLimit``/``RateLimit-Policy`` on rate-limited operations, ``Retry-After`` on
  429 and 503, ``WWW-Authenticate`` on 401, ``ETag`` on conditional GETs (those declaring 304),
  ``Access-Control-Allow-Origin`` (present when CORS is configured), ``X-Request-ID``; the
  ``Idempotency-Key`` request header on every POST (``app/core/idempotency.py``);
- **bounds**: every string, integer and array names its bound: the route's own, or the default of
  ``app/core/limits.py`` that ``app/core/input_guard.py`` enforces.
"""

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts

from app.core.database import get_session
from app.core.errors import PROBLEM_DESCRIPTIONS, PROBLEM_MEDIA_TYPE, Problem
from app.core.limits import (
    ARRAY_MAX_ITEMS,
    INT32_MAX,
    INT32_MIN,
    INT64_MAX,
    INT64_MIN,
    PARAMETER_MAX_LENGTH,
    TEXT_MAX_LENGTH,
    string_bound,
)
from app.core.schema_version import PROJECT_ROOT

CONTRACT_PATH = PROJECT_ROOT / "openapi" / "openapi.json"

KeyUse = Literal["none", "optional", "required"]
"""Whether an operation takes no key (a key sent is ignored), an optional one, or needs one."""

SECURITY_SCHEME = "bearer"
PROBLEM_REF = "#/components/schemas/Problem"
_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")

_TEXT_HEADER = {"type": "string", "maxLength": 256}
HEADERS: dict[str, dict[str, Any]] = {
    "RateLimit": {
        "description": "What is left of the caller's quota in the current window "
        '(IETF httpapi rate-limit headers): `"default";r=<requests left>;t=<seconds to '
        "reset>`. Sent when rate limiting is on.",
        "schema": {**_TEXT_HEADER, "examples": ['"default";r=5994;t=41']},
    },
    "RateLimit-Policy": {
        "description": 'The caller\'s quota: `"default";q=<requests>;w=60` per minute. Sent when '
        "rate limiting is on.",
        "schema": {**_TEXT_HEADER, "examples": ['"default";q=6000;w=60']},
    },
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "required": True,
        "schema": {"type": "integer", "format": "int32", "minimum": 0, "maximum": 86_400},
    },
    "WWW-Authenticate": {
        "description": 'The scheme to authenticate with: `Bearer realm="cpro"`.',
        "required": True,
        "schema": _TEXT_HEADER,
    },
    "ETag": {
        "description": "The representation's entity tag; send it back as `If-None-Match`.",
        "required": True,
        "schema": _TEXT_HEADER,
    },
    "Access-Control-Allow-Origin": {
        "description": "The allowed browser origin; sent only when CORS origins are configured "
        "(`CPRO_CORS_ORIGINS`) and the request came from one of them.",
        "schema": {"type": "string", "maxLength": 2_048},
    },
    "X-Request-ID": {
        "description": "The request's id, also in logs and in problem bodies (`request_id`).",
        "schema": {"type": "string", "maxLength": 128},
    },
}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Send the same key again with the same request to get the first answer "
    "back instead of doing it twice (kept for a day, per caller). 400 when malformed, 409 "
    "while the first request is still running, 422 when reused with another request.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
}


def operation_id(route: APIRoute) -> str:
    """The route function's name (``create_key``, ``list_agencies``): short, stable, readable."""
    return route.name


def operation_routes(app: FastAPI) -> Iterator[tuple[APIRoute, str, str]]:
    """Each documented operation as (its route, its path in the contract, its method)."""
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and context.include_in_schema:
            for method in sorted(context.methods or ()):
                if method != "HEAD":
                    yield route, str(context.path_format), method


def generated_contract(app: FastAPI) -> dict[str, Any]:
    """The contract as FastAPI generates it, before ``complete_contract``: the bounds a route
    declared itself are told apart from the defaults by looking here."""
    generated: dict[str, Any] | None = getattr(app.state, "generated_contract", None)
    if generated is None:
        generated = get_openapi(
            title=app.title,
            version=app.version,
            openapi_version=app.openapi_version,
            summary=app.summary,
            description=app.description,
            terms_of_service=app.terms_of_service,
            contact=app.contact,
            license_info=app.license_info,
            routes=app.routes,
            webhooks=app.webhooks.routes,
            tags=app.openapi_tags,
            servers=app.servers,
            separate_input_output_schemas=app.separate_input_output_schemas,
            external_docs=app.openapi_external_docs,
        )
        app.state.generated_contract = generated
    return generated


def _depends_on(dependant: Dependant, call: Callable[..., Any]) -> bool:
    return any(d.call is call or _depends_on(d, call) for d in dependant.dependencies)


def install_contract(
    app: FastAPI,
    *,
    key_use: Callable[[APIRoute], KeyUse],
    rate_limited: Callable[[str], bool],
) -> None:
    """Serve the completed contract as ``app.openapi()`` (and so at ``/openapi.json``)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            facts = {
                (path, method.lower()): _Facts(
                    key_use=key_use(route),
                    database=_depends_on(route.dependant, get_session),
                    rate_limited=rate_limited(path),
                )
                for route, path, method in operation_routes(app)
            }
            app.openapi_schema = complete_contract(generated_contract(app), facts)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


class _Facts:
    def __init__(self, *, key_use: KeyUse, database: bool, rate_limited: bool) -> None:
        self.key_use = key_use
        self.database = database
        self.rate_limited = rate_limited


def complete_contract(
    generated: dict[str, Any], facts: dict[tuple[str, str], _Facts]
) -> dict[str, Any]:
    """``generated`` with security, problem responses, headers and bounds per operation."""
    contract = copy.deepcopy(generated)
    components = contract.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    _add_problem_schema(schemas)
    components["headers"] = copy.deepcopy(HEADERS)
    schemes = components.setdefault("securitySchemes", {})
    if schemes and SECURITY_SCHEME not in schemes:
        # One scheme, named as the contract promises whatever the dependency calls it.
        components["securitySchemes"] = {SECURITY_SCHEME: next(iter(schemes.values()))}
    for path, path_item in contract.get("paths", {}).items():
        for method, operation in path_item.items():
            fact = facts.get((path, method))
            if fact is not None:
                _complete_operation(operation, method, fact)
    for name in _FASTAPI_VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    _declare_tags(contract)
    _bound(components.get("schemas", {}), TEXT_MAX_LENGTH)
    for path_item in contract.get("paths", {}).values():
        for operation in path_item.values():
            for parameter in operation.get("parameters", []):
                parameter["schema"] = _without_null(parameter.get("schema", {}))
                _bound(parameter["schema"], PARAMETER_MAX_LENGTH)
            _bound(operation.get("requestBody", {}), TEXT_MAX_LENGTH)
            _bound(operation.get("responses", {}), TEXT_MAX_LENGTH)
    return contract


def _add_problem_schema(schemas: dict[str, Any]) -> None:
    problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in problem.pop("$defs", {}).items():
        schemas.setdefault(name, definition)
    schemas.setdefault("Problem", problem)


def _problem(status: int, description: str | None = None) -> dict[str, Any]:
    return {
        "description": description or PROBLEM_DESCRIPTIONS.get(status, "Problem details."),
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": PROBLEM_REF}}},
    }


def _is_problem(response: dict[str, Any]) -> bool:
    content = response.get("content") or {}
    if PROBLEM_MEDIA_TYPE in content:
        return True
    schema = (content.get("application/json") or {}).get("schema") or {}
    ref = str(schema.get("$ref", ""))
    return ref == PROBLEM_REF or ref.endswith("/HTTPValidationError")


def _complete_operation(operation: dict[str, Any], method: str, fact: _Facts) -> None:
    if fact.key_use == "required":
        operation["security"] = [{SECURITY_SCHEME: []}]
    elif fact.key_use == "optional":
        operation["security"] = [{}, {SECURITY_SCHEME: []}]
    else:
        operation.pop("security", None)
    has_body = "requestBody" in operation
    parameters = operation.setdefault("parameters", [])
    if method == "post" and not any(p.get("name") == IDEMPOTENCY_KEY["name"] for p in parameters):
        parameters.append(copy.deepcopy(IDEMPOTENCY_KEY))
    if not parameters:
        operation.pop("parameters")
    has_path_parameters = any(p.get("in") == "path" for p in parameters)

    statuses = {422, 500}
    statuses |= {401} if fact.key_use != "none" else set()
    statuses |= {403} if fact.key_use == "required" else set()
    statuses |= {400, 413, 415} if has_body else set()
    statuses |= {400, 409} if method == "post" else set()  # idempotency keys
    statuses |= {404} if has_path_parameters else set()
    statuses |= {429} if fact.rate_limited else set()
    statuses |= {503} if fact.database else set()

    responses: dict[str, Any] = operation.setdefault("responses", {})
    if "default" in responses:
        # The route renders its own errors (the CASE binding's imsx_StatusInfo) and documents
        # them; only what is answered before or around it is added.
        statuses &= {429, 503}
    for code, response in responses.items():
        if code.isdigit() and _is_problem(response):
            responses[code] = _problem(int(code), response.get("description"))
    for status in statuses:
        responses.setdefault(str(status), _problem(status))
    conditional = "304" in responses
    for code, response in responses.items():
        headers = response.setdefault("headers", {})
        names = ["X-Request-ID", "Access-Control-Allow-Origin"]
        if fact.rate_limited:
            names += ["RateLimit", "RateLimit-Policy"]
        if code in {"429", "503"}:
            names.append("Retry-After")
        if code == "401":
            names.append("WWW-Authenticate")
        if conditional and code in {"200", "304"}:
            names.append("ETag")
        for name in names:
            headers.setdefault(name, {"$ref": f"#/components/headers/{name}"})
    operation["responses"] = dict(sorted(responses.items(), key=lambda item: item[0]))


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A parameter's schema without the ``null`` FastAPI adds for an optional one: a query value
    is never JSON null, an optional parameter is simply left out."""
    alternatives = schema.get("anyOf")
    if not isinstance(alternatives, list):
        return schema
    kept = [a for a in alternatives if a.get("type") != "null"]
    if len(kept) != 1 or len(kept) == len(alternatives):
        return schema
    rest = {k: v for k, v in schema.items() if k != "anyOf"}
    return {**kept[0], **rest}


def _declare_tags(contract: dict[str, Any]) -> None:
    declared = contract.setdefault("tags", [])
    known = {tag["name"] for tag in declared}
    for path_item in contract.get("paths", {}).values():
        for operation in path_item.values():
            for tag in operation.get("tags", []):
                if tag not in known:
                    known.add(tag)
                    declared.append({"name": tag, "description": f"Operations on {tag.lower()}."})


def _bound(node: Any, string_default: int) -> None:
    """Give every string, integer and array schema under ``node`` a bound if it names none."""
    if isinstance(node, list):
        for item in node:
            _bound(item, string_default)
        return
    if not isinstance(node, dict):
        return
    declared = node.get("type")
    types: set[Any] = set()
    if isinstance(declared, str):
        types = {declared}
    elif isinstance(declared, list):
        types = set(declared)
    if "string" in types:
        bound = string_bound(node, string_default)
        if bound is not None:
            node["maxLength"] = bound
    if "integer" in types:
        has_min = "minimum" in node or "exclusiveMinimum" in node
        has_max = "maximum" in node or "exclusiveMaximum" in node
        if not has_min:
            node["minimum"] = INT64_MIN
        if not has_max:
            node["maximum"] = INT64_MAX
        if "format" not in node:
            low = node.get("minimum", node.get("exclusiveMinimum"))
            high = node.get("maximum", node.get("exclusiveMaximum"))
            narrow = low is not None and high is not None and low >= INT32_MIN and high <= INT32_MAX
            node["format"] = "int32" if narrow else "int64"
    if "array" in types and "maxItems" not in node:
        node["maxItems"] = ARRAY_MAX_ITEMS
    for key, value in node.items():
        if key in {"examples", "example", "default", "const", "enum"}:
            continue
        _bound(value, string_default)


def contract_text(app: FastAPI) -> str:
    return json.dumps(app.openapi(), indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def write_contract(app: FastAPI, path: Path = CONTRACT_PATH) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(contract_text(app), encoding="utf-8")
    return path


def load_contract(path: Path = CONTRACT_PATH) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded
