"""Who may call a route, declared once in its signature.

    async def create_agency(..., caller: AdminOnly) -> ...

Each alias below is an ``Allow`` dependency that knows its roles, so the route-to-roles table
can be generated from the app itself (``app.auth.access.route_roles``).
"""

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.auth.roles import Role
from app.auth.service import Caller, authenticate
from app.auth.tokens import TokenVerifier, looks_like_token
from app.core.database import Session
from app.core.errors import Forbidden, Unauthorized
from app.core.input_guard import raise_refused_input
from app.core.openapi import SECURITY_SCHEME, KeyUse

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name=SECURITY_SCHEME,
    description="An API key (`cpro_...`) sent as `Authorization: Bearer <key>`, or a CSI portal "
    "user's token (a JWT from the portal's identity provider) as `Authorization: Bearer <token>`.",
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def _caller_or_none(
    request: Request, session: Session, credentials: Credentials
) -> Caller | None:
    if credentials is None:
        if request.headers.get("authorization"):
            raise Unauthorized("The Authorization header must be `Bearer <key>`.")
        return None
    verifier: TokenVerifier | None = getattr(request.app.state, "token_verifier", None)
    if verifier is not None and looks_like_token(credentials.credentials):
        return verifier.verify(credentials.credentials)
    caller = await authenticate(session, credentials.credentials)
    if caller is None:
        raise Unauthorized("The API key is unknown or revoked.")
    return caller


class Allow:
    """A dependency admitting callers whose role is one of ``roles``."""

    def __init__(self, *roles: Role) -> None:
        self.roles = frozenset(roles)

    async def __call__(
        self, request: Request, caller: Annotated[Caller | None, Depends(_caller_or_none)]
    ) -> Caller:
        if caller is None:
            raise Unauthorized("This operation needs an API key: `Authorization: Bearer <key>`.")
        if caller.role not in self.roles:
            allowed = ", ".join(sorted(self.roles))
            raise Forbidden(f"The role {caller.role.value!r} may not do this (allowed: {allowed}).")
        raise_refused_input(request)  # only now: an outsider learns nothing about the input
        return caller


class Public:
    """A dependency admitting anyone; a key, when sent, must still be valid."""

    roles = frozenset(Role)
    anonymous = True

    async def __call__(
        self, request: Request, caller: Annotated[Caller | None, Depends(_caller_or_none)]
    ) -> Caller | None:
        raise_refused_input(request)  # a key sent was valid (else 401 came first)
        return caller


AdminOnly = Annotated[Caller, Depends(Allow(Role.admin))]
Staff = Annotated[Caller, Depends(Allow(Role.admin, Role.staff))]
# Every role but candidate: a candidate token reaches its own record only, never shared lists.
AnyRole = Annotated[Caller, Depends(Allow(*(role for role in Role if role is not Role.candidate)))]
Anyone = Annotated[Caller | None, Depends(Public())]


def guards_of(dependant: Dependant) -> Iterator["Allow | Public"]:
    """The ``Allow``/``Public`` guards anywhere in a route's dependency tree."""
    for dependency in dependant.dependencies:
        if isinstance(dependency.call, Allow | Public):
            yield dependency.call
        yield from guards_of(dependency)


def key_use(route: APIRoute) -> KeyUse:
    """What the contract says of a route's key: required behind ``Allow``, optional behind
    ``Public`` only (a key sent must be valid), none without a guard (a key sent is ignored)."""
    guards = list(guards_of(route.dependant))
    if not guards:
        return "none"
    return "optional" if all(isinstance(g, Public) for g in guards) else "required"
