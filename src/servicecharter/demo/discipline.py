"""Demo discipline: violations, decisions and appeals of the Beijing branch's handlers, made
through the services as the people would, so the ledger, the audit trail and the pages are real.

The violations come from the demo's own history: a handful of deadline breaches recorded by
``demo.cases`` become ``case.deadline_breached`` events (with the key the sweep would give them)
and are delivered to the discipline subscriber, as the worker would deliver them. Only ordinary
breaches are chosen (little money at stake, no vulnerable customer, no critical case, nothing
taken to a regulator), so the rulebook grades them minor and its ladder reads plainly: a first
breach a verbal warning, a second a written warning, a third a pay reduction.

Per handler (the ``agent.bj-…`` accounts, same password as the demo accounts; the demo
``agent`` is left to ``demo.decisions``):

- three breaches confirmed, and a pay reduction proposed by the supervisor, awaiting approval;
- two confirmed, a written warning approved by compliance, acknowledged and appealed (open);
- two confirmed, a written warning approved by HR, appealed and reduced by the executive;
- two: one dismissed by compliance with the reason, one awaiting review.

Besides: a commendation proposed by the supervisor and approved by HR, a few auto-failed
evaluations delivered to the discipline subscriber (open violations for compliance), and the
rulebook in force acknowledged by most of the branch's accounts.
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from servicecharter.accounts.models import User
from servicecharter.cases.choices import EscalationTarget, TimelineKind
from servicecharter.cases.choices import Severity as CaseSeverity
from servicecharter.cases.models import TimelineEntry
from servicecharter.cases.services import breach_event
from servicecharter.core.events import emit_many
from servicecharter.core.models import Event
from servicecharter.core.services.events import deliver_due
from servicecharter.discipline import decisions
from servicecharter.discipline.choices import AppealState, DecisionKind, Measure
from servicecharter.discipline.models import Appeal, Decision, Violation
from servicecharter.discipline.rulebook_services import (
    rulebook_acknowledge,
    rulebook_version_in_force,
)
from servicecharter.discipline.subscribers import breach_violation_key
from servicecharter.discipline.violations import (
    MONEY_MODERATE,
    violation_confirm,
    violation_dismiss,
)
from servicecharter.org.models import Department, Staff

BRANCH = "BJ"
WORKER = "charter demo"
BREACHED = "case.deadline_breached"
AUTO_FAILED = "evaluation.auto_failed"
# Breaches each handler's story needs, in the order the handlers are given them.
STORIES = (("pay_reduction", 3), ("appeal_open", 2), ("appeal_decided", 2), ("under_review", 2))
AUTO_FAILED_DELIVERED = 3


@dataclass
class DisciplineSummary:
    violations: dict[str, int] = field(default_factory=dict)  # by state
    decisions: dict[str, int] = field(default_factory=dict)  # "<measure> <state>"
    appeals: dict[str, int] = field(default_factory=dict)  # by state
    acknowledgements: int = 0
    stories: dict[str, str] = field(default_factory=dict)  # story → username


@dataclass(frozen=True)
class People:
    supervisor: User
    compliance: User
    hr: User
    executive: User


def _people() -> People | None:
    names = ("supervisor", "compliance", "hr", "executive")
    found = {u.username: u for u in User.objects.filter(username__in=names, is_active=True)}
    if len(found) < len(names):
        return None
    return People(*(found[name] for name in names))


def _ordinary_breaches(branch: Department, since: datetime, until: datetime):
    """Breaches recorded in the branch's history that the rulebook grades minor."""
    return (
        TimelineEntry.objects.filter(
            kind=TimelineKind.BREACHED,
            at__gte=since,
            at__lt=until,
            case__department__path__startswith=branch.path,
            case__handler__staff__isnull=False,
            case__handler__username__startswith="agent.",
        )
        .filter(Q(case__money_at_stake__isnull=True) | Q(case__money_at_stake__lt=MONEY_MODERATE))
        .exclude(case__severity=CaseSeverity.CRITICAL)
        .exclude(case__escalated_to__in=(EscalationTarget.REGULATOR, EscalationTarget.OMBUDSMAN))
        .exclude(case__customer__is_vulnerable=True)
        .select_related("case__handler__staff")
        .order_by("at", "pk")
    )


def _breaches_by_handler(entries) -> list[tuple[User, list]]:
    """Handlers with their breaches (oldest first), the busiest first."""
    by_handler: dict[int, tuple[User, list]] = {}
    for entry in entries:
        handler = entry.case.handler
        by_handler.setdefault(handler.pk, (handler, []))[1].append(entry)
    return sorted(by_handler.values(), key=lambda item: (-len(item[1]), item[0].username))


def _breach_event(entry) -> tuple[dict, str]:
    """The event the sweep emitted, or would have emitted, for a recorded breach."""
    case = entry.case
    due_at = entry.data.get("due_at") or case.due_at.isoformat()
    return breach_event(case, due_at=due_at, breached_at=entry.at.isoformat())


def _violations_from(entries) -> list[Violation]:
    """Emit the breach events the sweep would have emitted (one it did emit is kept) and
    deliver them as the worker does; the discipline subscriber records the violations."""
    events = [_breach_event(entry) for entry in entries]
    emit_many(BREACHED, events)
    keys = [key for _payload, key in events]
    for event_id in Event.objects.filter(dedupe_key__in=keys).values_list("pk", flat=True):
        deliver_due(worker_id=WORKER, event_id=event_id)
    sources = [breach_violation_key(payload) for payload, _key in events]
    found = {v.source_key: v for v in Violation.objects.filter(source_key__in=sources)}
    return [found[key] for key in sources if key in found]


def _confirm_all(violations, people: People) -> None:
    for violation in violations:
        violation_confirm(
            actor=people.compliance,
            violation=violation,
            note=_("The case timeline shows the answer after the deadline (demo)."),
        )


def _story_pay_reduction(handler, violations, people: People) -> None:
    _confirm_all(violations, people)
    decisions.decision_propose(
        actor=people.supervisor,
        violation=violations[-1],
        reason=_("The third late answer this year (demo)."),
    )


def _approved_warning(handler, violations, people: People, approver: User):
    _confirm_all(violations, people)
    proposal = decisions.decision_propose(
        actor=people.supervisor,
        violation=violations[-1],
        reason=_("A second late answer inside the year (demo)."),
    )
    return decisions.decision_approve(
        actor=approver, decision=proposal, note=_("As the rulebook recommends (demo).")
    )


def _story_appeal_open(handler, violations, people: People) -> None:
    decision = _approved_warning(handler, violations, people, people.compliance)
    decisions.decision_acknowledge(actor=handler, decision=decision)
    decisions.appeal_file(
        actor=handler,
        decision=decision,
        grounds=_(
            "The customer asked for more time to send the documents; the emails are attached "
            "to the case (demo)."
        ),
    )


def _story_appeal_decided(handler, violations, people: People) -> None:
    decision = _approved_warning(handler, violations, people, people.hr)
    appeal = decisions.appeal_file(
        actor=handler,
        decision=decision,
        grounds=_("The case was handed to me two days before its deadline (demo)."),
    )
    decisions.appeal_decide(
        actor=people.executive,
        appeal=appeal,
        outcome=AppealState.REDUCED,
        reduced_measure=Measure.VERBAL_WARNING,
        reason=_("The late hand-over is confirmed by the case history: a verbal warning (demo)."),
    )


def _story_under_review(handler, violations, people: People) -> None:
    violation_dismiss(
        actor=people.compliance,
        violation=violations[0],
        note=_("The customer agreed to the extension by phone; it is in the case notes (demo)."),
    )
    # The newer one stays open, in compliance's queue.


STORY_STEPS = {
    "pay_reduction": _story_pay_reduction,
    "appeal_open": _story_appeal_open,
    "appeal_decided": _story_appeal_decided,
    "under_review": _story_under_review,
}


def _auto_failed_violations() -> None:
    """A few of the quality demo's auto-fail events delivered now; the worker delivers the
    rest when the demo runs."""
    events = Event.objects.filter(name=AUTO_FAILED, deliveries__state="pending").order_by("pk")
    for event_id in events.values_list("pk", flat=True).distinct()[:AUTO_FAILED_DELIVERED]:
        deliver_due(worker_id=WORKER, event_id=event_id)


def _commendation(branch: Department, people: People, busy: set[int]) -> None:
    staff = (
        Staff.objects.filter(department__path__startswith=branch.path, status="active")
        .exclude(pk__in=busy)
        .exclude(pk=people.supervisor.staff_id)
        .order_by("employee_number")
        .first()
    )
    if staff is None:
        return
    proposal = decisions.decision_propose_direct(
        actor=people.supervisor,
        kind=DecisionKind.REWARD,
        measure=Measure.COMMENDATION,
        staff=staff,
        reason=_("Praised by name in three customer surveys this quarter (demo)."),
    )
    decisions.decision_approve(actor=people.hr, decision=proposal, note=_("Well deserved (demo)."))


def _acknowledgements(branch: Department, version, skip: set[int]) -> int:
    """The rulebook in force read and acknowledged by the branch's accounts, except ``skip``
    (so the acknowledgement rate has someone missing)."""
    users = User.objects.filter(
        is_active=True, staff__department__path__startswith=branch.path
    ).exclude(pk__in=skip)
    count = 0
    for user in users.order_by("username"):
        rulebook_acknowledge(actor=user, version=version)
        count += 1
    return count


def _summarise(summary: DisciplineSummary) -> DisciplineSummary:
    summary.violations = dict(Counter(Violation.objects.values_list("state", flat=True)))
    summary.decisions = dict(
        Counter(f"{m} {s}" for m, s in Decision.objects.values_list("measure", "state"))
    )
    summary.appeals = dict(Counter(Appeal.objects.values_list("state", flat=True)))
    return summary


def discipline_seed(*, now: datetime | None = None) -> DisciplineSummary | None:
    """Once: nothing is made when breach violations exist already, or when the demo accounts,
    the Beijing branch or a rulebook in force are missing."""
    now = now or timezone.now()
    people = _people()
    branch = Department.objects.filter(code=BRANCH).first()
    version = rulebook_version_in_force(jurisdiction="CN", on=timezone.localdate(now))
    if people is None or branch is None or version is None:
        return None
    if Violation.objects.filter(source=BREACHED).exists():
        return None
    since = timezone.make_aware(datetime.combine(version.effective_from, datetime.min.time()))
    handlers = _breaches_by_handler(_ordinary_breaches(branch, since, now))
    summary = DisciplineSummary()
    busy: set[int] = set()
    for (story, needed), (handler, entries) in zip(STORIES, handlers, strict=False):
        if len(entries) < needed:
            continue
        violations = _violations_from(entries[-needed:])
        if len(violations) < needed:
            continue
        STORY_STEPS[story](handler, violations, people)
        summary.stories[story] = handler.username
        busy.add(handler.staff_id)
    _auto_failed_violations()
    _commendation(branch, people, busy)
    # One handler has not read the rulebook yet: the acknowledgement rate shows who is missing.
    missing = {handlers[-1][0].pk} if len(handlers) > len(STORIES) else set()
    summary.acknowledgements = _acknowledgements(branch, version, missing)
    return _summarise(summary)


def discipline_report(summary: DisciplineSummary) -> str:
    """One paragraph for `charter seed` / `charter demo`: what was made and whom to sign in as
    to see it (the handlers depend on the day of the seed, as the cases are re-dated)."""
    labels = {
        "pay_reduction": _("a pay reduction awaiting approval"),
        "appeal_open": _("a written warning, acknowledged and appealed"),
        "appeal_decided": _("an appeal decided: reduced to a verbal warning"),
        "under_review": _("a breach awaiting review, another dismissed"),
    }
    stories = "; ".join(
        f"{username}: {labels[story]}" for story, username in summary.stories.items()
    )
    text = _(
        "Demo discipline: %(violations)s violations, %(decisions)s decisions, %(appeals)s "
        "appeals. compliance reviews violations and approves; hr and executive decide appeals "
        "they took no part in; supervisor proposes for Beijing."
    ) % {
        "violations": sum(summary.violations.values()),
        "decisions": sum(summary.decisions.values()),
        "appeals": sum(summary.appeals.values()),
    }
    if stories:
        text += " " + _("Employees with a story under “My decisions”: %(stories)s.") % {
            "stories": stories
        }
    return text
