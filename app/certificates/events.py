"""What revoking a certificate tells the change feed and webhooks. The free-text reason may
name people or circumstances, so only its category goes out."""

from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.candidates.models import Candidate
from app.certificates.models import Certificate
from app.integrations.feed import Event, append_events

RevocationCategory = Literal["issued_in_error", "misconduct", "holder_request", "erasure", "other"]
REVOCATION_CATEGORIES: tuple[RevocationCategory, ...] = (
    "issued_in_error",
    "misconduct",
    "holder_request",
    "erasure",
    "other",
)


async def announce_revocation(
    session: AsyncSession, certificate: Certificate, category: RevocationCategory
) -> None:
    """Queue ``certificate.revoked`` (serial and reason category) for the feed."""
    agency_code = await session.scalar(
        select(Candidate.agency_code).where(Candidate.id == certificate.candidate_id)
    )
    await append_events(
        session,
        [
            Event(
                "certificate.revoked",
                certificate.candidate_id,
                agency_code,
                {
                    "serial": certificate.serial,
                    "assessment_id": str(certificate.assessment_id),
                    "reason_category": category,
                },
            )
        ],
    )
