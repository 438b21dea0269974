"""Certificates issued through the API, and what an outside verifier needs to check them: the
published keys, and a status list downloader pointed at the service."""

import asyncio
import base64
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.roles import Role
from tests.assessments.rounds import open_round, ready_candidate, score_all
from tests.factories import auth_headers

PUBLIC_ROOT = "http://127.0.0.1:8000"  # the tests' CPRO_PUBLIC_BASE_URL (the default)
BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


async def certify(client: AsyncClient, session: AsyncSession) -> tuple[str, str]:
    """Maria Santos passes all five competencies; returns (serial, candidate id)."""
    cid, staff = await ready_candidate(client, session)
    assessment = await open_round(client, staff, cid)
    await score_all(client, staff, assessment, {c: 90 for c in assessment["competencies"]})
    released = await client.post(f"/v1/assessments/{assessment['id']}/release", headers=staff)
    assert released.status_code == 200, released.text
    return released.json()["certificate"]["serial"], cid


async def revoke(client: AsyncClient, session: AsyncSession, serial: str, reason: str) -> None:
    admin = await auth_headers(session, Role.admin)
    response = await client.post(
        f"/v1/certificates/{serial}/revoke", json={"reason": reason}, headers=admin
    )
    assert response.status_code == 200, response.text


def jwk_public_key(jwk: dict[str, Any]) -> Ed25519PublicKey:
    """RFC 8037: an OKP/Ed25519 JWK's ``x`` is the raw public key, base64url."""
    assert (jwk["kty"], jwk["crv"]) == ("OKP", "Ed25519") and "d" not in jwk
    return Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(jwk["x"] + "=="))


async def published_jwk(client: AsyncClient, kid: str) -> dict[str, Any]:
    keys = (await client.get("/.well-known/jwks.json")).json()["keys"]
    (jwk,) = [k for k in keys if k["kid"] == kid]
    return jwk  # type: ignore[no-any-return]


def multikey_public_key(public_key_multibase: str) -> Ed25519PublicKey:
    """Controlled Identifiers 1.0: ``z`` + base58btc(0xed01 + the 32-byte Ed25519 key)."""
    assert public_key_multibase.startswith("z")
    number = 0
    for char in public_key_multibase[1:]:
        number = number * 58 + BASE58.index(char)
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    assert raw[:2] == b"\xed\x01" and len(raw) == 34
    return Ed25519PublicKey.from_public_bytes(raw[2:])


async def profile_key(client: AsyncClient, verification_method: str) -> Ed25519PublicKey:
    """The key a Data Integrity proof names, as the issuer Profile publishes it."""
    issuer = (await client.get("/v1/issuer")).json()
    (method,) = [m for m in issuer["verificationMethod"] if m["id"] == verification_method]
    assert method["controller"] == issuer["id"] and method["type"] == "Multikey"
    return multikey_public_key(method["publicKeyMultibase"])


def downloader(client: AsyncClient) -> Callable[[str], bytes]:
    """What openbadgeslib fetches status lists with, pointed at the app under test. It runs in a
    worker thread (``asyncio.to_thread``) while the test's event loop serves the request."""
    loop = asyncio.get_running_loop()

    def download(url: str) -> bytes:
        assert url.startswith(PUBLIC_ROOT + "/v1/status-lists/"), url
        future = asyncio.run_coroutine_threadsafe(client.get(urlsplit(url).path), loop)
        response = future.result(timeout=60)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/vc+jwt")
        return response.content

    return download
