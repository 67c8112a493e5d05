"""The main path of a complaint through its services, and what each step refuses."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from servicecharter.cases import services
from servicecharter.cases.choices import CaseState, Outcome, TimelineKind
from servicecharter.cases.deadlines import DeadlineRuleError
from servicecharter.cases.workflow import TransitionRefused
from servicecharter.core.models import AuditEntry, Event


def test_a_new_complaint_gets_a_reference_a_profile_and_a_deadline(new_case):
    case = new_case()
    assert case.reference.startswith("C") and str(case.pk) in case.reference
    assert case.profile_key == "cn_banking_insurance"
    assert case.due_at is not None and case.due_at - case.received_at >= timedelta(days=15)
    assert case.warn_at < case.due_at
    assert case.timeline.filter(kind=TimelineKind.CREATED).count() == 1
    assert AuditEntry.objects.filter(action="case.create", object_id=str(case.pk)).exists()


def test_the_main_path_writes_a_timeline_row_for_every_transition(new_case, bj_agent, tree):
    from servicecharter.org.models import Staff

    staff = Staff.objects.create(
        employee_number="E1",
        name="Wang",
        department=tree["bj_team"],
        base_wage=8000,
        hire_date="2020-01-01",
    )
    case = new_case()
    case = services.case_acknowledge(actor=bj_agent, case=case)
    case = services.case_start(actor=bj_agent, case=case)
    case = services.case_respond(
        actor=bj_agent,
        case=case,
        outcome=Outcome.UPHELD,
        response_text="We refunded the second fee.",
        staff_involved=[staff],
    )
    assert case.state == CaseState.RESPONDED and case.due_at is None
    assert Event.objects.filter(
        name="case.upheld_against_staff", payload__staff_id=staff.pk
    ).exists()
    case = services.case_customer_answer(case=case, accepted=False, comment="Still wrong")
    assert case.state == CaseState.REOPENED and case.due_at is not None
    assert Event.objects.filter(name="case.reopened", payload__case_id=case.pk).exists()
    transitions = case.timeline.filter(kind=TimelineKind.TRANSITION).count()
    assert transitions == 4  # acknowledge, start, respond, reopen


def test_it_refuses_to_close_a_case_that_was_not_answered(new_case, bj_agent):
    case = new_case()
    with pytest.raises(TransitionRefused):
        services.case_close(actor=bj_agent, case=case)
    case.refresh_from_db()
    assert case.state == CaseState.RECEIVED


def test_an_especially_complex_extension_needs_a_senior_manager(new_case, bj_agent, executive):
    case = new_case()
    services.case_extend(actor=bj_agent, case=case, level="complex", note="Many accounts")
    with pytest.raises(DeadlineRuleError):
        services.case_extend(
            actor=bj_agent, case=case, level="especially_complex", note="Needs a forensic audit"
        )
    case = services.case_extend(
        actor=executive, case=case, level="especially_complex", note="Needs a forensic audit"
    )
    assert case.due_at - case.received_at >= timedelta(days=60)


def test_a_response_needs_an_outcome_and_a_text(new_case, bj_agent):
    case = services.case_start(actor=bj_agent, case=new_case())
    with pytest.raises(ValidationError) as caught:
        services.case_respond(actor=bj_agent, case=case, outcome="", response_text="")
    assert set(caught.value.message_dict) == {"outcome", "response_text"}


def test_the_sweeper_warns_then_breaches_once(new_case, bj_agent, bj_supervisor):
    case = new_case()
    first = services.sweep_deadlines(now=case.warn_at + timedelta(seconds=1))
    assert first == {"warned": 1, "breached": 0}
    later = case.due_at + timedelta(seconds=1)
    assert services.sweep_deadlines(now=later) == {"warned": 0, "breached": 1}
    assert services.sweep_deadlines(now=later) == {"warned": 0, "breached": 0}
    event = Event.objects.get(name="case.deadline_breached")
    assert event.payload["handler_user_id"] == bj_agent.pk
    assert bj_supervisor.notifications.filter(kind="cases.deadline_breached").exists()


def test_posting_the_same_external_id_twice_gives_one_case(new_case):
    first = new_case(external_system="wechat", external_id="m-1")
    second = new_case(external_system="wechat", external_id="m-1")
    assert first.pk == second.pk
