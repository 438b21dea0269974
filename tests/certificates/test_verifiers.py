"""Every published form of a certificate, checked by an independent implementation:
openbadgeslib (PyPI, LGPL), holding only the keys the service publishes (JWKS, issuer Profile)
and fetching status lists from the service as any verifier would."""

import asyncio
import json
from typing import Any

import jwt
import pytest
from httpx import AsyncClient
from openbadgeslib import OB3Verifier, verify_badge
from openbadgeslib.ob3 import OB3VerificationError
from openbadgeslib.ob3.ldp import OB3LdpVerifier
from sqlalchemy.ext.asyncio import AsyncSession

from tests.certificates.issued import (
    certify,
    downloader,
    jwk_public_key,
    profile_key,
    published_jwk,
    revoke,
)

VC_LD = "application/vc+ld+json"


async def jwt_and_key(client: AsyncClient, serial: str) -> tuple[str, Any]:
    response = await client.get(
        f"/v1/certificates/{serial}/credential", headers={"Accept": "application/vc+jwt"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vc+jwt")
    token = response.text
    kid = jwt.get_unverified_header(token)["kid"]
    return token, jwk_public_key(await published_jwk(client, kid))


async def data_integrity_and_key(client: AsyncClient, serial: str) -> tuple[dict[str, Any], Any]:
    response = await client.get(f"/v1/certificates/{serial}/credential", headers={"Accept": VC_LD})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(VC_LD)
    document: dict[str, Any] = response.json()
    (proof,) = document["proof"]
    return document, await profile_key(client, proof["verificationMethod"])


def flip_one_byte(text: str, inside: str) -> str:
    """The same text with one byte of ``inside`` (which it must contain) changed."""
    at = text.index(inside) + len(inside) // 2
    replacement = "X" if text[at] != "X" else "Y"
    return text[:at] + replacement + text[at + 1 :]


async def test_the_vc_jwt_verifies_with_ob3verifier_and_fails_with_one_byte_changed(
    client: AsyncClient, session: AsyncSession
) -> None:
    serial, _ = await certify(client, session)
    token, key = await jwt_and_key(client, serial)

    credential = OB3Verifier(key).verify(token)
    assert credential.issuer.id == "http://127.0.0.1:8000/v1/issuer"

    header, payload, signature = token.split(".")
    for forged in (
        f"{header}.{flip_one_byte(payload, payload[40:60])}.{signature}",
        f"{header}.{payload}.{flip_one_byte(signature, signature[10:20])}",
    ):
        with pytest.raises(OB3VerificationError):
            OB3Verifier(key).verify(forged)


async def test_ob3verifier_status_check_passes_before_revocation_and_fails_after(
    client: AsyncClient, session: AsyncSession
) -> None:
    serial, _ = await certify(client, session)
    token, key = await jwt_and_key(client, serial)
    download = downloader(client)

    # check_status=True also verifies the status list's own VC-JWT signature with the same key.
    await asyncio.to_thread(OB3Verifier(key).verify, token, check_status=True, download=download)

    await revoke(client, session, serial, "Issued in error")

    with pytest.raises(OB3VerificationError, match="status 'revocation' is set"):
        await asyncio.to_thread(
            OB3Verifier(key).verify, token, check_status=True, download=download
        )
    # The signature itself is as good as ever: only the status says no.
    OB3Verifier(key).verify(token)


async def test_the_data_integrity_credential_verifies_with_ob3ldpverifier(
    client: AsyncClient, session: AsyncSession
) -> None:
    serial, _ = await certify(client, session)
    document, key = await data_integrity_and_key(client, serial)
    (proof,) = document["proof"]
    assert proof["type"] == "DataIntegrityProof" and proof["cryptosuite"] == "eddsa-rdfc-2022"
    assert proof["proofPurpose"] == "assertionMethod"
    download = downloader(client)

    credential = await asyncio.to_thread(
        OB3LdpVerifier(key).verify, json.dumps(document), check_status=True, download=download
    )
    assert credential.issuer.id == document["issuer"]["id"]

    text = json.dumps(document)
    with pytest.raises(OB3VerificationError, match="signature mismatch"):
        OB3LdpVerifier(key).verify(flip_one_byte(text, "Maria Santos"))

    await revoke(client, session, serial, "Issued in error")
    with pytest.raises(OB3VerificationError, match="status 'revocation' is set"):
        await asyncio.to_thread(
            OB3LdpVerifier(key).verify, text, check_status=True, download=download
        )


async def test_the_jwt_and_the_data_integrity_forms_carry_the_same_credential(
    client: AsyncClient, session: AsyncSession
) -> None:
    serial, _ = await certify(client, session)
    token, key = await jwt_and_key(client, serial)
    document, _ = await data_integrity_and_key(client, serial)

    claims = jwt.decode(token, key, algorithms=["EdDSA"])
    for claim in ("iss", "sub", "jti", "nbf"):
        del claims[claim]
    del document["proof"]
    assert claims == document


async def test_the_baked_svg_badge_verifies_with_verify_badge(
    client: AsyncClient, session: AsyncSession
) -> None:
    serial, _ = await certify(client, session)
    response = await client.get(f"/v1/certificates/{serial}/badge.svg")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    svg = response.content
    token = OB3Verifier.extract_token_from_svg(svg)
    key = jwk_public_key(await published_jwk(client, jwt.get_unverified_header(token)["kid"]))

    result = verify_badge(svg, pubkey_pem=key)
    assert result.valid, result
    assert "Maria Santos" in svg.decode()

    baked = svg.decode()
    _, payload, _ = token.split(".")
    forged = verify_badge(flip_one_byte(baked, payload[100:120]).encode(), pubkey_pem=key)
    assert not forged.valid

    download = downloader(client)
    checked = await asyncio.to_thread(
        verify_badge, svg, pubkey_pem=key, check_status=True, download=download
    )
    assert checked.valid
    await revoke(client, session, serial, "Issued in error")
    revoked = await asyncio.to_thread(
        verify_badge, svg, pubkey_pem=key, check_status=True, download=download
    )
    assert not revoked.valid
    # Revoked: no new credential, baked or not, is handed out.
    assert (await client.get(f"/v1/certificates/{serial}/badge.svg")).status_code == 409
    assert (
        await client.get(f"/v1/certificates/{serial}/credential", headers={"Accept": VC_LD})
    ).status_code == 409


async def test_a_form_nobody_offers_is_406_and_no_accept_is_the_vc_jwt(
    client: AsyncClient, session: AsyncSession
) -> None:
    serial, _ = await certify(client, session)

    refused = await client.get(
        f"/v1/certificates/{serial}/credential", headers={"Accept": "image/png"}
    )
    assert refused.status_code == 406
    assert refused.headers["content-type"].startswith("application/problem+json")
    plain = await client.get(f"/v1/certificates/{serial}/credential", headers={"Accept": ""})
    assert plain.headers["content-type"].startswith("application/vc+jwt")
    assert plain.headers["vary"] == "Accept"
