"""Bearer tokens (JWTs) from the CSI portal's identity provider, for people using the portal.

The service holds public keys only: it can check a token but never mint one. So only asymmetric
algorithms are accepted (RS256, ES256, EdDSA), each only with a key of its own type; ``none`` is
no signature at all and HS* would turn the verification key into a signing key.

What a token may grant is ``TOKEN_ROLES`` (``app/auth/roles.py`` says why admin and agency are
not among them). A ``candidate`` token also names the one candidate its holder is.
"""

import json
import logging
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from app.auth.roles import TOKEN_ROLES, Role
from app.auth.service import Caller
from app.core.errors import Forbidden, Unauthorized
from app.core.settings import Settings

logger = logging.getLogger(__name__)

# Clocks of the identity provider and of this service may disagree by a little.
LEEWAY_SECONDS = 30
REQUIRED_CLAIMS = ["exp", "iss", "aud", "sub"]


@dataclass(frozen=True)
class VerificationKey:
    key: Any
    algorithm: str
    kid: str | None


def algorithm_of(key: object) -> str | None:
    """The one algorithm a public key may verify; None for keys this service does not accept."""
    if isinstance(key, rsa.RSAPublicKey):
        return "RS256"
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return "ES256"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "EdDSA"
    return None


def _pem_keys(path: Path) -> list[VerificationKey]:
    key = load_pem_public_key(path.read_bytes())
    algorithm = algorithm_of(key)
    if algorithm is None:
        raise ValueError(f"{path}: not an RSA, P-256 or Ed25519 public key")
    return [VerificationKey(key, algorithm, None)]


def _jwks_keys(path: Path) -> list[VerificationKey]:
    keys = []
    for entry in json.loads(path.read_text(encoding="utf-8")).get("keys", []):
        if entry.get("use", "sig") != "sig":
            continue
        try:
            jwk = jwt.PyJWK.from_dict(entry)
        except jwt.PyJWTError:
            logger.warning(
                "skipping a JWKS key this service cannot read", extra={"path": str(path)}
            )
            continue
        algorithm = algorithm_of(jwk.key)
        if algorithm is None or entry.get("alg", algorithm) != algorithm:
            logger.warning("skipping a JWKS key of an algorithm not accepted here")
            continue
        keys.append(VerificationKey(jwk.key, algorithm, entry.get("kid")))
    if not keys:
        raise ValueError(f"{path}: no RS256, ES256 or EdDSA signing key")
    return keys


def _reason(error: jwt.PyJWTError) -> str:
    if isinstance(error, jwt.ExpiredSignatureError):
        return "The token has expired."
    if isinstance(error, jwt.InvalidAudienceError):
        return "The token is not meant for this service (audience)."
    if isinstance(error, jwt.InvalidIssuerError):
        return "The token was not issued by the portal's identity provider."
    if isinstance(error, jwt.MissingRequiredClaimError):
        return f"The token lacks the {error.claim!r} claim."
    if isinstance(error, jwt.ImmatureSignatureError):
        return "The token is not valid yet."
    if isinstance(error, jwt.InvalidSignatureError):
        return "The token's signature does not verify."
    return "The token is not a valid JWT."


class TokenVerifier:
    """Checks portal tokens against the configured keys, issuer and audience."""

    def __init__(
        self,
        keys: list[VerificationKey],
        *,
        issuer: str,
        audience: str,
        role_claim: str,
        candidate_claim: str,
    ) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.role_claim = role_claim
        self.candidate_claim = candidate_claim

    @classmethod
    def from_settings(cls, settings: Settings) -> "TokenVerifier | None":
        """The verifier the settings describe; None when no token keys are configured."""
        keys: list[VerificationKey] = []
        if settings.jwt_public_key_file is not None:
            keys += _pem_keys(settings.jwt_public_key_file)
        if settings.jwt_jwks_file is not None:
            keys += _jwks_keys(settings.jwt_jwks_file)
        if not keys:
            return None
        # Settings refuse token keys without issuer and audience.
        assert settings.jwt_issuer is not None and settings.jwt_audience is not None
        return cls(
            keys,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            role_claim=settings.jwt_role_claim,
            candidate_claim=settings.jwt_candidate_claim,
        )

    def _claims(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthorized("The token is not a valid JWT.") from exc
        algorithm, kid = header.get("alg"), header.get("kid")
        keys = [k for k in self.keys if k.algorithm == algorithm]
        if kid is not None and any(k.kid == kid for k in keys):
            keys = [k for k in keys if k.kid == kid]
        if not keys:
            raise Unauthorized("The token is not signed with a key or algorithm accepted here.")
        error: jwt.PyJWTError | None = None
        for key in keys:
            try:
                claims: dict[str, Any] = jwt.decode(
                    token,
                    key.key,
                    algorithms=[key.algorithm],
                    audience=self.audience,
                    issuer=self.issuer,
                    leeway=LEEWAY_SECONDS,
                    options={"require": REQUIRED_CLAIMS},
                )
                return claims
            except jwt.InvalidSignatureError as exc:
                error = exc  # another key of the same algorithm may have signed it
            except jwt.PyJWTError as exc:
                raise Unauthorized(_reason(exc)) from exc
        assert error is not None
        raise Unauthorized(_reason(error)) from error

    def verify(self, token: str) -> Caller:
        """The caller a valid token stands for. A token that fails any check: 401; an authentic
        token that grants no role tokens may grant: 403."""
        claims = self._claims(token)
        subject = str(claims["sub"])
        value = claims.get(self.role_claim)
        if not isinstance(value, str) or value not in {role.value for role in TOKEN_ROLES}:
            raise Forbidden(
                f"The token's {self.role_claim!r} claim grants no role a token may hold "
                f"({', '.join(sorted(TOKEN_ROLES))}); admin and agency need an API key."
            )
        role = Role(value)
        candidate_id = None
        if role is Role.candidate:
            try:
                candidate_id = uuid.UUID(str(claims.get(self.candidate_claim)))
            except ValueError as exc:
                raise Unauthorized(
                    f"A candidate token needs the candidate id in its {self.candidate_claim!r} claim."
                ) from exc
        return Caller(
            key_id=None,
            role=role,
            agency_code=None,
            name=f"portal {role.value}",
            subject=subject,
            candidate_id=candidate_id,
        )


def looks_like_token(credential: str) -> bool:
    """A JWT (three dot-separated parts) rather than an API key (``cpro_...``)."""
    return credential.count(".") == 2
