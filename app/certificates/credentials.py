"""A CPro certificate as an Open Badges 3.0 ``OpenBadgeCredential``, signed as a VC-JWT (EdDSA).

Pure: no database, no HTTP. The service builds the credential from :class:`CertificateFacts`,
signs it with the issuer's Ed25519 :class:`SigningKey`, and publishes ``SigningKey.jwks()`` at
``JWKS_PATH`` so that anyone can verify a certificate without asking this service.

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

import base64
import binascii
import hashlib
import json
import os
import re
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

# B.1.2: "@context ... MUST be an ordered set where the first item is ... credentials/v2, and the
# second item is ... context-3.0.3.json".
CONTEXT = (
    "https://www.w3.org/ns/credentials/v2",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
)
CREDENTIAL_TYPES = ("VerifiableCredential", "OpenBadgeCredential")
# B.1.21: one CredentialSchema MUST name the OB 3.0 JSON Schema with this validator type.
CREDENTIAL_SCHEMA = {
    "id": "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json",
    "type": "1EdTechJsonSchemaValidator2019",
}

# Where the service publishes what a credential's ids point at (the routes must serve these).
CERTIFICATE_PATH = "/v1/certificates/{serial}"
ISSUER_PATH = "/v1/issuer"
ACHIEVEMENT_PATH = "/v1/achievements/certificate-in-leadership-and-management"
JWKS_PATH = "/.well-known/jwks.json"

ALGORITHM = "EdDSA"
# 8.2 "Create the JOSE Header": "Additional JOSE Headers are NOT allowed."
ALLOWED_HEADER_MEMBERS = frozenset({"alg", "kid", "jwk", "typ"})
# The JWT claims that 8.2 adds to the credential, each mirroring a credential property.
REGISTERED_CLAIMS = ("iss", "jti", "nbf", "sub", "exp")

# The certificate is dated by the CSC in the Philippines (UTC+08:00 all year, no DST): it is valid
# from the start of its issue date there, not from midnight UTC eight hours later.
PHILIPPINE_TIME = timezone(timedelta(hours=8), "PHT")

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


def _check_base_url(base_url: str) -> None:
    parts = urlsplit(base_url)
    if (
        parts.scheme not in ("https", "http")
        or not parts.netloc
        or parts.query
        or parts.fragment
        or base_url.endswith("/")
    ):
        raise ValueError(
            f"base_url must be an absolute http(s) URL without a trailing slash: {base_url!r}"
        )


@dataclass(frozen=True)
class CertificateFacts:
    """What a certificate states. The holder is named, nothing more: no email, no birth date."""

    serial: str
    holder_name: str
    issued_on: date
    base_url: str
    """The service's public URL, e.g. ``https://cpro.csc.gov.ph``; every id is built from it."""
    issuer_url: str = "https://csc.gov.ph"
    issuer_name: str = "Civil Service Commission"
    achievement_name: str = ACHIEVEMENT_NAME
    achievement_description: str = ACHIEVEMENT_DESCRIPTION
    criteria_narrative: str = CRITERIA_NARRATIVE

    def __post_init__(self) -> None:
        _check_base_url(self.base_url)
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


def build_credential(facts: CertificateFacts) -> dict[str, Any]:
    """The unsigned ``OpenBadgeCredential`` (JSON-LD) for one certificate."""
    return {
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
            "achievement": {
                "id": facts.achievement_id,
                "type": ["Achievement"],
                "achievementType": "Certificate",
                "name": facts.achievement_name,
                "description": facts.achievement_description,
                "criteria": {"narrative": facts.criteria_narrative},
            },
        },
        "credentialSchema": [dict(CREDENTIAL_SCHEMA)],
    }


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(segment: str) -> bytes:
    if len(segment) % 4 == 1 or not set(segment) <= _B64URL_ALPHABET:
        raise InvalidCredential("not base64url")
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError) as error:
        raise InvalidCredential("not base64url") from error


_B64URL_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


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


class SigningKey:
    """The issuer's Ed25519 key, named by a URL under the service's JWKS.

    ``kid`` is ``{base_url}/.well-known/jwks.json#{RFC 7638 thumbprint}``: 8.2 wants a ``kid``
    that is a URI dereferencing to the JWK, and the same string is the ``kid`` of the key in
    ``jwks()``, so JOSE libraries that match header ``kid`` to JWKS ``kid`` find it too.
    """

    def __init__(self, private_key: Ed25519PrivateKey, *, base_url: str) -> None:
        _check_base_url(base_url)
        self._private_key = private_key
        self.base_url = base_url

    @classmethod
    def generate(cls, *, base_url: str) -> "SigningKey":
        return cls(Ed25519PrivateKey.generate(), base_url=base_url)

    @classmethod
    def from_pem(cls, pem: bytes, *, base_url: str) -> "SigningKey":
        private_key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(private_key, Ed25519PrivateKey):
            raise ValueError("the PEM does not hold an Ed25519 private key")
        return cls(private_key, base_url=base_url)

    @classmethod
    def load(cls, path: Path, *, base_url: str) -> "SigningKey":
        return cls.from_pem(path.read_bytes(), base_url=base_url)

    def to_pem(self) -> bytes:
        return self._private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def save(self, path: Path) -> None:
        """Write the private key as PKCS#8 PEM, mode 0600; never overwrites an existing file."""
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # mkstemp creates the file 0600; link() then publishes it whole, or fails if the path
        # exists, so a concurrent reader never sees half a key and a racing writer never wins twice.
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(self.to_pem())
                file.flush()
                os.fsync(file.fileno())
            os.link(temporary, path)
        finally:
            os.unlink(temporary)

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self._private_key.public_key()

    @property
    def thumbprint(self) -> str:
        """RFC 7638 JWK thumbprint (SHA-256) of the public key."""
        required = {"crv": "Ed25519", "kty": "OKP", "x": self._x()}
        canonical = json.dumps(required, sort_keys=True, separators=(",", ":")).encode("ascii")
        return _b64url(hashlib.sha256(canonical).digest())

    @property
    def jwks_url(self) -> str:
        return self.base_url + JWKS_PATH

    @property
    def kid(self) -> str:
        return f"{self.jwks_url}#{self.thumbprint}"

    def _x(self) -> str:
        raw = self.public_key.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return _b64url(raw)

    def public_jwk(self) -> dict[str, str]:
        """The public key as an RFC 8037 JWK. 8.2: the JWK "MUST never contain 'd'"."""
        return {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": self._x(),
            "kid": self.kid,
            "alg": ALGORITHM,
            "use": "sig",
        }

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The JWK Set document to serve at ``JWKS_PATH``."""
        return {"keys": [self.public_jwk()]}

    def sign(self, data: bytes) -> bytes:
        return self._private_key.sign(data)

    def __repr__(self) -> str:
        return f"SigningKey(kid={self.kid!r})"


def load_or_create_signing_key(path: Path, *, base_url: str) -> SigningKey:
    """Load the issuer key from ``path``, creating it (and its directory) on first use."""
    try:
        return SigningKey.load(path, base_url=base_url)
    except FileNotFoundError:
        pass
    key = SigningKey.generate(base_url=base_url)
    try:
        key.save(path)
    except FileExistsError:
        # Another worker created it first; every worker must sign with the same key.
        return SigningKey.load(path, base_url=base_url)
    return key


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
    signing_input = (
        f"{_b64url(_json_bytes(header))}.{_b64url(_json_bytes({**credential, **claims}))}"
    )
    signature = key.sign(signing_input.encode("ascii"))
    return f"{signing_input}.{_b64url(signature)}"


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
        raw = _b64url_decode(key["x"])
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
    if len(segments) != 3 or not set(token) <= _B64URL_ALPHABET | {"."}:
        raise InvalidCredential("not a compact JWS")
    header_segment, payload_segment, signature_segment = segments

    header = _json_object(_b64url_decode(header_segment), "the JOSE header")
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
        public_key.verify(_b64url_decode(signature_segment), signing_input)
    except InvalidSignature as error:
        raise InvalidCredential("bad signature") from error

    payload = _json_object(_b64url_decode(payload_segment), "the JWT payload")
    types = payload.get("type")
    if not isinstance(types, list) or "VerifiableCredential" not in types:
        raise InvalidCredential("not a VerifiableCredential")
    if not {"OpenBadgeCredential", "AchievementCredential"} & set(types):
        raise InvalidCredential("not an OpenBadgeCredential")
    context = payload.get("@context")
    if not isinstance(context, list) or context[:2] != list(CONTEXT):
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
