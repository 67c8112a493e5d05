"""Reward proposals from events: an excellent tier in a closed period, a closed praise case
naming staff. Idempotent (a second delivery proposes nothing), proposed by the service account,
and approved through the same four eyes — two humans, since the system is not one."""

from datetime import date

import pytest
from django.db import transaction

from servicecharter.assessment.defaults import DEFAULT_SCHEME_CODE
from servicecharter.assessment.models import Period, Scheme, StaffScorecard
from servicecharter.cases.choices import CaseKind
from servicecharter.cases.services import case_create
from servicecharter.core.events import emit
from servicecharter.core.models import AuditEntry, EventDelivery
from servicecharter.core.services.events import deliver_due
from servicecharter.discipline import decisions as services
from servicecharter.discipline.choices import DecisionKind, DecisionState, Measure
from servicecharter.discipline.models import Decision, LedgerEntry
from servicecharter.org.choices import Channel
from tests.standards.conftest import make_staff

pytestmark = pytest.mark.django_db


def deliver(event):
    deliver_due(worker_id="test", event_id=event.pk)
    states = set(EventDelivery.objects.filter(event=event).values_list("state", flat=True))
    assert states == {"delivered"}, EventDelivery.objects.filter(event=event).values("last_error")


def redeliver(event):
    EventDelivery.objects.filter(event=event).update(state="pending", claimed_by="")
    deliver(event)


def emit_now(name, payload):
    with transaction.atomic():
        return emit(name, payload)


@pytest.fixture
def closed_period(tree, bj_staff, sh_staff):
    """March 2026: the Beijing employee excellent, the Shanghai one good."""
    period = Period.objects.create(
        kind="month",
        start=date(2026, 3, 1),
        end=date(2026, 3, 31),
        state="closed",
        scheme=Scheme.objects.get(code=DEFAULT_SCHEME_CODE),
    )
    for staff, tier in ((bj_staff, "excellent"), (sh_staff, "good")):
        StaffScorecard.objects.create(
            period=period, staff=staff, department=staff.department, tier=tier
        )
    return period


def _period_closed(period):
    return emit_now(
        "assessment.period_closed",
        {
            "period_id": period.pk,
            "kind": period.kind,
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
        },
    )


def test_an_excellent_tier_becomes_a_commendation_proposal_once(closed_period, bj_staff):
    event = _period_closed(closed_period)
    deliver(event)
    redeliver(event)
    decision = Decision.objects.get()
    assert (decision.kind, decision.measure, decision.state) == (
        DecisionKind.REWARD,
        Measure.COMMENDATION,
        DecisionState.PROPOSED,
    )
    assert decision.staff == bj_staff and decision.department == bj_staff.department
    assert decision.proposed_by.username == services.SYSTEM_USERNAME
    assert decision.basis[0]["kind"] == "period" and decision.basis[0]["id"] == closed_period.pk
    assert LedgerEntry.objects.filter(decision=decision).count() == 1
    assert AuditEntry.objects.filter(action="decision.propose", object_id=str(decision.pk)).exists()


def test_the_service_account_cannot_sign_in(closed_period):
    deliver(_period_closed(closed_period))
    system = services.system_user()
    assert not system.is_active and not system.has_usable_password()


def test_a_system_proposal_goes_through_two_humans(
    closed_period, compliance_officer, hr_user, bj_employee
):
    deliver(_period_closed(closed_period))
    decision = Decision.objects.get()
    services.decision_approve(actor=compliance_officer, decision=decision)
    decision.refresh_from_db()
    assert decision.state == DecisionState.PROPOSED
    services.decision_approve(actor=hr_user, decision=decision)
    decision.refresh_from_db()
    assert decision.state == DecisionState.APPROVED and decision.notified_at is not None


@pytest.fixture
def praise(tree, bj_agent, bj_staff):
    other = make_staff(tree["bj_team"], "E10002", "王五")
    case = case_create(
        actor=bj_agent,
        kind=CaseKind.PRAISE,
        channel=Channel.PHONE,
        subject="Thank you",
        description="Ms Li solved my problem in minutes.",
        contact_name="Zhao",
        department=tree["bj_team"],
    ).case
    case.staff_involved.add(bj_staff, other)
    return case


def test_a_closed_praise_case_commends_the_staff_it_names_once(praise, bj_staff):
    event = emit_now("case.closed", {"case_id": praise.pk})
    deliver(event)
    redeliver(event)
    decisions = Decision.objects.order_by("staff__employee_number")
    assert [d.staff.employee_number for d in decisions] == ["E10001", "E10002"]
    assert all(d.measure == Measure.COMMENDATION for d in decisions)
    assert decisions[0].basis[0]["label"] == praise.reference


def test_a_closed_complaint_commends_nobody(tree, bj_agent, bj_staff):
    case = case_create(
        actor=bj_agent,
        kind=CaseKind.COMPLAINT,
        channel=Channel.PHONE,
        subject="Fee",
        description="Charged twice.",
        contact_name="Zhao",
        department=tree["bj_team"],
    ).case
    case.staff_involved.add(bj_staff)
    deliver(emit_now("case.closed", {"case_id": case.pk}))
    assert not Decision.objects.exists()
