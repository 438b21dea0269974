"""Every request held to what the contract says of it, before any route sees it.

One dependency of the whole app (``check_input``), so a route added anywhere gets it. It reads the
operation's own part of the OpenAPI contract (as FastAPI generated it from the route) and refuses
with a 422 naming the field:

- a NUL character or an unpaired UTF-16 surrogate in any string of the body (keys too, at any
  depth), the query or the path: PostgreSQL cannot store the first, UTF-8 cannot encode the
  second, and either would otherwise surface as a 500;
- a JSON value of the wrong JSON type where the contract names the type: ``false`` where it says
  integer, ``5`` where it says a string or date-time, ``"5"`` where it says number (pydantic's lax
  mode would coerce each of these). Where the contract admits a string (decimal amounts are
  ``number | string``), a string is fine;
- a query value that is not a date where the contract says date or date-time (``?to=0.5``);
- ``NaN`` and ``Infinity``, which Python's JSON parser admits and JSON does not;
- a value past the bound the contract gives it where the route itself declared none
  (``app/core/limits.py``): the same bounds ``app/core/openapi.py`` writes into the contract.

A body whose media type the operation does not accept is a 415.
"""

import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.routing import APIRoute

from app.core.errors import FieldError, UnprocessableEntity, UnsupportedMediaType
from app.core.limits import (
    ARRAY_MAX_ITEMS,
    INT64_MAX,
    INT64_MIN,
    JSON_MAX_DEPTH,
    PARAMETER_MAX_LENGTH,
    TEXT_MAX_LENGTH,
    string_bound,
)
from app.core.openapi import generated_contract, operation_routes

Schema = dict[str, Any]
Location = tuple[str | int, ...]

MAX_REPORTED_ERRORS = 50
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# What a JSON text needs to spell a NUL, a surrogate (escaped, or UTF-8-encoded and let through
# by Python's decoder) or a non-finite number.
_TEXT_HAZARDS = (b"\\u", b"\xed", b"NaN", b"Infinity")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

_JSON_TYPE_NAMES = {
    "null": "null",
    "boolean": "a boolean",
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "array": "an array",
    "object": "an object",
}

REQUIRED = "Field required"


def unstorable_reason(text: str) -> str | None:
    """Why ``text`` cannot be taken as it is, or None when it can."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return "contains a NUL character (U+0000), which cannot be stored"
    return "contains an unpaired surrogate (U+D800 to U+DFFF), which is not valid Unicode"


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


@dataclass
class _Check:
    """The errors of one request, found by walking its values beside their schemas."""

    components: dict[str, Schema]
    errors: list[FieldError] = field(default_factory=list)
    clean_text: bool = False
    """The raw body has no ``\\u`` escape, no encoded surrogate and no NaN: no string in it
    can be unstorable, so the free-form parts need only their lengths checked."""

    def fail(self, location: Location, message: str) -> None:
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(FieldError(field=_field_path(location), message=message))

    def resolve(self, schema: Schema | None) -> Schema | None:
        seen = 0
        while schema is not None and "$ref" in schema and seen < 32:
            name = str(schema["$ref"]).rsplit("/", 1)[-1]
            target = self.components.get(name)
            siblings = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**target, **siblings} if target is not None else None
            seen += 1
        return schema

    def types(self, schema: Schema | None) -> set[str] | None:
        """The JSON types ``schema`` admits; None when it does not say."""
        schema = self.resolve(schema)
        if schema is None:
            return None
        declared = schema.get("type")
        if isinstance(declared, str):
            return {declared}
        if isinstance(declared, list):
            return {str(t) for t in declared}
        alternatives = schema.get("anyOf") or schema.get("oneOf")
        if alternatives:
            admitted: set[str] = set()
            for alternative in alternatives:
                more = self.types(alternative)
                if more is None:
                    return None
                admitted |= more
            return admitted
        if "const" in schema:
            return {json_type(schema["const"])}
        return None

    def loose(self, value: Any, location: Location, depth: int) -> None:
        """The checks that hold for any value, where the contract says nothing of its shape
        (free-form ``data``, batch records validated one by one): the common path, kept lean."""
        if isinstance(value, str):
            if len(value) > TEXT_MAX_LENGTH or (not self.clean_text and _UNSTORABLE.search(value)):
                self._string(value, {}, location, TEXT_MAX_LENGTH)
        elif isinstance(value, dict):
            if depth >= JSON_MAX_DEPTH:
                self.fail(location, f"nests deeper than {JSON_MAX_DEPTH} levels")
                return
            for key, item in value.items():
                if len(key) > TEXT_MAX_LENGTH or (not self.clean_text and _UNSTORABLE.search(key)):
                    self._object({key: None}, {}, location, depth)
                elif isinstance(item, str | dict | list) or (
                    isinstance(item, float) and not self.clean_text
                ):
                    self.loose(item, (*location, key), depth + 1)
        elif isinstance(value, list):
            if depth >= JSON_MAX_DEPTH or len(value) > ARRAY_MAX_ITEMS:
                self._array(value, {}, location, depth)
                return
            for index, item in enumerate(value):
                if isinstance(item, str | dict | list) or (
                    isinstance(item, float) and not self.clean_text
                ):
                    self.loose(item, (*location, index), depth + 1)
        elif isinstance(value, float) and not math.isfinite(value):
            self.fail(location, "must be a finite number (NaN and Infinity are not JSON)")

    def value(self, value: Any, schema: Schema | None, location: Location, depth: int) -> None:
        if depth > JSON_MAX_DEPTH:
            self.fail(location, f"nests deeper than {JSON_MAX_DEPTH} levels")
            return
        schema = self.resolve(schema)
        if schema is None or not schema:
            self.loose(value, location, depth)
            return
        kind = json_type(value)
        admitted = self.types(schema)
        if admitted is not None and not _admits(admitted, kind, value):
            wanted = " or ".join(_JSON_TYPE_NAMES.get(t, t) for t in sorted(admitted))
            self.fail(location, f"must be {wanted}, not {_JSON_TYPE_NAMES[kind]}")
            return
        schema = self._branch(schema, value)
        if kind == "string":
            self._string(value, schema or {}, location, TEXT_MAX_LENGTH)
        elif kind == "number" and not math.isfinite(value):
            self.fail(location, "must be a finite number (NaN and Infinity are not JSON)")
        elif kind == "integer" and schema is not None and admitted is not None:
            if not _within_default_range(schema, value):
                self.fail(location, "is outside the 64-bit integer range")
        elif kind == "array":
            self._array(value, schema or {}, location, depth)
        elif kind == "object":
            self._object(value, schema or {}, location, depth)

    def _branch(self, schema: Schema | None, value: Any) -> Schema | None:
        """The one alternative of an ``anyOf``/``oneOf`` that ``value`` is checked against."""
        if schema is None:
            return None
        alternatives = schema.get("anyOf") or schema.get("oneOf")
        if not alternatives:
            return schema
        discriminator = schema.get("discriminator")
        if isinstance(discriminator, dict) and isinstance(value, dict):
            tag = value.get(discriminator.get("propertyName", ""))
            target = (discriminator.get("mapping") or {}).get(tag) if isinstance(tag, str) else None
            if target is not None:
                return self.resolve({"$ref": target})
        kind = json_type(value)
        fitting = [
            resolved
            for alternative in alternatives
            if (resolved := self.resolve(alternative)) is not None
            and ((types := self.types(resolved)) is None or _admits(types, kind, value))
        ]
        if len(fitting) == 1:
            return self._branch(fitting[0], value)
        # Several alternatives of one JSON type (two object shapes): only what holds for all.
        return None

    def _string(self, value: str, schema: Schema, location: Location, default: int) -> None:
        reason = unstorable_reason(value)
        if reason is not None:
            self.fail(location, reason)
            return
        bound = string_bound(schema, default)
        if bound is not None and len(value) > bound:
            self.fail(location, f"is longer than {bound} characters")

    def _array(self, value: list[Any], schema: Schema, location: Location, depth: int) -> None:
        if "maxItems" not in schema and len(value) > ARRAY_MAX_ITEMS:
            self.fail(location, f"has more than {ARRAY_MAX_ITEMS} items")
            return
        prefix = schema.get("prefixItems") or []
        items = schema.get("items") if isinstance(schema.get("items"), dict) else None
        for index, item in enumerate(value):
            item_schema = prefix[index] if index < len(prefix) else items
            self.value(item, item_schema, (*location, index), depth + 1)

    def _object(
        self, value: dict[str, Any], schema: Schema, location: Location, depth: int
    ) -> None:
        properties = schema.get("properties") or {}
        for name in schema.get("required") or ():
            if name not in value:
                # Said here too, so that a refusal lists every field, as pydantic's would.
                self.fail((*location, name), REQUIRED)
        extra = schema.get("additionalProperties")
        clean = self.clean_text
        for key, item in value.items():
            reason = None if clean else unstorable_reason(key)
            if reason is not None:
                self.fail(location, f"has a key that {reason}")
                continue
            if len(key) > TEXT_MAX_LENGTH:
                self.fail(location, f"has a key longer than {TEXT_MAX_LENGTH} characters")
                continue
            item_schema = properties.get(key, extra if isinstance(extra, dict) else None)
            if item_schema is None:
                if clean and not isinstance(item, dict | list):
                    if isinstance(item, str) and len(item) > TEXT_MAX_LENGTH:
                        self._string(item, {}, (*location, key), TEXT_MAX_LENGTH)
                    continue  # the rest of free-form data has nothing left to check
                self.loose(item, (*location, key), depth + 1)
            else:
                self.value(item, item_schema, (*location, key), depth + 1)


def _within_default_range(schema: Schema, value: int) -> bool:
    """Whether ``value`` keeps to the 64-bit bounds on each side the schema leaves open."""
    if "minimum" not in schema and "exclusiveMinimum" not in schema and value < INT64_MIN:
        return False
    return not ("maximum" not in schema and "exclusiveMaximum" not in schema and value > INT64_MAX)


def _admits(types: set[str], kind: str, value: Any) -> bool:
    if kind in types:
        return True
    if kind == "integer" and "number" in types:
        return True
    # JSON does not tell 5 from 5.0, and pydantic takes an integral float as an integer.
    return kind == "number" and "integer" in types and float(value).is_integer()


def _field_path(location: Location) -> str:
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


@dataclass(frozen=True)
class _Operation:
    parameters: list[Schema]
    body_media_types: frozenset[str]
    body_schema: Schema | None


def _operations(app: FastAPI) -> dict[tuple[int, str], _Operation]:
    """Each operation of the generated contract, by (its route's identity, method)."""
    cached: dict[tuple[int, str], _Operation] | None = getattr(app.state, "input_guard", None)
    if cached is not None:
        return cached
    paths = generated_contract(app).get("paths", {})
    operations: dict[tuple[int, str], _Operation] = {}
    for route, path, method in operation_routes(app):
        operation = paths.get(path, {}).get(method.lower())
        if not isinstance(operation, dict):
            continue
        content = (operation.get("requestBody") or {}).get("content") or {}
        json_content = content.get("application/json") or {}
        operations[(id(route), method)] = _Operation(
            parameters=list(operation.get("parameters") or []),
            body_media_types=frozenset(content),
            body_schema=json_content.get("schema"),
        )
    app.state.input_guard = operations
    return operations


def _media_type(request: Request) -> str | None:
    value = request.headers.get("content-type")
    if value is None:
        return None
    return value.split(";", 1)[0].strip().lower()


def _inspected(media_type: str) -> bool:
    """Whether the body's text is checked here (JSON and text); others only by their type."""
    return (
        media_type == "application/json"
        or media_type.endswith("+json")
        or media_type.startswith("text/")
    )


def _accepts(accepted: frozenset[str], media_type: str | None) -> bool:
    if media_type is None:
        return False
    if media_type in accepted:
        return True
    return media_type.endswith("+json") and "application/json" in accepted


def _parameter_values(request: Request, parameter: Schema) -> Iterator[tuple[Location, Any]]:
    name = parameter.get("name", "")
    where = parameter.get("in")
    if where == "query":
        for value in request.query_params.getlist(name):
            yield ("query", name), value
    elif where == "path" and name in request.path_params:
        yield ("path", name), request.path_params[name]
    elif where == "header" and name in request.headers:
        yield ("header", name), request.headers[name]


def _check_parameter(check: _Check, location: Location, value: Any, schema: Schema) -> None:
    if not isinstance(value, str):
        return
    schema = check.resolve(schema) or {}
    alternatives = [
        resolved
        for alternative in schema.get("anyOf") or [schema]
        if (resolved := check.resolve(alternative)) is not None and resolved.get("type") != "null"
    ]
    chosen = alternatives[0] if len(alternatives) == 1 else {}
    if chosen.get("type") == "array":
        chosen = check.resolve(chosen.get("items")) or {}
    check._string(value, chosen, location, PARAMETER_MAX_LENGTH)
    if chosen.get("format") in {"date", "date-time"} and not _ISO_DATE.match(value):
        check.fail(location, f"must be an ISO 8601 {chosen['format']} (YYYY-MM-DD...)")
    if chosen.get("type") == "integer":
        try:
            number = int(value)
        except ValueError:
            return  # not an integer at all: the route's own validation says so
        if not _within_default_range(chosen, number):
            check.fail(location, "is outside the 64-bit integer range")


async def check_input(request: Request) -> None:
    """Refuse, before the route runs, input the contract does not admit (see the module)."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    app: FastAPI = request.app
    method = "GET" if request.method == "HEAD" else request.method
    operation = _operations(app).get((id(route), method))
    check = _Check(generated_contract(app).get("components", {}).get("schemas", {}))

    declared = {p.get("name") for p in operation.parameters} if operation else set()
    for name, value in request.query_params.multi_items():
        reason = unstorable_reason(name) or (None if name in declared else unstorable_reason(value))
        if reason is not None:
            check.fail(("query", name), reason)
    try:
        if operation is not None:
            for parameter in operation.parameters:
                for location, value in _parameter_values(request, parameter):
                    _check_parameter(check, location, value, parameter.get("schema") or {})
            if operation.body_media_types:
                await _check_body(request, route, operation, check)
        # Only missing fields: the route's own validation says so, with every other problem of
        # the body that this guard does not look for (a refusal here would hide those).
        if check.errors and any(e.message != REQUIRED for e in check.errors):
            raise UnprocessableEntity(
                f"{len(check.errors)} field(s) failed validation.", errors=check.errors
            )
    except (UnprocessableEntity, UnsupportedMediaType) as refusal:
        # Who may not call the operation must hear that (401, 403) before anything about its
        # input: where the route has a guard, the guard raises this once it has admitted the
        # caller (``REFUSED_INPUT``); elsewhere nobody is turned away, so it is raised now.
        guarded: Callable[[APIRoute], bool] | None = getattr(app.state, "guarded", None)
        if guarded is None or not guarded(route):
            raise
        request.state.refused_input = refusal


async def _check_body(
    request: Request, route: APIRoute, operation: _Operation, check: _Check
) -> None:
    media_type = _media_type(request)
    if media_type is not None and not _inspected(media_type):
        # A binary or multipart body (a portfolio document, up to 20 MiB) streams to its route
        # unread: reading it here would hold the whole file in memory. Only its type is checked.
        if request.headers.get("content-length") != "0" and not _accepts(
            operation.body_media_types, media_type
        ):
            accepted = ", ".join(sorted(operation.body_media_types))
            raise UnsupportedMediaType(
                f"This operation takes {accepted}; the request sent {media_type}."
            )
        return
    body = await request.body()
    if not body:
        return  # a required body that is missing: the route's own validation says so
    if media_type is None:
        return  # nothing claimed: the route reads it as what it takes, or refuses it
    if not _accepts(operation.body_media_types, media_type):
        accepted = ", ".join(sorted(operation.body_media_types))
        raise UnsupportedMediaType(
            f"This operation takes {accepted}; the request sent {media_type or 'no Content-Type'}."
        )
    if media_type == "application/json" or (media_type or "").endswith("+json"):
        if route.body_field is not None:
            document = await request.json()  # parsed (and cached) by FastAPI already
        else:
            try:
                document = json.loads(body)
            except (ValueError, RecursionError):
                return  # the route parses its own body and reports what is wrong with it
        check.clean_text = not any(mark in body for mark in _TEXT_HAZARDS)
        check.value(document, operation.body_schema, ("body",), 0)
    elif (media_type or "").startswith("text/") and b"\x00" in body:
        check.fail(("body",), "contains a NUL character (U+0000), which cannot be stored")
    elif media_type in {"multipart/form-data", "application/x-www-form-urlencoded"}:
        form = await request.form()
        for name, value in form.multi_items():
            reason = unstorable_reason(name)
            if reason is None and isinstance(value, str):
                reason = unstorable_reason(value)
            if reason is not None:
                check.fail(("body", name), reason)


def raise_refused_input(request: Request) -> None:
    """Raise what ``check_input`` refused in this request, if anything (called by the guards
    once the caller is admitted)."""
    refusal: Exception | None = getattr(request.state, "refused_input", None)
    if refusal is not None:
        raise refusal
