from functools import lru_cache
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import Identified, record
from app.certificates.credentials import (
    CertificateFacts,
    SigningKey,
    build_credential,
    load_or_create_signing_key,
    sign_credential,
)
from app.certificates.events import RevocationCategory, announce_revocation
from app.certificates.models import Certificate
from app.core.database import utcnow
from app.core.errors import Conflict, NotFound
from app.core.settings import Settings

TITLE = "Certificate in Leadership and Management"
ISSUER = "Civil Service Commission (Philippines)"


@lru_cache(maxsize=4)
def _signing_key(path: Path, base_url: str) -> SigningKey:
    return load_or_create_signing_key(path, base_url=base_url)


def signing_key(settings: Settings) -> SigningKey:
    path = settings.signing_key_file or settings.data_dir / "keys" / "credentials-ed25519.pem"
    return _signing_key(path.resolve(), settings.public_root)


async def get_certificate(session: AsyncSession, serial: str) -> Certificate:
    certificate = await session.get(Certificate, serial)
    if certificate is None:
        raise NotFound("No certificate with that serial.")
    return certificate


async def revoke(
    session: AsyncSession,
    serial: str,
    reason: str,
    actor: Identified | None,
    category: RevocationCategory = "other",
) -> Certificate:
    certificate = await session.get(Certificate, serial, with_for_update=True)
    if certificate is None:
        raise NotFound("No certificate with that serial.")
    if certificate.status == "revoked":
        raise Conflict("The certificate is revoked already.")
    certificate.status = "revoked"
    certificate.revoked_at = utcnow()
    certificate.revocation_reason = reason
    await session.flush()
    await record(
        session,
        actor,
        "certificate.revoke",
        "certificate",
        serial,
        before={"status": "valid"},
        after={"status": "revoked", "reason": reason, "reason_category": category},
    )
    await announce_revocation(session, certificate, category)
    return certificate


def credential_jwt(certificate: Certificate, settings: Settings) -> str:
    """The certificate as a signed Open Badges 3.0 OpenBadgeCredential (VC-JWT)."""
    if certificate.status != "valid":
        raise Conflict("A revoked certificate has no credential.")
    facts = CertificateFacts(
        serial=certificate.serial,
        holder_name=certificate.holder_name,
        issued_on=certificate.issued_on,
        base_url=settings.public_root,
    )
    return sign_credential(build_credential(facts), signing_key(settings))
