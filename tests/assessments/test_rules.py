"""The CPro result arithmetic and outcome rules, without a database."""

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from fractions import Fraction
from math import floor

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from app.assessments.rules import (
    CPRO_2015,
    AssessmentKind,
    CompetencyResult,
    Instrument,
    InvalidPolicy,
    MissingScores,
    Outcome,
    Policy,
    Result,
    ScoreOutOfRange,
    Track,
    UnexpectedScores,
    compute_result,
    passed,
    policy_problems,
    reenrollment_tracks,
    required_scores,
    supplemental_deadline,
    weighted_score,
)

WT, PR, BEI = (
    Instrument.written_test,
    Instrument.portfolio_review,
    Instrument.behavioral_event_interview,
)

# The five CSC competencies (2015 version), in framework order.
TSC = "thinking-strategically-and-creatively"
LC = "leading-change"
BCIWR = "building-collaborative-inclusive-working-relationships"
MPCR = "managing-performance-and-coaching-for-results"
CNHPO = "creating-and-nurturing-a-high-performing-organization"
COMPETENCIES = [TSC, LC, BCIWR, MPCR, CNHPO]
NAMES = {
    TSC: "Thinking Strategically and Creatively",
    LC: "Leading Change",
    BCIWR: "Building Collaborative, Inclusive Working Relationships",
    MPCR: "Managing Performance and Coaching for Results",
    CNHPO: "Creating and Nurturing a High Performing Organization",
}
RELEASE = date(2026, 11, 23)
PASSING = Decimal("80")
FAILING = Decimal("50")

two_place_scores = st.decimals(min_value=0, max_value=100, places=2)
positive_weights = st.decimals(min_value=Decimal("0.001"), max_value=1000, places=3)
weight_sets = st.fixed_dictionaries({i: positive_weights for i in Instrument})


def every_instrument(score: Decimal | str) -> dict[Instrument, Decimal]:
    return {i: Decimal(score) for i in Instrument}


def regular(
    scores: Mapping[str, Mapping[Instrument, Decimal]],
    *,
    track: Track = Track.training,
    release_date: date = RELEASE,
    policy: Policy = CPRO_2015,
) -> Result:
    return compute_result(
        policy,
        COMPETENCIES,
        scores,
        kind=AssessmentKind.regular,
        track=track,
        release_date=release_date,
    )


def supplemental(
    scores: Mapping[str, Mapping[Instrument, Decimal]],
    failed_before: set[str],
    *,
    track: Track = Track.training,
) -> Result:
    return compute_result(
        CPRO_2015,
        COMPETENCIES,
        scores,
        kind=AssessmentKind.supplemental,
        track=track,
        release_date=RELEASE,
        failed_before=failed_before,
    )


def supplemental_scores(
    failed_before: set[str], retake: Decimal, written_test: Decimal = PASSING
) -> dict[str, dict[Instrument, Decimal]]:
    return {
        code: every_instrument(retake) if code in failed_before else {WT: written_test}
        for code in COMPETENCIES
    }


def first_passing(count: int) -> dict[str, dict[Instrument, Decimal]]:
    return {
        code: every_instrument(PASSING if n < count else FAILING)
        for n, code in enumerate(COMPETENCIES)
    }


def half_up_two_places(value: Fraction) -> Fraction:
    """Independent reference: round half away from zero to hundredths with integer floor."""
    sign = -1 if value < 0 else 1
    return sign * Fraction(floor(abs(value) * 100 + Fraction(1, 2)), 100)


# --- the weighted score ---------------------------------------------------------------------


@given(st.dictionaries(st.sampled_from(Instrument), two_place_scores, min_size=1), weight_sets)
def test_weighted_score_lies_between_lowest_and_highest_score(
    scores: dict[Instrument, Decimal], weights: dict[Instrument, Decimal]
) -> None:
    assert min(scores.values()) <= weighted_score(scores, weights) <= max(scores.values())


@given(two_place_scores, st.sets(st.sampled_from(Instrument), min_size=1), weight_sets)
def test_equal_scores_give_that_score(
    score: Decimal, instruments: set[Instrument], weights: dict[Instrument, Decimal]
) -> None:
    assert weighted_score(dict.fromkeys(instruments, score), weights) == score


@given(
    st.dictionaries(st.sampled_from(Instrument), two_place_scores, min_size=1),
    weight_sets,
    st.decimals(min_value=Decimal("0.001"), max_value=10_000, places=3),
)
def test_scaling_every_weight_by_the_same_factor_leaves_the_weighted_score_unchanged(
    scores: dict[Instrument, Decimal], weights: dict[Instrument, Decimal], factor: Decimal
) -> None:
    scaled = {i: w * factor for i, w in weights.items()}
    assert weighted_score(scores, scaled) == weighted_score(scores, weights)


@given(
    st.dictionaries(
        st.sampled_from(Instrument),
        st.decimals(min_value=-1000, max_value=1000, places=4),
        min_size=1,
    ),
    weight_sets,
)
# The mean is 0.005 - 1e-31: a 28-digit Decimal division rounds it to 0.005, then up to 0.01.
@example(
    {WT: Decimal("0.0099999999999999999999999999998"), PR: Decimal(0)},
    {WT: Decimal(1), PR: Decimal(1), BEI: Decimal(1)},
)
# The CPro weights with a tie at the third decimal: 70.005 exactly.
@example({WT: Decimal("70.05"), PR: Decimal("70"), BEI: Decimal("70")}, dict(CPRO_2015.weights))
def test_weighted_score_is_the_exact_weighted_mean_rounded_half_up_once_to_two_decimals(
    scores: dict[Instrument, Decimal], weights: dict[Instrument, Decimal]
) -> None:
    numerator = sum((Fraction(weights[i]) * Fraction(s) for i, s in scores.items()), Fraction(0))
    exact = numerator / sum((Fraction(weights[i]) for i in scores), Fraction(0))

    result = weighted_score(scores, weights)

    assert Fraction(result) == half_up_two_places(exact)
    assert result.as_tuple().exponent == -2


def test_weighted_score_with_cpro_weights_rounds_a_tie_up_not_to_even() -> None:
    # 10% x 70.05 + 50% x 70 + 40% x 70 = 70.005; banker's rounding would give 70.00.
    scores = {WT: Decimal("70.05"), PR: Decimal("70"), BEI: Decimal("70")}

    assert weighted_score(scores, CPRO_2015.weights) == Decimal("70.01")


def test_weighted_score_uses_the_10_50_40_cpro_weights() -> None:
    scores = {WT: Decimal("100"), PR: Decimal("60"), BEI: Decimal("75")}

    assert weighted_score(scores, CPRO_2015.weights) == Decimal("70.00")


def test_weighted_score_over_some_instruments_keeps_their_weight_ratio() -> None:
    # Portfolio 50 and interview 40 alone: (50 x 90 + 40 x 45) / 90 = 70.
    assert weighted_score({PR: Decimal("90"), BEI: Decimal("45")}, CPRO_2015.weights) == Decimal(
        "70.00"
    )


def test_weighted_score_refuses_an_instrument_without_weight() -> None:
    with pytest.raises(ValueError, match="weight"):
        weighted_score({WT: Decimal("80")}, {PR: Decimal("1")})


def test_weighted_score_refuses_no_scores() -> None:
    with pytest.raises(ValueError, match="at least one score"):
        weighted_score({}, CPRO_2015.weights)


# --- the pass mark --------------------------------------------------------------------------


@given(st.decimals(min_value=-1000, max_value=1000, places=2))
def test_weighted_score_equal_to_the_pass_mark_passes(pass_mark: Decimal) -> None:
    assert passed(pass_mark, pass_mark)


@given(st.decimals(min_value=-1000, max_value=1000, places=2))
def test_weighted_score_one_hundredth_below_the_pass_mark_fails(pass_mark: Decimal) -> None:
    assert not passed(pass_mark - Decimal("0.01"), pass_mark)


def test_competency_scored_exactly_at_the_pass_mark_is_passed() -> None:
    scores = first_passing(4) | {CNHPO: every_instrument(CPRO_2015.pass_mark)}

    result = regular(scores)

    assert result.competencies[-1].weighted_score == Decimal("70.00")
    assert result.competencies[-1].passed
    assert result.outcome is Outcome.certified


def test_competency_scored_one_hundredth_below_the_pass_mark_is_failed() -> None:
    scores = first_passing(4) | {CNHPO: every_instrument(CPRO_2015.pass_mark - Decimal("0.01"))}

    result = regular(scores)

    assert result.competencies[-1].weighted_score == Decimal("69.99")
    assert not result.competencies[-1].passed
    assert result.outcome is Outcome.supplemental


def test_pass_mark_is_compared_with_the_rounded_weighted_score() -> None:
    # 10% x 69.95 + 90% x 70 = 69.995, which rounds to 70.00.
    scores = first_passing(4) | {
        CNHPO: {WT: Decimal("69.95"), PR: Decimal("70"), BEI: Decimal("70")}
    }

    assert regular(scores).competencies[-1].passed


# --- the outcome of a regular round ---------------------------------------------------------

OUTCOME_TABLE = [
    # passed, track, outcome, deadline?, re-enrollment tracks
    (5, Track.training, Outcome.certified, False, None),
    (5, Track.rpl, Outcome.certified, False, None),
    (4, Track.training, Outcome.supplemental, True, None),
    (4, Track.rpl, Outcome.supplemental, True, None),
    (3, Track.training, Outcome.supplemental, True, None),
    (3, Track.rpl, Outcome.supplemental, True, None),
    (2, Track.training, Outcome.reenrollment, False, (Track.training, Track.rpl)),
    (2, Track.rpl, Outcome.reenrollment, False, (Track.training,)),
    # The documents are silent on fewer than two: treated like two.
    (1, Track.training, Outcome.reenrollment, False, (Track.training, Track.rpl)),
    (1, Track.rpl, Outcome.reenrollment, False, (Track.training,)),
    (0, Track.training, Outcome.reenrollment, False, (Track.training, Track.rpl)),
    (0, Track.rpl, Outcome.reenrollment, False, (Track.training,)),
]


@pytest.mark.parametrize(
    ("passed_count", "track", "outcome", "has_deadline", "tracks"), OUTCOME_TABLE
)
def test_regular_round_outcome_follows_the_cpro_table(
    passed_count: int,
    track: Track,
    outcome: Outcome,
    has_deadline: bool,
    tracks: tuple[Track, ...] | None,
) -> None:
    result = regular(first_passing(passed_count), track=track)

    assert result.passed_count == passed_count
    assert result.outcome is outcome
    assert result.supplemental_deadline == (date(2027, 11, 23) if has_deadline else None)
    assert result.reenrollment_tracks == tracks


def test_rpl_candidate_with_two_passes_may_reenroll_only_in_training() -> None:
    assert reenrollment_tracks(Track.rpl) == (Track.training,)


def test_training_candidate_may_reenroll_in_training_or_rpl() -> None:
    assert reenrollment_tracks(Track.training) == (Track.training, Track.rpl)


@given(st.lists(two_place_scores, min_size=5, max_size=5))
def test_each_competency_is_judged_on_its_own_weighted_score_in_framework_order(
    values: list[Decimal],
) -> None:
    result = regular(
        {code: every_instrument(v) for code, v in zip(COMPETENCIES, values, strict=True)}
    )

    assert [c.code for c in result.competencies] == COMPETENCIES
    assert [c.passed for c in result.competencies] == [v >= Decimal(70) for v in values]
    assert result.passed_count == sum(v >= Decimal(70) for v in values)
    assert result.failed == tuple(c for c, v in zip(COMPETENCIES, values, strict=True) if v < 70)


# --- the supplemental round -----------------------------------------------------------------


def test_regular_round_needs_every_instrument_on_every_competency() -> None:
    required = required_scores(AssessmentKind.regular, COMPETENCIES)

    assert required == {(code, i) for code in COMPETENCIES for i in Instrument}
    assert len(required) == 15


def test_supplemental_round_needs_written_test_on_all_five_and_the_rest_on_failed_only() -> None:
    required = required_scores(AssessmentKind.supplemental, COMPETENCIES, {LC, MPCR})

    assert required == {(code, WT) for code in COMPETENCIES} | {
        (LC, PR),
        (LC, BEI),
        (MPCR, PR),
        (MPCR, BEI),
    }


def test_supplemental_passing_every_failed_competency_certifies() -> None:
    result = supplemental(supplemental_scores({LC, MPCR}, PASSING), {LC, MPCR})

    assert result.outcome is Outcome.certified
    assert result.passed_count == 5
    assert result.supplemental_deadline is None
    assert result.reenrollment_tracks is None


def test_supplemental_failed_competency_is_scored_on_all_three_retaken_instruments() -> None:
    retake = {WT: Decimal("60"), PR: Decimal("75"), BEI: Decimal("70")}
    scores = supplemental_scores({LC}, PASSING) | {LC: retake}

    leading_change = supplemental(scores, {LC}).competencies[1]

    # 10% x 60 + 50% x 75 + 40% x 70 = 71.5
    assert leading_change == CompetencyResult(
        LC, retake, Decimal("71.50"), passed=True, carried_over=False
    )


def test_written_test_retake_does_not_unpass_a_competency_passed_before() -> None:
    scores = supplemental_scores({LC}, PASSING, written_test=CPRO_2015.score_min)

    result = supplemental(scores, {LC})

    carried = [c for c in result.competencies if c.code != LC]
    assert all(c.passed and c.carried_over and c.weighted_score is None for c in carried)
    assert all(c.scores == {WT: Decimal(0)} for c in carried)
    assert result.outcome is Outcome.certified


@pytest.mark.parametrize(
    ("track", "tracks"),
    [(Track.training, (Track.training, Track.rpl)), (Track.rpl, (Track.training,))],
)
def test_supplemental_not_passed_leads_to_reenrollment_not_another_supplemental(
    track: Track, tracks: tuple[Track, ...]
) -> None:
    result = supplemental(supplemental_scores({LC}, FAILING), {LC}, track=track)

    assert result.passed_count == 4
    assert result.outcome is Outcome.reenrollment
    assert result.supplemental_deadline is None
    assert result.reenrollment_tracks == tracks


@given(
    st.sets(st.sampled_from(COMPETENCIES), min_size=1, max_size=2),
    st.dictionaries(st.sampled_from(COMPETENCIES), two_place_scores),
)
def test_supplemental_certifies_exactly_when_every_failed_competency_is_now_passed(
    failed_before: set[str], retakes: dict[str, Decimal]
) -> None:
    retake = {code: retakes.get(code, PASSING) for code in failed_before}
    scores = supplemental_scores(failed_before, PASSING) | {
        code: every_instrument(value) for code, value in retake.items()
    }

    result = supplemental(scores, failed_before)

    all_retakes_pass = all(value >= CPRO_2015.pass_mark for value in retake.values())
    assert (result.outcome is Outcome.certified) == all_retakes_pass
    assert (result.outcome is Outcome.reenrollment) == (not all_retakes_pass)
    assert result.passed_count == 5 - sum(v < CPRO_2015.pass_mark for v in retake.values())


def test_supplemental_refuses_a_portfolio_score_on_a_competency_passed_before() -> None:
    scores = supplemental_scores({LC}, PASSING)
    scores[TSC][PR] = PASSING

    with pytest.raises(UnexpectedScores) as raised:
        supplemental(scores, {LC})

    assert raised.value.unexpected == ((TSC, "portfolio_review"),)


@pytest.mark.parametrize(
    ("failed_before", "message"),
    [
        (set(), "needs the competencies failed before"),
        ({LC, MPCR, TSC}, "at least 3 competencies passed"),
        ({"developing-people"}, "not in the assessment"),
    ],
    ids=["none-failed", "three-failed", "unknown-competency"],
)
def test_supplemental_round_refuses_failed_competencies_that_give_no_supplemental(
    failed_before: set[str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        required_scores(AssessmentKind.supplemental, COMPETENCIES, failed_before)


def test_regular_round_refuses_previously_failed_competencies() -> None:
    with pytest.raises(ValueError, match="regular round"):
        required_scores(AssessmentKind.regular, COMPETENCIES, {LC})


@pytest.mark.parametrize(
    "competencies",
    [COMPETENCIES[:4], [*COMPETENCIES, "developing-people"], [*COMPETENCIES[:4], TSC]],
)
def test_a_round_needs_five_distinct_competencies(competencies: list[str]) -> None:
    with pytest.raises(ValueError, match="competenc"):
        required_scores(AssessmentKind.regular, competencies)


# --- the supplemental deadline --------------------------------------------------------------


def test_supplemental_deadline_is_the_release_date_one_year_on() -> None:
    assert supplemental_deadline(date(2026, 11, 23)) == date(2027, 11, 23)


def test_results_released_on_a_leap_day_give_a_deadline_of_28_february_next_year() -> None:
    result = regular(first_passing(4), release_date=date(2028, 2, 29))

    assert result.supplemental_deadline == date(2029, 2, 28)


@given(st.dates(max_value=date(9998, 12, 31)))
def test_supplemental_deadline_is_never_more_than_a_year_after_release(release: date) -> None:
    deadline = supplemental_deadline(release)

    assert deadline.year == release.year + 1
    assert (deadline - release).days in (365, 366)
    if (release.month, release.day) == (2, 29):
        assert deadline == date(release.year + 1, 2, 28)
    else:
        assert (deadline.month, deadline.day) == (release.month, release.day)


# --- refused inputs -------------------------------------------------------------------------


def test_missing_scores_lists_every_missing_competency_and_instrument() -> None:
    scores = first_passing(5)
    del scores[LC][PR]
    del scores[CNHPO][WT]
    del scores[CNHPO][BEI]

    with pytest.raises(MissingScores) as raised:
        regular(scores)

    assert raised.value.missing == ((LC, PR), (CNHPO, WT), (CNHPO, BEI))
    assert isinstance(raised.value, ValueError)


def test_a_competency_without_any_score_is_missing_all_three_instruments() -> None:
    scores = first_passing(5)
    del scores[BCIWR]

    with pytest.raises(MissingScores) as raised:
        regular(scores)

    assert raised.value.missing == ((BCIWR, WT), (BCIWR, PR), (BCIWR, BEI))


def test_supplemental_missing_scores_are_those_of_the_supplemental_round() -> None:
    with pytest.raises(MissingScores) as raised:
        supplemental({}, {LC})

    assert set(raised.value.missing) == required_scores(
        AssessmentKind.supplemental, COMPETENCIES, {LC}
    )
    assert len(raised.value.missing) == 7


@pytest.mark.parametrize(
    "score", [Decimal("100.01"), Decimal("-0.01"), Decimal("NaN"), Decimal("Infinity")]
)
def test_score_outside_the_policy_range_is_refused(score: Decimal) -> None:
    scores = first_passing(5)
    scores[MPCR][BEI] = score

    with pytest.raises(ScoreOutOfRange) as raised:
        regular(scores)

    assert len(raised.value.scores) == 1
    code, instrument, value = raised.value.scores[0]
    assert (code, instrument) == (MPCR, BEI)
    assert str(value) == str(score)
    assert isinstance(raised.value, ValueError)


@pytest.mark.parametrize("score", [CPRO_2015.score_min, CPRO_2015.score_max])
def test_scores_at_the_ends_of_the_policy_range_are_accepted(score: Decimal) -> None:
    scores = first_passing(5)
    scores[MPCR][BEI] = score

    assert regular(scores).competencies[3].scores[BEI] == score


def test_score_for_a_competency_outside_the_assessment_is_refused() -> None:
    scores = first_passing(5) | {"developing-people": every_instrument(PASSING)}

    with pytest.raises(UnexpectedScores) as raised:
        regular(scores)

    assert {code for code, _ in raised.value.unexpected} == {"developing-people"}


def test_invalid_policy_is_refused() -> None:
    policy = Policy(
        "broken", {WT: Decimal(1)}, Decimal(70), score_min=Decimal(0), score_max=Decimal(100)
    )

    with pytest.raises(InvalidPolicy) as raised:
        regular(first_passing(5), policy=policy)

    assert {p.field for p in raised.value.problems} == {
        "weights.portfolio_review",
        "weights.behavioral_event_interview",
    }


# --- the policy -----------------------------------------------------------------------------


def test_bundled_cpro_2015_policy_is_valid_and_weighs_10_50_40() -> None:
    assert policy_problems(CPRO_2015) == []
    assert dict(CPRO_2015.weights) == {WT: Decimal(10), PR: Decimal(50), BEI: Decimal(40)}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"code": " "}, "code"),
        ({"weights": {WT: Decimal(10), PR: Decimal(50)}}, "weights.behavioral_event_interview"),
        ({"weights": {WT: Decimal(0), PR: Decimal(50), BEI: Decimal(40)}}, "weights.written_test"),
        (
            {"weights": {WT: Decimal(10), PR: Decimal(-50), BEI: Decimal(40)}},
            "weights.portfolio_review",
        ),
        ({"score_min": Decimal(100)}, "score_max"),
        ({"score_max": Decimal(-1)}, "score_max"),
        ({"pass_mark": Decimal("100.01")}, "pass_mark"),
        ({"pass_mark": Decimal("-0.01")}, "pass_mark"),
        ({"pass_mark": Decimal("NaN")}, "pass_mark"),
    ],
)
def test_policy_problems_name_the_offending_field(change: dict[str, object], field: str) -> None:
    values: dict[str, object] = {
        "code": "test",
        "weights": CPRO_2015.weights,
        "pass_mark": CPRO_2015.pass_mark,
        "score_min": CPRO_2015.score_min,
        "score_max": CPRO_2015.score_max,
    } | change
    policy = Policy(**values)  # type: ignore[arg-type]

    assert [p.field for p in policy_problems(policy)] == [field]


def test_policy_weights_do_not_change_with_the_mapping_they_came_from() -> None:
    weights = {WT: Decimal(10), PR: Decimal(50), BEI: Decimal(40)}
    policy = Policy("test", weights, Decimal(70), Decimal(0), Decimal(100))

    weights[WT] = Decimal(90)

    assert policy.weights[WT] == Decimal(10)


# --- the explanation ------------------------------------------------------------------------


def test_explanation_of_a_certified_result_names_the_certificate() -> None:
    text = regular(first_passing(5)).explanation(NAMES)

    assert "passed all 5 competencies" in text
    assert "Certificate in Leadership and Management" in text
    assert "supplemental" not in text


def test_explanation_of_a_supplemental_outcome_names_the_failed_competency_and_deadline() -> None:
    scores = first_passing(5) | {LC: every_instrument("65.40")}

    text = regular(scores).explanation(NAMES)

    assert text.startswith("You passed 4 of the 5 competencies")
    assert "Leading Change (65.40)" in text
    assert "supplemental assessment on Leading Change until 23 November 2027" in text
    assert "Certificate" not in text


def test_explanation_lists_two_failed_competencies_with_and() -> None:
    scores = first_passing(5) | {LC: every_instrument("60"), MPCR: every_instrument("65")}

    text = regular(scores).explanation(NAMES)

    assert "on Leading Change and Managing Performance and Coaching for Results only" in text


def test_explanation_keeps_a_competency_name_with_a_comma_whole() -> None:
    scores = first_passing(5) | {
        LC: every_instrument("60"),
        BCIWR: every_instrument("60"),
        MPCR: every_instrument("60"),
    }

    text = regular(scores).explanation(NAMES)

    assert (
        "You did not pass Leading Change (60.00); "
        "Building Collaborative, Inclusive Working Relationships (60.00); "
        "and Managing Performance and Coaching for Results (60.00)." in text
    )


@pytest.mark.parametrize(
    ("track", "expected", "absent"),
    [
        (Track.training, "Recognition of Prior Learning", "Training Track only"),
        (Track.rpl, "Training Track only", "Recognition of Prior Learning"),
    ],
)
def test_explanation_of_reenrollment_names_the_tracks_open_to_the_candidate(
    track: Track, expected: str, absent: str
) -> None:
    text = regular(first_passing(1), track=track).explanation(NAMES)

    assert "re-enroll" in text
    assert "cannot take a supplemental assessment" in text
    assert expected in text
    assert absent not in text


def test_explanation_of_a_passed_supplemental_names_the_certificate() -> None:
    text = supplemental(supplemental_scores({LC}, PASSING), {LC}).explanation(NAMES)

    assert "In your supplemental assessment you passed Leading Change." in text
    assert "Certificate in Leadership and Management" in text


def test_explanation_of_a_failed_supplemental_says_it_cannot_be_taken_again() -> None:
    text = supplemental(supplemental_scores({LC}, FAILING), {LC}).explanation(NAMES)

    assert "You did not pass Leading Change (50.00)" in text
    assert "cannot be taken again" in text
    assert "re-enroll" in text
    assert "Certificate in" not in text
