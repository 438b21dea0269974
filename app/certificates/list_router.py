"""Certificate lists: every certificate a caller may see, and one candidate's."""

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from app.agencies.schemas import AgencyCode
from app.auth.dependencies import Allow
from app.auth.roles import Role
from app.auth.service import Caller
from app.candidates import service as candidates
from app.certificates import service
from app.certificates.listing import CertificateFilters, list_certificates
from app.certificates.models import Certificate
from app.core.database import Session
from app.core.errors import problem_responses
from app.core.pagination import DEFAULT_LIMIT, Cursor, Limit, Page

router = APIRouter(prefix="/v1", tags=["Certificates"])

CertificateLister = Annotated[
    Caller, Depends(Allow(Role.admin, Role.staff, Role.agency, Role.candidate))
]
StatusFilter = Annotated[
    Literal["valid", "revoked"] | None, Query(alias="status", description="`valid` or `revoked`.")
]


class CertificateListItem(BaseModel):
    serial: str = Field(examples=["CPRO-7K3M-Q9XA-2H8D-W4PZ"])
    status: Literal["valid", "revoked"]
    candidate_id: uuid.UUID
    assessment_id: uuid.UUID
    agency: str | None = Field(examples=["DOH"])
    title: str = Field(examples=["Certificate in Leadership and Management"])
    holder_name: str = Field(examples=["Maria Santos"])
    issued_on: date
    revoked_at: datetime | None
    verification_url: str = Field(description="Public verification of this certificate.")
    credential_url: str = Field(description="The signed Open Badges 3.0 credential (VC-JWT).")


def _item(certificate: Certificate, agency: str | None, request: Request) -> CertificateListItem:
    base = request.app.state.settings.public_root
    return CertificateListItem(
        serial=certificate.serial,
        status="revoked" if certificate.status == "revoked" else "valid",
        candidate_id=certificate.candidate_id,
        assessment_id=certificate.assessment_id,
        agency=agency,
        title=service.TITLE,
        holder_name=certificate.holder_name,
        issued_on=certificate.issued_on,
        revoked_at=certificate.revoked_at,
        verification_url=f"{base}/v1/certificates/{certificate.serial}",
        credential_url=f"{base}/v1/certificates/{certificate.serial}/credential",
    )


@router.get(
    "/certificates",
    responses=problem_responses(401, 403, 422),
    summary="List certificates",
)
async def list_all_certificates(
    request: Request,
    session: Session,
    caller: CertificateLister,
    candidate_id: Annotated[
        uuid.UUID | None, Query(description="One candidate's certificates.")
    ] = None,
    agency: Annotated[
        AgencyCode | None, Query(description="Certificates of this agency's candidates.")
    ] = None,
    status_: StatusFilter = None,
    issued_after: Annotated[date | None, Query(description="Issued on or after this day.")] = None,
    issued_before: Annotated[date | None, Query(description="Issued before this day.")] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[CertificateListItem]:
    """Certificates, oldest first. Admin and staff see all; an agency key its own agency's
    candidates' (another agency's are never listed, whatever `agency` says); a candidate's
    portal token its own. (Anyone may verify one certificate by its serial at
    `GET /v1/certificates/{serial}`; a list is a register of people, so it is not public.)
    `issued_after` must be earlier than `issued_before` (422 otherwise)."""
    rows, next_cursor = await list_certificates(
        session,
        caller,
        CertificateFilters(
            candidate_id=candidate_id,
            agency=agency,
            status=status_,
            issued_after=issued_after,
            issued_before=issued_before,
        ),
        cursor=cursor,
        limit=limit,
    )
    return Page(items=[_item(c, a, request) for c, a in rows], next_cursor=next_cursor)


@router.get(
    "/candidates/{candidate_id}/certificates",
    responses=problem_responses(401, 403, 404, 422),
    summary="List a candidate's certificates",
)
async def list_candidate_certificates(
    candidate_id: uuid.UUID,
    request: Request,
    session: Session,
    caller: CertificateLister,
    status_: StatusFilter = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[CertificateListItem]:
    """The candidate's certificates, oldest first. A candidate the caller may not see (another
    agency's, another candidate's) is 404."""
    await candidates.get_candidate(session, caller, candidate_id)
    rows, next_cursor = await list_certificates(
        session,
        caller,
        CertificateFilters(candidate_id=candidate_id, status=status_),
        cursor=cursor,
        limit=limit,
    )
    return Page(items=[_item(c, a, request) for c, a in rows], next_cursor=next_cursor)
