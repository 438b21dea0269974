"""The CPro certificate as a signed Open Badges 3.0 credential.

Signatures are checked with PyJWT, an implementation independent of ours, holding nothing but
the JWK Set the service publishes. The OB 3.0 JSON Schema could not be obtained here, so the
shape test checks the required members of Appendix B.1 of the specification one by one.
"""

import base64
import hashlib
import hmac
import json
import stat
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.certificates.credentials import (
    CertificateFacts,
    InvalidCredential,
    build_credential,
    sign_credential,
    verify_credential_jwt,
)
from app.certificates.keys import SigningKey, load_or_create_signing_key

BASE_URL = "https://cpro.example.gov.ph"
OB3_SCHEMA = (
    "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json"
)
JWT_CLAIMS = ("iss", "sub", "jti", "nbf")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_json(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value).encode())


def unb64url_json(segment: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    )
    return value


@pytest.fixture
def facts() -> CertificateFacts:
    return CertificateFacts(
        serial="CPRO-2025-0042",
        holder_name="Maria Clara de los Santos",
        issued_on=date(2025, 3, 14),
        base_url=BASE_URL,
    )


@pytest.fixture
def key() -> SigningKey:
    return SigningKey.generate(base_url=BASE_URL)


@pytest.fixture
def credential(facts: CertificateFacts) -> dict[str, Any]:
    return build_credential(facts)


@pytest.fixture
def token(credential: dict[str, Any], key: SigningKey) -> str:
    return sign_credential(credential, key)


def pyjwt_decode_with_published_jwks(token: str, published_jwks: str) -> dict[str, Any]:
    """What an outside verifier does: fetch the JWK Set, pick the key by kid, verify."""
    kid = jwt.get_unverified_header(token)["kid"]
    jwk = jwt.PyJWKSet.from_dict(json.loads(published_jwks))[kid]
    claims: dict[str, Any] = jwt.decode(
        token, jwk, algorithms=["EdDSA"], options={"require": list(JWT_CLAIMS)}
    )
    return claims


def test_credential_verifies_with_pyjwt_using_only_the_published_jwks(
    token: str, credential: dict[str, Any], key: SigningKey
) -> None:
    published = json.dumps(key.jwks())

    claims = pyjwt_decode_with_published_jwks(token, published)

    # OB 3.0 8.2 "JWT Payload Format": the payload is the credential plus claims mirroring it.
    assert claims["iss"] == credential["issuer"]["id"]
    assert claims["sub"] == credential["credentialSubject"]["id"]
    assert claims["jti"] == credential["id"]
    assert claims["nbf"] == int(datetime.fromisoformat(credential["validFrom"]).timestamp())
    assert "vc" not in claims
    assert {name: value for name, value in claims.items() if name not in JWT_CLAIMS} == credential


def test_jose_header_is_eddsa_with_a_kid_url_under_the_published_jwks(
    token: str, key: SigningKey
) -> None:
    header = jwt.get_unverified_header(token)

    # OB 3.0 8.2 "Create the JOSE Header": only alg, kid, jwk, typ; kid is a URI to the JWK.
    assert header == {"alg": "EdDSA", "kid": key.kid, "typ": "JWT"}
    assert header["kid"] == f"{BASE_URL}/.well-known/jwks.json#{key.thumbprint}"
    assert [jwk["kid"] for jwk in key.jwks()["keys"]] == [header["kid"]]


def test_a_credential_with_the_holder_name_changed_fails_verification(
    token: str, key: SigningKey
) -> None:
    header, payload, signature = token.split(".")
    altered = unb64url_json(payload)
    altered["credentialSubject"]["identifier"][0]["identityHash"] = "Someone Else"
    forged = f"{header}.{b64url_json(altered)}.{signature}"

    with pytest.raises(jwt.InvalidSignatureError):
        pyjwt_decode_with_published_jwks(forged, json.dumps(key.jwks()))
    with pytest.raises(InvalidCredential, match="bad signature"):
        verify_credential_jwt(forged, key.public_jwk())


def test_a_token_signed_by_another_key_fails_verification(
    credential: dict[str, Any], key: SigningKey
) -> None:
    impostor = SigningKey.generate(base_url=BASE_URL)
    published = json.dumps(key.jwks())

    # Signed by the impostor under its own kid: the published set has no such key.
    own_kid = sign_credential(credential, impostor)
    with pytest.raises(KeyError):
        pyjwt_decode_with_published_jwks(own_kid, published)
    with pytest.raises(InvalidCredential, match="another key"):
        verify_credential_jwt(own_kid, key)

    # Signed by the impostor under the issuer's kid: the signature gives it away.
    claims = {
        **credential,
        "iss": credential["issuer"]["id"],
        "sub": credential["credentialSubject"]["id"],
        "jti": credential["id"],
        "nbf": int(datetime.fromisoformat(credential["validFrom"]).timestamp()),
    }
    stolen_kid = jwt.encode(claims, impostor.to_pem(), algorithm="EdDSA", headers={"kid": key.kid})
    with pytest.raises(jwt.InvalidSignatureError):
        pyjwt_decode_with_published_jwks(stolen_kid, published)
    with pytest.raises(InvalidCredential, match="bad signature"):
        verify_credential_jwt(stolen_kid, key.public_jwk())


@pytest.mark.parametrize("algorithm", ["none", "None", "HS256", "ES256"])
def test_verify_refuses_any_algorithm_but_eddsa(
    token: str, key: SigningKey, algorithm: str
) -> None:
    _, payload, _ = token.split(".")
    header = b64url_json({"alg": algorithm, "kid": key.kid, "typ": "JWT"})
    # An HMAC keyed with the public key is the classic algorithm-confusion forgery.
    mac = hmac.new(key.public_jwk()["x"].encode(), f"{header}.{payload}".encode(), hashlib.sha256)
    for signature in ("", b64url(mac.digest())):
        with pytest.raises(InvalidCredential, match="refused"):
            verify_credential_jwt(f"{header}.{payload}.{signature}", key.public_jwk())


def test_verify_returns_the_credential_and_signing_is_reproducible(
    token: str, credential: dict[str, Any], key: SigningKey
) -> None:
    assert verify_credential_jwt(token, key) == credential
    assert verify_credential_jwt(token, json.loads(json.dumps(key.public_jwk()))) == credential
    assert verify_credential_jwt(token, key.public_key) == credential
    assert sign_credential(credential, key) == token


def test_verify_accepts_a_conforming_token_made_by_pyjwt(
    credential: dict[str, Any], key: SigningKey
) -> None:
    claims = {
        **credential,
        "iss": credential["issuer"]["id"],
        "sub": credential["credentialSubject"]["id"],
        "jti": credential["id"],
        "nbf": int(datetime.fromisoformat(credential["validFrom"]).timestamp()),
    }
    token = jwt.encode(claims, key.to_pem(), algorithm="EdDSA", headers={"kid": key.kid})

    assert verify_credential_jwt(token, key.public_jwk()) == credential


@pytest.mark.parametrize(
    ("claim", "value", "message"),
    [
        ("iss", "https://elsewhere.example/issuer", "'iss'"),
        ("sub", "urn:uuid:00000000-0000-0000-0000-000000000000", "'sub'"),
        ("jti", f"{BASE_URL}/v1/certificates/CPRO-2025-0001", "'jti'"),
        ("nbf", 0, "'nbf'"),
        ("sub", None, "'sub'"),
        ("nbf", None, "'nbf'"),
    ],
)
def test_verify_refuses_claims_that_disagree_with_the_credential(
    credential: dict[str, Any], key: SigningKey, claim: str, value: Any, message: str
) -> None:
    claims = {
        **credential,
        "iss": credential["issuer"]["id"],
        "sub": credential["credentialSubject"]["id"],
        "jti": credential["id"],
        "nbf": int(datetime.fromisoformat(credential["validFrom"]).timestamp()),
    }
    if value is None:
        del claims[claim]
    else:
        claims[claim] = value
    # Properly signed by the issuer's key: only the OB 3.0 consistency checks can catch it.
    token = jwt.encode(claims, key.to_pem(), algorithm="EdDSA", headers={"kid": key.kid})

    with pytest.raises(InvalidCredential, match=message):
        verify_credential_jwt(token, key)


def test_verify_refuses_header_members_that_ob3_does_not_allow(
    credential: dict[str, Any], key: SigningKey
) -> None:
    token = sign_credential(credential, key)
    pyjwt_token = jwt.encode(
        jwt.decode(token, key.public_key, algorithms=["EdDSA"]),
        key.to_pem(),
        algorithm="EdDSA",
        headers={"kid": key.kid, "crit": ["b64"], "b64": True},
    )

    with pytest.raises(InvalidCredential, match="not allowed"):
        verify_credential_jwt(pyjwt_token, key)


def test_a_credential_is_not_valid_before_its_issue_date_in_philippine_time(
    token: str, key: SigningKey
) -> None:
    # 14 March 2025 begins in Manila at 16:00 UTC on 13 March.
    start = datetime(2025, 3, 13, 16, 0, tzinfo=UTC)

    with pytest.raises(InvalidCredential, match="not valid yet"):
        verify_credential_jwt(token, key, now=start - timedelta(seconds=1))
    assert verify_credential_jwt(token, key, now=start)


def test_valid_until_becomes_exp_and_an_expired_credential_is_refused(
    credential: dict[str, Any], key: SigningKey
) -> None:
    expiring = {**credential, "validUntil": "2030-03-14T00:00:00+08:00"}
    token = sign_credential(expiring, key)

    assert jwt.decode(token, key.public_key, algorithms=["EdDSA"])["exp"] == int(
        datetime(2030, 3, 13, 16, 0, tzinfo=UTC).timestamp()
    )
    assert verify_credential_jwt(token, key, now=datetime(2030, 3, 13, 15, 59, tzinfo=UTC))
    with pytest.raises(InvalidCredential, match="expired"):
        verify_credential_jwt(token, key, now=datetime(2030, 3, 13, 16, 0, tzinfo=UTC))


def is_uri(value: Any) -> bool:
    return isinstance(value, str) and bool(urlsplit(value).scheme)


def test_credential_has_the_members_ob3_requires(
    credential: dict[str, Any], facts: CertificateFacts
) -> None:
    # B.1.2 AchievementCredential
    assert credential["@context"][:2] == [
        "https://www.w3.org/ns/credentials/v2",
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
    ]
    assert credential["id"] == f"{BASE_URL}/v1/certificates/CPRO-2025-0042"
    assert {"VerifiableCredential", "OpenBadgeCredential"} <= set(credential["type"])
    assert datetime.fromisoformat(credential["validFrom"]).tzinfo is not None  # DateTimeZ
    assert credential["validFrom"] == "2025-03-14T00:00:00+08:00"
    assert credential["name"] == "Certificate in Leadership and Management"
    # B.1.21 CredentialSchema: one names the OB 3.0 schema with 1EdTechJsonSchemaValidator2019.
    assert {"id": OB3_SCHEMA, "type": "1EdTechJsonSchemaValidator2019"} in credential[
        "credentialSchema"
    ]

    # B.1.14 Profile (the issuer)
    issuer = credential["issuer"]
    assert issuer["id"] == f"{BASE_URL}/v1/issuer"
    assert "Profile" in issuer["type"]
    assert issuer["name"] == "Civil Service Commission"
    assert is_uri(issuer["url"])

    # B.1.3 AchievementSubject: type, achievement, and id or at least one identifier.
    subject = credential["credentialSubject"]
    assert "AchievementSubject" in subject["type"]
    assert is_uri(subject["id"])
    for identity in subject["identifier"]:  # B.1.12 IdentityObject
        assert identity["type"] == "IdentityObject"
        assert isinstance(identity["hashed"], bool)
        assert isinstance(identity["identityHash"], str)
        assert identity["identityType"] == "name"

    # B.1.1 Achievement and B.1.6 Criteria
    achievement = subject["achievement"]
    assert (
        achievement["id"] == f"{BASE_URL}/v1/achievements/certificate-in-leadership-and-management"
    )
    assert "Achievement" in achievement["type"]
    assert achievement["achievementType"] == "Certificate"
    assert achievement["name"] == "Certificate in Leadership and Management"
    assert achievement["description"]
    narrative = achievement["criteria"]["narrative"]
    assert "passes the assessment in the five leadership competencies" in narrative
    assert narrative.count("\n- ") == 5


def test_the_holder_is_identified_by_name_and_nothing_else(facts: CertificateFacts) -> None:
    subject = build_credential(facts)["credentialSubject"]

    assert set(subject) == {"id", "type", "identifier", "achievement"}
    assert subject["identifier"] == [
        {
            "type": "IdentityObject",
            "identityType": "name",
            "hashed": False,
            "identityHash": "Maria Clara de los Santos",
        }
    ]
    # The subject id is opaque: it follows the certificate, not the person.
    assert subject["id"].startswith("urn:uuid:")
    renamed = CertificateFacts(
        serial=facts.serial,
        holder_name="Juan dela Cruz",
        issued_on=facts.issued_on,
        base_url=BASE_URL,
    )
    assert build_credential(renamed)["credentialSubject"]["id"] == subject["id"]
    assert "email" not in json.dumps(build_credential(facts)).lower()


@pytest.mark.parametrize(
    "changes",
    [
        {"base_url": "https://cpro.example.gov.ph/"},
        {"base_url": "cpro.example.gov.ph"},
        {"serial": "CPRO/2025/0042"},
        {"serial": ""},
        {"holder_name": "   "},
    ],
)
def test_facts_refuse_values_that_would_make_a_bad_credential(changes: dict[str, Any]) -> None:
    values: dict[str, Any] = {
        "serial": "CPRO-2025-0042",
        "holder_name": "Maria Clara de los Santos",
        "issued_on": date(2025, 3, 14),
        "base_url": BASE_URL,
    }
    with pytest.raises(ValueError):
        CertificateFacts(**{**values, **changes})


def test_public_jwk_is_an_ed25519_okp_key_without_private_part(key: SigningKey) -> None:
    jwk = key.public_jwk()

    assert {name: jwk[name] for name in ("kty", "crv")} == {"kty": "OKP", "crv": "Ed25519"}
    assert "d" not in jwk
    assert base64.urlsafe_b64decode(jwk["x"] + "=") == key.public_key.public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    assert key.jwks() == {"keys": [jwk]}
    assert "PRIVATE" not in repr(key)


def test_thumbprint_matches_the_rfc_8037_example() -> None:
    # RFC 8037 Appendix A.1 (private key) and A.3 (its RFC 7638 thumbprint).
    d = base64.urlsafe_b64decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=")
    key = SigningKey(Ed25519PrivateKey.from_private_bytes(d), base_url=BASE_URL)

    assert key.public_jwk()["x"] == "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
    assert key.thumbprint == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_load_or_create_makes_a_private_pem_file_once(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "nested" / "certificate-signing.pem"

    created = load_or_create_signing_key(path, base_url=BASE_URL)

    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [entry.name for entry in path.parent.iterdir()] == [path.name]
    reloaded = load_or_create_signing_key(path, base_url=BASE_URL)
    assert reloaded.kid == created.kid
    assert SigningKey.load(path, base_url=BASE_URL).to_pem() == created.to_pem()


def test_save_never_overwrites_a_key(tmp_path: Path, key: SigningKey) -> None:
    path = tmp_path / "certificate-signing.pem"
    key.save(path)

    with pytest.raises(FileExistsError):
        SigningKey.generate(base_url=BASE_URL).save(path)
    assert SigningKey.load(path, base_url=BASE_URL).kid == key.kid


def test_a_pem_that_is_not_ed25519_is_refused() -> None:
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(ValueError, match="Ed25519"):
        SigningKey.from_pem(pem, base_url=BASE_URL)


@pytest.mark.parametrize(
    "garbage",
    ["", "a.b", "a.b.c.d", "é.é.é", "eyJhbGciOiJFZERTQSJ9.e30=.AA", "W10.e30.AA", "e30.e30.AA"],
)
def test_verify_refuses_malformed_tokens(key: SigningKey, garbage: str) -> None:
    with pytest.raises(InvalidCredential):
        verify_credential_jwt(garbage, key)
