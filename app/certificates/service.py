"""Certificates: verification, revocation, and the published forms of a certificate."""

from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import Identified, record
from app.certificates import badge, data_integrity
from app.certificates.credentials import (
    CONTEXT,
    ISSUER_NAME,
    ISSUER_URL,
    Alignment,
    CertificateFacts,
    build_achievement,
    build_credential,
    sign_credential,
)
from app.certificates.keys import Keyring, SigningKey, keyring_stamp, load_keyring
from app.certificates.models import Certificate
from app.certificates.status_list import status_entry
from app.certificates.urls import ISSUER_PATH
from app.core.database import utcnow
from app.core.errors import Conflict, NotFound
from app.core.settings import Settings
from app.frameworks.case import competency_item_uri
from app.frameworks.models import Competency, Framework, FrameworkVersion

TITLE = "Certificate in Leadership and Management"
ISSUER = "Civil Service Commission (Philippines)"
# The framework whose five competencies the certificate attests (its current published version).
CPRO_FRAMEWORK = "csc-leadership-competencies"


def signing_key_path(settings: Settings) -> Path:
    path = settings.signing_key_file or settings.data_dir / "keys" / "credentials-ed25519.pem"
    return path.resolve()


@lru_cache(maxsize=4)
def _keyring(path: Path, base_url: str, stamp: tuple[int, ...]) -> Keyring:
    return load_keyring(path, base_url=base_url)


def keyring(settings: Settings) -> Keyring:
    """The signing keys as they are on disk now: a rotation shows in every process at once."""
    path = signing_key_path(settings)
    return _keyring(path, settings.public_root, keyring_stamp(path))


def signing_key(settings: Settings) -> SigningKey:
    """The key that signs new credentials."""
    return keyring(settings).current


async def get_certificate(session: AsyncSession, serial: str) -> Certificate:
    certificate = await session.get(Certificate, serial)
    if certificate is None:
        raise NotFound("No certificate with that serial.")
    return certificate


async def revoke(
    session: AsyncSession, serial: str, reason: str, actor: Identified | None
) -> Certificate:
    """Revoke; its status list bit is set from this transaction's commit on."""
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
        after={"status": "revoked", "reason": reason},
    )
    return certificate


async def competency_alignments(session: AsyncSession, base_url: str) -> tuple[Alignment, ...]:
    """The five CSC competencies, each pointing at its CASE ``CFItem``."""
    row = (
        await session.execute(
            select(Framework, FrameworkVersion)
            .join(FrameworkVersion, FrameworkVersion.framework_id == Framework.id)
            .where(Framework.slug == CPRO_FRAMEWORK, FrameworkVersion.status == "published")
            .order_by(FrameworkVersion.published_at.desc(), FrameworkVersion.created_at.desc())
            .limit(1)
        )
    ).first()
    if row is None:
        return ()
    framework, version = row
    competencies = await session.scalars(
        select(Competency).where(Competency.version_id == version.id).order_by(Competency.position)
    )
    return tuple(
        Alignment(
            target_name=c.name,
            target_url=competency_item_uri(base_url, framework.slug, version.version, c.code),
            target_code=c.code,
            target_framework=f"{framework.title} ({version.version})",
        )
        for c in competencies
    )


async def _facts(
    session: AsyncSession, certificate: Certificate, settings: Settings, key: SigningKey
) -> CertificateFacts:
    return CertificateFacts(
        serial=certificate.serial,
        holder_name=certificate.holder_name,
        issued_on=certificate.issued_on,
        base_url=settings.public_root,
        alignments=await competency_alignments(session, settings.public_root),
        image_uri=badge.achievement_image_data_uri(),
        status=status_entry(certificate.status_list, certificate.status_index, key),
    )


def _require_valid(certificate: Certificate) -> None:
    if certificate.status != "valid":
        raise Conflict("A revoked certificate has no credential.")


async def credential(
    session: AsyncSession, certificate: Certificate, settings: Settings
) -> tuple[dict[str, Any], SigningKey]:
    """The unsigned OpenBadgeCredential of a valid certificate, and the key to sign it with."""
    _require_valid(certificate)
    key = signing_key(settings)
    return build_credential(await _facts(session, certificate, settings, key)), key


async def credential_jwt(
    session: AsyncSession, certificate: Certificate, settings: Settings
) -> str:
    """The certificate as a signed Open Badges 3.0 OpenBadgeCredential (VC-JWT)."""
    unsigned, key = await credential(session, certificate, settings)
    return sign_credential(unsigned, key)


def secure_with_data_integrity(unsigned: dict[str, Any], key: SigningKey) -> dict[str, Any]:
    """CPU-bound (RDF canonicalization): the routes run it in a worker thread."""
    return data_integrity.add_proof(unsigned, key, created=datetime.now(UTC))


def baked_badge(certificate: Certificate, token: str) -> str:
    return badge.baked_badge(
        token, holder_name=certificate.holder_name, issued_on=certificate.issued_on
    )


def issuer_profile(settings: Settings) -> dict[str, Any]:
    """The issuer ``Profile`` (OB 3.0 B.1.14) that credentials' ``issuer.id`` points at, with the
    public keys that sign them: ``verificationMethod`` (Multikey, for Data Integrity proofs) and
    ``jwks_uri`` (for VC-JWT); retired keys are listed too, marked ``retired``."""
    issuer_id = settings.public_root + ISSUER_PATH
    keys = keyring(settings)
    methods = keys.verification_methods(issuer_id)
    return {
        "@context": list(CONTEXT),
        "id": issuer_id,
        "type": ["Profile"],
        "name": ISSUER_NAME,
        "url": ISSUER_URL,
        "description": (
            "The Civil Service Commission of the Philippines, which confers the Certificate in "
            "Leadership and Management under the Leadership and Management Certification "
            "Program (CPro)."
        ),
        "verificationMethod": methods,
        # Every published key may have asserted a credential: those signed before a rotation
        # still verify. Only the one marked "current" signs new credentials.
        "assertionMethod": [method["id"] for method in methods],
        "jwks_uri": keys.current.jwks_url,
    }


async def achievement(session: AsyncSession, settings: Settings) -> dict[str, Any]:
    """The Achievement (OB 3.0 B.1.1) every certificate's ``achievement.id`` points at."""
    built = build_achievement(
        settings.public_root,
        alignments=await competency_alignments(session, settings.public_root),
        image_uri=badge.achievement_image_data_uri(),
    )
    return {"@context": list(CONTEXT), **built}
