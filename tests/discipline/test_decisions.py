"""Decisions: the proposal pre-filled by the rulebook, deviations with a reason (counted), the
four eyes (never the proposer nor the employee; demotion and dismissal need HR and compliance,
one role twice is not enough), the lawful limits of a month's deductions (cap and floor, with
the limit and the excess in the refusal), fines turned into pay reductions, and what the final
approval sets (in force, appeal window, notification, ledger, audit)."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from servicecharter.core.models import AuditEntry, Notification
from servicecharter.discipline import decisions as services
from servicecharter.discipline.choices import (
    DecisionKind,
    DecisionState,
    FinePolicy,
    LedgerKind,
    Measure,
    Severity,
    ViolationState,
)
from servicecharter.discipline.models import Decision, LawfulLimits, LedgerEntry
from tests.discipline.conftest import confirmed_priors, make_violation

pytestmark = pytest.mark.django_db(transaction=False)


def _repeat_violation(staff, vtype):
    """A third breach (two priors): the rulebook recommends a 10% pay reduction (800)."""
    confirmed_priors(staff, vtype, 2)
    return make_violation(staff, vtype, state=ViolationState.CONFIRMED)


# Proposing -------------------------------------------------------------------------------------


def test_a_proposal_is_prefilled_with_the_rulebook_recommendation(bj_supervisor, bj_confirmed):
    decision = services.decision_propose(actor=bj_supervisor, violation=bj_confirmed)
    assert decision.state == DecisionState.PROPOSED
    assert decision.kind == DecisionKind.SANCTION
    assert decision.measure == decision.recommended_measure == Measure.VERBAL_WARNING
    assert decision.recommended_rule.code == "FIRST"
    assert decision.rulebook_version is not None
    assert decision.explanation["rule"] == "FIRST"
    assert [step["code"] for step in decision.explanation["steps"]][:3] == [
        "facts",
        "priors",
        "rule_matched",
    ]
    assert not decision.is_deviation
    assert LedgerEntry.objects.filter(decision=decision, kind=LedgerKind.PROPOSED).count() == 1
    assert AuditEntry.objects.filter(action="decision.propose", object_id=str(decision.pk)).exists()


def test_a_prior_makes_it_a_written_warning(bj_supervisor, bj_staff, attitude_type, test_version):
    confirmed_priors(bj_staff, attitude_type, 1)
    violation = make_violation(bj_staff, attitude_type, state=ViolationState.CONFIRMED)
    decision = services.decision_propose(actor=bj_supervisor, violation=violation)
    assert decision.measure == Measure.WRITTEN_WARNING
    assert decision.recommended_rule.code == "SECOND"


def test_a_deviation_needs_a_written_reason_and_is_counted(bj_supervisor, bj_confirmed):
    with pytest.raises(ValidationError) as refused:
        services.decision_propose(
            actor=bj_supervisor, violation=bj_confirmed, measure=Measure.WRITTEN_WARNING
        )
    assert "deviation_reason" in refused.value.message_dict
    assert not Decision.objects.exists()
    decision = services.decision_propose(
        actor=bj_supervisor,
        violation=bj_confirmed,
        measure=Measure.WRITTEN_WARNING,
        deviation_reason="The customer was a vulnerable person.",
    )
    assert decision.is_deviation
    assert decision.recommended_measure == Measure.VERBAL_WARNING
    assert Decision.objects.filter(proposed_by=bj_supervisor, is_deviation=True).count() == 1


def test_a_different_amount_is_a_deviation_too(
    bj_supervisor, bj_staff, attitude_type, test_version
):
    violation = _repeat_violation(bj_staff, attitude_type)
    with pytest.raises(ValidationError) as refused:
        services.decision_propose(
            actor=bj_supervisor, violation=violation, measure=Measure.PAY_REDUCTION, amount="500"
        )
    assert "deviation_reason" in refused.value.message_dict
    same = services.decision_propose(actor=bj_supervisor, violation=violation)
    assert (same.measure, same.amount, same.is_deviation) == (
        Measure.PAY_REDUCTION,
        Decimal("800.00"),
        False,
    )
    assert same.deduction_month is not None and same.deduction_month.day == 1


def test_only_a_confirmed_violation_without_a_live_decision(
    bj_supervisor, bj_staff, attitude_type, test_version, bj_confirmed
):
    open_one = make_violation(bj_staff, attitude_type)
    with pytest.raises(ValidationError):
        services.decision_propose(actor=bj_supervisor, violation=open_one)
    services.decision_propose(actor=bj_supervisor, violation=bj_confirmed)
    with pytest.raises(ValidationError):
        services.decision_propose(actor=bj_supervisor, violation=bj_confirmed)
    assert Decision.objects.count() == 1


def test_nobody_proposes_outside_their_scope_or_about_themselves(
    sh_supervisor, bj_agent, bj_confirmed, bj_supervisor, bj_staff
):
    with pytest.raises(PermissionDenied):
        services.decision_propose(actor=sh_supervisor, violation=bj_confirmed)
    with pytest.raises(PermissionDenied):
        services.decision_propose(actor=bj_agent, violation=bj_confirmed)
    bj_supervisor.staff = bj_staff
    bj_supervisor.save(update_fields=["staff"])
    with pytest.raises(PermissionDenied):
        services.decision_propose(actor=bj_supervisor, violation=bj_confirmed)
    assert not Decision.objects.exists()


def test_a_fine_becomes_a_pay_reduction_where_the_law_says_so(bj_supervisor, bj_confirmed):
    decision = services.decision_propose(
        actor=bj_supervisor,
        violation=bj_confirmed,
        measure=Measure.FINE,
        amount="200",
        deviation_reason="Money lost by the customer.",
    )
    assert decision.measure == Measure.PAY_REDUCTION
    assert {"code": "fine_as_pay_reduction"} in decision.explanation["steps"]


def test_a_fine_is_refused_where_fines_are_disabled(bj_supervisor, bj_confirmed):
    LawfulLimits.objects.filter(jurisdiction="CN").update(fine_policy=FinePolicy.DISABLED)
    with pytest.raises(ValidationError) as refused:
        services.decision_propose(
            actor=bj_supervisor,
            violation=bj_confirmed,
            measure=Measure.FINE,
            amount="200",
            deviation_reason="x",
        )
    assert "not allowed" in str(refused.value)


# Four eyes --------------------------------------------------------------------------------------


def test_the_proposer_cannot_approve_their_own_proposal(compliance_officer, bj_confirmed):
    decision = services.decision_propose(actor=compliance_officer, violation=bj_confirmed)
    with pytest.raises(ValidationError) as refused:
        services.decision_approve(actor=compliance_officer, decision=decision, note="")
    assert "proposer" in str(refused.value)
    decision.refresh_from_db()
    assert decision.state == DecisionState.PROPOSED
    assert not decision.approvals.exists()


def test_the_employee_cannot_approve_a_decision_about_themselves(
    bj_supervisor, bj_confirmed, second_compliance, bj_staff
):
    second_compliance.staff = bj_staff
    second_compliance.save(update_fields=["staff"])
    decision = services.decision_propose(actor=bj_supervisor, violation=bj_confirmed)
    with pytest.raises(ValidationError):
        services.decision_approve(actor=second_compliance, decision=decision)


def test_a_supervisor_cannot_approve(
    bj_supervisor, sh_supervisor, compliance_officer, bj_confirmed
):
    decision = services.decision_propose(actor=compliance_officer, violation=bj_confirmed)
    with pytest.raises(PermissionDenied):
        services.decision_approve(actor=bj_supervisor, decision=decision)


def test_an_approver_outside_the_scope_is_refused(bj_supervisor, sh_compliance, bj_confirmed):
    decision = services.decision_propose(actor=bj_supervisor, violation=bj_confirmed)
    with pytest.raises(PermissionDenied):
        services.decision_approve(actor=sh_compliance, decision=decision)


def test_one_approval_puts_a_warning_in_force(
    bj_supervisor, compliance_officer, bj_confirmed, bj_employee, django_capture_on_commit_callbacks
):
    bj_employee.email = "li.na@example.com"
    bj_employee.save(update_fields=["email"])
    decision = services.decision_propose(actor=bj_supervisor, violation=bj_confirmed)
    with django_capture_on_commit_callbacks(execute=True):
        decision = services.decision_approve(
            actor=compliance_officer, decision=decision, note="Agreed."
        )
    assert decision.state == DecisionState.APPROVED
    assert decision.decided_at is not None
    decided = decision.decided_at
    # FIRST counts as a prior for the rule's 12 months; the appeal window is 15 days.
    assert decision.in_force_until == date(decided.year + 1, decided.month, decided.day)
    assert decision.appeal_until == decided + timedelta(days=15)
    assert decision.notified_at == decided
    notice = Notification.objects.get(recipient=bj_employee, kind="discipline.decision")
    assert "/discipline/mine/" in notice.url
    assert "Deadline for an appeal: " in notice.body and ".." not in notice.body
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["li.na@example.com"]
    kinds = list(LedgerEntry.objects.filter(decision=decision).values_list("kind", flat=True))
    assert kinds == [
        LedgerKind.PROPOSED,
        LedgerKind.APPROVAL,
        LedgerKind.APPROVED,
        LedgerKind.NOTIFIED,
    ]
    assert decision.approvals.get().role == "compliance"


def test_the_appeal_window_follows_the_rulebook_version(
    bj_supervisor, compliance_officer, bj_confirmed, test_version
):
    test_version.appeal_days = 30
    test_version.save(update_fields=["appeal_days"])
    decision = services.decision_propose(actor=bj_supervisor, violation=bj_confirmed)
    decision = services.decision_approve(actor=compliance_officer, decision=decision)
    assert decision.appeal_until == decision.decided_at + timedelta(days=30)


@pytest.fixture
def dismissal(bj_supervisor, bj_staff, attitude_type, test_version):
    violation = make_violation(
        bj_staff, attitude_type, state=ViolationState.CONFIRMED, severity=Severity.SEVERE
    )
    decision = services.decision_propose(actor=bj_supervisor, violation=violation)
    assert decision.measure == Measure.DISMISSAL
    return decision


def test_dismissal_needs_hr_and_compliance_and_one_role_twice_is_not_enough(
    dismissal, compliance_officer, second_compliance, hr_user
):
    decision = services.decision_approve(actor=compliance_officer, decision=dismissal)
    assert decision.state == DecisionState.PROPOSED
    with pytest.raises(ValidationError) as refused:
        services.decision_approve(actor=second_compliance, decision=decision)
    assert "HR" in str(refused.value)
    decision.refresh_from_db()
    assert decision.state == DecisionState.PROPOSED
    assert decision.approvals.count() == 1
    decision = services.decision_approve(actor=hr_user, decision=decision)
    assert decision.state == DecisionState.APPROVED
    assert set(decision.approvals.values_list("role", flat=True)) == {"hr", "compliance"}


def test_an_executive_alone_cannot_fill_a_role_of_a_dismissal(dismissal, executive, hr_user):
    with pytest.raises(ValidationError):
        services.decision_approve(actor=executive, decision=dismissal)
    services.decision_approve(actor=hr_user, decision=dismissal)
    dismissal.refresh_from_db()
    assert dismissal.state == DecisionState.PROPOSED


def test_a_demotion_by_deviation_needs_both_roles(
    bj_supervisor, bj_confirmed, hr_user, compliance_officer
):
    decision = services.decision_propose(
        actor=bj_supervisor,
        violation=bj_confirmed,
        measure=Measure.DEMOTION,
        deviation_reason="Repeated harm to customers.",
    )
    assert decision.demotion_grades == 1
    services.decision_approve(actor=hr_user, decision=decision)
    decision.refresh_from_db()
    assert decision.state == DecisionState.PROPOSED
    services.decision_approve(actor=compliance_officer, decision=decision)
    decision.refresh_from_db()
    assert decision.state == DecisionState.APPROVED


def test_a_rejection_needs_a_reason_and_ends_the_proposal(
    bj_supervisor, compliance_officer, bj_confirmed, hr_user
):
    decision = services.decision_propose(actor=bj_supervisor, violation=bj_confirmed)
    with pytest.raises(ValidationError):
        services.decision_reject(actor=compliance_officer, decision=decision, note=" ")
    decision = services.decision_reject(
        actor=compliance_officer, decision=decision, note="The facts do not hold."
    )
    assert decision.state == DecisionState.REJECTED
    with pytest.raises(ValidationError):
        services.decision_approve(actor=hr_user, decision=decision)
    # A new proposal may follow a rejected one.
    services.decision_propose(actor=bj_supervisor, violation=bj_confirmed)


def test_only_the_proposer_withdraws(bj_supervisor, compliance_officer, bj_confirmed):
    decision = services.decision_propose(actor=bj_supervisor, violation=bj_confirmed)
    with pytest.raises(PermissionDenied):
        services.decision_withdraw(actor=compliance_officer, decision=decision)
    decision = services.decision_withdraw(actor=bj_supervisor, decision=decision)
    assert decision.state == DecisionState.WITHDRAWN


# Lawful limits ----------------------------------------------------------------------------------


def test_a_deduction_breaking_the_cap_is_refused_at_approval_with_the_reason(
    bj_supervisor, compliance_officer, bj_staff, attitude_type, test_version
):
    """8,000 a month, cap 20% = 1,600: 800 approved, then 900 more in the same month is 100
    over the cap."""
    first = services.decision_propose(
        actor=bj_supervisor, violation=_repeat_violation(bj_staff, attitude_type)
    )
    second_violation = make_violation(bj_staff, attitude_type, state=ViolationState.CONFIRMED)
    second = services.decision_propose(
        actor=bj_supervisor,
        violation=second_violation,
        measure=Measure.PAY_REDUCTION,
        amount="900",
        deviation_reason="Larger loss.",
    )
    services.decision_approve(actor=compliance_officer, decision=first)
    with pytest.raises(ValidationError) as refused:
        services.decision_approve(actor=compliance_officer, decision=second)
    message = " ".join(refused.value.messages)
    assert "20%" in message and "CN¥1,600.00" in message and "CN¥100.00" in message
    second.refresh_from_db()
    assert second.state == DecisionState.PROPOSED and not second.approvals.exists()
    assert services.deducted_in_month(bj_staff, second.deduction_month) == Decimal("800.00")


def test_a_deduction_in_another_month_counts_apart(
    bj_supervisor, compliance_officer, bj_staff, attitude_type, test_version
):
    first = services.decision_propose(
        actor=bj_supervisor, violation=_repeat_violation(bj_staff, attitude_type)
    )
    services.decision_approve(actor=compliance_officer, decision=first)
    later = services.decision_propose(
        actor=bj_supervisor,
        violation=make_violation(bj_staff, attitude_type, state=ViolationState.CONFIRMED),
        measure=Measure.PAY_REDUCTION,
        amount="900",
        deviation_reason="Larger loss.",
        deduction_month=date(2027, 1, 1),
    )
    later = services.decision_approve(actor=compliance_officer, decision=later)
    assert later.state == DecisionState.APPROVED


def test_a_single_deduction_over_the_cap_is_refused_when_proposed(bj_supervisor, bj_confirmed):
    with pytest.raises(ValidationError) as refused:
        services.decision_propose(
            actor=bj_supervisor,
            violation=bj_confirmed,
            measure=Measure.PAY_REDUCTION,
            amount="2000",
            deviation_reason="Loss.",
        )
    assert "CN¥400.00" in " ".join(refused.value.messages)
    assert not Decision.objects.exists()


def test_the_floor_the_wage_left_above_the_minimum_wage(bj_supervisor, bj_confirmed):
    LawfulLimits.objects.filter(jurisdiction="CN").update(
        fine_policy=FinePolicy.ALLOWED, minimum_wage=Decimal("7000")
    )
    with pytest.raises(ValidationError) as refused:
        services.decision_propose(
            actor=bj_supervisor,
            violation=bj_confirmed,
            measure=Measure.FINE,
            amount="1500",
            deviation_reason="Loss.",
        )
    message = " ".join(refused.value.messages)
    assert "minimum wage" in message and "CN¥500.00" in message
    decision = services.decision_propose(
        actor=bj_supervisor,
        violation=bj_confirmed,
        measure=Measure.FINE,
        amount="1000",
        deviation_reason="Loss.",
    )
    assert decision.measure == Measure.FINE


# Rewards and departments --------------------------------------------------------------------


def test_a_reward_by_hand_goes_through_the_same_approval(
    bj_supervisor, compliance_officer, bj_staff
):
    decision = services.decision_propose_direct(
        actor=bj_supervisor,
        kind=DecisionKind.REWARD,
        measure=Measure.BONUS,
        staff=bj_staff,
        amount="500",
        reason="Praised by three customers.",
    )
    assert decision.department == bj_staff.department
    with pytest.raises(ValidationError):
        services.decision_approve(actor=bj_supervisor, decision=decision)
    decision = services.decision_approve(actor=compliance_officer, decision=decision)
    assert decision.state == DecisionState.APPROVED
    assert decision.appeal_until is None and decision.in_force_until is None


def test_a_department_penalty_and_what_it_may_be(bj_supervisor, tree):
    with pytest.raises(ValidationError):
        services.decision_propose_direct(
            actor=bj_supervisor,
            kind=DecisionKind.SANCTION,
            measure=Measure.DISMISSAL,
            department=tree["bj_team"],
            reason="Failed review.",
        )
    decision = services.decision_propose_direct(
        actor=bj_supervisor,
        kind=DecisionKind.SANCTION,
        measure=Measure.WRITTEN_WARNING,
        department=tree["bj_team"],
        reason="Failed its quarterly review.",
        basis=[{"kind": "review", "id": 1, "label": "Q1 review"}],
    )
    assert decision.staff is None and decision.department == tree["bj_team"]
    with pytest.raises(PermissionDenied):
        services.decision_propose_direct(
            actor=bj_supervisor,
            kind=DecisionKind.REWARD,
            measure=Measure.COMMENDATION,
            department=tree["sh_team"],
            reason="x",
        )


def test_a_system_proposal_needs_two_human_approvers(bj_staff, compliance_officer, hr_user):
    decision = services.decision_propose_direct(
        actor=services.system_user(),
        kind=DecisionKind.REWARD,
        measure=Measure.COMMENDATION,
        staff=bj_staff,
        reason="Excellent in March.",
    )
    services.decision_approve(actor=compliance_officer, decision=decision)
    decision.refresh_from_db()
    assert decision.state == DecisionState.PROPOSED
    services.decision_approve(actor=hr_user, decision=decision)
    decision.refresh_from_db()
    assert decision.state == DecisionState.APPROVED


def test_a_proposal_tells_those_who_may_approve_it_and_nobody_else(
    bj_supervisor, sh_compliance, compliance_officer, hr_user, executive, bj_confirmed
):
    decision = services.decision_propose(actor=compliance_officer, violation=bj_confirmed)
    told = set(
        Notification.objects.filter(kind="discipline.awaiting_approval").values_list(
            "recipient__username", flat=True
        )
    )
    # HR and the executive hold approval over head office; the proposer is not told, nor a
    # compliance officer of another branch, nor a supervisor (who may not approve).
    assert told == {hr_user.username, executive.username}
    assert sh_compliance.username not in told and bj_supervisor.username not in told
    notice = Notification.objects.filter(kind="discipline.awaiting_approval").first()
    assert notice.url == reverse("discipline:decision_detail", args=[decision.pk])
