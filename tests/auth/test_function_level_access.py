"""Function-level authorization (OWASP API5): every operation admits exactly the roles the
route-to-roles table gives it, and the README shows that table as the code has it.

Routes are read from ``app.main.api_routes()``, so an operation added later is checked too.
"""

import uuid
from typing import Annotated, Any

from fastapi import Depends, FastAPI
from fastapi.routing import APIRoute
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.access import RouteAccess, access_of, roles_table, route_roles, with_roles_table
from app.auth.dependencies import Allow, Staff
from app.auth.roles import KEY_ROLES, Role
from app.auth.service import Caller
from app.core.schema_version import PROJECT_ROOT
from app.main import api_routes
from tests.factories import auth_headers, make_agency

AGENCY = "DOH"
# Placeholders by path parameter name for those that are not UUIDs; anything else gets "x1".
PLACEHOLDERS = {
    "agency": AGENCY,
    "code": AGENCY,
    "serial": "CPRO-0000-0000-0000-0000",
    "slug": "csc-leadership-competencies",
    "version": "2015",
    "other": "2015",
    "external_id": "EMP-1",
    "module": "module-1",
}


def placeholder_path(route: APIRoute) -> str:
    values: dict[str, str] = {}
    for param in route.dependant.path_params:
        if param.field_info.annotation is uuid.UUID:
            values[param.alias] = str(uuid.uuid4())
        else:
            values[param.alias] = PLACEHOLDERS.get(param.alias, "x1")
    return route.path_format.format(**values)


def test_the_readme_role_table_is_the_one_the_code_gives() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    expected = with_roles_table(readme, roles_table(route_roles()))
    assert readme == expected, "the README's role table is stale: run `cpro roles-table`"


def test_every_operation_has_a_row_and_guarded_operations_name_their_roles() -> None:
    accesses = route_roles()
    operations = {(m, r.path) for r in api_routes() for m in r.methods}
    assert {(a.method, a.path) for a in accesses} == operations
    # A route that forgot its guard would read as public: only these may be.
    public = {a.path for a in accesses if a.anonymous}
    assert all(
        p in ("/healthz", "/readyz", "/.well-known/jwks.json")
        or p in ("/v1/issuer", "/v1/achievements/{slug}", "/v1/status-lists/{list_id}")
        or p.startswith(("/v1/frameworks", "/v1/indicators", "/v1/certificates/", "/ims/case/"))
        for p in public
    ), sorted(public)
    assert all(a.roles for a in accesses)


def _verdict(access: RouteAccess, role: Role | None, status: int) -> str | None:
    admitted = access.anonymous if role is None else role in access.roles
    if status >= 500:
        return f"{status} (server error)"
    if admitted and status in (401, 403):
        return f"{status} but the table admits it"
    if not admitted and role is None and status != 401:
        return f"{status}, expected 401"
    if not admitted and role is not None and status != 403:
        return f"{status}, expected 403"
    return None


async def test_every_operation_admits_exactly_the_roles_in_the_table(
    client: AsyncClient, session: AsyncSession
) -> None:
    await make_agency(session, AGENCY)
    # The roles an API key can hold, and no key at all; portal tokens (the candidate role) are
    # tests/auth/test_tokens.py's.
    callers: list[Role | None] = [*sorted(KEY_ROLES), None]
    headers: dict[Role | None, dict[str, str]] = {None: {}}
    for role in sorted(KEY_ROLES):
        headers[role] = await auth_headers(
            session, role, agency=AGENCY if role is Role.agency else None
        )
    routes = {route.path_format: route for route in api_routes()}
    failures = []
    for access in route_roles():
        route = routes[access.path]
        for role in callers:
            kwargs: dict[str, Any] = {"headers": headers[role]}
            if access.method in ("POST", "PUT", "PATCH"):
                kwargs["json"] = {}
            response = await client.request(access.method, placeholder_path(route), **kwargs)
            problem = _verdict(access, role, response.status_code)
            if problem:
                who = role.value if role else "no key"
                failures.append(f"{access.method} {access.path} as {who}: {problem}")
    assert not failures, "\n".join(failures)


def test_the_table_reads_guards_through_nested_dependencies() -> None:
    """An ``Allow`` deep in a route's dependency tree still counts, and two guards intersect."""

    async def nested(caller: Staff) -> Caller:
        return caller

    demo = FastAPI()

    @demo.get("/demo")
    async def handler(
        caller: Annotated[Caller, Depends(nested)],
        also: Annotated[Caller, Depends(Allow(Role.staff, Role.reader))],
    ) -> None:
        return None

    route = next(r for r in demo.routes if isinstance(r, APIRoute))
    (access,) = access_of(route)
    assert access.roles == {Role.staff} and not access.anonymous
