"""Demo decisions, made through the services as people would: the demo agent's late handling
40 days ago, confirmed by compliance, proposed by the branch supervisor as the rulebook
recommends and approved by compliance (the agent sees it under "My decisions", with the rule,
the steps and the appeal deadline); a second, recent one proposed and waiting in compliance's
approval queue; and a commendation for the agent waiting for approval."""

from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

from servicecharter.accounts.models import User
from servicecharter.discipline import decisions
from servicecharter.discipline.choices import DecisionKind, Measure, ViolationSource
from servicecharter.discipline.models import Decision, ViolationType
from servicecharter.discipline.violations import violation_confirm, violation_record

LATE_HANDLING = "late_handling"


@dataclass
class DecisionsSummary:
    in_force: int = 0
    awaiting_approval: int = 0


def _violation(*, agent, reviewer, days_ago: int, number: int):
    violation, _created = violation_record(
        vtype=ViolationType.objects.get(code=LATE_HANDLING),
        staff=agent.staff,
        source=ViolationSource.MANUAL,
        source_key=f"demo:late_handling:{number}",
        occurred_at=timezone.now() - timedelta(days=days_ago),
        summary=_("A complaint answered after its deadline (demo)"),
        evidence=[],
    )
    return violation_confirm(actor=reviewer, violation=violation, note=_("Demo: the facts hold."))


def decisions_seed() -> DecisionsSummary | None:
    """Once: nothing is made when decisions exist already or a demo account is missing."""
    accounts = {
        user.username: user
        for user in User.objects.filter(username__in=["agent", "supervisor", "compliance"])
    }
    if Decision.objects.exists() or len(accounts) < 3 or accounts["agent"].staff is None:
        return None
    if not ViolationType.objects.filter(code=LATE_HANDLING).exists():
        return None
    agent, supervisor, compliance = (
        accounts["agent"],
        accounts["supervisor"],
        accounts["compliance"],
    )
    summary = DecisionsSummary()
    first = _violation(agent=agent, reviewer=compliance, days_ago=40, number=1)
    proposal = decisions.decision_propose(actor=supervisor, violation=first)
    decisions.decision_approve(
        actor=compliance, decision=proposal, note=_("Demo: as the rulebook recommends.")
    )
    summary.in_force += 1
    second = _violation(agent=agent, reviewer=compliance, days_ago=5, number=2)
    decisions.decision_propose(actor=supervisor, violation=second)
    decisions.decision_propose_direct(
        actor=supervisor,
        kind=DecisionKind.REWARD,
        measure=Measure.COMMENDATION,
        staff=agent.staff,
        reason=_("Demo: praised by customers for patience."),
    )
    summary.awaiting_approval += 2
    return summary
