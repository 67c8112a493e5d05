"""Severity: scored from money at stake, a vulnerable customer, a regulator's referral, a repeat
complainant and social-media exposure, with the reasons kept so the case page can say why."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone, translation

from servicecharter.cases.choices import Severity
from servicecharter.cases.rules_services import case_settings_save
from servicecharter.cases.severity import reason_text, score_severity
from servicecharter.org.choices import Channel, CustomerSegment
from servicecharter.org.services import customer_create


def score(**facts):
    defaults = {
        "money_at_stake": None,
        "currency": "CNY",
        "is_vulnerable": False,
        "regulator_referral": False,
        "earlier_cases": 0,
        "repeat_window_days": 90,
        "social_media": False,
    }
    return score_severity(**{**defaults, **facts})


def codes(result) -> list[str]:
    """The reason codes of a score or of a case."""
    reasons = getattr(result, "reasons", None)
    if reasons is None:
        reasons = result.severity_reasons
    return [reason["code"] for reason in reasons]


def test_a_complaint_with_nothing_aggravating_is_low_and_gives_no_reason():
    result = score()
    assert (result.score, result.level, result.reasons) == (0, Severity.LOW, [])


@pytest.mark.parametrize(
    ("amount", "currency", "points"),
    [
        (Decimal("999.99"), "CNY", 0),
        (Decimal("1000"), "CNY", 10),
        (Decimal("9999.99"), "CNY", 10),
        (Decimal("10000"), "CNY", 20),
        (Decimal("100000"), "CNY", 30),
        (Decimal("1500"), "USD", 20),  # about 10,500 CNY
        (Decimal("12000"), "GBP", 30),  # about 108,000 CNY
        (Decimal("1000"), "XYZ", 10),  # an unknown currency counts as CNY
    ],
)
def test_money_at_stake_scores_by_steps_after_converting_to_cny(amount, currency, points):
    result = score(money_at_stake=amount, currency=currency)
    assert result.score == points
    if points:
        (reason,) = result.reasons
        assert reason == {
            "code": "money",
            "points": points,
            "params": {"amount": str(amount), "currency": currency},
        }
    else:
        assert result.reasons == []


def test_each_fact_adds_its_points_and_its_reason():
    assert score(is_vulnerable=True).score == 25
    assert score(regulator_referral=True).score == 30
    assert score(earlier_cases=2).score == 15
    assert score(social_media=True).score == 20
    repeat = score(earlier_cases=2).reasons[0]
    assert repeat["params"] == {"count": 2, "days": 90}


@pytest.mark.parametrize(
    ("facts", "level"),
    [
        ({"social_media": True}, Severity.MEDIUM),  # 20
        ({"is_vulnerable": True, "social_media": True}, Severity.HIGH),  # 45
        ({"is_vulnerable": True, "regulator_referral": True}, Severity.HIGH),  # 55
        (
            {"is_vulnerable": True, "regulator_referral": True, "earlier_cases": 1},
            Severity.CRITICAL,
        ),
    ],
)
def test_the_level_follows_the_score(facts, level):
    assert score(**facts).level == level


def test_the_score_is_capped_at_100_with_every_reason_kept():
    result = score(
        money_at_stake=Decimal("500000"),
        is_vulnerable=True,
        regulator_referral=True,
        earlier_cases=3,
        social_media=True,
    )
    assert result.score == 100 and result.level == Severity.CRITICAL
    assert codes(result) == ["money", "vulnerable", "regulator", "repeat", "social"]
    assert sum(reason["points"] for reason in result.reasons) == 120


def test_reasons_read_in_the_current_language():
    reason = score(earlier_cases=2).reasons[0]
    with translation.override("en"):
        assert reason_text(reason) == "Repeat complainant: 2 earlier cases in 90 days"
    with translation.override("zh-hans"):
        assert "2" in reason_text(reason) and "90" in reason_text(reason)
    assert reason_text({"code": "unknown"}) == "unknown"


# --- at intake ------------------------------------------------------------------------------


@pytest.fixture
def customer(tree):
    return customer_create(
        customer_number="C0001",
        name="Zhang Wei",
        home_department=tree["bj_team"],
        segment=CustomerSegment.SENIOR,
        is_vulnerable=True,
    )


def test_a_new_case_is_scored_from_its_facts(new_case, customer):
    case = new_case(customer=customer, channel=Channel.REGULATOR, money_at_stake=Decimal("20000"))
    assert case.severity == Severity.CRITICAL  # 20 + 25 + 30
    assert case.severity_score == 75
    assert codes(case) == ["money", "vulnerable", "regulator"]


def test_social_media_exposure_raises_the_severity(new_case):
    case = new_case(channel=Channel.SOCIAL)
    assert (case.severity, codes(case)) == (Severity.MEDIUM, ["social"])


def test_a_repeat_complainant_counts_the_cases_of_the_last_90_days(new_case, customer):
    now = timezone.now()
    new_case(customer=customer, received_at=now - timedelta(days=120), subject="old")
    new_case(customer=customer, received_at=now - timedelta(days=89), subject="recent")
    new_case(customer=customer, received_at=now - timedelta(days=10), subject="newer")
    case = new_case(customer=customer, subject="today")
    repeat = next(reason for reason in case.severity_reasons if reason["code"] == "repeat")
    assert repeat["params"] == {"count": 2, "days": 90}


def test_the_repeat_window_is_a_setting(new_case, customer):
    case_settings_save(
        warn_share=75, duplicate_window_days=30, reopen_window_days=30, repeat_window_days=30
    )
    new_case(customer=customer, received_at=timezone.now() - timedelta(days=45))
    case = new_case(customer=customer)
    assert "repeat" not in codes(case)
