"""Portal users' bearer tokens (JWTs from the CSI portal's identity provider), signed here with
keys made for the test."""

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from httpx import ASGITransport, AsyncClient
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.auth.access import route_roles
from app.auth.roles import Role
from app.core.database import create_sessionmaker, get_session
from app.core.settings import Settings
from app.main import create_app
from tests.factories import auth_headers, make_agency, person

ISSUER = "https://id.portal.example/realms/csi"
AUDIENCE = "cpro-api"
CSC = "csc-leadership-competencies"


def _pem(private_key: Any) -> bytes:
    return private_key.public_key().public_bytes(  # type: ignore[no-any-return]
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ed_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def token_settings(
    settings: Settings,
    tmp_path: Path,
    rsa_key: rsa.RSAPrivateKey,
    ed_key: ed25519.Ed25519PrivateKey,
    ec_key: ec.EllipticCurvePrivateKey,
) -> Settings:
    """The RSA key as a PEM file; the Ed25519 and P-256 keys in a JWKS file, by ``kid``."""
    pem = tmp_path / "idp.pem"
    pem.write_bytes(_pem(rsa_key))
    jwks = {
        "keys": [
            json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(ed_key.public_key()))
            | {"kid": "ed-1", "use": "sig"},
            json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec_key.public_key()))
            | {"kid": "ec-1", "alg": "ES256"},
        ]
    }
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps(jwks))
    return settings.model_copy(
        update={
            "jwt_issuer": ISSUER,
            "jwt_audience": AUDIENCE,
            "jwt_public_key_file": pem,
            "jwt_jwks_file": jwks_file,
        }
    )


@pytest.fixture
async def token_client(
    engine: AsyncEngine, session: AsyncSession, token_settings: Settings
) -> AsyncIterator[AsyncClient]:
    app = create_app(token_settings)
    app.state.engine = engine
    app.state.sessionmaker = create_sessionmaker(engine)

    async def test_session() -> AsyncIterator[AsyncSession]:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()

    app.dependency_overrides[get_session] = test_session
    transport = ASGITransport(app=app, raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "portal-user-1",
        "iat": now,
        "exp": now + 300,
        "cpro_role": "staff",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


@pytest.fixture
def sign(rsa_key: rsa.RSAPrivateKey) -> Callable[..., dict[str, str]]:
    def sign(**claims: Any) -> dict[str, str]:
        token = jwt.encode(_claims(**claims), rsa_key, algorithm="RS256")
        return {"Authorization": f"Bearer {token}"}

    return sign


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(claims: dict[str, Any]) -> str:
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{_b64(json.dumps(claims).encode())}."


def _hs256_with_public_key(claims: dict[str, Any], public_pem: bytes) -> str:
    """The classic confusion attack: HMAC "signed" with the verifier's own public key."""
    signing_input = (
        _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        + "."
        + _b64(json.dumps(claims).encode())
    )
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


async def _register(client: AsyncClient, session: AsyncSession, n: int) -> str:
    staff = await auth_headers(session, Role.staff)
    await make_agency(session, "DOH")
    created = await client.post(
        "/v1/candidates",
        json={"agency": "DOH", "external_id": f"EMP-T{n}", **person(n)},
        headers=staff,
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def test_a_staff_token_acts_as_program_staff(
    token_client: AsyncClient, sign: Callable[..., dict[str, str]]
) -> None:
    listed = await token_client.get("/v1/candidates", headers=sign(cpro_role="staff"))
    assert listed.status_code == 200, listed.text
    reader = await token_client.get("/v1/candidates", headers=sign(cpro_role="reader"))
    assert reader.status_code == 403


async def test_keys_of_each_accepted_algorithm_verify(
    token_client: AsyncClient,
    ed_key: ed25519.Ed25519PrivateKey,
    ec_key: ec.EllipticCurvePrivateKey,
) -> None:
    for key, algorithm, kid in ((ed_key, "EdDSA", "ed-1"), (ec_key, "ES256", "ec-1")):
        token = jwt.encode(_claims(), key, algorithm=algorithm, headers={"kid": kid})
        response = await token_client.get(
            "/v1/candidates", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 200, (algorithm, response.text)


@pytest.mark.parametrize(
    "case",
    [
        "expired",
        "wrong audience",
        "wrong issuer",
        "no expiry",
        "bad signature",
        "alg none",
        "HS256 with the public key",
        "garbage",
    ],
)
async def test_a_token_failing_any_check_is_a_401_problem(
    token_client: AsyncClient, rsa_key: rsa.RSAPrivateKey, case: str
) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    tokens = {
        "expired": lambda: jwt.encode(
            _claims(exp=int(time.time()) - 120), rsa_key, algorithm="RS256"
        ),
        "wrong audience": lambda: jwt.encode(_claims(aud="other-api"), rsa_key, algorithm="RS256"),
        "wrong issuer": lambda: jwt.encode(
            _claims(iss="https://evil.example"), rsa_key, algorithm="RS256"
        ),
        "no expiry": lambda: jwt.encode(_claims(exp=None), rsa_key, algorithm="RS256"),
        "bad signature": lambda: jwt.encode(_claims(), stranger, algorithm="RS256"),
        "alg none": lambda: _unsigned(_claims()),
        "HS256 with the public key": lambda: _hs256_with_public_key(_claims(), _pem(rsa_key)),
        "garbage": lambda: "not.a.jwt",
    }
    response = await token_client.get(
        "/v1/candidates", headers={"Authorization": f"Bearer {tokens[case]()}"}
    )
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["type"] == "urn:cpro:problem:unauthorized"


@pytest.mark.parametrize("role", ["admin", "agency", "superuser", None])
async def test_a_token_cannot_grant_admin_or_agency(
    token_client: AsyncClient, sign: Callable[..., dict[str, str]], role: str | None
) -> None:
    response = await token_client.get("/v1/agencies", headers=sign(cpro_role=role))
    assert response.status_code == 403, response.text
    assert "API key" in response.json()["detail"]


async def test_a_candidate_token_reads_and_edits_only_its_own_record(
    token_client: AsyncClient, session: AsyncSession, sign: Callable[..., dict[str, str]]
) -> None:
    mine, theirs = (
        await _register(token_client, session, 1),
        await _register(token_client, session, 2),
    )
    me = sign(cpro_role="candidate", cpro_candidate_id=mine, sub="candidate-1")

    own = await token_client.get(f"/v1/candidates/{mine}", headers=me)
    assert own.status_code == 200, own.text
    edited = await token_client.patch(
        f"/v1/candidates/{mine}",
        json={"given_name": "Corrected"},
        headers=me | {"If-Match": own.headers["etag"]},
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["given_name"] == "Corrected"
    ranked = await token_client.patch(f"/v1/candidates/{mine}", json={"priority": 1}, headers=me)
    assert ranked.status_code == 403
    assert [e["field"] for e in ranked.json()["errors"]] == ["body.priority"]

    for method, path in (
        ("GET", f"/v1/candidates/{theirs}"),
        ("PATCH", f"/v1/candidates/{theirs}"),
        ("GET", f"/v1/candidates/{theirs}/self-assessments"),
    ):
        body = {"given_name": "Hijacked"} if method == "PATCH" else None
        other = await token_client.request(method, path, json=body, headers=me)
        assert other.status_code == 404, (method, path, other.text)

    for method, path in (
        ("GET", "/v1/candidates"),
        ("GET", "/v1/agencies"),
        ("GET", f"/v1/candidates/{mine}/transitions"),
        ("POST", f"/v1/candidates/{mine}/transitions"),
        ("GET", f"/v1/candidates/{mine}/lmdc-attendance"),
        ("GET", "/v1/candidate-events"),
    ):
        refused = await token_client.request(method, path, json={}, headers=me)
        assert refused.status_code == 403, (method, path, refused.text)


async def test_a_candidate_token_submits_and_reads_its_own_self_assessment(
    token_client: AsyncClient, session: AsyncSession, sign: Callable[..., dict[str, str]]
) -> None:
    mine = await _register(token_client, session, 3)
    me = sign(cpro_role="candidate", cpro_candidate_id=mine)
    items, cursor = [], None
    while True:
        params = {"polarity": "positive", "limit": 200} | ({"cursor": cursor} if cursor else {})
        page = (await token_client.get(f"/v1/frameworks/{CSC}/indicators", params=params)).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    answers = [{"indicator": i["id"], "demonstrated": True} for i in items]
    submitted = await token_client.post(
        f"/v1/candidates/{mine}/self-assessments", json={"answers": answers}, headers=me
    )
    assert submitted.status_code == 201, submitted.text
    listed = await token_client.get(f"/v1/candidates/{mine}/self-assessments", headers=me)
    assert [s["id"] for s in listed.json()] == [submitted.json()["id"]]


async def test_a_candidate_token_without_its_candidate_id_is_refused(
    token_client: AsyncClient, sign: Callable[..., dict[str, str]]
) -> None:
    for candidate_id in (None, "not-a-uuid"):
        response = await token_client.get(
            f"/v1/candidates/{uuid.uuid4()}",
            headers=sign(cpro_role="candidate", cpro_candidate_id=candidate_id),
        )
        assert response.status_code == 401, response.text


async def test_tokens_are_not_accepted_when_no_keys_are_configured(
    client: AsyncClient, sign: Callable[..., dict[str, str]]
) -> None:
    response = await client.get("/v1/candidates", headers=sign(cpro_role="staff"))
    assert response.status_code == 401


async def test_no_api_key_can_hold_the_candidate_role(
    client: AsyncClient, session: AsyncSession
) -> None:
    admin = await auth_headers(session, Role.admin)
    response = await client.post(
        "/v1/api-keys", json={"role": "candidate", "name": "a candidate"}, headers=admin
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.role"


def test_settings_refuse_token_keys_without_issuer_and_audience(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="CPRO_JWT_ISSUER"):
        Settings(_env_file=None, jwt_public_key_file=tmp_path / "idp.pem")  # type: ignore[call-arg]


def test_a_candidate_is_admitted_to_its_own_record_self_assessment_and_portfolio_only() -> None:
    admitted = {
        (access.method, access.path)
        for access in route_roles()
        if Role.candidate in access.roles and not access.anonymous
    }
    assert admitted == {
        ("GET", "/v1/candidates/{candidate_id}"),
        ("PATCH", "/v1/candidates/{candidate_id}"),
        ("GET", "/v1/candidates/{candidate_id}/self-assessments"),
        ("POST", "/v1/candidates/{candidate_id}/self-assessments"),
        # Their own released results and certificates only (tests/assessments, tests/certificates).
        ("GET", "/v1/assessments"),
        ("GET", "/v1/candidates/{candidate_id}/assessments"),
        ("GET", "/v1/certificates"),
        ("GET", "/v1/candidates/{candidate_id}/certificates"),
        # The orientation schedule, and their own seat (tests/orientation).
        ("GET", "/v1/orientation-sessions"),
        ("GET", "/v1/orientation-sessions/{session_id}"),
        ("PUT", "/v1/orientation-sessions/{session_id}/attendees/{candidate_id}"),
        ("DELETE", "/v1/orientation-sessions/{session_id}/attendees/{candidate_id}"),
        # Their own progress (tests/progress).
        ("GET", "/v1/candidates/{candidate_id}/progress"),
        ("GET", "/v1/candidates/{candidate_id}/acceptance-notice"),
        ("GET", "/v1/candidates/{candidate_id}/portfolio"),
        ("POST", "/v1/candidates/{candidate_id}/portfolio/evidence"),
        ("PATCH", "/v1/candidates/{candidate_id}/portfolio/evidence/{evidence_id}"),
        ("DELETE", "/v1/candidates/{candidate_id}/portfolio/evidence/{evidence_id}"),
        ("POST", "/v1/candidates/{candidate_id}/portfolio/evidence/{evidence_id}/documents"),
        (
            "GET",
            "/v1/candidates/{candidate_id}/portfolio/evidence/{evidence_id}/documents/{document_id}",
        ),
        (
            "DELETE",
            "/v1/candidates/{candidate_id}/portfolio/evidence/{evidence_id}/documents/{document_id}",
        ),
        ("POST", "/v1/candidates/{candidate_id}/portfolio:submit"),
        ("GET", "/v1/candidates/{candidate_id}/portfolio/submissions/{submission_id}"),
    }
