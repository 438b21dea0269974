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

EVENT_TYPES = ("candidate.created", "candidate.updated", "candidate.transitioned")
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


def signed_headers(
    secret: str, event: CandidateEvent, body: bytes, now: datetime
) -> dict[str, str]:
    timestamp = int(now.timestamp())
    return {
        "content-type": "application/json",
        "webhook-id": str(event.id),
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, str(event.id), timestamp, body),
        "user-agent": "cpro-webhooks/1",
    }


def _forbidden_address(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


@dataclass(frozen=True)
class PinnedTarget:
    """Where one delivery goes: the URL with the address checked just now in place of the host
    name, so that the connection cannot land anywhere else (a name that re-resolves to an
    internal address between the check and the connect: DNS rebinding)."""

    url: str
    host: str
    """The original ``Host`` header value (name and port)."""
    sni_hostname: str | None
    """For https: the name the TLS handshake asks for and the certificate must match."""


class TargetRefused(Exception):
    """The webhook URL now resolves to an address deliveries must not reach."""


async def pin_target(url: str, *, allow_private: bool) -> PinnedTarget:
    """Resolve ``url``'s host for one delivery; refuse internal addresses unless allowed."""
    parts = urlsplit(url)
    hostname = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            hostname, port, type=socket.SOCK_STREAM
        )
    except OSError as exc:
        raise TargetRefused("the host name does not resolve") from exc
    addresses = [str(info[4][0]) for info in infos]
    if not addresses or (not allow_private and any(map(_forbidden_address, addresses))):
        raise TargetRefused("the host name resolves to a loopback, private or reserved address")
    address = addresses[0]
    literal = f"[{address}]" if ":" in address else address
    netloc = f"{literal}:{parts.port}" if parts.port else literal
    host = parts.netloc.rpartition("@")[2]
    return PinnedTarget(
        url=parts._replace(netloc=netloc).geturl(),
        host=host,
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
        except OSError:
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
    session: AsyncSession, caller: Caller, subscription_id: uuid.UUID
) -> WebhookSubscription:
    statement = select(WebhookSubscription).where(WebhookSubscription.id == subscription_id)
    if caller.role is Role.agency:
        statement = statement.where(WebhookSubscription.agency_code == caller.agency_code)
    subscription = await session.scalar(statement)
    if subscription is None:
        raise NotFound("No webhook subscription with that id.")
    return subscription
