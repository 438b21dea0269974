"""Data-privacy requests: the right of access and the right to erasure (RA 10173)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends

from app.auth.dependencies import AdminOnly, Allow
from app.auth.roles import Role
from app.auth.service import Caller
from app.candidates.service import actor_of, get_candidate, to_out
from app.core.database import Session
from app.core.errors import problem_responses
from app.privacy import service
from app.privacy.schemas import ErasureIn, ErasureOut, PersonalDataOut

router = APIRouter(prefix="/v1/candidates", tags=["Data privacy"])

# Program staff, and an agency's HRIS for its own candidates (others' are simply not found).
PrivacyOfficer = Annotated[Caller, Depends(Allow(Role.admin, Role.staff, Role.agency))]


@router.get(
    "/{candidate_id}/personal-data",
    responses=problem_responses(401, 403, 404),
    summary="Everything held on a candidate",
)
async def get_personal_data(
    candidate_id: uuid.UUID, session: Session, caller: PrivacyOfficer
) -> PersonalDataOut:
    """The answer to a data subject's access request (Data Privacy Act of 2012): one document
    with the candidate's record, history, self-assessments, training records, assessments
    with scores, evidence and results, the portfolio (every document with its SHA-256),
    certificates, change-feed events, and the audit
    entries about them. The request is itself recorded in the audit trail."""
    document = await service.personal_data(session, caller, candidate_id)
    return PersonalDataOut.model_validate(document)


@router.post(
    "/{candidate_id}/erasure",
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Erase a candidate's personal data",
)
async def erase_candidate(
    candidate_id: uuid.UUID, body: ErasureIn, session: Session, caller: AdminOnly
) -> ErasureOut:
    """Anonymize the candidate at the data subject's request. Names become `Erased`; e-mail,
    position title and the agency's employee id become null (the agency may sync the employee
    again: that makes a new record); free text about the person (evidence, remarks, project
    briefs, ALP coach and sponsor) is cleared. Statuses, dates, scores and released results
    stay, for statistics. Certificates keep their serial but name `Erased` as holder, and a
    valid one is revoked with the reason `erased at the holder's request`. The erasure is
    recorded in the audit trail (the reason and the fields, not their values) and announced
    on the change feed as `candidate.updated` with `erased: true`. Erased already: 409."""
    candidate = await get_candidate(session, caller, candidate_id, for_update=True)
    revoked = await service.erase(session, candidate, body.reason, actor_of(caller))
    assert candidate.erased_at is not None
    return ErasureOut(
        candidate=to_out(candidate), erased_at=candidate.erased_at, revoked_certificates=revoked
    )
