"""API keys: made from 32 random bytes, stored as a SHA-256 digest, looked up by digest.

A fast hash is enough here: the secret has 256 bits of entropy, so there is nothing to brute-force,
and the lookup is one indexed equality on the digest.
"""

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.agencies.service import agency_exists
from app.audit.service import Identified, record
from app.auth.models import ApiKey
from app.auth.roles import KEY_ROLES, Role
from app.core.database import utcnow
from app.core.errors import Conflict, FieldError, NotFound, UnprocessableEntity

KEY_PREFIX = "cpro_"
# last_used_at is informative; writing it on every request would turn reads into writes.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class Caller:
    """The authenticated caller of a request: an API key, or a portal user's bearer token."""

    key_id: uuid.UUID | None
    """The API key used; None for a token (``app.auth.tokens``)."""
    role: Role
    agency_code: str | None
    name: str
    subject: str | None = None
    """The identity provider's ``sub`` when the caller sent a token."""
    candidate_id: uuid.UUID | None = None
    """For role ``candidate``: the one candidate this caller is."""


def digest_of(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def new_secret() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


async def create_api_key(
    session: AsyncSession,
    *,
    role: Role,
    name: str,
    agency_code: str | None = None,
    secret: str | None = None,
    actor: Identified | None = None,
) -> tuple[ApiKey, str]:
    """Create a key and return it with its secret (the only time the secret exists in clear).
    ``actor`` is who asked (None: the service itself, e.g. the CLI), for the audit trail."""
    if role not in KEY_ROLES:
        raise UnprocessableEntity(
            f"An API key cannot hold the role {role.value!r}.",
            errors=[FieldError(field="body.role", message="candidates sign in with a token")],
        )
    if (role is Role.agency) != (agency_code is not None):
        raise UnprocessableEntity(
            "An agency key must name its agency, and only agency keys may.",
            errors=[
                FieldError(field="body.agency", message="required exactly when role is 'agency'")
            ],
        )
    if agency_code is not None and not await agency_exists(session, agency_code):
        raise UnprocessableEntity(
            f"No agency with code {agency_code!r}.",
            errors=[FieldError(field="body.agency", message="unknown agency")],
        )
    secret = secret or new_secret()
    key = ApiKey(
        id=uuid.uuid4(),
        name=name,
        role=role.value,
        agency_code=agency_code,
        prefix=secret[: len(KEY_PREFIX) + 6],
        digest=digest_of(secret),
        created_at=utcnow(),
    )
    session.add(key)
    await session.flush()
    await record(
        session,
        actor,
        "api_key.create",
        "api_key",
        key.id,
        after={"name": name, "role": role.value, "agency": agency_code, "prefix": key.prefix},
    )
    return key, secret


async def ensure_admin_key(session: AsyncSession, secret: str) -> bool:
    """Make sure an admin key with exactly ``secret`` exists; True when one was created."""
    existing = await session.scalar(select(ApiKey).where(ApiKey.digest == digest_of(secret)))
    if existing is not None:
        if existing.revoked_at is not None or existing.role != Role.admin.value:
            existing.revoked_at = None
            existing.role = Role.admin.value
            existing.agency_code = None
        return False
    await create_api_key(
        session, role=Role.admin, name="bootstrap admin (CPRO_ADMIN_API_KEY)", secret=secret
    )
    return True


async def authenticate(session: AsyncSession, secret: str) -> Caller | None:
    """The caller holding ``secret``, or None when it is unknown, revoked or expired."""
    digest = digest_of(secret)
    key = await session.scalar(select(ApiKey).where(ApiKey.digest == digest))
    if key is None or not hmac.compare_digest(key.digest, digest) or key.revoked_at is not None:
        return None
    now = utcnow()
    if key.expires_at is not None and key.expires_at <= now:
        return None
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        # SKIP LOCKED: when another transaction holding this key's row (a cohort release
        # running for seconds, which recorded the use itself) has not committed yet, every
        # other request with the key would otherwise queue behind it just to say the same.
        locked = select(ApiKey.id).where(ApiKey.id == key.id).with_for_update(skip_locked=True)
        await session.execute(update(ApiKey).where(ApiKey.id.in_(locked)).values(last_used_at=now))
    return Caller(key_id=key.id, role=Role(key.role), agency_code=key.agency_code, name=key.name)


async def is_live_key(session: AsyncSession, secret: str) -> bool:
    """Whether ``secret`` is a key that would be let in now (known, not revoked, not expired),
    without recording its use: for deciding who may wait for a bulk turn."""
    digest = digest_of(secret)
    found = await session.scalar(
        select(ApiKey.id).where(
            ApiKey.digest == digest,
            ApiKey.revoked_at.is_(None),
            or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > utcnow()),
        )
    )
    return found is not None


async def revoke_api_key(
    session: AsyncSession, key_id: uuid.UUID, actor: Identified | None = None
) -> ApiKey:
    key = await session.get(ApiKey, key_id, with_for_update=True)
    if key is None:
        raise NotFound("No API key with that id.")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        await session.flush()
        await record(
            session,
            actor,
            "api_key.revoke",
            "api_key",
            key.id,
            after={"revoked_at": key.revoked_at},
        )
    return key


async def rotate_api_key(
    session: AsyncSession, key_id: uuid.UUID, overlap: timedelta, actor: Identified | None = None
) -> tuple[ApiKey, str]:
    """A new key with the old one's role, agency and name; the old key keeps working for
    ``overlap`` (never longer than it already would), so callers can switch without downtime."""
    old = await session.get(ApiKey, key_id, with_for_update=True)
    if old is None:
        raise NotFound("No API key with that id.")
    now = utcnow()
    if old.revoked_at is not None or (old.expires_at is not None and old.expires_at <= now):
        raise Conflict("The key is revoked or expired already; create a new key instead.")
    new, secret = await create_api_key(
        session,
        role=Role(old.role),
        name=old.name,
        agency_code=old.agency_code,
        actor=actor,
    )
    before = old.expires_at
    ends = now + overlap
    old.expires_at = ends if before is None else min(before, ends)
    await session.flush()
    await record(
        session,
        actor,
        "api_key.rotate",
        "api_key",
        old.id,
        before={"expires_at": before},
        after={"expires_at": old.expires_at, "replaced_by": new.id},
    )
    return new, secret
