"""Revocation a verifier can see: W3C Bitstring Status List v1.0.

Each certificate owns one bit of a status list, drawn at random among the unused ones when it is
issued (section 6.1, "Group privacy": lists of at least 131,072 entries, positions assigned
randomly, so that a bit reveals nothing about whose it is). A list is built from the
certificates table each time it is asked for, so its bit for a certificate is set as soon as the
revocation (or erasure) that revoked it commits; it is served as a VC-JWT (OB 3.0 section 8.2,
the same signing as a certificate) with ``Cache-Control: max-age`` of ``CACHE_SECONDS``.

A list is published once per signing key, ``{list}-{key thumbprint}``: a credential signed by a
key names the copy signed by the same key, which is what verifiers that bind the status list to
the credential's own key (openbadgeslib does) need after a key rotation.
"""

import gzip
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.certificates.credentials import StatusEntry, sign_credential
from app.certificates.keys import Keyring, SigningKey, b64url
from app.certificates.models import STATUS_LIST_SIZE, Certificate
from app.certificates.urls import ISSUER_PATH, STATUS_LIST_PATH

# Past half full, new certificates go to the next list: random draws stay cheap, and every list
# keeps a crowd of unused positions for the revoked ones to hide among.
FILL_LIMIT = STATUS_LIST_SIZE // 2
CACHE_SECONDS = 30
VALIDITY = timedelta(days=1)
STATUS_LIST_ID = re.compile(r"^(?P<list>[1-9][0-9]{0,8})-(?P<thumbprint>[A-Za-z0-9_-]{43})$")
# Any constant: it names the transaction lock that makes two releases draw positions in turn.
_ALLOCATION_LOCK = 0x43505231


@dataclass(frozen=True)
class StatusListRef:
    list_number: int
    key: SigningKey

    @property
    def list_id(self) -> str:
        return f"{self.list_number}-{self.key.thumbprint}"

    @property
    def url(self) -> str:
        return self.key.base_url + STATUS_LIST_PATH.format(list_id=self.list_id)


def status_entry(list_number: int, index: int, key: SigningKey) -> StatusEntry:
    """The ``credentialStatus`` of a certificate signed by ``key``."""
    return StatusEntry(StatusListRef(list_number, key).url, index)


def parse_list_id(list_id: str, keyring: Keyring) -> StatusListRef | None:
    """The list named by ``list_id``, or None when no such list or key exists."""
    match = STATUS_LIST_ID.fullmatch(list_id)
    if match is None:
        return None
    key = keyring.find(match["thumbprint"])
    return None if key is None else StatusListRef(int(match["list"]), key)


async def allocate_positions(session: AsyncSession, count: int) -> list[tuple[int, int]]:
    """``count`` unused ``(status_list, status_index)`` positions, at random.

    Holds a transaction-level lock until commit, so concurrent releases never draw the same
    position (the unique constraint would refuse it anyway).
    """
    if count <= 0:
        return []
    await session.execute(text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": _ALLOCATION_LOCK})
    list_number = await session.scalar(select(func.max(Certificate.status_list))) or 1
    positions: list[tuple[int, int]] = []
    while len(positions) < count:
        used = set(
            await session.scalars(
                select(Certificate.status_index).where(Certificate.status_list == list_number)
            )
        )
        used.update(index for number, index in positions if number == list_number)
        room = FILL_LIMIT - len(used)
        if room <= 0:
            list_number += 1
            continue
        for _ in range(min(room, count - len(positions))):
            index = secrets.randbelow(STATUS_LIST_SIZE)
            while index in used:
                index = secrets.randbelow(STATUS_LIST_SIZE)
            used.add(index)
            positions.append((list_number, index))
    return positions


async def revoked_positions(session: AsyncSession, list_number: int) -> list[int]:
    return list(
        await session.scalars(
            select(Certificate.status_index).where(
                Certificate.status_list == list_number, Certificate.status == "revoked"
            )
        )
    )


async def list_exists(session: AsyncSession, list_number: int) -> bool:
    return (
        await session.scalar(
            select(Certificate.serial).where(Certificate.status_list == list_number).limit(1)
        )
    ) is not None


def encode_list(set_positions: list[int]) -> str:
    """Section 3.2: the bitstring, index 0 the left-most bit of the first byte, GZIP-compressed,
    then multibase base64url without padding (prefix ``u``)."""
    bits = bytearray(STATUS_LIST_SIZE // 8)
    for index in set_positions:
        bits[index // 8] |= 0x80 >> (index % 8)
    # mtime=0: the same bits always compress to the same bytes.
    return "u" + b64url(gzip.compress(bytes(bits), mtime=0))


def build_status_list_credential(
    ref: StatusListRef, revoked: list[int], now: datetime
) -> dict[str, Any]:
    """Section 2.2 ``BitstringStatusListCredential`` for one list, as of ``now``."""
    valid_from = now.replace(microsecond=0)
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": ref.url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": ref.key.base_url + ISSUER_PATH,
        "validFrom": valid_from.isoformat(),
        "validUntil": (valid_from + VALIDITY).isoformat(),
        "credentialSubject": {
            "id": f"{ref.url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": "revocation",
            "encodedList": encode_list(revoked),
            "ttl": CACHE_SECONDS * 1000,
        },
    }


async def signed_status_list(session: AsyncSession, ref: StatusListRef, now: datetime) -> str:
    """The list as a VC-JWT signed by its key, built from the certificates as they are now."""
    credential = build_status_list_credential(
        ref, await revoked_positions(session, ref.list_number), now
    )
    return sign_credential(credential, ref.key)
