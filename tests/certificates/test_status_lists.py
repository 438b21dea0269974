"""Revocation a verifier can see: the W3C Bitstring Status List each credential names, read here
with code written from the specification (section 3.2: GZIP, multibase base64url, index 0 the
left-most bit) and the VC-JWT checked with PyJWT holding only the published key."""

import base64
import gzip
import secrets
import time
from typing import Any

import jwt
import pytest
from httpx import AsyncClient
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.roles import Role
from app.certificates.models import Certificate
from app.certificates.status_list import FILL_LIMIT, allocate_positions
from tests.certificates.issued import PUBLIC_ROOT, certify, published_jwk, revoke
from tests.factories import auth_headers

MINIMUM_BITS = 131_072  # Bitstring Status List v1.0, section 6.1: at least 16 KB


def set_bits(encoded_list: str) -> set[int]:
    assert encoded_list.startswith("u")  # multibase base64url, no padding
    raw = base64.urlsafe_b64decode(encoded_list[1:] + "=" * (-len(encoded_list[1:]) % 4))
    bits = gzip.decompress(raw)
    assert len(bits) * 8 >= MINIMUM_BITS
    return {
        byte * 8 + bit
        for byte, value in enumerate(bits)
        if value
        for bit in range(8)
        if value & (0x80 >> bit)
    }


async def credential_status(client: AsyncClient, serial: str) -> dict[str, Any]:
    token = (await client.get(f"/v1/certificates/{serial}/credential")).text
    status: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})[
        "credentialStatus"
    ]
    return status


async def fetch_list(client: AsyncClient, url: str) -> tuple[dict[str, Any], str]:
    """The status list credential, its signature checked with PyJWT and the published key."""
    response = await client.get(url.removeprefix(PUBLIC_ROOT))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/vc+jwt")
    token = response.text
    jwk = jwt.PyJWK.from_dict(await published_jwk(client, jwt.get_unverified_header(token)["kid"]))
    claims: dict[str, Any] = jwt.decode(token, jwk, algorithms=["EdDSA"])
    return claims, response.headers["cache-control"]


async def test_the_status_list_is_a_signed_bitstring_status_list_credential(
    client: AsyncClient, session: AsyncSession
) -> None:
    serial, _ = await certify(client, session)
    status = await credential_status(client, serial)

    status_list, cache_control = await fetch_list(client, status["statusListCredential"])

    assert status_list["id"] == status["statusListCredential"]
    assert status_list["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert status_list["issuer"] == f"{PUBLIC_ROOT}/v1/issuer"
    subject = status_list["credentialSubject"]
    assert subject["type"] == "BitstringStatusList" and subject["statusPurpose"] == "revocation"
    assert int(status["statusListIndex"]) not in set_bits(subject["encodedList"])
    max_age = int(cache_control.removeprefix("max-age="))
    assert 0 < max_age <= 30


async def test_revocation_sets_the_bit_within_a_minute(
    client: AsyncClient, session: AsyncSession
) -> None:
    serial, _ = await certify(client, session)
    status = await credential_status(client, serial)
    index = int(status["statusListIndex"])

    await revoke(client, session, serial, "Issued in error")
    revoked_at = time.monotonic()
    status_list, cache_control = await fetch_list(client, status["statusListCredential"])
    seen_after = time.monotonic() - revoked_at

    assert set_bits(status_list["credentialSubject"]["encodedList"]) == {index}
    # The list is built from the database for each request; a cache may keep it max-age longer.
    assert seen_after + int(cache_control.removeprefix("max-age=")) < 60


async def test_erasure_sets_the_bit_within_a_minute(
    client: AsyncClient, session: AsyncSession
) -> None:
    serial, cid = await certify(client, session)
    status = await credential_status(client, serial)
    admin = await auth_headers(session, Role.admin)

    erased = await client.post(
        f"/v1/candidates/{cid}/erasure", json={"reason": "Data subject's request"}, headers=admin
    )
    assert erased.status_code == 200, erased.text
    status_list, _ = await fetch_list(client, status["statusListCredential"])

    assert int(status["statusListIndex"]) in set_bits(
        status_list["credentialSubject"]["encodedList"]
    )


async def test_positions_are_random_distinct_and_never_an_assigned_one(
    client: AsyncClient, session: AsyncSession
) -> None:
    serial, _ = await certify(client, session)
    taken = await session.get(Certificate, serial)
    assert taken is not None
    # Revoked or not, a certificate keeps its position: nobody else ever gets it.
    await session.execute(
        update(Certificate).where(Certificate.serial == serial).values(status="revoked")
    )

    # Everything list 1 has room for, until half of it is used.
    drawn = await allocate_positions(session, FILL_LIMIT - 1)

    indexes = [index for number, index in drawn]
    assert {number for number, _ in drawn} == {taken.status_list}
    assert len(set(indexes)) == len(indexes) and taken.status_index not in indexes
    assert all(0 <= i < MINIMUM_BITS for i in indexes)
    # Random over the whole list, not counted up: both halves are used about equally.
    low = sum(1 for i in indexes if i < MINIMUM_BITS // 2)
    assert 0.45 < low / len(indexes) < 0.55


async def test_a_draw_that_hits_an_assigned_position_is_drawn_again(
    client: AsyncClient, session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    serial, _ = await certify(client, session)
    taken = await session.get(Certificate, serial)
    assert taken is not None
    proposals = iter([taken.status_index, taken.status_index, 7])
    monkeypatch.setattr(secrets, "randbelow", lambda _: next(proposals))

    assert await allocate_positions(session, 1) == [(taken.status_list, 7)]


async def test_past_half_full_new_positions_go_to_the_next_list(
    client: AsyncClient, session: AsyncSession
) -> None:
    serial, _ = await certify(client, session)
    taken = await session.get(Certificate, serial)
    assert taken is not None

    drawn = await allocate_positions(session, FILL_LIMIT + 10)

    first = [index for number, index in drawn if number == taken.status_list]
    second = [index for number, index in drawn if number == taken.status_list + 1]
    # One position of list 1 is the certificate's: list 1 takes FILL_LIMIT - 1 more.
    assert len(first) == FILL_LIMIT - 1 and len(second) == 11
    assert len(set(second)) == 11


async def test_one_position_is_never_given_to_two_certificates(
    client: AsyncClient, session: AsyncSession
) -> None:
    first, _ = await certify(client, session)
    taken = await session.get(Certificate, first)
    assert taken is not None
    second = Certificate(
        serial="CPRO-TEST-TEST-TEST-TEST",
        candidate_id=taken.candidate_id,
        assessment_id=taken.candidate_id,
        holder_name="Someone Else",
        issued_on=taken.issued_on,
        status_list=taken.status_list,
        status_index=taken.status_index,
    )
    session.add(second)
    with pytest.raises(IntegrityError, match="uq_certificate_status_list_status_index"):
        await session.flush()


@pytest.mark.parametrize(
    ("list_id", "status"),
    [
        ("1-" + "A" * 43, 404),  # no such key
        ("999-" + "A" * 43, 404),
        ("0-" + "A" * 43, 422),
        ("1", 422),
        ("1-" + "A" * 44, 422),
    ],
)
async def test_unknown_or_malformed_status_lists(
    client: AsyncClient, list_id: str, status: int
) -> None:
    response = await client.get(f"/v1/status-lists/{list_id}")
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_a_list_number_no_certificate_uses_is_404(
    client: AsyncClient, session: AsyncSession
) -> None:
    serial, _ = await certify(client, session)
    url = (await credential_status(client, serial))["statusListCredential"]
    number, thumbprint = url.rsplit("/", 1)[1].split("-", 1)
    response = await client.get(f"/v1/status-lists/{int(number) + 1}-{thumbprint}")
    assert response.status_code == 404
