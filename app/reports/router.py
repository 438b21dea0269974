from dataclasses import asdict
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from app.agencies.schemas import AgencyCode
from app.auth.dependencies import Allow
from app.auth.roles import Role
from app.auth.service import Caller
from app.core.database import Session
from app.core.errors import Forbidden, problem_responses
from app.reports.service import cohort_report, report_csv

router = APIRouter(prefix="/v1/reports", tags=["Reports"])

ReportReader = Annotated[Caller, Depends(Allow(Role.admin, Role.staff, Role.agency))]


class CompetencyLineOut(BaseModel):
    code: str
    name: str
    assessed: int
    passed: int
    pass_rate: Decimal = Field(description="passed / assessed, 4 decimals.", examples=["0.8125"])
    mean_weighted_score: Decimal | None


class CohortReportOut(BaseModel):
    released_from: datetime | None
    released_to: datetime | None
    agency: str | None
    results: int = Field(
        description="Released results in the period (regular and supplemental rounds)."
    )
    outcomes: dict[str, int] = Field(
        examples=[{"certified": 12, "supplemental": 5, "reenrollment": 3}]
    )
    competencies: list[CompetencyLineOut]
    mean_score_by_instrument: dict[str, Decimal]


@router.get(
    "/cohort",
    response_model=CohortReportOut,
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
        **problem_responses(401, 403, 422),
    },
    summary="Cohort report of released results",
)
async def get_cohort_report(
    session: Session,
    caller: ReportReader,
    released_from: Annotated[
        datetime | None, Query(alias="from", description="Released at or after (ISO 8601).")
    ] = None,
    released_to: Annotated[
        datetime | None, Query(alias="to", description="Released before (ISO 8601).")
    ] = None,
    agency: AgencyCode | None = None,
    format: Annotated[
        Literal["json", "csv"], Query(description="`csv` for a spreadsheet.")
    ] = "json",
) -> Response | CohortReportOut:
    """Results released in the period: outcome counts, pass rate and mean weighted score per
    competency, mean score per instrument. Agency keys get their own agency's cohort only."""
    if caller.role is Role.agency:
        if agency not in (None, caller.agency_code):
            raise Forbidden(f"This key is bound to agency {caller.agency_code!r}.")
        agency = caller.agency_code
    report = await cohort_report(
        session, released_from=released_from, released_to=released_to, agency=agency
    )
    if format == "csv":
        return Response(content=report_csv(report), media_type="text/csv; charset=utf-8")
    return CohortReportOut.model_validate(asdict(report))
