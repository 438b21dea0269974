"""Webhook subscriptions and signing (Standard Webhooks: https://www.standardwebhooks.com/).

A delivery is ``POST url`` with the event as ``{"type", "timestamp", "data"}`` and the headers
``webhook-id`` (the event id: receivers deduplicate on it), ``webhook-timestamp`` (Unix
seconds) and ``webhook-signature`` (``v1,`` + base64 HMAC-SHA256 of ``id.timestamp.body``
under the subscription's secret, whose text form is ``whsec_`` + base64 of its bytes).
"""

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.auth.roles import Role
from app.auth.service import Caller
from app.core.errors import FieldError, NotFound, UnprocessableEntity
from app.integrations.models import CandidateEvent, WebhookSubscription

EVENT_TYPES = (
    "candidate.created",
    "candidate.updated",
    "candidate.transitioned",
    "assessment.released",
    "certificate.issued",
    "certificate.revoked",
    "orientation.registered",
)
TEST_EVENT_TYPE = "webhook.test"
SECRET_PREFIX = "whsec_"  # noqa: S105 - the format prefix, not a secret


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def payload(event: CandidateEvent) -> bytes:
    return json.dumps(
        {
            "type": event.type,
            "timestamp": event.occurred_at.astimezone(UTC).isoformat(),
            "data": {
                "event_id": str(event.id),
                "candidate_id": str(event.candidate_id),
                "agency": event.agency_code,
                **event.data,
            },
        },
        separators=(",", ":"),
    ).encode()


def test_payload(message_id: uuid.UUID, subscription_id: uuid.UUID, now: datetime) -> bytes:
    """The body of a ``webhook.test`` event: a subscriber's check that it verifies what it gets."""
    return json.dumps(
        {
            "type": TEST_EVENT_TYPE,
            "timestamp": now.astimezone(UTC).isoformat(),
            "data": {"event_id": str(message_id), "subscription_id": str(subscription_id)},
        },
        separators=(",", ":"),
    ).encode()


def signing_secrets(subscription: WebhookSubscription, now: datetime) -> list[str]:
    """The current secret, and the one it replaced while its overlap lasts."""
    secrets_ = [subscription.secret]
    until = subscription.previous_secret_expires_at
    if subscription.previous_secret and until is not None and now < until:
        secrets_.append(subscription.previous_secret)
    return secrets_


def signed_headers(
    signing: Sequence[str], message_id: uuid.UUID, body: bytes, now: datetime
) -> dict[str, str]:
    """Standard Webhooks headers; during a rotation, one signature per secret, space-separated
    (receivers accept the message when any of them verifies)."""
    timestamp = int(now.timestamp())
    return {
        "content-type": "application/json",
        "webhook-id": str(message_id),
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            sign(secret, str(message_id), timestamp, body) for secret in signing
        ),
        "user-agent": "cpro-webhooks/1",
    }


_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _forbidden_address(address: str) -> bool:
    """Anything but a public unicast address, also when an IPv4 one hides inside IPv6."""
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip in _NAT64:
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFF_FFFF)
    return not ip.is_global or ip.is_multicast


@dataclass(frozen=True)
class PinnedTarget:
    """Where one delivery goes: the URL with each address checked just now in place of the host
    name (in the resolver's order, tried one after another), so that the connection cannot
    land anywhere else (a name that re-resolves to an internal address between the check and
    the connect: DNS rebinding)."""

    urls: list[str]
    host: str
    """The ``Host`` header: the name (IDNA-encoded) and the port as subscribed."""
    sni_hostname: str | None
    """For https: the name the TLS handshake asks for and the certificate must match."""


class TargetRefused(Exception):
    """The webhook URL now resolves to an address deliveries must not reach."""


async def pin_target(url: str, *, allow_private: bool) -> PinnedTarget:
    """Resolve ``url``'s host for one delivery; refuse internal addresses unless allowed."""
    parts = urlsplit(url)
    try:
        hostname = (parts.hostname or "").encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise TargetRefused("the host name is not a valid domain name") from exc
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            hostname, port, type=socket.SOCK_STREAM
        )
    except (OSError, UnicodeError) as exc:
        raise TargetRefused("the host name does not resolve") from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses or (not allow_private and any(map(_forbidden_address, addresses))):
        raise TargetRefused("the host name resolves to a loopback, private or reserved address")
    suffix = f":{parts.port}" if parts.port else ""

    def bracketed(host: str) -> str:
        return f"[{host}]" if ":" in host else host

    return PinnedTarget(
        urls=[parts._replace(netloc=bracketed(a) + suffix).geturl() for a in addresses],
        host=bracketed(hostname) + suffix,
        sni_hostname=hostname if parts.scheme == "https" else None,
    )


async def check_target(url: str, *, allow_private: bool) -> None:
    """Refuse URLs that are not http(s) or that resolve to internal addresses (SSRF)."""
    parts = urlsplit(url)
    problems = []
    if parts.scheme not in ("https", "http") or not parts.hostname:
        problems.append("must be an absolute http(s) URL")
    elif parts.username or parts.password:
        problems.append("must not carry credentials")
    elif not allow_private:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                parts.hostname, parts.port or 443, type=socket.SOCK_STREAM
            )
        except (OSError, UnicodeError):
            problems.append("the host name does not resolve")
        else:
            if any(_forbidden_address(str(info[4][0])) for info in infos):
                problems.append("resolves to a loopback, private, link-local or reserved address")
    if problems:
        raise UnprocessableEntity(
            "The webhook URL cannot be used.",
            errors=[FieldError(field="body.url", message=p) for p in problems],
        )


async def create_subscription(
    session: AsyncSession,
    caller: Caller,
    *,
    url: str,
    events: list[str],
    agency: str | None,
    allow_private: bool,
) -> WebhookSubscription:
    await check_target(url, allow_private=allow_private)
    if caller.role is Role.agency:
        agency = caller.agency_code
    latest = await session.scalar(
        select(CandidateEvent.position).order_by(CandidateEvent.position.desc()).limit(1)
    )
    subscription = WebhookSubscription(
        id=uuid.uuid4(),
        agency_code=agency,
        url=url,
        events=sorted(set(events)),
        secret=new_secret(),
        active=True,
        # A new subscription receives what happens from now on; the feed has the past.
        delivered_position=latest or 0,
        attempts=0,
        next_attempt_at=datetime.now(UTC),
        created_at=datetime.now(UTC),
    )
    session.add(subscription)
    await session.flush()
    await record(
        session,
        caller,
        "webhook_subscription.create",
        "webhook_subscription",
        subscription.id,
        after={"url": url, "events": subscription.events, "agency": agency},
    )
    return subscription


async def delete_subscription(
    session: AsyncSession, caller: Caller, subscription_id: uuid.UUID
) -> None:
    """Delete the subscription (its delivery log goes with it)."""
    subscription = await get_subscription(session, caller, subscription_id)
    await record(
        session,
        caller,
        "webhook_subscription.delete",
        "webhook_subscription",
        subscription.id,
        before={"url": subscription.url, "events": subscription.events},
    )
    await session.delete(subscription)


async def get_subscription(
    session: AsyncSession, caller: Caller, subscription_id: uuid.UUID, *, for_update: bool = False
) -> WebhookSubscription:
    statement = select(WebhookSubscription).where(WebhookSubscription.id == subscription_id)
    if caller.role is Role.agency:
        statement = statement.where(WebhookSubscription.agency_code == caller.agency_code)
    if for_update:
        statement = statement.with_for_update()
    subscription = await session.scalar(statement)
    if subscription is None:
        raise NotFound("No webhook subscription with that id.")
    return subscription
