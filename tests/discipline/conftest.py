"""Discipline personas and factories shared by the violation, rulebook and decision tests:
an employee in each branch with their sign-in, a second compliance officer, an HR officer,
a violation type, a small published CN rulebook version, and a violation factory.

Other discipline tests may add fixtures at the end (additively)."""

from datetime import date, datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from servicecharter.accounts.choices import Role
from servicecharter.discipline.choices import (
    FactorEffect,
    ImpactScope,
    Measure,
    RulebookState,
    Severity,
    ViolationCategory,
    ViolationSource,
    ViolationState,
)
from servicecharter.discipline.models import (
    Factor,
    Rule,
    Rulebook,
    RulebookVersion,
    Violation,
    ViolationType,
)
from tests.conftest import make_user
from tests.standards.conftest import make_staff

# Inside the test rulebook's validity (it is in force from 2026-02-01).
T0 = timezone.make_aware(datetime(2026, 3, 2, 10, 0))


@pytest.fixture
def bj_staff(tree):
    return make_staff(tree["bj_team"], "E10001", "李娜")


@pytest.fixture
def sh_staff(tree):
    return make_staff(tree["sh_team"], "E20001", "张伟")


@pytest.fixture
def bj_employee(bj_agent, bj_staff):
    """The Beijing agent's sign-in, linked to their staff record."""
    bj_agent.staff = bj_staff
    bj_agent.save(update_fields=["staff"])
    return bj_agent


@pytest.fixture
def sh_employee(tree, sh_staff):
    return make_user("sh.agent", Role.AGENT, tree["sh_team"], staff=sh_staff)


@pytest.fixture
def second_compliance(tree):
    return make_user("compliance2", Role.COMPLIANCE, tree["head"])


@pytest.fixture
def sh_compliance(tree):
    """A compliance officer of the Shanghai branch only."""
    return make_user("sh.compliance", Role.COMPLIANCE, tree["sh"])


@pytest.fixture
def hr_user(tree):
    return make_user("hr", Role.HR, tree["head"])


@pytest.fixture
def attitude_type(db):
    vtype, _ = ViolationType.objects.get_or_create(
        code="test_attitude",
        defaults={
            "name_en": "Test attitude",
            "name_zh": "测试态度",
            "category": ViolationCategory.ATTITUDE,
            "default_severity": Severity.MINOR,
        },
    )
    return vtype


def make_version(
    *,
    jurisdiction="CN",
    code="TEST-CN",
    number=1,
    effective_from=date(2026, 2, 1),
    state=RulebookState.PUBLISHED,
    lookback_days=365,
    rules=(),
    factors=(),
) -> RulebookVersion:
    """A rulebook version built directly (tests of the services build theirs through them).
    ``rules``: dicts of Rule fields (order and code default from the position);
    ``factors``: (code, effect, steps)."""
    rulebook, _ = Rulebook.objects.get_or_create(
        code=code,
        defaults={"name_en": code, "name_zh": code, "jurisdiction": jurisdiction},
    )
    version = RulebookVersion.objects.create(
        rulebook=rulebook,
        number=number,
        state=state,
        effective_from=effective_from,
        lookback_days=lookback_days,
        published_at=timezone.now() if state == RulebookState.PUBLISHED else None,
    )
    for position, fields in enumerate(rules, start=1):
        fields = {"order": position * 10, "code": f"R{position}", **fields}
        Rule.objects.create(version=version, **fields)
    for factor_code, effect, steps in factors:
        Factor.objects.create(
            version=version,
            code=factor_code,
            effect=effect,
            steps=steps,
            name_en=factor_code,
            name_zh=factor_code,
        )
    return version


# The test ladder: a first attitude breach is a verbal warning, with one prior a written
# warning, with two or more a 10% pay reduction; anything severe is a dismissal.
TEST_RULES = (
    {"code": "SEVERE", "min_severity": Severity.SEVERE, "measure": Measure.DISMISSAL},
    {"code": "FIRST", "max_priors": 0, "measure": Measure.VERBAL_WARNING},
    {"code": "SECOND", "min_priors": 1, "max_priors": 1, "measure": Measure.WRITTEN_WARNING},
    {
        "code": "REPEAT",
        "min_priors": 2,
        "measure": Measure.PAY_REDUCTION,
        "wage_percent": Decimal(10),
        "amount_cap": Decimal(1000),
    },
)
TEST_FACTORS = (
    ("self_reported", FactorEffect.MITIGATING, 1),
    ("vulnerable_customer", FactorEffect.AGGRAVATING, 1),
)


@pytest.fixture
def test_version(db):
    return make_version(rules=TEST_RULES, factors=TEST_FACTORS)


def make_violation(
    staff,
    vtype,
    *,
    at=T0,
    state=ViolationState.OPEN,
    severity=Severity.MINOR,
    impact=ImpactScope.ONE_CUSTOMER,
    source=ViolationSource.MANUAL,
    source_key=None,
    summary="Test violation",
) -> Violation:
    return Violation.objects.create(
        staff=staff,
        department=staff.department,
        type=vtype,
        source=source,
        source_key=source_key,
        state=state,
        occurred_at=at,
        severity=severity,
        impact_scope=impact,
        summary=summary,
    )


# --- Decisions, appeals, rewards, fairness (added by the decisions tests) --------------------


@pytest.fixture
def bj_confirmed(bj_staff, attitude_type, test_version):
    """A confirmed first attitude breach of the Beijing employee: a verbal warning."""
    return make_violation(bj_staff, attitude_type, state=ViolationState.CONFIRMED)


@pytest.fixture
def sh_hr(tree):
    """HR of the Shanghai branch only."""
    return make_user("sh.hr", Role.HR, tree["sh"])


@pytest.fixture
def executive(tree):
    return make_user("executive", Role.EXECUTIVE, tree["head"])


def confirmed_priors(staff, vtype, count: int, *, days_before: int = 30) -> list[Violation]:
    """``count`` confirmed violations in the weeks before ``T0`` (each a prior)."""
    from datetime import timedelta

    return [
        make_violation(
            staff,
            vtype,
            at=T0 - timedelta(days=days_before + position),
            state=ViolationState.CONFIRMED,
            summary=f"Prior {position}",
        )
        for position in range(count)
    ]
