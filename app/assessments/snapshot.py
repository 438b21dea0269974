"""How a policy row and a computed result are read by the rules and stored."""

from decimal import Decimal
from typing import Any

from app.assessments import rules
from app.assessments.models import AssessmentPolicy


def policy_rules(policy: AssessmentPolicy) -> rules.Policy:
    return rules.Policy(
        code=policy.code,
        weights={rules.Instrument(k): Decimal(v) for k, v in policy.weights.items()},
        pass_mark=policy.pass_mark,
        score_min=policy.score_min,
        score_max=policy.score_max,
    )


def result_snapshot(result: rules.Result, names: dict[str, str]) -> dict[str, Any]:
    """The released result as stored (JSON): exactly what the result endpoint shows."""
    return {
        "competencies": [
            {
                "code": c.code,
                "name": names.get(c.code, c.code),
                "scores": {i.value: str(v) for i, v in c.scores.items()},
                "weighted_score": str(c.weighted_score) if c.weighted_score is not None else None,
                "passed": c.passed,
                "carried_over": c.carried_over,
            }
            for c in result.competencies
        ],
        "passed_count": result.passed_count,
        "outcome": result.outcome.value,
        "pass_mark": str(result.pass_mark),
        "supplemental_deadline": result.supplemental_deadline.isoformat()
        if result.supplemental_deadline
        else None,
        "reenrollment_tracks": [t.value for t in result.reenrollment_tracks]
        if result.reenrollment_tracks
        else None,
        "explanation": result.explanation(names),
    }
