"""Rulebook versions: draft (a copy of the latest), edit only while draft, approval by someone
else with the procedure recorded, publication with notices, acknowledgement; set-based priors
agree with the one-by-one reading; the simulator over the database."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError

from servicecharter.core.models import Notification
from servicecharter.discipline import rulebook_services as rs
from servicecharter.discipline.choices import (
    FactorEffect,
    Measure,
    RulebookState,
    Severity,
    ViolationState,
)
from servicecharter.discipline.models import Rulebook, RulebookAcknowledgement
from tests.discipline.conftest import T0, make_violation

CONFIRMED = ViolationState.CONFIRMED


@pytest.fixture
def cn_rulebook(db):
    return Rulebook.objects.get(code="CN-DEFAULT")


@pytest.fixture
def draft(cn_rulebook, compliance_officer):
    return rs.rulebook_version_draft(actor=compliance_officer, rulebook=cn_rulebook)


def test_draft_copies_the_latest_version(draft, cn_rulebook):
    v1 = cn_rulebook.versions.get(number=1)
    assert (draft.number, draft.state, draft.effective_from) == (2, RulebookState.DRAFT, None)
    assert list(draft.rules.values_list("code", "measure")) == list(
        v1.rules.values_list("code", "measure")
    )
    assert draft.factors.count() == v1.factors.count() == 5


def test_only_one_draft_at_a_time_and_only_for_institution_managers(
    draft, cn_rulebook, compliance_officer, sh_compliance, bj_supervisor
):
    with pytest.raises(ValidationError):
        rs.rulebook_version_draft(actor=compliance_officer, rulebook=cn_rulebook)
    for someone in (sh_compliance, bj_supervisor):
        with pytest.raises(PermissionDenied):
            rs.rule_save(
                actor=someone, version=draft, code="X", order=1, measure=Measure.VERBAL_WARNING
            )


def test_edit_rules_and_factors_of_a_draft(draft, compliance_officer):
    rule = rs.rule_save(
        actor=compliance_officer,
        version=draft,
        code="NEW",
        order=5,
        measure=Measure.WRITTEN_WARNING,
        min_severity=Severity.MODERATE,
    )
    assert draft.rules.filter(code="NEW").exists()
    rs.rule_save(actor=compliance_officer, version=draft, rule=rule, order=6)
    rule.refresh_from_db()
    assert rule.order == 6
    with pytest.raises(ValidationError) as caught:
        rs.rule_save(
            actor=compliance_officer,
            version=draft,
            code="FINE",
            order=7,
            measure=Measure.PAY_REDUCTION,
        )
    assert "wage_percent" in caught.value.message_dict
    with pytest.raises(ValidationError):
        rs.rule_save(
            actor=compliance_officer,
            version=draft,
            code="NEW",
            order=8,
            measure=Measure.VERBAL_WARNING,
        )
    rs.factor_save(
        actor=compliance_officer,
        version=draft,
        code="first_week",
        effect=FactorEffect.MITIGATING,
        steps=1,
        name_en="First week",
        name_zh="入职首周",
    )
    assert draft.factors.filter(code="first_week").exists()
    rs.rule_delete(actor=compliance_officer, rule=rule)
    assert not draft.rules.filter(code="NEW").exists()


def test_published_versions_cannot_be_edited(cn_rulebook, compliance_officer):
    v1 = cn_rulebook.versions.get(number=1)
    with pytest.raises(ValidationError):
        rs.rule_save(
            actor=compliance_officer, version=v1, code="X", order=1, measure=Measure.VERBAL_WARNING
        )
    with pytest.raises(ValidationError):
        rs.rule_delete(actor=compliance_officer, rule=v1.rules.first())


@time_machine.travel("2026-05-01 09:00 +0800", tick=False)
def test_approve_by_another_person_then_publish_notifies_staff(
    draft, compliance_officer, second_compliance, hr_user, bj_employee, sh_employee
):
    rs.rulebook_version_update(
        actor=compliance_officer, version=draft, effective_from=date(2026, 6, 1)
    )
    with pytest.raises(ValidationError):
        rs.rulebook_version_approve(actor=compliance_officer, version=draft, note="Staff congress")
    with pytest.raises(ValidationError):
        rs.rulebook_version_approve(actor=second_compliance, version=draft, note="  ")
    version = rs.rulebook_version_approve(
        actor=second_compliance, version=draft, note="Staff congress resolution 2026-04-28"
    )
    assert (version.state, version.approved_by) == (RulebookState.APPROVED, second_compliance)
    version = rs.rulebook_version_publish(actor=hr_user, version=version)
    assert version.state == RulebookState.PUBLISHED and version.published_by == hr_user
    notified = set(
        Notification.objects.filter(kind=rs.RULEBOOK_PUBLISHED).values_list(
            "recipient__username", flat=True
        )
    )
    assert notified == {"bj.agent", "sh.agent"}
    # Still the old version until it comes into force.
    assert rs.rulebook_version_in_force(jurisdiction="CN", on=date(2026, 5, 31)).number == 1
    assert rs.rulebook_version_in_force(jurisdiction="CN", on=date(2026, 6, 1)) == version
    # Acknowledged once, whatever the clicks.
    rs.rulebook_acknowledge(actor=bj_employee, version=version)
    rs.rulebook_acknowledge(actor=bj_employee, version=version)
    assert RulebookAcknowledgement.objects.filter(version=version).count() == 1
    assert rs.acknowledgement_rate(version=version) == (1, 2)
    with pytest.raises(ValidationError):
        rs.rulebook_acknowledge(actor=compliance_officer, version=version)  # no staff record


@time_machine.travel("2026-05-01 09:00 +0800", tick=False)
def test_approval_needs_a_future_effective_day(draft, second_compliance):
    with pytest.raises(ValidationError) as caught:
        rs.rulebook_version_approve(actor=second_compliance, version=draft, note="Congress")
    assert "effective_from" in caught.value.message_dict
    draft.effective_from = date(2026, 4, 1)
    draft.save()
    with pytest.raises(ValidationError):
        rs.rulebook_version_approve(actor=second_compliance, version=draft, note="Congress")


def test_publish_only_after_approval(draft, compliance_officer):
    with pytest.raises(ValidationError):
        rs.rulebook_version_publish(actor=compliance_officer, version=draft)


def test_lawful_limits_save(compliance_officer, bj_supervisor):
    row = rs.lawful_limits_save(
        actor=compliance_officer,
        jurisdiction="CN",
        fine_policy="pay_reduction",
        cap_percent=Decimal(15),
        minimum_wage=Decimal("2800"),
        currency="CNY",
        note="Beijing 2026 rate, checked",
    )
    assert rs.limits_for("CN").cap_percent == Decimal(15) and row.minimum_wage == Decimal("2800")
    with pytest.raises(ValidationError):
        rs.lawful_limits_save(
            actor=compliance_officer,
            jurisdiction="CN",
            fine_policy="pay_reduction",
            cap_percent=Decimal(120),
            minimum_wage=Decimal(1),
            currency="CNY",
            note="x",
        )
    with pytest.raises(PermissionDenied):
        rs.lawful_limits_save(
            actor=bj_supervisor,
            jurisdiction="CN",
            fine_policy="allowed",
            cap_percent=Decimal(50),
            minimum_wage=Decimal(0),
            currency="CNY",
            note="x",
        )
    assert rs.limits_for("CN").cap_percent == Decimal(15)


def test_set_based_priors_agree_with_one_by_one(bj_staff, sh_staff, attitude_type):
    from servicecharter.discipline.models import Violation

    days = [0, 3, 10, 40, 200, 400, 401]
    for staff in (bj_staff, sh_staff):
        for offset, day in enumerate(days):
            make_violation(
                staff,
                attitude_type,
                at=T0 - timedelta(days=day),
                state=CONFIRMED if offset % 3 else ViolationState.OPEN,
            )
    rows = Violation.objects.all()
    counted = rs.count_priors(rs.targets_of(rows), lookback_days=365)
    for violation in rows:
        assert counted[violation.pk] == len(
            rs.confirmed_priors(violation=violation, lookback_days=365)
        ), violation.occurred_at
    decided = rs.decide_many(rows)
    for violation in rows:
        _version, one = rs.violation_recommend(violation=violation)
        assert (decided[violation.pk][1].measure, decided[violation.pk][1].rule_code) == (
            one.measure,
            one.rule_code,
        )


def test_simulation_over_the_database(bj_staff, attitude_type, compliance_officer, cn_rulebook):
    v1 = cn_rulebook.versions.get(number=1)
    draft = rs.rulebook_version_draft(actor=compliance_officer, rulebook=cn_rulebook)
    second = draft.rules.get(code="SECOND")
    rs.rule_save(
        actor=compliance_officer,
        version=draft,
        rule=second,
        measure=Measure.PAY_REDUCTION,
        wage_percent=Decimal(2),
    )
    make_violation(bj_staff, attitude_type, at=T0 - timedelta(days=10), state=CONFIRMED)
    later = make_violation(bj_staff, attitude_type, at=T0, state=CONFIRMED)
    result, violations = rs.simulation_run(
        user=compliance_officer,
        before=v1,
        after=draft,
        start=date(2026, 1, 1),
        end=date(2026, 12, 31),
    )
    assert result.total == 2
    [changed] = result.changed
    assert changed.key == later.pk and violations[later.pk] == later
    assert (changed.before.measure, changed.after.measure) == (
        Measure.WRITTEN_WARNING,
        Measure.PAY_REDUCTION,
    )
    assert changed.after.amount == Decimal("160.00")
