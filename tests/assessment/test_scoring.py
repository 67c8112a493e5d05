"""The maths of ``assessment.scoring`` against figures worked out by hand."""

from decimal import Decimal as D

import pytest

from servicecharter.assessment import scoring
from servicecharter.assessment.choices import Kpi, Tier

THRESHOLDS = scoring.Thresholds(excellent=D(85), good=D(65), meets=D(35), needs_improvement=D(15))


def test_percentiles_spread_from_worst_to_best():
    assert scoring.percentile_ranks({"a": D(10), "b": D(20), "c": D(30)}) == {
        "a": D(0),
        "b": D(50),
        "c": D(100),
    }


def test_less_is_better_turns_the_percentiles_round():
    ranks = scoring.percentile_ranks({"a": D(10), "b": D(20), "c": D(30)}, lower_is_better=True)
    assert ranks == {"a": D(100), "b": D(50), "c": D(0)}


def test_ties_share_the_middle_of_their_places():
    # 1, 2, 2, 3: the twos sit at places 1 and 2 of 0..3 → (1 + 0.5) / 3 = 50%.
    ranks = scoring.percentile_ranks({"a": D(1), "b": D(2), "c": D(2), "d": D(3)})
    assert ranks == {"a": D(0), "b": D(50), "c": D(50), "d": D(100)}


def test_one_person_alone_is_in_the_middle():
    assert scoring.percentile_ranks({"a": D(7)}) == {"a": D(50)}


@pytest.mark.parametrize(
    ("kpi", "num", "den", "expected"),
    [
        (Kpi.CSAT, 8, 10, D("80.00")),
        (Kpi.NPS, 5, 10, D("50.00")),
        (Kpi.COMPLAINTS_PER_1000, 3, 1500, D("2.00")),
        (Kpi.QA_SCORE, 255, 3, D("85.00")),
        (Kpi.ATTITUDE, D("2.5"), 5, D("50.00")),
        (Kpi.STANDARD_ADHERENCE, 5, 6, D("83.33")),
        (Kpi.COMPLAINT_TIMELINESS, 2, 3, D("66.67")),
        (Kpi.UPHELD_COMPLAINTS, 2, 600, D(2)),
    ],
)
def test_kpi_values(kpi, num, den, expected):
    assert scoring.kpi_value(kpi, D(num), D(den)) == expected


def test_below_the_minimum_sample_a_kpi_is_insufficient_and_says_why():
    small = scoring.figure(Kpi.CSAT, num=4, den=4, n=4, min_sample=5)
    enough = scoring.figure(Kpi.CSAT, num=4, den=5, n=5, min_sample=5)

    assert not small.sufficient and small.reason == "4 in the sample, 5 needed."
    assert enough.sufficient and enough.value == D("80.00")


def test_training_is_always_insufficient_with_its_reason():
    training = scoring.figure(Kpi.TRAINING, num=10, den=10, n=10, min_sample=1)
    assert not training.sufficient
    assert "training module" in training.reason


def test_the_weighted_score_leaves_out_kpis_without_data():
    # (2 × 80 + 1 × 50) / 3 = 70; NPS has no value and its weight 5 is left out.
    score = scoring.weighted_score(
        {"csat": D(80), "qa_score": D(50), "nps": None},
        {"csat": D(2), "qa_score": D(1), "nps": D(5)},
    )
    assert score == D("70.00")


@pytest.mark.parametrize(
    ("score", "tier"),
    [
        (D(100), Tier.EXCELLENT),
        (D(85), Tier.EXCELLENT),
        (D("84.99"), Tier.GOOD),
        (D(65), Tier.GOOD),
        (D(35), Tier.MEETS),
        (D("34.99"), Tier.NEEDS_IMPROVEMENT),
        (D(15), Tier.NEEDS_IMPROVEMENT),
        (D("14.99"), Tier.UNSATISFACTORY),
        (D(0), Tier.UNSATISFACTORY),
        (None, Tier.INSUFFICIENT),
    ],
)
def test_tiers_by_threshold(score, tier):
    assert scoring.tier_for(score, THRESHOLDS) == tier


def test_thresholds_must_fall_strictly():
    assert scoring.Thresholds(D(80), D(80), D(30), D(10)).problems()
    assert scoring.Thresholds(D(101), D(80), D(30), D(10)).problems()
    assert THRESHOLDS.problems() == []


def test_competition_ranks_share_places():
    assert scoring.competition_ranks({"a": D(90), "b": D(80), "c": D(80), "d": D(10)}) == {
        "a": 1,
        "b": 2,
        "c": 2,
        "d": 4,
    }


def _rules(min_kpis=2, min_peers=1, min_sample=1):
    return scoring.SchemeRules(
        weights={Kpi.CSAT: D(1), Kpi.QA_SCORE: D(1)},
        min_samples={Kpi.CSAT: min_sample, Kpi.QA_SCORE: min_sample},
        thresholds=THRESHOLDS,
        min_kpis=min_kpis,
        min_peers=min_peers,
    )


def _member(group, csat, qa):
    """csat: satisfied of 10 answers; qa: the mean score of one evaluation (None: none)."""
    counts = {Kpi.CSAT: (csat, 10, 10)}
    counts[Kpi.QA_SCORE] = (qa, 1, 1) if qa is not None else (0, 0, 0)
    return scoring.Member(peer_group=group, counts=counts)


def test_a_population_is_normalised_weighted_tiered_and_ranked():
    # CSAT 90, 70, 60, 50 → 100, 66.67, 33.33, 0. QA 80, 90, 70 → 50, 100, 0 (d has none).
    # Scores: a (100 + 50) / 2 = 75, b (66.67 + 100) / 2 = 83.335 → 83.34, c 0.
    members = {
        "a": _member("teller", 9, 80),
        "b": _member("teller", 7, 90),
        "c": _member("teller", 5, 70),
        "d": _member("teller", 6, None),  # QA missing: one KPI of the two needed
    }
    scoring.score_population(members, _rules())

    a, b, c, d = (members[k] for k in "abcd")
    assert a.figures[Kpi.CSAT].normalised == D(100)
    assert b.figures[Kpi.CSAT].normalised == D("66.67")
    assert d.figures[Kpi.CSAT].normalised == D("33.33")
    assert (a.score, b.score, c.score) == (D(75), D("83.34"), D(0))
    assert (a.tier, b.tier, c.tier) == (Tier.GOOD, Tier.GOOD, Tier.UNSATISFACTORY)
    assert (b.rank, a.rank, c.rank) == (1, 2, 3)
    assert d.tier == Tier.INSUFFICIENT and d.score is None and d.rank is None
    assert a.peer_count == 3


def test_peer_groups_are_normalised_apart():
    members = {
        "t1": _member("teller", 9, 80),
        "t2": _member("teller", 5, 80),
        "a1": _member("agent", 2, 80),
        "a2": _member("agent", 1, 80),
    }
    scoring.score_population(members, _rules())

    # The best agent's CSAT (20%) is the top of their group, whatever the tellers do.
    assert members["a1"].figures[Kpi.CSAT].normalised == D(100)
    assert members["t2"].figures[Kpi.CSAT].normalised == D(0)
    assert members["a1"].rank == 1 and members["t1"].rank == 1


def test_a_peer_group_too_small_is_compared_with_everyone():
    members = {
        "t1": _member("teller", 9, 80),
        "t2": _member("teller", 8, 80),
        "t3": _member("teller", 7, 80),
        "lone": _member("manager", 1, 80),
    }
    scoring.score_population(members, _rules(min_peers=3))

    # The manager alone would be 50; among everyone's CSAT (10, 70, 80, 90) they are last.
    assert members["lone"].figures[Kpi.CSAT].normalised == D(0)
    assert members["t1"].figures[Kpi.CSAT].normalised == D(100)
    assert members["t3"].figures[Kpi.CSAT].normalised == D(0)  # the tellers among themselves


def test_below_the_minimum_sample_no_kpi_counts_and_the_scorecard_is_insufficient():
    members = {"a": _member("teller", 9, 80), "b": _member("teller", 7, 90)}
    scoring.score_population(members, _rules(min_sample=11))

    assert all(m.tier == Tier.INSUFFICIENT for m in members.values())
    assert members["a"].figures[Kpi.CSAT].normalised is None
