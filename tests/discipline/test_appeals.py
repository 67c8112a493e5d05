"""The employee's side of a decision and appeals: only the employee acknowledges and appeals,
inside the window (moved with time_machine); the appeal goes to someone who took no part;
upheld / reduced (measure and amount replaced, in the ledger) / overturned (no longer a prior,
no longer a deduction); and a sanction stops counting as a prior after its period."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError

from servicecharter.core.models import Notification
from servicecharter.discipline import decisions as services
from servicecharter.discipline.choices import (
    AppealState,
    DecisionState,
    LedgerKind,
    Measure,
    ViolationState,
)
from servicecharter.discipline.models import LedgerEntry, Rule
from servicecharter.discipline.rulebook_services import violation_recommend
from tests.discipline.conftest import T0, confirmed_priors, make_violation

pytestmark = pytest.mark.django_db


@pytest.fixture
def in_force(bj_supervisor, compliance_officer, bj_confirmed, bj_employee):
    """A verbal warning for the Beijing employee, approved at T0 + 1 day."""
    with time_machine.travel(T0 + timedelta(days=1), tick=False):
        decision = services.decision_propose(actor=bj_supervisor, violation=bj_confirmed)
        return services.decision_approve(actor=compliance_officer, decision=decision)


def _pay_reduction_in_force(bj_supervisor, compliance_officer, bj_staff, attitude_type):
    confirmed_priors(bj_staff, attitude_type, 2)
    violation = make_violation(bj_staff, attitude_type, state=ViolationState.CONFIRMED)
    with time_machine.travel(T0 + timedelta(days=1), tick=False):
        decision = services.decision_propose(actor=bj_supervisor, violation=violation)
        return services.decision_approve(actor=compliance_officer, decision=decision)


def _appeal(employee, decision, grounds: str):
    with time_machine.travel(decision.decided_at + timedelta(days=1), tick=False):
        return services.appeal_file(actor=employee, decision=decision, grounds=grounds)


# The employee ---------------------------------------------------------------------------------


def test_only_the_employee_acknowledges(in_force, bj_employee, bj_supervisor, compliance_officer):
    for someone in (bj_supervisor, compliance_officer):
        with pytest.raises(PermissionDenied):
            services.decision_acknowledge(actor=someone, decision=in_force)
    decision = services.decision_acknowledge(actor=bj_employee, decision=in_force)
    assert decision.acknowledged_at is not None
    first = decision.acknowledged_at
    assert services.decision_acknowledge(actor=bj_employee, decision=in_force).acknowledged_at == (
        first
    )
    assert LedgerEntry.objects.filter(decision=in_force, kind=LedgerKind.ACKNOWLEDGED).count() == 1


def test_a_proposal_cannot_be_acknowledged_or_appealed(bj_supervisor, bj_confirmed, bj_employee):
    decision = services.decision_propose(actor=bj_supervisor, violation=bj_confirmed)
    with pytest.raises(ValidationError):
        services.decision_acknowledge(actor=bj_employee, decision=decision)
    with pytest.raises(ValidationError):
        services.appeal_file(actor=bj_employee, decision=decision, grounds="No.")


def test_only_the_employee_appeals_with_grounds(in_force, bj_employee, bj_supervisor):
    with pytest.raises(PermissionDenied):
        services.appeal_file(actor=bj_supervisor, decision=in_force, grounds="On their behalf.")
    with time_machine.travel(T0 + timedelta(days=2), tick=False):
        with pytest.raises(ValidationError):
            services.appeal_file(actor=bj_employee, decision=in_force, grounds="  ")
        appeal = services.appeal_file(
            actor=bj_employee, decision=in_force, grounds="The customer was rude first."
        )
        assert appeal.state == AppealState.OPEN
        with pytest.raises(ValidationError):
            services.appeal_file(actor=bj_employee, decision=in_force, grounds="Again.")


def test_the_appeal_window_is_fifteen_days(in_force, bj_employee):
    assert in_force.appeal_until == in_force.decided_at + timedelta(days=15)
    with time_machine.travel(in_force.appeal_until + timedelta(seconds=1), tick=False):
        with pytest.raises(ValidationError) as refused:
            services.appeal_file(actor=bj_employee, decision=in_force, grounds="Too late?")
        assert "passed" in str(refused.value)
        assert not services.may_appeal(bj_employee, in_force)
    with time_machine.travel(in_force.appeal_until - timedelta(seconds=1), tick=False):
        assert services.may_appeal(bj_employee, in_force)
        services.appeal_file(actor=bj_employee, decision=in_force, grounds="Just in time.")


# Who decides ----------------------------------------------------------------------------------


@pytest.fixture
def appeal(in_force, bj_employee):
    with time_machine.travel(T0 + timedelta(days=2), tick=False):
        return services.appeal_file(actor=bj_employee, decision=in_force, grounds="Unfair.")


def test_nobody_who_took_part_decides_the_appeal(
    appeal, compliance_officer, bj_supervisor, bj_employee, hr_user
):
    # The approver, the proposer (no capability either) and the employee.
    with pytest.raises(ValidationError):
        services.appeal_decide(
            actor=compliance_officer, appeal=appeal, outcome=AppealState.UPHELD, reason="x"
        )
    for someone in (bj_supervisor, bj_employee):
        with pytest.raises((PermissionDenied, ValidationError)):
            services.appeal_decide(
                actor=someone, appeal=appeal, outcome=AppealState.UPHELD, reason="x"
            )
    appeal.refresh_from_db()
    assert appeal.state == AppealState.OPEN
    decided = services.appeal_decide(
        actor=hr_user, appeal=appeal, outcome=AppealState.UPHELD, reason="The facts hold."
    )
    assert decided.state == AppealState.UPHELD and decided.decided_by == hr_user
    with pytest.raises(ValidationError):
        services.appeal_decide(
            actor=hr_user, appeal=appeal, outcome=AppealState.OVERTURNED, reason="Changed mind."
        )


def test_a_compliance_officer_who_proposed_cannot_decide(
    compliance_officer, hr_user, second_compliance, bj_confirmed, bj_employee
):
    decision = services.decision_propose(actor=compliance_officer, violation=bj_confirmed)
    decision = services.decision_approve(actor=hr_user, decision=decision)
    appeal = services.appeal_file(actor=bj_employee, decision=decision, grounds="Unfair.")
    assert not services.may_decide_appeal(compliance_officer, appeal)
    assert not services.may_decide_appeal(hr_user, appeal)
    assert services.may_decide_appeal(second_compliance, appeal)


def test_the_employee_is_told_the_outcome(appeal, hr_user, bj_employee):
    services.appeal_decide(
        actor=hr_user, appeal=appeal, outcome=AppealState.UPHELD, reason="The facts hold."
    )
    assert Notification.objects.filter(
        recipient=bj_employee, kind="discipline.decision", subject__icontains="appeal"
    ).exists()


# Outcomes ---------------------------------------------------------------------------------------


def test_reduced_replaces_the_measure_and_is_in_the_ledger(
    bj_supervisor, compliance_officer, bj_staff, attitude_type, bj_employee, hr_user, test_version
):
    decision = _pay_reduction_in_force(bj_supervisor, compliance_officer, bj_staff, attitude_type)
    assert (decision.measure, decision.amount) == (Measure.PAY_REDUCTION, Decimal("800.00"))
    appeal = _appeal(bj_employee, decision, "Too much.")
    with pytest.raises(ValidationError):
        services.appeal_decide(
            actor=hr_user,
            appeal=appeal,
            outcome=AppealState.REDUCED,
            reason="Milder.",
            reduced_measure=Measure.DEMOTION,
        )
    with pytest.raises(ValidationError):
        services.appeal_decide(
            actor=hr_user,
            appeal=appeal,
            outcome=AppealState.REDUCED,
            reason="Milder.",
            reduced_measure=Measure.PAY_REDUCTION,
            reduced_amount="900",
        )
    services.appeal_decide(
        actor=hr_user,
        appeal=appeal,
        outcome=AppealState.REDUCED,
        reason="First in a year with this team.",
        reduced_measure=Measure.PAY_REDUCTION,
        reduced_amount="300",
    )
    decision.refresh_from_db()
    assert (decision.measure, decision.amount) == (Measure.PAY_REDUCTION, Decimal("300.00"))
    assert services.deducted_in_month(bj_staff, decision.deduction_month) == Decimal("300.00")
    entry = LedgerEntry.objects.get(decision=decision, kind=LedgerKind.APPEAL_DECIDED)
    assert entry.data["before"] == {"measure": "pay_reduction", "amount": "800.00"}
    assert entry.data["after"] == {"measure": "pay_reduction", "amount": "300.00"}


def test_reduced_to_a_warning_takes_no_money(
    bj_supervisor, compliance_officer, bj_staff, attitude_type, bj_employee, hr_user, test_version
):
    decision = _pay_reduction_in_force(bj_supervisor, compliance_officer, bj_staff, attitude_type)
    month = decision.deduction_month
    appeal = _appeal(bj_employee, decision, "Too much.")
    services.appeal_decide(
        actor=hr_user,
        appeal=appeal,
        outcome=AppealState.REDUCED,
        reason="A warning suffices.",
        reduced_measure=Measure.WRITTEN_WARNING,
    )
    decision.refresh_from_db()
    assert (decision.measure, decision.amount, decision.deduction_month) == (
        Measure.WRITTEN_WARNING,
        None,
        None,
    )
    assert services.deducted_in_month(bj_staff, month) == Decimal(0)


def test_overturned_no_longer_counts_as_a_prior_nor_as_a_deduction(
    bj_supervisor, compliance_officer, bj_staff, attitude_type, bj_employee, hr_user, test_version
):
    decision = _pay_reduction_in_force(bj_supervisor, compliance_officer, bj_staff, attitude_type)
    later = make_violation(
        bj_staff, attitude_type, at=T0 + timedelta(days=20), state=ViolationState.CONFIRMED
    )
    _version, before = violation_recommend(violation=later)
    assert before.rule_code == "REPEAT"  # three confirmed priors
    appeal = _appeal(bj_employee, decision, "Not me.")
    services.appeal_decide(
        actor=hr_user, appeal=appeal, outcome=AppealState.OVERTURNED, reason="Wrong employee."
    )
    decision.refresh_from_db()
    assert decision.state == DecisionState.APPROVED
    assert services.deducted_in_month(bj_staff, decision.deduction_month) == Decimal(0)
    _version, after = violation_recommend(violation=later)
    priors = next(step for step in after.steps if step["code"] == "priors")
    assert decision.violation_id not in priors["ids"]
    assert priors["count"] == 2


def test_a_sanction_stops_counting_as_a_prior_after_its_period(
    in_force, bj_staff, attitude_type, test_version
):
    Rule.objects.filter(version=test_version, code="FIRST").update(in_force_months=1)
    in_force.refresh_from_db()
    # Decided at T0 + 1 day under a 12-month rule: counts until then.
    assert in_force.in_force_until == (T0 + timedelta(days=1)).date().replace(year=2027)
    inside = make_violation(
        bj_staff, attitude_type, at=T0 + timedelta(days=60), state=ViolationState.CONFIRMED
    )
    assert violation_recommend(violation=inside)[1].rule_code == "SECOND"
    in_force.in_force_until = (T0 + timedelta(days=30)).date()
    in_force.save(update_fields=["in_force_until"])
    assert violation_recommend(violation=inside)[1].rule_code == "FIRST"
