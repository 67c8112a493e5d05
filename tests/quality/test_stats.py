"""Quality statistics against hand-worked, published numbers: Krippendorff's alpha, agreement and
bias, Wilson / t / NPS intervals, the small-sample rule, scorecard totals and seeded samples."""

import random
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from servicecharter.quality.choices import Scale
from servicecharter.quality.stats import (
    DEFAULT_MINIMUM_SAMPLE,
    NO,
    NOT_APPLICABLE,
    YES,
    Criterion,
    Level,
    NpsTally,
    Pick,
    Scorecard,
    ScorecardError,
    Section,
    StatsError,
    _t_central_mass,
    _t_quantile_cornish_fisher,
    assign_auditors,
    coder_bias,
    coincidence_matrix,
    criterion_agreement,
    csat_interval,
    csat_tally,
    krippendorff_alpha,
    mean_interval,
    nps_interval,
    nps_tally,
    sample_adequacy,
    sample_plan,
    score_scorecard,
    t_quantile,
    wilson_interval,
)

X = None  # a unit this coder did not score

# Krippendorff, K. (2011). "Computing Krippendorff's Alpha-Reliability", Annenberg School for
# Communication, University of Pennsylvania (repository.upenn.edu/asc_papers/43), section C:
# four observers, twelve units, missing values. The paper prints alpha for each metric.
KRIPPENDORFF_2011_C = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, X, X, X],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, X, 3],
    [X, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, X],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, X],
]

# Same paper, section A: binary data, two observers, ten units, no missing data; alpha = 0.095,
# from the coincidence matrix o00 = 10, o01 = o10 = 4, o11 = 2 (n0 = 14, n1 = 6, n = 20).
KRIPPENDORFF_2011_A = [
    [0, 1, 0, 0, 0, 0, 0, 0, 1, 0],
    [1, 1, 1, 0, 0, 1, 0, 0, 0, 0],
]

# Three observers, fifteen units: the computational example of the "Krippendorff's alpha"
# encyclopaedia entry (after Krippendorff, Content Analysis), nominal 0.691, interval 0.811.
CONTENT_ANALYSIS_EXAMPLE = [
    [X, X, X, X, X, 3, 4, 1, 2, 1, 1, 3, 3, X, 3],
    [1, X, 2, 1, 3, 3, 4, 3, X, X, X, X, X, X, X],
    [X, X, 2, 1, 3, 4, 4, X, 2, 1, 1, 3, 3, X, 4],
]


# --- Krippendorff's alpha ---------------------------------------------------------------------


def test_nominal_alpha_matches_krippendorffs_four_observer_example():
    result = krippendorff_alpha(KRIPPENDORFF_2011_C, Level.NOMINAL)

    assert round(result.alpha, 3) == 0.743
    assert result.pairable_units == 11  # unit 12 has one value and pairs with nothing
    assert result.pairable_values == 40
    assert result.reason == ""


@pytest.mark.parametrize(
    ("level", "published"),
    [(Level.ORDINAL, 0.815), (Level.INTERVAL, 0.849), (Level.RATIO, 0.797)],
)
def test_alpha_of_the_four_observer_example_matches_the_published_value_per_metric(
    level, published
):
    assert round(krippendorff_alpha(KRIPPENDORFF_2011_C, level).alpha, 3) == published


def test_binary_example_matches_its_published_coincidences_and_alpha():
    assert coincidence_matrix(KRIPPENDORFF_2011_A) == {
        (0, 0): 10.0,
        (0, 1): 4.0,
        (1, 0): 4.0,
        (1, 1): 2.0,
    }
    assert round(krippendorff_alpha(KRIPPENDORFF_2011_A).alpha, 3) == 0.095


@pytest.mark.parametrize(("level", "published"), [("nominal", 0.691), ("interval", 0.811)])
def test_three_observer_example_matches_the_published_value(level, published):
    assert round(krippendorff_alpha(CONTENT_ANALYSIS_EXAMPLE, level).alpha, 3) == published


@pytest.mark.parametrize("level", list(Level))
def test_perfect_agreement_is_one(level):
    data = [[1, 2, 3, 4, 5, X], [1, 2, 3, 4, 5, 2], [X, 2, 3, 4, 5, 2]]

    assert krippendorff_alpha(data, level).alpha == 1.0


def test_systematic_disagreement_is_below_zero():
    # n = 8, n0 = n1 = 4, o01 = o10 = 4: alpha = 1 − 7 · 8 / (2 · 4 · 4) = −0.75
    assert krippendorff_alpha([[0, 1, 0, 1], [1, 0, 1, 0]]).alpha == pytest.approx(-0.75)


@pytest.mark.parametrize("level", list(Level))
def test_no_variation_at_all_is_undefined_and_says_why(level):
    result = krippendorff_alpha([[3, 3, 3], [3, 3, X], [X, 3, 3]], level)

    assert result.alpha is None
    assert "no variation" in result.reason
    assert result.pairable_units == 3


def test_no_unit_scored_twice_is_undefined_and_says_why():
    result = krippendorff_alpha([[1, X, 3], [X, 2, X]])

    assert result.alpha is None
    assert result.pairable_units == 0
    assert "two or more auditors" in result.reason


@pytest.mark.parametrize("level", list(Level))
def test_a_unit_scored_by_one_coder_only_changes_nothing(level):
    with_lone_units = [
        [*row, value] for row, value in zip(KRIPPENDORFF_2011_C, [5, X, X, X], strict=True)
    ]
    with_lone_units = [
        [*row, value] for row, value in zip(with_lone_units, [X, X, 1, X], strict=True)
    ]

    assert krippendorff_alpha(with_lone_units, level) == krippendorff_alpha(
        KRIPPENDORFF_2011_C, level
    )


def test_coders_may_be_named_by_a_mapping():
    named = dict(zip("ABCD", KRIPPENDORFF_2011_C, strict=True))

    assert krippendorff_alpha(named, "ordinal") == krippendorff_alpha(
        KRIPPENDORFF_2011_C, "ordinal"
    )


def test_nominal_values_may_be_labels():
    labels = [[{1: "a", 0: "b"}[v] for v in row] for row in KRIPPENDORFF_2011_A]

    assert krippendorff_alpha(labels).alpha == krippendorff_alpha(KRIPPENDORFF_2011_A).alpha


@pytest.mark.parametrize(
    ("data", "level"),
    [
        ([[1, 2, 3], [1, 2]], "nominal"),
        ([["a", "b"], ["a", "b"]], "interval"),
        ([[1, True], [1, 2]], "ordinal"),
        ([[-1, 2], [1, 2]], "ratio"),
    ],
    ids=["ragged", "labels-as-interval", "bool-as-number", "negative-ratio"],
)
def test_data_alpha_cannot_use_is_refused(data, level):
    with pytest.raises(StatsError):
        krippendorff_alpha(data, level)


reliability_data = st.integers(min_value=2, max_value=5).flatmap(
    lambda coders: st.lists(
        st.lists(st.one_of(st.none(), st.integers(1, 5)), min_size=coders, max_size=coders),
        min_size=1,
        max_size=12,
    )
)


@settings(max_examples=60, deadline=None)
@given(units=reliability_data, seed=st.integers(0, 1000))
def test_alpha_does_not_depend_on_the_order_of_coders_or_units(units, seed):
    data = [list(row) for row in zip(*units, strict=True)]  # units × coders → coders × units
    shuffled = [row[:] for row in data]
    rng = random.Random(seed)
    rng.shuffle(shuffled)
    order = list(range(len(units)))
    rng.shuffle(order)
    shuffled = [[row[i] for i in order] for row in shuffled]

    for level in Level:
        before, after = krippendorff_alpha(data, level), krippendorff_alpha(shuffled, level)
        if before.alpha is None:
            assert after.alpha is None
        else:
            assert after.alpha == pytest.approx(before.alpha, abs=1e-12)
            assert before.alpha <= 1 + 1e-12


# --- Agreement per criterion and bias ---------------------------------------------------------


def test_criterion_agreement_counts_exact_and_adjacent_units():
    data = [[5, 4, 3, X], [5, 3, 1, 2], [5, 4, X, X]]
    # unit 1: 5 5 5 exact; unit 2: 4 3 4 within one; unit 3: 3 1 neither; unit 4 scored once

    result = criterion_agreement(data, within_one=True)

    assert result.pairable_units == 3
    assert result.exact == pytest.approx(1 / 3)
    assert result.within_one == pytest.approx(2 / 3)


def test_criterion_agreement_on_yes_no_leaves_adjacency_out():
    data = [[YES, NO, YES, YES], [YES, YES, YES, X]]

    result = criterion_agreement(data)

    assert (result.pairable_units, result.exact, result.within_one) == (3, 2 / 3, None)


def test_criterion_agreement_without_pairable_units_is_empty():
    result = criterion_agreement([[1, X], [X, 2]], within_one=True)

    assert (result.pairable_units, result.exact, result.within_one) == (0, None, None)


def test_within_one_needs_numbers():
    with pytest.raises(StatsError):
        criterion_agreement([["a", "b"], ["a", "c"]], within_one=True)


def test_a_harsh_auditor_is_flagged_and_one_at_the_tolerance_is_not():
    scores = {
        "ann": [4, 4, 3, 5],
        "bo": [4, 4, 3, 5],
        "cy": [3, 3, 2, 4],  # one point below the others on every unit
    }

    bias = {row.coder: row for row in coder_bias(scores)}

    assert bias["cy"].bias == -1.0
    assert bias["cy"].flagged
    assert bias["ann"].bias == 0.5  # against the median of bo and cy: (4 + 3) / 2 = 3.5
    assert not bias["ann"].flagged  # exactly at the tolerance of 0.5 is within it
    assert bias["ann"].units == 4
    assert bias["ann"].mean_absolute_difference == 0.5


def test_bias_consensus_may_be_the_mean_or_the_median():
    scores = [[3, 3], [3, 3], [5, 5], [4, 4]]  # the last auditor against 3, 3, 5

    by_median = coder_bias(scores, consensus="median")[3]
    by_mean = coder_bias(scores, consensus="mean", tolerance=1)[3]

    assert by_median.bias == 1.0 and by_median.flagged
    assert by_mean.bias == pytest.approx(4 - 11 / 3)
    assert not by_mean.flagged


def test_an_auditor_who_shared_no_unit_has_no_bias():
    result = coder_bias([[4, X], [5, X], [X, 3]])

    assert result[2].units == 0
    assert result[2].bias is None
    assert not result[2].flagged


# --- Confidence intervals ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    [
        # Newcombe, R. G. (1998). Two-sided confidence intervals for the single proportion:
        # comparison of seven methods. Statistics in Medicine 17, 857–872, Table I, method 3.
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0000, 0.1611),
        (1, 29, 0.0061, 0.1718),
        (29, 29, 0.8830, 1.0000),
        # Worked by hand from Wilson's formula with z = 1.96:
        # 8/10: centre (0.8 + 0.19208) / 1.38416 = 0.71674, half 1.96 · 0.16001 / 1.38416 = 0.22658
        (8, 10, 0.4902, 0.9433),
        # 0/10: upper z² / (n + z²) = 3.8416 / 13.8416
        (0, 10, 0.0000, 0.2775),
    ],
)
def test_wilson_interval_matches_published_values(successes, n, low, high):
    interval = wilson_interval(successes, n)

    assert interval.estimate == successes / n
    assert round(interval.low, 4) == low
    assert round(interval.high, 4) == high
    assert (interval.n, interval.confidence) == (n, 0.95)


def test_wilson_interval_widens_with_confidence():
    narrow, wide = wilson_interval(8, 10, confidence=0.9), wilson_interval(8, 10, confidence=0.99)

    assert wide.low < narrow.low and wide.high > narrow.high


def test_a_proportion_of_nothing_is_undefined():
    interval = wilson_interval(0, 0)

    assert (interval.estimate, interval.low, interval.high) == (None, None, None)
    assert interval.reason


@pytest.mark.parametrize(
    ("successes", "n", "confidence"),
    [(5, 4, 0.95), (-1, 4, 0.95), (1, 4, 1.0), (1, 4, 0), (1.5, 4, 0.95), (True, 4, 0.95)],
)
def test_wilson_interval_refuses_impossible_input(successes, n, confidence):
    with pytest.raises(StatsError):
        wilson_interval(successes, n, confidence=confidence)


@pytest.mark.parametrize(
    ("p", "df", "table"),
    [
        # NIST/SEMATECH e-Handbook of Statistical Methods, 1.3.6.7.2, upper critical values of
        # Student's t distribution (three decimals as printed).
        (0.975, 1, 12.706),
        (0.975, 2, 4.303),
        (0.975, 3, 3.182),
        (0.975, 5, 2.571),
        (0.975, 10, 2.228),
        (0.975, 30, 2.042),
        (0.975, 100, 1.984),
        (0.995, 1, 63.657),
        (0.995, 10, 3.169),
        (0.95, 5, 2.015),
        (0.90, 3, 1.638),
        (0.999, 4, 7.173),
        (0.975, 10**6, 1.960),
    ],
)
def test_t_quantile_matches_the_published_table(p, df, table):
    assert round(t_quantile(p, df), 3) == table


def test_t_quantile_is_symmetric():
    assert t_quantile(0.025, 5) == -t_quantile(0.975, 5)
    assert t_quantile(0.5, 7) == 0.0


def test_exact_t_and_its_large_df_expansion_agree_where_they_meet():
    for p in (0.9, 0.975, 0.995):
        assert _t_quantile_cornish_fisher(p, 1000) == pytest.approx(t_quantile(p, 1000), abs=1e-9)


@settings(max_examples=80, deadline=None)
@given(p=st.floats(0.51, 0.9995), df=st.integers(1, 400))
def test_t_quantile_inverts_the_distribution(p, df):
    assert _t_central_mass(t_quantile(p, df), df) == pytest.approx(2 * p - 1, abs=1e-10)


@pytest.mark.parametrize(("p", "df"), [(0, 5), (1, 5), (0.9, 0), (0.9, 2.5)])
def test_t_quantile_refuses_what_it_cannot_compute(p, df):
    with pytest.raises(StatsError):
        t_quantile(p, df)


def test_mean_interval_uses_the_small_sample_t_quantile():
    # mean 4, s = √0.5, t(0.975, 4) = 2.776: half-width 2.77645 · 0.70711 / 2.23607 = 0.87799
    interval = mean_interval([4, 5, 3, 4, 4])

    assert interval.estimate == 4
    assert interval.low == pytest.approx(3.12201, abs=1e-5)
    assert interval.high == pytest.approx(4.87799, abs=1e-5)


def test_mean_interval_stays_on_the_scale_when_asked():
    interval = mean_interval([5, 5, 5, 4], bounds=(1, 5))

    assert interval.high == 5
    assert interval.low == pytest.approx(4.75 - 3.18245 * 0.5 / 2, abs=1e-5)


def test_mean_of_one_score_has_no_interval():
    one, none = mean_interval([3]), mean_interval([])

    assert (one.estimate, one.low, one.high, one.n) == (3, None, None, 1)
    assert one.reason
    assert none.estimate is None and none.reason


def test_nps_interval_uses_the_trinomial_variance():
    # 50 promoters, 30 passives, 20 detractors: NPS 30; Var = (0.5 + 0.2 − 0.3²) / 100 = 0.0061
    interval = nps_interval(NpsTally(promoters=50, passives=30, detractors=20))

    half = 100 * 1.959964 * 0.0061**0.5
    assert interval.estimate == pytest.approx(30)
    assert interval.low == pytest.approx(30 - half, abs=1e-4)
    assert interval.high == pytest.approx(30 + half, abs=1e-4)
    assert interval.n == 100


def test_nps_interval_stays_within_minus_and_plus_100():
    interval = nps_interval(NpsTally(promoters=1, passives=0, detractors=9))

    assert interval.estimate == pytest.approx(-80)
    assert interval.low == -100


def test_nps_tally_sorts_answers_into_the_three_groups():
    assert nps_tally([10, 9, 8, 7, 6, 0]) == NpsTally(promoters=2, passives=2, detractors=2)
    assert nps_interval(NpsTally(0, 0, 0)).estimate is None


@pytest.mark.parametrize("bad", [11, -1, 7.5, True])
def test_nps_answers_outside_0_to_10_are_refused(bad):
    with pytest.raises(StatsError):
        nps_tally([9, bad])


def test_csat_is_the_share_of_4_and_5_answers_with_a_wilson_interval():
    satisfied, answered = csat_tally([5, 4, 3, 2, 1, 4, 5, 5, 4, 5])

    assert (satisfied, answered) == (7, 10)
    assert csat_interval(satisfied, answered) == wilson_interval(7, 10)


@pytest.mark.parametrize("bad", [0, 6, True, "5"])
def test_csat_answers_outside_1_to_5_are_refused(bad):
    with pytest.raises(StatsError):
        csat_tally([5, bad])


def test_a_sample_below_the_minimum_is_marked_insufficient():
    thin = sample_adequacy(5)

    assert DEFAULT_MINIMUM_SAMPLE == 8
    assert (thin.n, thin.minimum, thin.adequate) == (5, 8, False)
    assert "Insufficient sample" in thin.message and "5" in thin.message and "8" in thin.message
    assert sample_adequacy(8).adequate and sample_adequacy(8).message == ""
    assert not sample_adequacy(9, minimum=10).adequate


@pytest.mark.parametrize(("n", "minimum"), [(-1, 8), (3, 0), (3, 2.5)])
def test_sample_adequacy_refuses_impossible_input(n, minimum):
    with pytest.raises(StatsError):
        sample_adequacy(n, minimum)


# --- Scorecards -------------------------------------------------------------------------------


def phone_scorecard(pass_mark=80):
    return Scorecard(
        sections=(
            Section(
                "opening",
                20,
                (
                    Criterion("greet", 1, Scale.YES_NO),
                    Criterion("verify_identity", 2, Scale.YES_NO, critical=True),
                ),
            ),
            Section(
                "handling",
                "50",
                (
                    Criterion("accuracy", Decimal(3), Scale.ONE_TO_FIVE),
                    Criterion("empathy", 1.0, Scale.ONE_TO_FIVE),
                ),
            ),
            Section(
                "closing",
                30,
                (
                    Criterion("summary", 1, Scale.YES_NO),
                    Criterion("risk_disclosure", 1, Scale.YES_NO, critical=True),
                ),
            ),
        ),
        pass_mark=pass_mark,
    )


def answers(**changes):
    base = {
        "greet": YES,
        "verify_identity": YES,
        "accuracy": 4,
        "empathy": 3,
        "summary": NO,
        "risk_disclosure": YES,
    }
    return base | changes


def test_perfect_answers_score_100_and_pass():
    result = score_scorecard(phone_scorecard(), answers(accuracy=5, empathy=5, summary=YES))

    assert result.percent == Decimal("100.00")
    assert result.passed and not result.auto_failed


def test_sections_and_total_are_weighted_as_worked_by_hand():
    # opening 100; handling (3 · 0.75 + 1 · 0.5) / 4 = 68.75; closing (0 + 1) / 2 = 50
    # total (20 · 100 + 50 · 68.75 + 30 · 50) / 100 = 69.375 → 69.38, below the pass mark of 80
    result = score_scorecard(phone_scorecard(), answers())

    assert [section.percent for section in result.sections] == [
        Decimal("100.00"),
        Decimal("68.75"),
        Decimal("50.00"),
    ]
    assert [section.weight for section in result.sections] == [
        Decimal("0.2"),
        Decimal("0.5"),
        Decimal("0.3"),
    ]
    assert result.percent == Decimal("69.38")
    assert result.passed is False


def test_a_not_applicable_criterion_drops_out_and_the_rest_renormalise():
    # closing is now the disclosure alone: 100; total (2000 + 3437.5 + 3000) / 100 = 84.375
    result = score_scorecard(phone_scorecard(), answers(summary=NOT_APPLICABLE))

    assert result.sections[2].percent == Decimal("100.00")
    assert result.sections[2].applicable == 1
    assert result.percent == Decimal("84.38")
    assert result.passed


def test_a_section_with_nothing_applicable_drops_out_of_the_total():
    # (20 · 100 + 50 · 68.75) / 70 = 77.678… → 77.68
    result = score_scorecard(
        phone_scorecard(), answers(summary=NOT_APPLICABLE, risk_disclosure=NOT_APPLICABLE)
    )

    closing = result.sections[2]
    assert (closing.percent, closing.weight, closing.applicable) == (None, Decimal(0), 0)
    assert result.sections[0].weight == Decimal(20) / Decimal(70)
    assert result.percent == Decimal("77.68")


def test_a_failed_critical_item_sets_the_total_to_zero_and_names_it():
    result = score_scorecard(phone_scorecard(), answers(accuracy=5, risk_disclosure=NO))

    assert result.percent == Decimal("0.00")
    assert result.auto_failed
    assert result.failed_critical == ("risk_disclosure",)
    assert result.passed is False
    assert result.sections[1].percent == Decimal("87.50")  # the feedback per section remains


def test_every_failed_critical_item_is_named_in_scorecard_order():
    result = score_scorecard(phone_scorecard(), answers(verify_identity=NO, risk_disclosure=NO))

    assert result.failed_critical == ("verify_identity", "risk_disclosure")


def test_a_critical_item_that_did_not_arise_is_not_a_failure():
    result = score_scorecard(phone_scorecard(), answers(risk_disclosure=NOT_APPLICABLE))

    # closing is the summary alone, answered no: 0; (2000 + 3437.5 + 30 · 0) / 100 = 54.375
    assert not result.auto_failed
    assert result.percent == Decimal("54.38")


def test_nothing_applicable_means_nothing_to_score():
    result = score_scorecard(phone_scorecard(), {key: NOT_APPLICABLE for key in answers()})

    assert (result.percent, result.passed, result.auto_failed) == (None, None, False)
    assert result.reason


def test_the_pass_mark_is_compared_with_the_total_the_employee_sees():
    # 15999 / 20000 = 79.995 % → shown as 80.00 → passes a pass mark of 80
    card = Scorecard(
        (Section("all", 1, (Criterion("a", 15999, "yes_no"), Criterion("b", 4001, "yes_no"))),)
    )

    result = score_scorecard(card, {"a": YES, "b": NO})

    assert result.percent == Decimal("80.00")
    assert result.passed


@pytest.mark.parametrize(
    "bad",
    [
        {"greet": 2},
        {"greet": "yes"},
        {"greet": True},
        {"accuracy": 6},
        {"accuracy": 0},
        {"accuracy": 4.5},
    ],
)
def test_an_answer_outside_its_scale_is_refused(bad):
    with pytest.raises(ScorecardError, match="outside its scale"):
        score_scorecard(phone_scorecard(), answers(**bad))


def test_a_missing_answer_is_refused_and_named():
    incomplete = answers()
    del incomplete["empathy"]

    with pytest.raises(ScorecardError, match="empathy"):
        score_scorecard(phone_scorecard(), incomplete)


def test_an_answer_to_another_scorecard_is_refused():
    with pytest.raises(ScorecardError, match="hold_music"):
        score_scorecard(phone_scorecard(), answers(hold_music=YES))


@pytest.mark.parametrize("weight", [0, -1, "abc", float("nan"), True])
def test_weights_must_be_positive_numbers(weight):
    with pytest.raises(ScorecardError, match="weight"):
        Criterion("greet", weight, Scale.YES_NO)
    with pytest.raises(ScorecardError, match="weight"):
        Section("opening", weight, (Criterion("greet", 1, Scale.YES_NO),))


@pytest.mark.parametrize(
    "build",
    [
        lambda: Criterion("tone", 1, Scale.ONE_TO_FIVE, critical=True),
        lambda: Section("empty", 1, ()),
        lambda: Scorecard(()),
        lambda: Scorecard((Section("s", 1, (Criterion("a", 1, "yes_no"),)),), pass_mark=120),
        lambda: Scorecard((Section("s", 1, (Criterion("a", 1, "yes_no"),)),), pass_mark="x"),
        lambda: Scorecard(
            (
                Section("s", 1, (Criterion("a", 1, "yes_no"),)),
                Section("t", 1, (Criterion("a", 1, "yes_no"),)),
            )
        ),
    ],
    ids=[
        "critical-on-1-5",
        "empty-section",
        "no-sections",
        "pass-mark-120",
        "pass-mark-text",
        "duplicate-key",
    ],
)
def test_a_scorecard_that_cannot_be_scored_is_refused(build):
    with pytest.raises(ScorecardError):
        build()


# --- Seeded sampling --------------------------------------------------------------------------


def month_of_interactions(agents=6, per_agent=40):
    """(id, agent, channel, flags): agent a0 … a5, ids 1000…, every 7th a complaint, every 5th
    abandoned, every 11th long."""
    rows = []
    for index in range(agents * per_agent):
        flags = tuple(
            flag
            for flag, every in (("complaint", 7), ("abandoned", 5), ("long", 11))
            if index % every == 0
        )
        channel = ("phone", "phone", "chat", "email")[index % 4]
        rows.append((1000 + index, f"a{index % agents}", channel, flags))
    return rows


def ids(plan):
    return [pick.interaction_id for pick in plan.picks]


def test_the_same_seed_gives_the_same_plan_whatever_the_input_order():
    rows = month_of_interactions()
    shuffled = rows[:]
    random.Random(3).shuffle(shuffled)
    kwargs = {"seed": 20260501, "per_agent": 4, "targeted": {"complaint": 1, "long": None}}

    plan = sample_plan(rows, **kwargs)

    assert plan == sample_plan(shuffled, **kwargs)
    assert plan == sample_plan(reversed(rows), **kwargs)
    assert plan == sample_plan(iter(shuffled), **kwargs)
    assert plan.seed == "20260501"


def test_a_recorded_seed_keeps_drawing_the_same_interactions():
    """The picks of a stored plan must be reproducible for years: if this changes, old plans
    can no longer be shown to have been fair."""
    rows = month_of_interactions(agents=2, per_agent=10)

    plan = sample_plan(rows, seed="2026-05", per_agent=3)

    assert ids(plan) == [1014, 1012, 1018, 1009, 1017, 1013]
    # …which anyone can redo with Python alone: the agent's rows by id, a generator seeded
    # "<seed>:<stratum>", and random.sample.
    a0_rows = sorted(row for row in rows if row[1] == "a0")
    redone = random.Random("2026-05:agent:a0").sample(a0_rows, 3)
    assert [row[0] for row in redone] == [1014, 1012, 1018]


def test_another_seed_draws_other_interactions():
    rows = month_of_interactions()

    assert ids(sample_plan(rows, seed=1, per_agent=4)) != ids(
        sample_plan(rows, seed=2, per_agent=4)
    )


def test_n_per_agent_picks_that_many_of_each_agent_at_random():
    rows = [*month_of_interactions(agents=3, per_agent=10), (1, "newcomer", "chat", ())]

    plan = sample_plan(rows, seed="s", per_agent=4)

    per_agent = {}
    for pick in plan.picks:
        per_agent.setdefault(pick.agent_id, []).append(pick)
        assert pick.reason == "random"
    assert {agent: len(picks) for agent, picks in per_agent.items()} == {
        "a0": 4,
        "a1": 4,
        "a2": 4,
        "newcomer": 1,  # all of an agent's when there are fewer than N
    }
    assert ("agent:a0", 10, 4) in plan.strata


def test_an_agents_picks_do_not_depend_on_the_other_agents():
    rows = month_of_interactions(agents=3)
    alone = [row for row in rows if row[1] == "a1"]

    def picks_of_a1(population):
        return [p for p in sample_plan(population, seed=9, per_agent=5).picks if p.agent_id == "a1"]

    assert picks_of_a1(rows) == picks_of_a1(alone)


def test_a_share_per_channel_is_stratified_and_rounded_up():
    rows = [(i, f"a{i % 3}", "phone", ()) for i in range(100)]
    rows += [(1000 + i, "a0", "chat", ()) for i in range(7)]

    plan = sample_plan(rows, seed=5, share_per_channel=0.07)

    assert ("channel:phone", 100, 7) in plan.strata  # 0.07 · 100 is 7, not 8
    assert ("channel:chat", 7, 1) in plan.strata  # 0.49 rounds up to 1


def test_shares_may_differ_per_channel_and_a_channel_left_out_is_not_sampled():
    rows = [(i, "a0", ("phone", "chat", "email")[i % 3], ()) for i in range(300)]

    plan = sample_plan(rows, seed=5, share_per_channel={"phone": 0.1, "chat": 0.02})

    assert set(plan.strata) == {
        ("channel:chat", 100, 2),
        ("channel:email", 100, 0),
        ("channel:phone", 100, 10),
    }
    assert {pick.channel for pick in plan.picks} == {"phone", "chat"}


def test_targeted_picks_add_flagged_interactions_not_already_picked():
    rows = month_of_interactions(agents=2, per_agent=30)

    plan = sample_plan(rows, seed=4, per_agent=5, targeted={"complaint": None, "abandoned": 1})

    random_ids = {pick.interaction_id for pick in plan.picks if pick.reason == "random"}
    complaints = {row[0] for row in rows if "complaint" in row[3]}
    picked_complaints = {pick.interaction_id for pick in plan.picks if pick.reason == "complaint"}
    assert picked_complaints == complaints - random_ids  # None: every complaint
    abandoned = [pick for pick in plan.picks if pick.reason == "abandoned"]
    assert sorted(pick.agent_id for pick in abandoned) == ["a0", "a1"]  # one per agent
    assert all("abandoned" in dict((r[0], r[3]) for r in rows)[p.interaction_id] for p in abandoned)
    assert len(ids(plan)) == len(set(ids(plan)))  # nothing picked twice


def test_targeted_flags_may_be_a_plain_list_meaning_all_of_them():
    rows = month_of_interactions(agents=2, per_agent=30)

    plan = sample_plan(rows, seed=4, targeted=["long"])

    assert {pick.interaction_id for pick in plan.picks} == {r[0] for r in rows if "long" in r[3]}
    assert {pick.reason for pick in plan.picks} == {"long"}


def test_picks_are_spread_round_robin_across_auditors():
    plan = sample_plan(
        month_of_interactions(agents=3), seed=1, per_agent=4, auditors=["x", "y", "z"]
    )

    counts = {}
    for pick in plan.picks:
        counts[pick.auditor] = counts.get(pick.auditor, 0) + 1
    assert counts == {"x": 4, "y": 4, "z": 4}
    assert {pick.auditor for pick in plan.picks if pick.agent_id == "a0"} == {"x", "y", "z"}


def test_picks_go_to_the_least_loaded_auditor_first():
    picks = sample_plan(month_of_interactions(agents=2), seed=1, per_agent=5).picks

    assigned = assign_auditors(picks, ["busy", "free"], load={"busy": 6})

    counts = [pick.auditor for pick in assigned]
    assert counts.count("free") == 8 and counts.count("busy") == 2


def test_round_robin_shortcut_is_the_least_loaded_rule():
    picks = sample_plan(month_of_interactions(), seed=8, per_agent=7).picks

    assert assign_auditors(picks, ["x", "y", "z"]) == assign_auditors(
        picks, ["x", "y", "z"], load={"x": 0}
    )


def test_nobody_audits_their_own_interactions():
    picks = [Pick(i, "a0" if i % 2 else "a1", "phone", "random") for i in range(10)]

    assigned = assign_auditors(picks, ["a0", "a1", "q"])

    assert all(pick.auditor != pick.agent_id for pick in assigned)
    with pytest.raises(StatsError):
        assign_auditors(picks, ["a0"])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"per_agent": 4, "share_per_channel": 0.1},
        {"per_agent": 0},
        {"per_agent": True},
        {"share_per_channel": 0},
        {"share_per_channel": 1.5},
        {"share_per_channel": {"phone": 2.5}},
        {"targeted": {"complaint": 0}},
        {"per_agent": 2, "auditors": ["x", "x"]},
    ],
)
def test_a_plan_that_makes_no_sense_is_refused(kwargs):
    with pytest.raises(StatsError):
        sample_plan(month_of_interactions(), seed=1, **kwargs)


def test_duplicate_interaction_ids_are_refused():
    rows = [(1, "a0", "phone", ()), (1, "a1", "phone", ())]

    with pytest.raises(StatsError, match="unique"):
        sample_plan(rows, seed=1, per_agent=1)


@settings(max_examples=30, deadline=None)
@given(order_seed=st.integers(0, 10**6), plan_seed=st.integers(0, 10**6))
def test_any_order_of_the_same_rows_gives_the_same_plan(order_seed, plan_seed):
    rows = month_of_interactions(agents=4, per_agent=15)
    shuffled = rows[:]
    random.Random(order_seed).shuffle(shuffled)
    kwargs = {"seed": plan_seed, "per_agent": 3, "targeted": {"complaint": 1, "abandoned": None}}

    assert sample_plan(shuffled, **kwargs) == sample_plan(rows, **kwargs)
