"""Lists of certificates for the portal and the HRIS: who holds which, valid or revoked.

Verifying one certificate by its serial is public; listing them is not (a list is a register of
people): admin and staff see all, an agency key its own agency's candidates', a candidate's
portal token its own.
"""

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.roles import Role
from app.auth.service import Caller
from app.candidates.models import Candidate
from app.certificates.models import Certificate
from app.core.errors import FieldError, UnprocessableEntity
from app.core.pagination import paginate


@dataclass(frozen=True)
class CertificateFilters:
    candidate_id: uuid.UUID | None = None
    agency: str | None = None
    status: str | None = None
    issued_after: date | None = None
    issued_before: date | None = None


def visible_certificates(statement: Select[Certificate], caller: Caller) -> Select[Certificate]:
    if caller.role is Role.agency:
        return statement.where(
            Certificate.candidate_id.in_(
                select(Candidate.id).where(Candidate.agency_code == caller.agency_code)
            )
        )
    if caller.role is Role.candidate:
        return statement.where(Certificate.candidate_id == caller.candidate_id)
    if caller.role in (Role.admin, Role.staff):
        return statement
    return statement.where(Certificate.serial.is_(None))


async def list_certificates(
    session: AsyncSession,
    caller: Caller,
    filters: CertificateFilters,
    *,
    cursor: str | None,
    limit: int,
) -> tuple[list[tuple[Certificate, str | None]], str | None]:
    """The certificates ``caller`` may see matching ``filters``, oldest first, each with its
    holder's agency code."""
    if (
        filters.issued_after is not None
        and filters.issued_before is not None
        and filters.issued_after >= filters.issued_before
    ):
        raise UnprocessableEntity(
            "`issued_after` must be earlier than `issued_before`.",
            errors=[FieldError(field="query.issued_before", message="not after issued_after")],
        )
    statement = visible_certificates(select(Certificate), caller)
    if filters.candidate_id is not None:
        statement = statement.where(Certificate.candidate_id == filters.candidate_id)
    if filters.agency is not None:
        statement = statement.where(
            Certificate.candidate_id.in_(
                select(Candidate.id).where(Candidate.agency_code == filters.agency)
            )
        )
    if filters.status is not None:
        statement = statement.where(Certificate.status == filters.status)
    if filters.issued_after is not None:
        statement = statement.where(Certificate.issued_on >= filters.issued_after)
    if filters.issued_before is not None:
        statement = statement.where(Certificate.issued_on < filters.issued_before)
    rows, next_cursor = await paginate(
        session,
        statement,
        order_by=[Certificate.created_at, Certificate.serial],
        cursor=cursor,
        limit=limit,
        key=lambda c: (c.created_at, c.serial),
    )
    agencies: dict[uuid.UUID, str | None] = {}
    for candidate_id, agency_code in await session.execute(
        select(Candidate.id, Candidate.agency_code).where(
            Candidate.id.in_({c.candidate_id for c in rows})
        )
    ):
        agencies[candidate_id] = agency_code
    return [(c, agencies[c.candidate_id]) for c in rows], next_cursor
