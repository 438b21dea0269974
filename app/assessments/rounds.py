"""What every assessment round is tied to: who may see it, and the candidate status in which it
is opened and released."""

from typing import TypeVarTuple

from sqlalchemy import Select

from app.assessments import rules
from app.assessments.models import Assessment, AssessmentAssessor
from app.auth.roles import Role
from app.auth.service import Caller
from app.candidates.models import Candidate
from app.candidates.state import Status


def status_for_round(kind: rules.AssessmentKind) -> Status:
    """The status a candidate holds while a round of this kind may be opened and released."""
    if kind is rules.AssessmentKind.regular:
        return Status.for_assessment
    return Status.supplemental_eligible


_Columns = TypeVarTuple("_Columns")


def visible_assessments(statement: Select[*_Columns], caller: Caller) -> Select[*_Columns]:
    """Narrow ``statement`` to the rounds ``caller`` may see: staff and admin all, an assessor
    the ones assigned to it, an agency its own candidates'; nobody else any."""
    if caller.role is Role.assessor:
        return statement.join(AssessmentAssessor).where(
            AssessmentAssessor.api_key_id == caller.key_id
        )
    if caller.role is Role.agency:
        return statement.join(Candidate, Candidate.id == Assessment.candidate_id).where(
            Candidate.agency_code == caller.agency_code
        )
    if caller.role in (Role.admin, Role.staff):
        return statement
    return statement.where(Assessment.id.is_(None))
