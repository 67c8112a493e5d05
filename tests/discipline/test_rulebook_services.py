"""The rulebook against the database: version in force, priors, limits, recommendation."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from servicecharter.discipline.choices import (
    AppealState,
    DecisionKind,
    DecisionState,
    FinePolicy,
    Measure,
    RulebookState,
    Severity,
    ViolationState,
)
from servicecharter.discipline.models import Appeal, Decision, LawfulLimits
from servicecharter.discipline.rulebook_services import (
    DEFAULT_LIMITS,
    confirmed_priors,
    jurisdiction_of,
    limits_for,
    rulebook_version_in_force,
    violation_recommend,
)
from tests.discipline.conftest import T0, TEST_RULES, make_version, make_violation

CONFIRMED = ViolationState.CONFIRMED


def test_version_in_force_is_the_latest_published_on_that_day(db):
    v1 = make_version(number=1, effective_from=date(2026, 2, 1))
    v2 = make_version(number=2, effective_from=date(2026, 5, 1))
    make_version(number=3, effective_from=date(2026, 4, 1), state=RulebookState.DRAFT)
    make_version(code="UK-T", jurisdiction="UK", number=1, effective_from=date(2026, 4, 15))
    assert rulebook_version_in_force(jurisdiction="CN", on=date(2026, 4, 30)) == v1
    assert rulebook_version_in_force(jurisdiction="CN", on=date(2026, 5, 1)) == v2
    before = rulebook_version_in_force(jurisdiction="CN", on=date(2026, 1, 31))
    assert before not in (v1, v2)
    assert rulebook_version_in_force(jurisdiction="US", on=date(2026, 5, 1)) is None


def test_jurisdiction_is_the_departments_calendar(bj_staff):
    assert jurisdiction_of(bj_staff) == "CN"


def test_limits_for_a_jurisdiction_and_the_default(db):
    LawfulLimits.objects.update_or_create(
        jurisdiction="XX",
        defaults={
            "fine_policy": FinePolicy.ALLOWED,
            "deduction_cap_percent": Decimal(15),
            "minimum_wage": Decimal(1000),
            "currency": "USD",
        },
    )
    limits = limits_for("XX")
    assert (limits.fine_policy, limits.cap_percent, limits.minimum_wage, limits.currency) == (
        FinePolicy.ALLOWED,
        Decimal(15),
        Decimal(1000),
        "USD",
    )
    assert limits_for("NOWHERE") == DEFAULT_LIMITS


def test_priors_inside_the_lookback_window_only(bj_staff, sh_staff, attitude_type):
    make_version(rules=TEST_RULES, lookback_days=90)
    now = make_violation(bj_staff, attitude_type, at=T0)
    inside = make_violation(bj_staff, attitude_type, at=T0 - timedelta(days=89), state=CONFIRMED)
    make_violation(bj_staff, attitude_type, at=T0 - timedelta(days=91), state=CONFIRMED)
    make_violation(bj_staff, attitude_type, at=T0 - timedelta(days=5))  # open: not yet a prior
    make_violation(
        bj_staff, attitude_type, at=T0 - timedelta(days=5), state=ViolationState.DISMISSED
    )
    make_violation(sh_staff, attitude_type, at=T0 - timedelta(days=5), state=CONFIRMED)
    make_violation(bj_staff, attitude_type, at=T0 + timedelta(days=1), state=CONFIRMED)  # later
    assert confirmed_priors(violation=now) == [inside]


def _sanction(violation, user, *, in_force_until, state=DecisionState.APPROVED):
    return Decision.objects.create(
        kind=DecisionKind.SANCTION,
        state=state,
        staff=violation.staff,
        department=violation.department,
        violation=violation,
        measure=Measure.WRITTEN_WARNING,
        proposed_by=user,
        proposed_at=timezone.now(),
        in_force_until=in_force_until,
    )


def test_expired_and_overturned_sanctions_no_longer_count(
    bj_staff, attitude_type, compliance_officer
):
    make_version(rules=TEST_RULES)
    now = make_violation(bj_staff, attitude_type, at=T0)
    expired = make_violation(bj_staff, attitude_type, at=T0 - timedelta(days=100), state=CONFIRMED)
    _sanction(expired, compliance_officer, in_force_until=date(2026, 3, 1))
    still = make_violation(bj_staff, attitude_type, at=T0 - timedelta(days=50), state=CONFIRMED)
    _sanction(still, compliance_officer, in_force_until=date(2026, 3, 2))  # the day itself counts
    overturned = make_violation(
        bj_staff, attitude_type, at=T0 - timedelta(days=20), state=CONFIRMED
    )
    decision = _sanction(overturned, compliance_officer, in_force_until=date(2027, 1, 1))
    Appeal.objects.create(
        decision=decision,
        filed_by=compliance_officer,
        filed_at=timezone.now(),
        grounds="x",
        state=AppealState.OVERTURNED,
    )
    assert confirmed_priors(violation=now) == [still]


def test_recommendation_with_priors_and_factors(bj_staff, attitude_type, test_version):
    first = make_violation(bj_staff, attitude_type, at=T0 - timedelta(days=20), state=CONFIRMED)
    version, rec = violation_recommend(violation=first)
    assert version == test_version
    assert (rec.measure, rec.rule_code) == (Measure.VERBAL_WARNING, "FIRST")
    second = make_violation(bj_staff, attitude_type, at=T0)
    _, rec = violation_recommend(violation=second)
    assert rec.measure == Measure.WRITTEN_WARNING
    prior_step = rec.steps[1]
    assert prior_step["code"] == "priors" and prior_step["ids"] == [first.pk]
    _, rec = violation_recommend(violation=second, factors=["vulnerable_customer"])
    assert rec.measure == Measure.PAY_REDUCTION
    with pytest.raises(ValidationError):
        violation_recommend(violation=second, factors=["bribe"])


def test_repeat_pay_reduction_uses_the_staff_wage(bj_staff, attitude_type, test_version):
    for days in (25, 10):
        make_violation(bj_staff, attitude_type, at=T0 - timedelta(days=days), state=CONFIRMED)
    third = make_violation(bj_staff, attitude_type, at=T0, severity=Severity.MODERATE)
    _, rec = violation_recommend(violation=third)
    # 10% of 8,000.
    assert (rec.measure, rec.amount) == (Measure.PAY_REDUCTION, Decimal("800.00"))


def test_violation_before_any_version_gets_no_measure(bj_staff, attitude_type, test_version):
    early = make_violation(bj_staff, attitude_type, at=T0.replace(year=2020))
    version, rec = violation_recommend(violation=early)
    assert version is None and rec.measure == Measure.NONE


def test_default_cn_rulebook_gives_a_written_warning_for_a_second_breach(bj_staff):
    from servicecharter.discipline.models import ViolationType

    late = ViolationType.objects.get(code="late_handling")
    first = make_violation(bj_staff, late, at=T0 - timedelta(days=40))
    version, rec = violation_recommend(violation=first)
    assert (version.rulebook.code, rec.rule_code, rec.measure) == (
        "CN-DEFAULT",
        "FIRST",
        Measure.VERBAL_WARNING,
    )
    first.state = CONFIRMED
    first.save()
    second = make_violation(bj_staff, late, at=T0)
    _, rec = violation_recommend(violation=second)
    assert (rec.rule_code, rec.measure, rec.in_force_months) == (
        "SECOND",
        Measure.WRITTEN_WARNING,
        12,
    )
    # The mitigating "self-reported" brings it back to a verbal warning.
    _, rec = violation_recommend(violation=second, factors=["self_reported"])
    assert rec.measure == Measure.VERBAL_WARNING


def test_default_cn_limits_are_seeded(db):
    limits = limits_for("CN")
    assert (limits.fine_policy, limits.cap_percent, limits.minimum_wage) == (
        FinePolicy.PAY_REDUCTION,
        Decimal(20),
        Decimal("2690.00"),
    )
    assert limits_for("UK").currency == "GBP"
