"""Who may call what, read from the routes themselves.

Every route declares its roles with an ``Allow``/``Public`` dependency (``app/auth/dependencies``);
walking each route's dependency tree for those instances gives the route-to-roles table that the
README shows and the tests hold the app to. Nothing here is written by hand, so the table cannot
drift from the code.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from fastapi.routing import APIRoute

from app.auth.dependencies import Public, guards_of
from app.auth.roles import Role
from app.main import api_routes

TABLE_START = "<!-- roles:start -->"
TABLE_END = "<!-- roles:end -->"


@dataclass(frozen=True)
class RouteAccess:
    """One operation and who may call it."""

    method: str
    path: str
    name: str
    roles: frozenset[Role]
    anonymous: bool
    """True when a caller without a key is admitted (published data, probes, verification)."""


def access_of(route: APIRoute) -> list[RouteAccess]:
    """The access of each method of ``route``. A route without any guard is open to anyone."""
    guards = list(guards_of(route.dependant))
    if guards:
        # Every guard on the route must admit the caller, so the roles are their intersection.
        roles = frozenset(Role).intersection(*(guard.roles for guard in guards))
        anonymous = all(isinstance(guard, Public) for guard in guards)
    else:
        roles, anonymous = frozenset(Role), True
    return [
        RouteAccess(method, route.path, route.name, roles, anonymous)
        for method in sorted(route.methods or ())
    ]


def route_roles(routes: Iterable[APIRoute] | None = None) -> list[RouteAccess]:
    """Every operation of the app (or of ``routes``) with the roles it admits."""
    if routes is None:
        routes = api_routes()
    return [access for route in routes for access in access_of(route)]


def roles_table(accesses: Iterable[RouteAccess]) -> str:
    """The Markdown table of ``accesses``: one row per operation, one column per role."""
    columns = [*Role, "no key"]
    lines = [
        "| method | path | " + " | ".join(str(c) for c in columns) + " |",
        "|---|---|" + "---|" * len(columns),
    ]
    for access in accesses:
        marks = ["yes" if role in access.roles else "" for role in Role]
        marks.append("yes" if access.anonymous else "")
        lines.append(f"| {access.method} | `{access.path}` | " + " | ".join(marks) + " |")
    return "\n".join(lines) + "\n"


_BETWEEN_MARKERS = re.compile(re.escape(TABLE_START) + r"\n.*?" + re.escape(TABLE_END), re.DOTALL)


def with_roles_table(readme: str, table: str) -> str:
    """``readme`` with ``table`` between the role markers (which must be there once)."""
    if readme.count(TABLE_START) != 1 or readme.count(TABLE_END) != 1:
        raise ValueError(f"the README needs exactly one {TABLE_START} ... {TABLE_END} block")
    return _BETWEEN_MARKERS.sub(lambda _: f"{TABLE_START}\n{table}{TABLE_END}", readme)


def write_roles_table(readme_path: Path) -> bool:
    """Rewrite the README's role table from the code; True when it changed."""
    before = readme_path.read_text(encoding="utf-8")
    after = with_roles_table(before, roles_table(route_roles()))
    if after != before:
        readme_path.write_text(after, encoding="utf-8")
    return after != before
