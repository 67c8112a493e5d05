"""The demo's discipline step: breaches from the branch's history become violations through
the event subscriber, and each handler's story is played through the services — a pay reduction
proposed, a written warning approved, acknowledged and appealed, one appealed and reduced, one
breach dismissed and one awaiting review — with a commendation and the rulebook acknowledged.

(The whole seed with it was run by hand: about a minute, too long for the suite.)"""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from servicecharter.accounts.choices import Role
from servicecharter.accounts.models import User
from servicecharter.cases import services as case_services
from servicecharter.cases.choices import CaseKind
from servicecharter.core.models import AuditEntry
from servicecharter.demo.discipline import discipline_report, discipline_seed
from servicecharter.demo.services import institution_seed
from servicecharter.discipline.choices import (
    AppealState,
    DecisionKind,
    DecisionState,
    LedgerKind,
    Measure,
    Severity,
    ViolationState,
)
from servicecharter.discipline.models import Decision, LedgerEntry, RulebookAcknowledgement
from servicecharter.org.choices import Channel
from servicecharter.org.models import Department, Staff
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

# Inside the default rulebook's validity (in force from 2026-01-01).
TODAY = datetime(2026, 9, 15, 9, 0, tzinfo=UTC)
# Handlers and how many of their complaints breached: the busiest gets the longest story.
HANDLERS = (("agent.bj-a", 3), ("agent.bj-b", 2), ("agent.bj-c", 2), ("agent.bj-d", 2))


def _handlers(branch: Department) -> dict[str, User]:
    staff = Staff.objects.filter(
        department__path__startswith=branch.path, status="active", user__isnull=True
    ).order_by("employee_number")
    return {
        username: make_user(username, Role.AGENT, member.department, staff=member)
        for (username, _count), member in zip(HANDLERS, staff, strict=False)
    }


def _breach(handler: User, received_at: datetime) -> None:
    """A complaint received at ``received_at`` and swept just after its deadline."""
    case = case_services.case_create(
        actor=handler,
        kind=CaseKind.COMPLAINT,
        channel=Channel.PHONE,
        subject="Statement copies not sent",
        description="Asked for six months of statements; nothing arrived.",
        contact_name="Li Lei",
        department=handler.staff.department,
        handler=handler,
        received_at=received_at,
    ).case
    assert case_services.sweep_deadlines(now=case.due_at + timedelta(minutes=1))["breached"] == 1


@pytest.fixture
def branch_history(db):
    """The demo institution (no cases), and four Beijing handlers whose complaints breached
    their deadlines over the summer, a week apart."""
    with time_machine.travel(TODAY, tick=False):
        institution_seed(seed=3, customers=50)
        branch = Department.objects.get(code="BJ")
        handlers = _handlers(branch)
        received = TODAY - timedelta(days=150)
        for username, count in HANDLERS:
            for _ in range(count):
                _breach(handlers[username], received)
                received += timedelta(days=7)
    return handlers


def test_each_handler_gets_a_story_through_the_services(branch_history):
    handlers = branch_history
    with time_machine.travel(TODAY + timedelta(days=1), tick=False):
        summary = discipline_seed()

    assert summary.stories == {
        "pay_reduction": "agent.bj-a",
        "appeal_open": "agent.bj-b",
        "appeal_decided": "agent.bj-c",
        "under_review": "agent.bj-d",
    }
    sanctions = {
        d.staff.user.username: d
        for d in Decision.objects.filter(kind=DecisionKind.SANCTION).select_related("staff__user")
    }
    # Three breaches: two priors, the rulebook's third rung, proposed and waiting.
    pay = sanctions["agent.bj-a"]
    assert (pay.measure, pay.state, pay.is_deviation) == (
        Measure.PAY_REDUCTION,
        DecisionState.PROPOSED,
        False,
    )
    assert pay.recommended_rule.code == "THIRD" and pay.amount > 0
    # Two breaches: a written warning approved by compliance, read, and appealed.
    warning = sanctions["agent.bj-b"]
    assert (warning.measure, warning.state) == (Measure.WRITTEN_WARNING, DecisionState.APPROVED)
    assert warning.recommended_rule.code == "SECOND" and warning.acknowledged_at is not None
    assert warning.appeal.state == AppealState.OPEN
    assert [a.approver.username for a in warning.approvals.all()] == ["compliance"]
    # Appealed and reduced by the executive, who took no part.
    reduced = sanctions["agent.bj-c"]
    assert (reduced.measure, reduced.recommended_measure) == (
        Measure.VERBAL_WARNING,
        Measure.WRITTEN_WARNING,
    )
    assert reduced.appeal.state == AppealState.REDUCED
    assert reduced.appeal.decided_by.username == "executive"
    assert "agent.bj-d" not in sanctions
    states = sorted(handlers["agent.bj-d"].staff.violations.values_list("state", flat=True))
    assert states == [ViolationState.DISMISSED, ViolationState.OPEN]

    # Every violation came from a breach event and was graded minor.
    violations = list(
        LedgerEntry.objects.filter(kind=LedgerKind.VIOLATION_RAISED).values_list(
            "violation__source", "violation__severity"
        )
    )
    assert len(violations) == 9
    assert set(violations) == {("case.deadline_breached", Severity.MINOR)}
    assert AuditEntry.objects.filter(action="violation.confirm").count() == 7
    assert AuditEntry.objects.filter(action="appeal.decide").count() == 1

    commendation = Decision.objects.get(measure=Measure.COMMENDATION)
    assert commendation.state == DecisionState.APPROVED
    assert commendation.staff_id not in {user.staff_id for user in handlers.values()}
    assert summary.acknowledgements == RulebookAcknowledgement.objects.count() > 4

    report = discipline_report(summary)
    assert "9 violations, 4 decisions, 2 appeals" in report
    assert "agent.bj-b: a written warning, acknowledged and appealed" in report

    with time_machine.travel(TODAY + timedelta(days=1), tick=False):
        assert discipline_seed() is None  # once
    assert Decision.objects.filter(kind=DecisionKind.SANCTION).count() == 3


def test_nothing_without_the_demo_accounts(db):
    assert discipline_seed(now=timezone.now()) is None
    assert not Decision.objects.exists()
