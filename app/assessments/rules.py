"""The CPro result arithmetic and outcome rules (pure; no database, no HTTP).

Source: the CSC CPro FAQ (``shared/seeds/000_7d41914b44f0ca68.txt``) as mapped in
``shared/DOMAIN.md``. Each competency is assessed with three instruments whose weights, score
range and pass mark come from a versioned :class:`Policy`; a competency is passed when its
weighted score reaches the pass mark, and the number of competencies passed decides the outcome.

Decisions the documents leave open, taken here and relied on by the callers:

* **Fewer than two competencies passed** is treated like passing exactly two: re-enrollment.
  The FAQ only speaks of passing "only two"; DOMAIN.md asks for this reading.
* **Supplemental deadline** is the release date of the regular round's results plus one
  calendar year, inclusive (the last day the supplemental may be taken). Results released on
  29 February give 28 February of the next year, never 1 March: the candidate must not get a
  day more than "within one year". This module computes the date; refusing a supplemental
  scheduled after it is the caller's job (the release date of the regular round is not an
  input of :func:`compute_result` for a supplemental round).
* **Supplemental round**: the written test is retaken on all five competencies, the portfolio
  review and behavioral event interview only on the competencies failed in the regular round.

  - A previously *failed* competency has all three instruments retaken, so its supplemental
    weighted score is the ordinary weighted score of the new scores, judged against the pass
    mark as in a regular round. Nothing from the regular round is carried into it.
  - A previously *passed* competency stays passed (``carried_over=True``). Its written-test
    retake is recorded in ``scores`` but does not un-pass it, and it gets no weighted score
    (``weighted_score is None``): a written test alone carries 10% of the rating and cannot
    stand for the competency.
  - The round certifies when every competency is passed in one of the two rounds; otherwise
    the outcome is re-enrollment, since the supplemental chance is used up. Re-enrollment
    tracks then follow the same rule as after a regular round (the FAQ gives no other).
* **Re-enrollment tracks**: a Training Track candidate may re-enroll in the Training Track or
  under RPL; an RPL candidate only in the Training Track.
* **Rounding**: a weighted score is rounded once, exactly, to two decimals, half away from zero
  (``ROUND_HALF_UP``); the pass mark is compared with the rounded score, so a weighted score
  of exactly the pass mark passes.
* **The bundled pass mark** (:data:`CPRO_2015`: 70.00 on a 0 to 100 scale) is *not* in the
  source documents; it is a default for an administrator to confirm or replace with a new
  policy version. The weights (10/50/40) are from the FAQ.
* **Order of checks** in :func:`compute_result`: the policy, the arguments, then scores that
  should not be there (:class:`UnexpectedScores`), scores missing (:class:`MissingScores`),
  scores out of range (:class:`ScoreOutOfRange`). Each error lists every offending score.
"""

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import (
    MAX_EMAX,
    MAX_PREC,
    MIN_EMIN,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    localcontext,
)
from enum import StrEnum
from types import MappingProxyType
from typing import NamedTuple

from app.candidates.state import Track as CandidateTrack

COMPETENCY_COUNT = 5
"""CPro assesses the five competencies of the CSC framework (Resolutions 1500615, 1501534)."""
SUPPLEMENTAL_MIN_PASSED = 3
"""Passing at least this many competencies in the regular round opens the supplemental round."""

_TWO_PLACES = Decimal("0.01")
# Add and multiply are exact under this context, and an inexact result raises instead of
# rounding silently: the only rounding a weighted score gets is the one in _round_quotient.
_EXACT = Context(
    prec=MAX_PREC,
    Emax=MAX_EMAX,
    Emin=MIN_EMIN,
    traps=[Inexact, InvalidOperation, DivisionByZero, Overflow],
)
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


class Instrument(StrEnum):
    """The three instruments every CPro competency is assessed with."""

    written_test = "written_test"
    """Conceptual and theoretical grounding in the competency."""
    portfolio_review = "portfolio_review"
    """Evidence of the competency at work (the ALP for the Training Track, the RPL portfolio)."""
    behavioral_event_interview = "behavioral_event_interview"
    """The candidate's actual experience of applying the competency."""


# In declaration order. Iterating an Enum class walks its members anew each time, which was an
# eighth of a cohort's release (it happens several times per round).
INSTRUMENTS: tuple[Instrument, ...] = tuple(Instrument)
_INSTRUMENT_SET = frozenset(INSTRUMENTS)


# The candidate's track is the candidates area's; re-exported for the rules' callers.
Track = CandidateTrack


class AssessmentKind(StrEnum):
    """A candidate's first assessment, or the supplemental one that may follow it."""

    regular = "regular"
    supplemental = "supplemental"


class Outcome(StrEnum):
    """What a released result means for the candidate."""

    certified = "certified"
    """Every competency passed: Certificate in Leadership and Management."""
    supplemental = "supplemental"
    """At least three passed: a supplemental assessment on the failed ones within one year."""
    reenrollment = "reenrollment"
    """Fewer than three passed, or a supplemental round not passed: enroll in the program again."""


@dataclass(frozen=True)
class Policy:
    """A versioned assessment policy: instrument weights, score range and pass mark.

    The weights are relative (only their ratios matter); ``weights`` is copied into a read-only
    mapping so that the policy cannot change after it is made. Check a policy an administrator
    submits with :func:`policy_problems`; :func:`compute_result` refuses an invalid one.
    """

    code: str
    weights: Mapping[Instrument, Decimal] = field(hash=False)
    pass_mark: Decimal
    score_min: Decimal
    score_max: Decimal

    def __post_init__(self) -> None:
        object.__setattr__(self, "weights", MappingProxyType(dict(self.weights)))


CPRO_2015 = Policy(
    code="cpro-2015",
    weights={
        Instrument.written_test: Decimal("10"),
        Instrument.portfolio_review: Decimal("50"),
        Instrument.behavioral_event_interview: Decimal("40"),
    },
    # Not in the source documents: a default an administrator confirms or replaces.
    pass_mark=Decimal("70.00"),
    score_min=Decimal("0"),
    score_max=Decimal("100"),
)
"""The CPro policy from the 2015 FAQ: Written Test 10%, Portfolio Review 50%, Interview 40%."""


class PolicyProblem(NamedTuple):
    """One thing wrong with a policy: the field and why."""

    field: str
    message: str


class InvalidPolicy(ValueError):
    """The policy given to :func:`compute_result` has problems (see ``problems``)."""

    def __init__(self, problems: Sequence[PolicyProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__(
            "invalid assessment policy: " + "; ".join(f"{p.field}: {p.message}" for p in problems)
        )


class MissingScores(ValueError):
    """Scores the result needs were not given; ``missing`` lists every one."""

    def __init__(self, missing: Sequence[tuple[str, Instrument]]) -> None:
        self.missing = tuple(missing)
        super().__init__(
            "missing scores: " + ", ".join(f"{code} {instrument}" for code, instrument in missing)
        )


class UnexpectedScores(ValueError):
    """Scores were given that the round does not have; ``unexpected`` lists every one.

    For example a portfolio score on a competency passed in the regular round, in a supplemental
    round, or a score on a competency or instrument the assessment does not have.
    """

    def __init__(self, unexpected: Sequence[tuple[str, str]]) -> None:
        self.unexpected = tuple(unexpected)
        super().__init__(
            "unexpected scores: "
            + ", ".join(f"{code} {instrument}" for code, instrument in unexpected)
        )


class ScoreOutOfRange(ValueError):
    """Scores outside the policy's range (or not finite numbers); ``scores`` lists every one."""

    def __init__(
        self,
        scores: Sequence[tuple[str, Instrument, Decimal]],
        score_min: Decimal,
        score_max: Decimal,
    ) -> None:
        self.scores = tuple(scores)
        self.score_min = score_min
        self.score_max = score_max
        super().__init__(
            f"scores outside [{score_min}, {score_max}]: "
            + ", ".join(f"{code} {instrument} = {score}" for code, instrument, score in scores)
        )


def policy_problems(policy: Policy) -> list[PolicyProblem]:
    """Every problem with ``policy``; an empty list means it can be used."""
    problems: list[PolicyProblem] = []
    if not policy.code.strip():
        problems.append(PolicyProblem("code", "must not be blank"))
    for instrument in INSTRUMENTS:
        if instrument not in policy.weights:
            problems.append(PolicyProblem(f"weights.{instrument}", "missing"))
    for key, weight in policy.weights.items():
        if key not in _INSTRUMENT_SET:
            problems.append(PolicyProblem(f"weights.{key}", "unknown instrument"))
        elif not weight.is_finite() or weight <= 0:
            problems.append(PolicyProblem(f"weights.{key}", "must be a positive number"))
    bounds_finite = True
    for name in ("score_min", "score_max", "pass_mark"):
        if not getattr(policy, name).is_finite():
            problems.append(PolicyProblem(name, "must be a finite number"))
            bounds_finite = False
    if bounds_finite:
        if policy.score_min >= policy.score_max:
            problems.append(PolicyProblem("score_max", "must be greater than score_min"))
        elif not policy.score_min <= policy.pass_mark <= policy.score_max:
            problems.append(
                PolicyProblem(
                    "pass_mark",
                    f"must lie between score_min ({policy.score_min}) "
                    f"and score_max ({policy.score_max})",
                )
            )
    return problems


def _round_quotient(numerator: Decimal, denominator: Decimal) -> Decimal:
    """``numerator / denominator`` rounded once to two decimals, half away from zero.

    ``Decimal`` division would round the quotient to the context precision first and then
    ``quantize`` would round again; an integer division with remainder rounds exactly once.
    """
    with localcontext(_EXACT):
        hundredths, remainder = divmod(abs(numerator).scaleb(2), abs(denominator))
        if 2 * remainder >= abs(denominator):
            hundredths += 1
        negative = (numerator < 0) != (denominator < 0)
        return (-hundredths if negative else hundredths).scaleb(-2).quantize(_TWO_PLACES)


def weighted_score(
    scores: Mapping[Instrument, Decimal], weights: Mapping[Instrument, Decimal]
) -> Decimal:
    """The weighted average of ``scores``, rounded to two decimals (``ROUND_HALF_UP``).

    ``sum(weight * score) / sum(weight)`` over the instruments present in ``scores`` only, so
    the weights of the present instruments keep their ratios to each other. A regular round
    has all three; see the module docstring for how a supplemental round uses it. Exact
    ``Decimal`` arithmetic, rounded once.

    Raises ``ValueError`` when ``scores`` is empty, or an instrument in it has no positive
    weight, or a score is not a finite number.
    """
    if not scores:
        raise ValueError("a weighted score needs at least one score")
    numerator = Decimal(0)
    denominator = Decimal(0)
    with localcontext(_EXACT):
        for instrument, score in scores.items():
            weight = weights.get(instrument)
            if weight is None or not weight.is_finite() or weight <= 0:
                raise ValueError(f"no positive weight for {instrument}")
            if not score.is_finite():
                raise ValueError(f"score for {instrument} is not a finite number: {score}")
            numerator += weight * score
            denominator += weight
    return _round_quotient(numerator, denominator)


def passed(weighted: Decimal, pass_mark: Decimal) -> bool:
    """Whether a weighted score passes: it reaches the pass mark (``>=``)."""
    return weighted >= pass_mark


def supplemental_deadline(release_date: date) -> date:
    """The last day of the supplemental window: the release date one year on.

    Inclusive. Results released on 29 February give 28 February of the next year (the year
    after a leap day never has one), so the window is never longer than a year.
    """
    try:
        return release_date.replace(year=release_date.year + 1)
    except ValueError:
        return release_date.replace(year=release_date.year + 1, day=28)


def reenrollment_tracks(track: Track) -> tuple[Track, ...]:
    """Where a candidate who did not qualify may re-enroll, in order of preference.

    Training Track candidates may take the LMDC again or go through RPL (orientation,
    portfolio, ALP); RPL candidates may only take the Training Track.
    """
    if Track(track) is Track.training:
        return (Track.training, Track.rpl)
    return (Track.training,)


def _check_round(
    kind: AssessmentKind, competencies: Sequence[str], failed_before: Collection[str]
) -> None:
    if len(competencies) != COMPETENCY_COUNT:
        raise ValueError(
            f"CPro assesses {COMPETENCY_COUNT} competencies, {len(competencies)} were given"
        )
    if len(set(competencies)) != len(competencies):
        raise ValueError("competency codes must be distinct")
    unknown = sorted(set(failed_before) - set(competencies))
    if unknown:
        raise ValueError(f"failed competencies not in the assessment: {', '.join(unknown)}")
    if kind is AssessmentKind.regular and failed_before:
        raise ValueError("a regular round has no previously failed competencies")
    if kind is AssessmentKind.supplemental:
        if not failed_before:
            raise ValueError("a supplemental round needs the competencies failed before")
        if len(competencies) - len(set(failed_before)) < SUPPLEMENTAL_MIN_PASSED:
            raise ValueError(
                f"a supplemental round needs at least {SUPPLEMENTAL_MIN_PASSED} "
                "competencies passed in the regular round"
            )


def _required(
    kind: AssessmentKind, competencies: Sequence[str], failed_before: Collection[str]
) -> list[tuple[str, Instrument]]:
    """The required scores in framework order, then instrument order."""
    if kind is AssessmentKind.regular:
        return [(code, instrument) for code in competencies for instrument in INSTRUMENTS]
    return [
        (code, instrument)
        for code in competencies
        for instrument in INSTRUMENTS
        if instrument is Instrument.written_test or code in failed_before
    ]


def required_scores(
    kind: AssessmentKind,
    competencies: Sequence[str],
    failed_before: Collection[str] = frozenset(),
) -> set[tuple[str, Instrument]]:
    """Every (competency, instrument) score a round needs before its result can be released.

    Regular: all three instruments on every competency. Supplemental: the written test on every
    competency, and the portfolio review and interview on ``failed_before`` only.

    Raises ``ValueError`` when the arguments do not describe a CPro round: not exactly five
    distinct competencies, ``failed_before`` not among them, given for a regular round, or (for
    a supplemental round) empty or leaving fewer than three competencies passed.
    """
    kind = AssessmentKind(kind)
    _check_round(kind, competencies, failed_before)
    return set(_required(kind, competencies, failed_before))


@dataclass(frozen=True)
class CompetencyResult:
    """One competency's scores and verdict in a round."""

    code: str
    scores: Mapping[Instrument, Decimal] = field(hash=False)
    """The scores of this round, in instrument order."""
    weighted_score: Decimal | None
    """``None`` for a competency carried over from the regular round (supplemental only)."""
    passed: bool
    carried_over: bool = False
    """Passed in the regular round; in a supplemental round only its written test is retaken."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "scores", MappingProxyType(dict(self.scores)))


@dataclass(frozen=True)
class Result:
    """A round's computed result: per-competency verdicts and the outcome for the candidate."""

    policy_code: str
    kind: AssessmentKind
    track: Track
    release_date: date
    pass_mark: Decimal
    competencies: tuple[CompetencyResult, ...]
    """In framework order."""
    passed_count: int
    """Competencies passed; in a supplemental round, passed in either round."""
    outcome: Outcome
    supplemental_deadline: date | None
    """Last day to take the supplemental assessment; set only when the outcome is supplemental."""
    reenrollment_tracks: tuple[Track, ...] | None
    """Set only when the outcome is re-enrollment."""

    @property
    def failed(self) -> tuple[str, ...]:
        """Codes of the competencies not passed, in framework order."""
        return tuple(c.code for c in self.competencies if not c.passed)

    def explanation(self, names: Mapping[str, str] | None = None) -> str:
        """The result in plain English for the candidate, one paragraph.

        ``names`` maps competency codes to the names the candidate knows them by; a code
        without a name is shown as is.
        """
        names = names or {}
        total = len(self.competencies)

        def listed(items: Sequence[str]) -> str:
            # Some names hold a comma ("Building Collaborative, Inclusive Working
            # Relationships"), which a comma-separated list would split in two.
            if len(items) <= 2:
                return " and ".join(items)
            sep = "; " if any("," in item for item in items) else ", "
            return sep.join(items[:-1]) + f"{sep.rstrip()} and " + items[-1]

        def name(code: str) -> str:
            return names.get(code, code)

        failed = [c for c in self.competencies if not c.passed]
        failed_names = listed([name(c.code) for c in failed])
        failed_scores = (
            f"You did not pass {listed([f'{name(c.code)} ({c.weighted_score})' for c in failed])}. "
            f"A competency is passed with a weighted score of at least {self.pass_mark}."
        )
        sentences: list[str] = []
        if self.kind is AssessmentKind.regular:
            if self.outcome is Outcome.certified:
                sentences.append(f"You passed all {total} competencies of your CPro assessment.")
            else:
                sentences.append(
                    f"You passed {self.passed_count} of the {total} competencies "
                    "of your CPro assessment."
                )
                sentences.append(failed_scores)
        else:
            newly = [name(c.code) for c in self.competencies if c.passed and not c.carried_over]
            if newly:
                sentences.append(f"In your supplemental assessment you passed {listed(newly)}.")
            if failed:
                sentences.append(failed_scores)
            sentences.append(
                f"Counting both assessments, you have passed {self.passed_count} "
                f"of the {total} competencies."
            )
        if self.outcome is Outcome.certified:
            sentences.append("You qualify for the Certificate in Leadership and Management.")
        elif self.outcome is Outcome.supplemental:
            assert self.supplemental_deadline is not None
            sentences.append(
                f"You may take a supplemental assessment on {failed_names} until "
                f"{_long_date(self.supplemental_deadline)}: you retake the written test on all "
                f"{total} competencies, and the portfolio review and the behavioral event "
                f"interview on {failed_names} only. After that date the chance is forfeited."
            )
        else:
            assert self.reenrollment_tracks is not None
            if self.kind is AssessmentKind.regular:
                sentences.append(
                    f"Because you passed fewer than {_number(SUPPLEMENTAL_MIN_PASSED)}, "
                    "you cannot take a supplemental assessment."
                )
            else:
                sentences.append(
                    "You do not qualify for the certificate, and the supplemental assessment "
                    "cannot be taken again."
                )
            if self.reenrollment_tracks == (Track.training,):
                sentences.append(
                    "You may re-enroll in the program through the Training Track only "
                    "(the Leadership and Management Development Course)."
                    if self.track is Track.rpl
                    else "You may re-enroll in the program through the Training Track."
                )
            else:
                sentences.append(
                    "You may re-enroll in the program through the Training Track (the "
                    "Leadership and Management Development Course again) or through "
                    "Recognition of Prior Learning (orientation, portfolio and an Action "
                    "Learning Project)."
                )
        return " ".join(sentences)


def _number(n: int) -> str:
    words = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
    return words[n] if 0 <= n < len(words) else str(n)


def _long_date(day: date) -> str:
    # Not strftime("%B"): month names must not depend on the server's locale.
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def _regular_outcome(passed_count: int, total: int) -> Outcome:
    if passed_count == total:
        return Outcome.certified
    if passed_count >= SUPPLEMENTAL_MIN_PASSED:
        return Outcome.supplemental
    # The FAQ speaks of passing "only two"; fewer than two is treated the same (DOMAIN.md).
    return Outcome.reenrollment


def compute_result(
    policy: Policy,
    competencies: Sequence[str],
    scores: Mapping[str, Mapping[Instrument, Decimal]],
    *,
    kind: AssessmentKind,
    track: Track,
    release_date: date,
    failed_before: Collection[str] = frozenset(),
) -> Result:
    """Compute a round's result from its scores.

    ``competencies`` are the five competency codes in framework order; ``scores`` maps each
    code to its scores by instrument (exactly those :func:`required_scores` names);
    ``failed_before`` are the competencies failed in the regular round (supplemental only);
    ``release_date`` is the day this round's results are released.

    Raises :class:`InvalidPolicy`, ``ValueError`` for arguments that do not describe a CPro
    round (see :func:`required_scores`), :class:`UnexpectedScores`, :class:`MissingScores`,
    :class:`ScoreOutOfRange`, in that order of checking.
    """
    problems = policy_problems(policy)
    if problems:
        raise InvalidPolicy(problems)
    kind = AssessmentKind(kind)
    track = Track(track)
    _check_round(kind, competencies, failed_before)
    required = _required(kind, competencies, failed_before)
    required_set = set(required)

    unexpected = [
        (code, str(instrument))
        for code, by_instrument in scores.items()
        for instrument in by_instrument
        if (code, instrument) not in required_set
    ]
    if unexpected:
        raise UnexpectedScores(unexpected)
    missing = [(code, i) for code, i in required if i not in scores.get(code, {})]
    if missing:
        raise MissingScores(missing)
    out_of_range = [
        (code, instrument, scores[code][instrument])
        for code, instrument in required
        if not _in_range(scores[code][instrument], policy)
    ]
    if out_of_range:
        raise ScoreOutOfRange(out_of_range, policy.score_min, policy.score_max)

    results: list[CompetencyResult] = []
    for code in competencies:
        own = {i: scores[code][i] for i in INSTRUMENTS if (code, i) in required_set}
        if kind is AssessmentKind.supplemental and code not in failed_before:
            results.append(CompetencyResult(code, own, None, passed=True, carried_over=True))
        else:
            weighted = weighted_score(own, policy.weights)
            results.append(
                CompetencyResult(code, own, weighted, passed(weighted, policy.pass_mark))
            )

    passed_count = sum(1 for r in results if r.passed)
    if kind is AssessmentKind.regular:
        outcome = _regular_outcome(passed_count, len(results))
    else:
        # The supplemental chance is used up: anything short of all passed is re-enrollment.
        outcome = Outcome.certified if passed_count == len(results) else Outcome.reenrollment
    return Result(
        policy_code=policy.code,
        kind=kind,
        track=track,
        release_date=release_date,
        pass_mark=policy.pass_mark,
        competencies=tuple(results),
        passed_count=passed_count,
        outcome=outcome,
        supplemental_deadline=(
            supplemental_deadline(release_date) if outcome is Outcome.supplemental else None
        ),
        reenrollment_tracks=(
            reenrollment_tracks(track) if outcome is Outcome.reenrollment else None
        ),
    )


def _in_range(score: Decimal, policy: Policy) -> bool:
    return score.is_finite() and policy.score_min <= score <= policy.score_max
