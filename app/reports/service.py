"""The cohort report: what the results released in a period say, per competency and instrument."""

import csv
import io
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.assessments.models import Assessment
from app.candidates.models import Candidate

TWO_PLACES = Decimal("0.01")


@dataclass(frozen=True)
class CompetencyLine:
    code: str
    name: str
    assessed: int
    passed: int
    pass_rate: Decimal
    mean_weighted_score: Decimal | None


@dataclass(frozen=True)
class CohortReport:
    released_from: datetime | None
    released_to: datetime | None
    agency: str | None
    results: int
    outcomes: dict[str, int]
    competencies: list[CompetencyLine]
    mean_score_by_instrument: dict[str, Decimal]


def _mean(values: list[Decimal]) -> Decimal | None:
    if not values:
        return None
    return (sum(values, Decimal(0)) / len(values)).quantize(TWO_PLACES, rounding=ROUND_HALF_UP)


async def cohort_report(
    session: AsyncSession,
    *,
    released_from: datetime | None,
    released_to: datetime | None,
    agency: str | None,
) -> CohortReport:
    """Results released in [from, to): counts by outcome, pass rate and mean weighted score per
    competency (carried-over competencies of supplemental rounds are not counted again), and
    the mean score per instrument."""
    statement = select(Assessment.result).where(Assessment.released_at.is_not(None))
    if released_from is not None:
        statement = statement.where(Assessment.released_at >= released_from)
    if released_to is not None:
        statement = statement.where(Assessment.released_at < released_to)
    if agency is not None:
        statement = statement.join(Candidate, Candidate.id == Assessment.candidate_id).where(
            Candidate.agency_code == agency
        )
    results = [r for r in (await session.scalars(statement)).all() if r is not None]

    outcomes: Counter[str] = Counter(r["outcome"] for r in results)
    names: dict[str, str] = {}
    assessed: Counter[str] = Counter()
    passed: Counter[str] = Counter()
    weighted: dict[str, list[Decimal]] = defaultdict(list)
    by_instrument: dict[str, list[Decimal]] = defaultdict(list)
    for result in results:
        for competency in result["competencies"]:
            if competency.get("carried_over"):
                continue
            code = competency["code"]
            names.setdefault(code, competency["name"])
            assessed[code] += 1
            passed[code] += bool(competency["passed"])
            if competency["weighted_score"] is not None:
                weighted[code].append(Decimal(competency["weighted_score"]))
            for instrument, score in competency["scores"].items():
                by_instrument[instrument].append(Decimal(score))
    lines = [
        CompetencyLine(
            code=code,
            name=names[code],
            assessed=assessed[code],
            passed=passed[code],
            pass_rate=(Decimal(passed[code]) / assessed[code]).quantize(
                Decimal("0.0001"), rounding=ROUND_HALF_UP
            ),
            mean_weighted_score=_mean(weighted[code]),
        )
        for code in names
    ]
    return CohortReport(
        released_from=released_from,
        released_to=released_to,
        agency=agency,
        results=len(results),
        outcomes={o: outcomes.get(o, 0) for o in ("certified", "supplemental", "reenrollment")},
        competencies=lines,
        mean_score_by_instrument={
            i: m for i, values in sorted(by_instrument.items()) if (m := _mean(values)) is not None
        },
    )


def report_csv(report: CohortReport) -> str:
    """One row per competency, then one per instrument and one per outcome (a `kind` column)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["kind", "code", "name", "assessed", "passed", "pass_rate", "mean"])
    for line in report.competencies:
        writer.writerow(
            [
                "competency",
                line.code,
                line.name,
                line.assessed,
                line.passed,
                line.pass_rate,
                line.mean_weighted_score or "",
            ]
        )
    for instrument, mean in report.mean_score_by_instrument.items():
        writer.writerow(["instrument", instrument, "", "", "", "", mean])
    for outcome, count in report.outcomes.items():
        writer.writerow(["outcome", outcome, "", count, "", "", ""])
    return out.getvalue()
