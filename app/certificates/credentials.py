"""A CPro certificate as an Open Badges 3.0 ``OpenBadgeCredential``, signed as a VC-JWT (EdDSA).

Pure: no database, no HTTP. The service builds the credential from :class:`CertificateFacts`,
signs it with the issuer's current Ed25519 key (``keys.py``), and publishes every key at
``JWKS_PATH`` so that anyone can verify a certificate without asking this service. The other
forms of the same credential: ``data_integrity.py`` (``eddsa-rdfc-2022``) and ``badge.py``
(baked SVG); its ``credentialStatus``: ``status_list.py``.

Sources (1EdTech Open Badges Specification v3.0, the VC Data Model 2.0 edition):
- Appendix B.1 "Credential Data Models": the shape and multiplicity of AchievementCredential
  (B.1.2), AchievementSubject (B.1.3), Achievement (B.1.1), IdentityObject (B.1.12),
  Profile (B.1.14) and CredentialSchema (B.1.21).
- Section 8.2 "JSON Web Token Proof Format" (anchor ``#jwt-proof``): the JOSE header
  (``#joseheader``), the JWT payload, and the verification steps (``#jwt-verify``,
  ``#jwt-verify-credential``).
- RFC 7515 (JWS compact serialization), RFC 8037 (``OKP``/``Ed25519`` JWK, ``EdDSA``),
  RFC 7638 (JWK thumbprint).
"""

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from app.certificates.keys import ALGORITHM, B64URL_ALPHABET, SigningKey, b64url, b64url_decode
from app.certificates.urls import (
    ACHIEVEMENT_PATH,
    CERTIFICATE_PATH,
    ISSUER_PATH,
    check_base_url,
)

# B.1.2: "@context ... MUST be an ordered set where the first item is ... credentials/v2, and the
# second item is ... context-3.0.3.json". The third, as in the specification's own samples
# (5.1 "File Format"), defines the type "1EdTechJsonSchemaValidator2019" of credentialSchema:
# without it that term is undefined in JSON-LD, and a Data Integrity proof would not cover it.
CONTEXT = (
    "https://www.w3.org/ns/credentials/v2",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
    "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json",
)
CREDENTIAL_TYPES = ("VerifiableCredential", "OpenBadgeCredential")
# B.1.21: one CredentialSchema MUST name the OB 3.0 JSON Schema with this validator type.
CREDENTIAL_SCHEMA = {
    "id": "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json",
    "type": "1EdTechJsonSchemaValidator2019",
}

# 8.2 "Create the JOSE Header": "Additional JOSE Headers are NOT allowed."
ALLOWED_HEADER_MEMBERS = frozenset({"alg", "kid", "jwk", "typ"})
# The JWT claims that 8.2 adds to the credential, each mirroring a credential property.
REGISTERED_CLAIMS = ("iss", "jti", "nbf", "sub", "exp")

# The certificate is dated by the CSC in the Philippines (UTC+08:00 all year, no DST): it is valid
# from the start of its issue date there, not from midnight UTC eight hours later.
PHILIPPINE_TIME = timezone(timedelta(hours=8), "PHT")

ISSUER_NAME = "Civil Service Commission"
ISSUER_URL = "https://csc.gov.ph"
ACHIEVEMENT_NAME = "Certificate in Leadership and Management"
# Drawn from the CSC CPro FAQ (shared/seeds/000_7d41914b44f0ca68.txt, "What is CPro?").
ACHIEVEMENT_DESCRIPTION = (
    "Conferred under the Leadership and Management Certification Program (CPro) of the Civil "
    "Service Commission, an alternative mode of satisfying the postgraduate requirement for "
    "division chief and executive/managerial positions (CSC Resolution No. 1500615 as amended in "
    "CSC Resolution No. 1501534)."
)
# Wording from the same FAQ: "What will candidates receive upon completion of CPro?", the five
# Leadership Competencies, and "What tools are used in competency assessment?". The weights are
# left out on purpose: they belong to the versioned assessment policy, not to the achievement.
CRITERIA_NARRATIVE = (
    "A candidate who successfully passes the assessment in the five leadership competencies "
    "required shall be conferred a Certificate in Leadership and Management. The five Leadership "
    "Competencies are:\n\n"
    "- Thinking Strategically and Creatively\n"
    "- Building Collaborative and Inclusive Working Relationships\n"
    "- Leading Change\n"
    "- Managing Performance and Coaching for Results\n"
    "- Creating and Nurturing a High Performing Organization\n\n"
    "Each competency is assessed through a Written Test, a Portfolio Review and a Behavioral "
    "Event Interview."
)


_SERIAL = re.compile(r"[A-Za-z0-9._~-]+")


class InvalidCredential(ValueError):
    """A VC-JWT that must not be trusted: malformed, badly signed, or inconsistent."""


@dataclass(frozen=True)
class Alignment:
    """B.1.4: one of the five competencies, as the CASE ``CFItem`` the service publishes."""

    target_name: str
    target_url: str
    target_code: str
    target_framework: str
    target_description: str | None = None

    def as_json(self) -> dict[str, Any]:
        alignment = {
            "type": ["Alignment"],
            "targetType": "CFItem",
            "targetName": self.target_name,
            "targetUrl": self.target_url,
            "targetCode": self.target_code,
            "targetFramework": self.target_framework,
        }
        if self.target_description:
            alignment["targetDescription"] = self.target_description
        return alignment


@dataclass(frozen=True)
class StatusEntry:
    """Where a verifier reads this certificate's revocation bit (Bitstring Status List v1.0)."""

    status_list_credential: str
    index: int

    def as_json(self) -> dict[str, Any]:
        return {
            "id": f"{self.status_list_credential}#{self.index}",
            "type": "BitstringStatusListEntry",
            "statusPurpose": "revocation",
            # Section 2.1: statusListIndex is "an integer ... expressed as a string".
            "statusListIndex": str(self.index),
            "statusListCredential": self.status_list_credential,
        }


@dataclass(frozen=True)
class CertificateFacts:
    """What a certificate states. The holder is named, nothing more: no email, no birth date."""

    serial: str
    holder_name: str
    issued_on: date
    base_url: str
    """The service's public URL, e.g. ``https://cpro.csc.gov.ph``; every id is built from it."""
    issuer_url: str = ISSUER_URL
    issuer_name: str = ISSUER_NAME
    achievement_name: str = ACHIEVEMENT_NAME
    achievement_description: str = ACHIEVEMENT_DESCRIPTION
    criteria_narrative: str = CRITERIA_NARRATIVE
    alignments: tuple[Alignment, ...] = ()
    image_uri: str | None = None
    """The achievement's image (B.1.13), a URL or a ``data:`` URI."""
    status: StatusEntry | None = field(default=None)

    def __post_init__(self) -> None:
        check_base_url(self.base_url)
        # The serial is a path segment of the credential id: URI "unreserved" characters only.
        if not _SERIAL.fullmatch(self.serial):
            raise ValueError(
                f"serial must be letters, digits, '-', '.', '_' or '~': {self.serial!r}"
            )
        if not self.holder_name.strip():
            raise ValueError("holder_name must not be blank")

    @property
    def credential_id(self) -> str:
        return self.base_url + CERTIFICATE_PATH.format(serial=self.serial)

    @property
    def issuer_id(self) -> str:
        return self.base_url + ISSUER_PATH

    @property
    def achievement_id(self) -> str:
        return self.base_url + ACHIEVEMENT_PATH

    @property
    def holder_id(self) -> str:
        """An opaque URI for the holder, derived from the credential id.

        8.2 makes ``sub`` (= ``credentialSubject.id``) a required claim, yet the holder has no
        DID and we will not publish an email or an internal candidate id. A name-based UUID of
        the credential id says nothing about the person and is the same every time we re-sign.
        """
        return uuid.uuid5(uuid.NAMESPACE_URL, self.credential_id).urn

    @property
    def valid_from(self) -> datetime:
        return datetime.combine(self.issued_on, time(0, 0), tzinfo=PHILIPPINE_TIME)


def build_achievement(
    base_url: str,
    *,
    alignments: tuple[Alignment, ...] = (),
    image_uri: str | None = None,
    name: str = ACHIEVEMENT_NAME,
    description: str = ACHIEVEMENT_DESCRIPTION,
    criteria_narrative: str = CRITERIA_NARRATIVE,
) -> dict[str, Any]:
    """B.1.1 ``Achievement``: what the certificate certifies (the same in every credential)."""
    achievement: dict[str, Any] = {
        "id": base_url + ACHIEVEMENT_PATH,
        "type": ["Achievement"],
        "achievementType": "Certificate",
        "name": name,
        "description": description,
        "criteria": {"narrative": criteria_narrative},
    }
    if image_uri:
        achievement["image"] = {"id": image_uri, "type": "Image", "caption": name}
    if alignments:
        achievement["alignment"] = [a.as_json() for a in alignments]
    return achievement


def build_credential(facts: CertificateFacts) -> dict[str, Any]:
    """The unsigned ``OpenBadgeCredential`` (JSON-LD) for one certificate."""
    credential: dict[str, Any] = {
        "@context": list(CONTEXT),
        "id": facts.credential_id,
        "type": list(CREDENTIAL_TYPES),
        "name": facts.achievement_name,
        "issuer": {
            "id": facts.issuer_id,
            "type": ["Profile"],
            "name": facts.issuer_name,
            "url": facts.issuer_url,
        },
        "validFrom": facts.valid_from.isoformat(),
        "credentialSubject": {
            "id": facts.holder_id,
            "type": ["AchievementSubject"],
            # B.1.12 IdentityObject with identityType "name", in clear: the certificate exists to
            # show whose it is. The spec recommends hashing only where there is an expectation of
            # privacy; a displayed certificate has none for the name, and carries nothing else.
            "identifier": [
                {
                    "type": "IdentityObject",
                    "identityType": "name",
                    "hashed": False,
                    "identityHash": facts.holder_name.strip(),
                }
            ],
            "achievement": build_achievement(
                facts.base_url,
                alignments=facts.alignments,
                image_uri=facts.image_uri,
                name=facts.achievement_name,
                description=facts.achievement_description,
                criteria_narrative=facts.criteria_narrative,
            ),
        },
        "credentialSchema": [dict(CREDENTIAL_SCHEMA)],
    }
    if facts.status is not None:
        credential["credentialStatus"] = facts.status.as_json()
    return credential


def _decode(segment: str) -> bytes:
    try:
        return b64url_decode(segment)
    except ValueError as error:
        raise InvalidCredential("not base64url") from error


def _json_bytes(value: Mapping[str, Any]) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # RFC 7515 section 4: member names must be unique; a duplicate could make two parsers read
    # two different credentials under one signature.
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise InvalidCredential(f"duplicate member {name!r}")
        result[name] = value
    return result


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(data.decode("utf-8"), object_pairs_hook=_reject_duplicates)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidCredential(f"{what} is not JSON") from error
    if not isinstance(value, dict):
        raise InvalidCredential(f"{what} is not a JSON object")
    return value


def _issuer_id(credential: Mapping[str, Any]) -> Any:
    issuer = credential.get("issuer")
    # B.1.20 ProfileRef: a URI or a Profile object.
    return issuer.get("id") if isinstance(issuer, Mapping) else issuer


def _subject_id(credential: Mapping[str, Any]) -> Any:
    subject = credential.get("credentialSubject")
    return subject.get("id") if isinstance(subject, Mapping) else None


def _numeric_date(timestamp: str) -> int:
    moment = datetime.fromisoformat(timestamp)
    if moment.tzinfo is None:
        raise ValueError(f"a DateTimeZ needs a time zone: {timestamp!r}")
    return int(moment.timestamp())


def sign_credential(credential: Mapping[str, Any], key: SigningKey) -> str:
    """Sign ``credential`` as a compact VC-JWT following OB 3.0 section 8.2.

    The JWT payload is the credential itself (the VC-DM 2.0 edition of 8.2 dropped the VC-DM
    1.1 ``vc`` claim) plus the claims 8.2 "JWT Payload Format" requires, each a copy of a
    credential property: ``iss`` = issuer.id, ``jti`` = id, ``nbf`` = validFrom,
    ``sub`` = credentialSubject.id, and ``exp`` = validUntil when there is one. No ``iat``:
    its meaning is undefined by 8.2, and leaving it out keeps signing reproducible.
    """
    claims: dict[str, Any] = {
        "iss": _issuer_id(credential),
        "jti": credential.get("id"),
        "sub": _subject_id(credential),
    }
    if not all(isinstance(value, str) and value for value in claims.values()):
        raise ValueError("the credential needs id, issuer.id and credentialSubject.id")
    if not isinstance(credential.get("validFrom"), str):
        raise ValueError("the credential needs validFrom")
    claims["nbf"] = _numeric_date(credential["validFrom"])
    if credential.get("validUntil") is not None:
        claims["exp"] = _numeric_date(credential["validUntil"])
    clash = set(claims) & set(credential)
    if clash:
        raise ValueError(f"the credential already has JWT claim names: {sorted(clash)}")

    # 8.2 "Create the JOSE Header": alg, and kid (a URI dereferencing to the JWK); typ "JWT".
    header = {"alg": ALGORITHM, "kid": key.kid, "typ": "JWT"}
    signing_input = f"{b64url(_json_bytes(header))}.{b64url(_json_bytes({**credential, **claims}))}"
    signature = key.sign(signing_input.encode("ascii"))
    return f"{signing_input}.{b64url(signature)}"


def _public_key_of(
    key: SigningKey | Ed25519PublicKey | Mapping[str, Any],
) -> tuple[Ed25519PublicKey, str | None]:
    if isinstance(key, SigningKey):
        return key.public_key, key.kid
    if isinstance(key, Ed25519PublicKey):
        return key, None
    if key.get("kty") != "OKP" or key.get("crv") != "Ed25519" or not isinstance(key.get("x"), str):
        raise ValueError("not an Ed25519 public JWK (kty OKP, crv Ed25519, x)")
    try:
        raw = _decode(key["x"])
        public_key = Ed25519PublicKey.from_public_bytes(raw)
    except (InvalidCredential, ValueError) as error:
        raise ValueError("the JWK's x is not an Ed25519 public key") from error
    kid = key.get("kid")
    return public_key, kid if isinstance(kid, str) else None


def _parse_datetime(value: Any, what: str) -> datetime:
    if not isinstance(value, str):
        raise InvalidCredential(f"{what} is missing")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as error:
        raise InvalidCredential(f"{what} is not a date-time") from error
    if moment.tzinfo is None:
        raise InvalidCredential(f"{what} has no time zone")
    return moment


def _claim_datetime(payload: Mapping[str, Any], claim: str) -> datetime:
    value = payload.get(claim)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidCredential(f"the {claim!r} claim is missing or not a NumericDate")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError) as error:
        raise InvalidCredential(f"the {claim!r} claim is out of range") from error


def verify_credential_jwt(
    token: str,
    key: SigningKey | Ed25519PublicKey | Mapping[str, Any],
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Verify a VC-JWT with the issuer's public key and return the credential it carries.

    Only ``EdDSA`` over the given key is accepted: the header's ``alg`` is checked, never
    obeyed, so ``none`` or an HMAC "signed" with the public key cannot pass. Then the checks of
    OB 3.0 8.2 "Verify a Credential VC-JWT Signature": iss, sub, nbf, jti match the credential,
    validFrom has occurred, and an ``exp`` has not passed. The JWT claims are removed from the
    returned credential.
    """
    public_key, expected_kid = _public_key_of(key)
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")

    segments = token.split(".")
    if len(segments) != 3 or not set(token) <= B64URL_ALPHABET | {"."}:
        raise InvalidCredential("not a compact JWS")
    header_segment, payload_segment, signature_segment = segments

    header = _json_object(_decode(header_segment), "the JOSE header")
    if header.get("alg") != ALGORITHM:
        raise InvalidCredential(f"algorithm {header.get('alg')!r} refused; only EdDSA")
    extra = set(header) - ALLOWED_HEADER_MEMBERS
    if extra:
        raise InvalidCredential(f"JOSE header members not allowed by OB 3.0: {sorted(extra)}")
    if "kid" not in header and "jwk" not in header:
        raise InvalidCredential("the JOSE header names no key (kid or jwk)")
    if "typ" in header and header["typ"] != "JWT":
        raise InvalidCredential("typ must be 'JWT'")
    if expected_kid is not None and "kid" in header and header["kid"] != expected_kid:
        raise InvalidCredential("signed with another key (kid differs)")

    signing_input = f"{header_segment}.{payload_segment}".encode("ascii")
    try:
        public_key.verify(_decode(signature_segment), signing_input)
    except InvalidSignature as error:
        raise InvalidCredential("bad signature") from error

    payload = _json_object(_decode(payload_segment), "the JWT payload")
    types = payload.get("type")
    if not isinstance(types, list) or "VerifiableCredential" not in types:
        raise InvalidCredential("not a VerifiableCredential")
    if not {"OpenBadgeCredential", "AchievementCredential"} & set(types):
        raise InvalidCredential("not an OpenBadgeCredential")
    context = payload.get("@context")
    if not isinstance(context, list) or context[:2] != list(CONTEXT[:2]):
        raise InvalidCredential("@context is not VC 2.0 + OB 3.0")

    for claim, expected in (
        ("iss", _issuer_id(payload)),
        ("sub", _subject_id(payload)),
        ("jti", payload.get("id")),
    ):
        if not isinstance(payload.get(claim), str) or payload[claim] != expected:
            raise InvalidCredential(f"the {claim!r} claim does not match the credential")
    valid_from = _parse_datetime(payload.get("validFrom"), "validFrom")
    if _claim_datetime(payload, "nbf") != valid_from:
        raise InvalidCredential("the 'nbf' claim does not match validFrom")
    if now < valid_from:
        raise InvalidCredential("not valid yet")
    if "exp" in payload:
        expires = _claim_datetime(payload, "exp")
        if (
            "validUntil" in payload
            and _parse_datetime(payload["validUntil"], "validUntil") != expires
        ):
            raise InvalidCredential("the 'exp' claim does not match validUntil")
        if now >= expires:
            raise InvalidCredential("expired")

    return {name: value for name, value in payload.items() if name not in REGISTERED_CLAIMS}
