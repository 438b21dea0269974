"""Certificates: public verification, the signed credential, the public key, revocation."""

from typing import Any

from fastapi import APIRouter, Request, Response

from app.auth.dependencies import AdminOnly, Anyone
from app.certificates import service
from app.certificates.models import Certificate
from app.certificates.schemas import CertificateOut, RevocationIn, Serial
from app.core.database import Session
from app.core.errors import problem_responses

router = APIRouter(tags=["Certificates"])


def _out(certificate: Certificate, request: Request) -> CertificateOut:
    base = request.app.state.settings.public_root
    return CertificateOut(
        serial=certificate.serial,
        status=certificate.status,
        title=service.TITLE,
        holder_name=certificate.holder_name,
        issued_on=certificate.issued_on,
        issuer=service.ISSUER,
        revoked_at=certificate.revoked_at,
        revocation_reason=certificate.revocation_reason,
        credential_url=f"{base}/v1/certificates/{certificate.serial}/credential",
    )


@router.get(
    "/v1/certificates/{serial}",
    responses=problem_responses(404, 422),
    summary="Verify a certificate",
)
async def get_certificate(
    serial: Serial, request: Request, session: Session, caller: Anyone
) -> CertificateOut:
    """Public: anyone holding a serial can check that the certificate exists, whose it is, when
    it was issued and whether it is still valid. Unknown serials are 404."""
    return _out(await service.get_certificate(session, serial), request)


@router.post(
    "/v1/certificates/{serial}/revoke",
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Revoke a certificate",
)
async def revoke_certificate(
    serial: Serial, body: RevocationIn, request: Request, session: Session, caller: AdminOnly
) -> CertificateOut:
    """Admin only. The certificate then verifies as `revoked`, with the reason; the feed and
    webhooks get `certificate.revoked` with the serial and the reason's `category`."""
    return _out(await service.revoke(session, serial, body.reason, caller, body.category), request)


@router.get(
    "/v1/certificates/{serial}/credential",
    response_class=Response,
    responses={
        200: {
            "content": {"application/vc+jwt": {"schema": {"type": "string"}}},
            "description": "A compact JWS (EdDSA).",
        },
        **problem_responses(404, 409, 422),
    },
    summary="Get the certificate as an Open Badges 3.0 credential",
)
async def get_credential(
    serial: Serial, request: Request, session: Session, caller: Anyone
) -> Response:
    """The certificate as an Open Badges 3.0 `OpenBadgeCredential` (a W3C Verifiable
    Credential) in the VC-JWT format, signed with the service's Ed25519 key, whose public key
    is at `/.well-known/jwks.json`. Revoked certificates: 409."""
    certificate = await service.get_certificate(session, serial)
    token = service.credential_jwt(certificate, request.app.state.settings)
    return Response(content=token, media_type="application/vc+jwt")


@router.get("/.well-known/jwks.json", summary="The credential signing public key")
async def get_jwks(request: Request) -> dict[str, Any]:
    """The JSON Web Key Set with the Ed25519 public key that verifies the service's credentials."""
    return service.signing_key(request.app.state.settings).jwks()
