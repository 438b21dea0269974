"""Certificates: public verification (for people and for software), the signed credential in
each of its forms, the issuer and achievement its ids point at, revocation status lists, the
public keys."""

from typing import Any

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from app.auth.dependencies import AdminOnly, Anyone
from app.certificates import page, service, status_list
from app.certificates.models import Certificate
from app.certificates.negotiation import choose
from app.certificates.schemas import (
    AchievementOut,
    AchievementSlug,
    CertificateOut,
    IssuerProfileOut,
    JwksOut,
    RevocationIn,
    Serial,
    StatusListId,
)
from app.certificates.urls import (
    ACHIEVEMENT_SLUG,
    BADGE_PATH,
    CERTIFICATE_PATH,
    CREDENTIAL_PATH,
)
from app.core.database import Session, utcnow
from app.core.errors import NotFound, problem_responses
from app.core.settings import Settings

router = APIRouter(tags=["Certificates"])

HTML = "text/html"
JSON = "application/json"
JSON_LD = "application/ld+json"
VC_JWT = "application/vc+jwt"
VC_LD = "application/vc+ld+json"
# Each representation depends on the Accept header: caches must key on it.
VARY = {"Vary": "Accept"}
AcceptHeader = Header(default=None, max_length=1000, include_in_schema=False)


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _out(certificate: Certificate, request: Request) -> CertificateOut:
    base = _settings(request).public_root
    return CertificateOut(
        serial=certificate.serial,
        status=certificate.status,
        title=service.TITLE,
        holder_name=certificate.holder_name,
        issued_on=certificate.issued_on,
        issuer=service.ISSUER,
        revoked_at=certificate.revoked_at,
        revocation_reason=certificate.revocation_reason,
        credential_url=base + CREDENTIAL_PATH.format(serial=certificate.serial),
    )


_HTML_PAGE = {"text/html": {"schema": {"type": "string"}}}


@router.get(
    "/v1/certificates/{serial}",
    response_model=CertificateOut,
    responses={
        200: {
            "description": "The certificate: JSON for software, a verification page (HTML) for "
            "a browser (`Accept: text/html`).",
            "content": _HTML_PAGE,
        },
        404: {
            **problem_responses(404)[404],
            "content": {"application/problem+json": {}, **_HTML_PAGE},
        },
        **problem_responses(406, 422),
    },
    summary="Verify a certificate",
)
async def get_certificate(
    serial: Serial,
    request: Request,
    session: Session,
    caller: Anyone,
    accept: str | None = AcceptHeader,
) -> Response:
    """Public: anyone holding a serial can check that the certificate exists, whose it is, when
    it was issued and whether it is still valid. Unknown serials are 404.

    Content negotiation: `Accept: application/json` (or none) gives the JSON below; a browser
    (`Accept: text/html`) gets the verification page: holder, title, issue date, issuer, the
    five competencies, the status in words, download links and a QR code of the page's own
    address; printable as the certificate. An unknown serial is then a 404 page."""
    wanted = choose(accept, (JSON, HTML))
    try:
        certificate = await service.get_certificate(session, serial)
    except NotFound:
        if wanted != HTML:
            raise
        return HTMLResponse(
            page.not_found_page(serial),
            status_code=404,
            headers={**VARY, "Content-Security-Policy": page.CONTENT_SECURITY_POLICY},
        )
    if wanted == JSON:
        return JSONResponse(_out(certificate, request).model_dump(mode="json"), headers=VARY)
    base = _settings(request).public_root
    alignments = await service.competency_alignments(session, base)
    html = page.certificate_page(
        page.PageFacts(
            serial=certificate.serial,
            page_url=base + CERTIFICATE_PATH.format(serial=certificate.serial),
            holder_name=certificate.holder_name,
            title=service.TITLE,
            issuer=service.ISSUER,
            issued_on=certificate.issued_on,
            competencies=tuple(a.target_name for a in alignments),
            revoked_at=certificate.revoked_at if certificate.status == "revoked" else None,
            revocation_reason=certificate.revocation_reason,
            credential_url=base + CREDENTIAL_PATH.format(serial=certificate.serial),
            badge_url=base + BADGE_PATH.format(serial=certificate.serial),
        )
    )
    return HTMLResponse(
        html, headers={**VARY, "Content-Security-Policy": page.CONTENT_SECURITY_POLICY}
    )


@router.post(
    "/v1/certificates/{serial}/revoke",
    response_model=CertificateOut,
    responses=problem_responses(400, 401, 403, 404, 409, 422),
    summary="Revoke a certificate",
)
async def revoke_certificate(
    serial: Serial, body: RevocationIn, request: Request, session: Session, caller: AdminOnly
) -> CertificateOut:
    """Admin only. The certificate then verifies as `revoked`, with the reason, and its bit in
    the revocation status list is set (anyone fetching the list sees it once this commits)."""
    return _out(await service.revoke(session, serial, body.reason, caller), request)


@router.get(
    "/v1/certificates/{serial}/credential",
    response_class=Response,
    responses={
        200: {
            "content": {
                VC_JWT: {"schema": {"type": "string"}},
                VC_LD: {"schema": {"type": "object"}},
            },
            "description": "`application/vc+jwt` (the default): a compact JWS (EdDSA). "
            "`application/vc+ld+json`: the JSON-LD credential with an `eddsa-rdfc-2022` Data "
            "Integrity proof.",
        },
        **problem_responses(404, 406, 409, 422),
    },
    summary="Get the certificate as an Open Badges 3.0 credential",
)
async def get_credential(
    serial: Serial,
    request: Request,
    session: Session,
    caller: Anyone,
    accept: str | None = AcceptHeader,
) -> Response:
    """The certificate as an Open Badges 3.0 `OpenBadgeCredential` (a W3C Verifiable
    Credential), in the form the caller asks for with `Accept`:

    - `application/vc+jwt` (also with no `Accept`): VC-JWT signed with the service's Ed25519
      key, whose public key is at `/.well-known/jwks.json` (JWT `kid`).
    - `application/vc+ld+json`: the same credential secured with a Data Integrity proof,
      cryptosuite `eddsa-rdfc-2022`, whose `verificationMethod` is a key of the issuer Profile
      (`GET /v1/issuer`).

    Both carry a `credentialStatus` (Bitstring Status List, purpose `revocation`). Revoked
    certificates: 409."""
    wanted = choose(accept, (VC_JWT, VC_LD, "application/vc"))
    certificate = await service.get_certificate(session, serial)
    settings = _settings(request)
    if wanted == VC_JWT:
        token = await service.credential_jwt(session, certificate, settings)
        return Response(content=token, media_type=VC_JWT, headers=VARY)
    unsigned, key = await service.credential(session, certificate, settings)
    secured = await run_in_threadpool(service.secure_with_data_integrity, unsigned, key)
    return JSONResponse(secured, media_type=VC_LD, headers=VARY)


@router.get(
    "/v1/certificates/{serial}/badge.svg",
    response_class=Response,
    responses={
        200: {
            "content": {"image/svg+xml": {"schema": {"type": "string"}}},
            "description": "The badge image with the VC-JWT baked in (OB 3.0 section 5.3).",
        },
        **problem_responses(404, 409, 422),
    },
    summary="Get the certificate as a baked badge image (SVG)",
)
async def get_badge(serial: Serial, request: Request, session: Session, caller: Anyone) -> Response:
    """The badge image of the certificate, an SVG with the signed credential (VC-JWT) embedded
    as Open Badges 3.0 "Baking" says: an `<openbadges:credential verify="...">` element. Badge
    tools extract and verify it. Revoked certificates: 409."""
    certificate = await service.get_certificate(session, serial)
    token = await service.credential_jwt(session, certificate, _settings(request))
    return Response(
        content=service.baked_badge(certificate, token),
        media_type="image/svg+xml",
        headers={"Content-Disposition": f'inline; filename="{certificate.serial}.svg"'},
    )


def _json_ld(document: dict[str, Any], accept: str | None) -> Response:
    media_type = choose(accept, (JSON, JSON_LD))
    return JSONResponse(
        document, media_type=media_type, headers={**VARY, "Cache-Control": "max-age=60"}
    )


_JSON_LD_CONTENT = {JSON_LD: {"schema": {"type": "object"}}}


@router.get(
    "/v1/issuer",
    response_model=IssuerProfileOut,
    responses={
        200: {"description": "The issuer Profile.", "content": _JSON_LD_CONTENT},
        **problem_responses(406),
    },
    summary="The issuer of the certificates (Open Badges 3.0 Profile)",
)
async def get_issuer(
    request: Request, caller: Anyone, accept: str | None = AcceptHeader
) -> Response:
    """What every credential's `issuer.id` points at: the Civil Service Commission as an Open
    Badges 3.0 `Profile`, with the public keys that sign credentials, as Multikey
    `verificationMethod` entries (the `verificationMethod` of Data Integrity proofs) and the
    JWKS address (the `kid` of VC-JWTs). After a key rotation the old key is still listed,
    `status` `retired`, so credentials it signed still verify. The same JSON for
    `application/json` and `application/ld+json`."""
    return _json_ld(service.issuer_profile(_settings(request)), accept)


@router.get(
    "/v1/achievements/{slug}",
    response_model=AchievementOut,
    responses={
        200: {"description": "The Achievement.", "content": _JSON_LD_CONTENT},
        **problem_responses(404, 406, 422),
    },
    summary="An achievement a certificate attests (Open Badges 3.0 Achievement)",
)
async def get_achievement(
    slug: AchievementSlug,
    request: Request,
    session: Session,
    caller: Anyone,
    accept: str | None = AcceptHeader,
) -> Response:
    """What every credential's `achievement.id` points at. The one achievement is
    `certificate-in-leadership-and-management`: criteria, description, image, and the five
    CSC leadership competencies as `alignment` entries pointing at their CASE `CFItem`s. The
    same JSON for `application/json` and `application/ld+json`."""
    if slug != ACHIEVEMENT_SLUG:
        raise NotFound("No achievement with that slug.")
    return _json_ld(await service.achievement(session, _settings(request)), accept)


@router.get(
    "/v1/status-lists/{list_id}",
    response_class=Response,
    responses={
        200: {
            "content": {VC_JWT: {"schema": {"type": "string"}}},
            "description": "A `BitstringStatusListCredential` as a VC-JWT.",
        },
        **problem_responses(404, 422),
    },
    summary="A revocation status list (W3C Bitstring Status List)",
)
async def get_status_list(
    list_id: StatusListId, request: Request, session: Session, caller: Anyone
) -> Response:
    """The status list a credential's `credentialStatus.statusListCredential` names: a
    `BitstringStatusListCredential` (purpose `revocation`, 131,072 entries), as a VC-JWT signed
    by the key that signed that credential. A certificate's bit is 1 once it is revoked or its
    holder's data erased; the list is built afresh for each request and may be cached for 30
    seconds."""
    ref = status_list.parse_list_id(list_id, service.keyring(_settings(request)))
    if ref is None or not await status_list.list_exists(session, ref.list_number):
        raise NotFound("No status list with that id.")
    token = await status_list.signed_status_list(session, ref, utcnow())
    return Response(
        content=token,
        media_type=VC_JWT,
        headers={"Cache-Control": f"max-age={status_list.CACHE_SECONDS}"},
    )


@router.get(
    "/.well-known/jwks.json",
    response_model=JwksOut,
    summary="The credential signing public keys",
)
async def get_jwks(request: Request) -> Response:
    """The JSON Web Key Set with the Ed25519 public keys that verify the service's credentials:
    the `current` key first, then keys retired by a rotation (`status` `retired`, `retiredAt`):
    they sign no new credential but still verify those they signed."""
    return JSONResponse(
        service.keyring(_settings(request)).jwks(), headers={"Cache-Control": "max-age=60"}
    )
