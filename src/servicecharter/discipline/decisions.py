"""Decisions (sanctions and rewards), their four-eyes approval, the employee's acknowledgement
and appeal: the writes, one transaction each, audited, with a ledger row per state change.

The life of a decision::

    proposed ──approve (enough approvers)──▶ approved ──(appeal)──▶ upheld / reduced / overturned
        │ └─reject──▶ rejected
        └─withdraw (the proposer)──▶ withdrawn

Who may do what, and why:

- **Proposing** a sanction needs PROPOSE_DECISIONS over the employee's department, a
  *confirmed* violation with no live (proposed or approved) decision, and never one's own
  violation. The rulebook's recommendation is computed and stored beside the proposal (rule,
  measure, amount, the reasoning step by step). A different measure or amount is a
  *deviation*: it needs a written reason and is counted against the proposer in the fairness
  report. Where the jurisdiction replaces fines by a reduction of performance pay, a fine is
  proposed as one (not a deviation); where fines are disabled, a fine is refused.
- **Approving** needs APPROVE_DECISIONS over the department, and the approver is never the
  proposer nor the employee concerned. Demotion and dismissal need one approver holding the HR
  role and another holding the compliance role there; a second approver in the same role adds
  nothing and is refused. A proposal made by the system (rewards from a closed period or a
  praise case, see ``reward_subscribers``) is proposed by the inactive service account
  ``SYSTEM_USERNAME``, so it needs *two* human approvers: four eyes stay two people.
- **Lawful limits**: a fine or pay reduction is checked with every other approved deduction of
  the same employee in the same wage month, against their base wage (``limits.check_deduction``),
  already when proposed and again when approved (another may have been approved meanwhile).
  A breach is refused with the limit and the excess in the message.
- On the final approval the decision is in force: it counts as a prior until
  ``in_force_until`` (the rule's months), may be appealed until ``appeal_until`` (the
  rulebook version's ``appeal_days``, default 15), and the employee is told in the system and
  by mail (kind ``discipline.decision``, mandatory).
- **Appeals** are filed by the employee alone, inside the window, once. They are decided by
  someone holding DECIDE_APPEALS who took no part: not the proposer, not an approver, not the
  employee. *Reduced* replaces the measure (and amount) by a lesser one, recorded in the
  ledger; *overturned* ends the decision's force the day it is decided: it no longer counts
  as a prior (``counts_as_prior_q``) nor towards the month's deductions.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from servicecharter.accounts import permissions as perms
from servicecharter.accounts.choices import Role
from servicecharter.accounts.models import User
from servicecharter.accounts.scoping import has_capability
from servicecharter.core.audit import audit_record
from servicecharter.core.events import emit
from servicecharter.core.notifications import notify, register_kind
from servicecharter.core.templatetags.formatting import localdatetime
from servicecharter.discipline import limits as lawful
from servicecharter.discipline.choices import (
    DEDUCTIONS,
    NEEDS_HR_AND_COMPLIANCE,
    REWARDS,
    SANCTION_LADDER,
    SANCTIONS,
    AppealState,
    DecisionKind,
    DecisionState,
    FinePolicy,
    LedgerKind,
    Measure,
    ViolationState,
)
from servicecharter.discipline.models import (
    Appeal,
    Decision,
    DecisionApproval,
    LedgerEntry,
    Violation,
)
from servicecharter.org.models import Staff, path_and_ancestors

register_kind(
    "discipline.decision",
    gettext_lazy("A sanction or reward about me is decided, or my appeal"),
    mandatory=True,
)

register_kind(
    "discipline.awaiting_approval", gettext_lazy("A proposed sanction or reward awaits my approval")
)

SYSTEM_USERNAME = "discipline-system"
DEFAULT_APPEAL_DAYS = 15
DEFAULT_IN_FORCE_MONTHS = 12
LIVE_STATES = (DecisionState.PROPOSED, DecisionState.APPROVED)
APPROVER_ROLES = (Role.HR, Role.COMPLIANCE, Role.EXECUTIVE)
# What a department (no single employee) can be given.
DEPARTMENT_SANCTIONS = frozenset(
    {Measure.VERBAL_WARNING, Measure.WRITTEN_WARNING, Measure.REMEDIAL_TRAINING}
)
ZERO = Decimal(0)
CENT = Decimal("0.01")


class DecisionRefused(ValidationError):
    """The decision's state or the four-eyes rules forbid the step (approving one's own
    proposal, a second compliance approval of a demotion, a limit broken). A ValidationError,
    so forms show it and the API answers 409."""


# =============================================================================================
# Small helpers
# =============================================================================================


def system_user() -> User:
    """The service account that proposes what the system finds (rewards). It cannot sign in."""
    user, created = User.objects.get_or_create(
        username=SYSTEM_USERNAME, defaults={"is_active": False, "first_name": "Service Charter"}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def is_system(user) -> bool:
    return user is not None and user.get_username() == SYSTEM_USERNAME


def is_the_employee(user, decision: Decision) -> bool:
    return decision.staff_id is not None and getattr(user, "staff_id", None) == decision.staff_id


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)  # pragma: no cover - unreachable


def parse_amount(value) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        amount = Decimal(str(value)).quantize(CENT)
    except (InvalidOperation, ValueError):
        raise ValidationError({"amount": _("Enter an amount of money.")}) from None
    if amount < 0:
        raise ValidationError({"amount": _("An amount cannot be negative.")})
    return amount


def _ledger(kind: str, *, actor, decision: Decision, at, **data) -> LedgerEntry:
    return LedgerEntry.objects.create(
        at=at,
        kind=kind,
        actor=actor if actor is not None and actor.pk else None,
        violation_id=decision.violation_id,
        decision=decision,
        data=data,
    )


def _lock(decision: Decision) -> Decision:
    return (
        Decision.objects.select_for_update(of=("self",))
        .select_related("staff", "department", "rulebook_version", "recommended_rule", "violation")
        .get(pk=decision.pk)
    )


def approver_roles_over(user, department) -> set[str]:
    """The roles, among those that approve decisions, that ``user`` holds over ``department``."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return set()
    return {
        role
        for role, path in user.role_grants.values_list("role", "department__path")
        if role in APPROVER_ROLES
        and perms.APPROVE_DECISIONS in perms.ROLE_CAPABILITIES.get(role, ())
        and department.path.startswith(path)
    }


# =============================================================================================
# The lawful limits of a deduction
# =============================================================================================


def _rulebook_services():
    # Imported late: the rulebook module is written beside this one and reads the database.
    from servicecharter.discipline import rulebook_services

    return rulebook_services


def limits_of(staff) -> lawful.Limits:
    services = _rulebook_services()
    return services.limits_for(services.jurisdiction_of(staff))


def counts_as_deduction_q() -> Q:
    """Approved deductions still owed: an overturned one no longer takes money."""
    return Q(state=DecisionState.APPROVED, measure__in=sorted(DEDUCTIONS)) & ~Q(
        appeal__state=AppealState.OVERTURNED
    )


def deducted_in_month(staff, month: date, *, excluding: int | None = None) -> Decimal:
    """All approved deductions of ``staff`` in the wage month of ``month``."""
    rows = Decision.objects.filter(
        counts_as_deduction_q(), staff=staff, deduction_month=month_start(month)
    )
    if excluding is not None:
        rows = rows.exclude(pk=excluding)
    return rows.aggregate(total=Sum("amount"))["total"] or ZERO


def limit_breaches(
    *, staff, measure: str, amount, month: date | None, excluding: int | None = None
) -> list[lawful.LimitBreach]:
    """The limits a deduction would break with the month's other approved deductions."""
    if staff is None or measure not in DEDUCTIONS:
        return []
    month = month_start(month or timezone.localdate())
    return lawful.check_deduction(
        limits=limits_of(staff),
        monthly_wage=staff.base_wage,
        already_deducted=deducted_in_month(staff, month, excluding=excluding),
        measure=measure,
        amount=amount,
    )


def _refuse_breaches(breaches: list[lawful.LimitBreach]) -> None:
    if breaches:
        raise DecisionRefused(
            {"amount": [breach.message for breach in breaches]}, code="lawful_limit"
        )


def lawful_measure(staff, measure: str) -> tuple[str, dict | None]:
    """A fine where the jurisdiction replaces fines becomes a pay reduction (with the step
    that says so); where fines are disabled it is refused."""
    if measure != Measure.FINE or staff is None:
        return measure, None
    policy = limits_of(staff).fine_policy
    if policy == FinePolicy.PAY_REDUCTION:
        return Measure.PAY_REDUCTION, {"code": "fine_as_pay_reduction"}
    if policy == FinePolicy.DISABLED:
        raise ValidationError({"measure": _("Fines are not allowed in this jurisdiction.")})
    return measure, None


# =============================================================================================
# Proposing
# =============================================================================================


@dataclass(frozen=True)
class Proposal:
    """What the rulebook recommends for a violation, as a form pre-fills it, with the lawful
    measure and the limits a deduction of the recommended amount would break."""

    version: object
    recommendation: object
    measure: str
    amount: Decimal | None
    conversion: dict | None
    breaches: list


def recommendation_for(*, violation: Violation, factors=()) -> Proposal:
    version, recommendation = _rulebook_services().violation_recommend(
        violation=violation, factors=tuple(factors)
    )
    measure, conversion = recommendation.measure, None
    try:
        measure, conversion = lawful_measure(violation.staff, recommendation.measure)
    except ValidationError:
        # Fines disabled: the form shows the recommendation; the decider must choose another.
        conversion = {"code": "fines_disabled"}
    breaches = limit_breaches(
        staff=violation.staff, measure=measure, amount=recommendation.amount, month=None
    )
    return Proposal(version, recommendation, measure, recommendation.amount, conversion, breaches)


def may_propose_for(user, violation: Violation) -> bool:
    return (
        violation.state == ViolationState.CONFIRMED
        and has_capability(user, perms.PROPOSE_DECISIONS, violation.staff.department)
        and getattr(user, "staff_id", None) != violation.staff_id
    )


def _check_may_propose(actor, violation: Violation) -> None:
    if getattr(actor, "staff_id", None) == violation.staff_id:
        raise PermissionDenied(_("Nobody may propose a decision about themselves."))
    if not has_capability(actor, perms.PROPOSE_DECISIONS, violation.staff.department):
        raise PermissionDenied
    if violation.state != ViolationState.CONFIRMED:
        raise DecisionRefused(_("Only a confirmed violation can be sanctioned."))
    if Decision.objects.filter(violation=violation, state__in=LIVE_STATES).exists():
        raise DecisionRefused(_("This violation already has a decision proposed or in force."))


def deviates(*, measure, amount, recommended_measure, recommended_amount) -> bool:
    if measure != recommended_measure:
        return True
    return measure in DEDUCTIONS and (amount or ZERO) != (recommended_amount or ZERO)


@transaction.atomic
def decision_propose(
    *,
    actor,
    violation: Violation,
    measure: str | None = None,
    amount=None,
    factors=(),
    deviation_reason: str = "",
    reason: str = "",
    deduction_month: date | None = None,
) -> Decision:
    """Propose a sanction for a confirmed violation, pre-filled with the rulebook's
    recommendation; a different measure or amount needs ``deviation_reason``."""
    violation = (
        Violation.objects.select_for_update(of=("self",))
        .select_related("staff__department", "type")
        .get(pk=violation.pk)
    )
    _check_may_propose(actor, violation)
    staff = violation.staff
    proposal = recommendation_for(violation=violation, factors=factors)
    recommendation = proposal.recommendation
    chosen = measure or proposal.measure
    if chosen not in SANCTIONS and chosen != Measure.NONE:
        raise ValidationError({"measure": _("Choose a sanction (or no measure).")})
    chosen, conversion = lawful_measure(staff, chosen)
    amount = parse_amount(amount)
    if chosen in DEDUCTIONS:
        if amount is None and chosen == proposal.measure:
            amount = proposal.amount
        if not amount:
            raise ValidationError({"amount": _("A fine or pay reduction needs an amount.")})
    else:
        amount = None
    deviation_reason = (deviation_reason or "").strip()
    is_deviation = deviates(
        measure=chosen,
        amount=amount,
        recommended_measure=proposal.measure,
        recommended_amount=proposal.amount,
    )
    if is_deviation and not deviation_reason:
        raise ValidationError(
            {
                "deviation_reason": _(
                    "The rulebook recommends something else: write why you deviate from it."
                )
            }
        )
    month = month_start(deduction_month or timezone.localdate()) if chosen in DEDUCTIONS else None
    _refuse_breaches(limit_breaches(staff=staff, measure=chosen, amount=amount, month=month))
    explanation = recommendation.explanation
    for step in (proposal.conversion, conversion):
        if step and step not in explanation["steps"]:
            explanation["steps"].append(step)
    now = timezone.now()
    decision = Decision.objects.create(
        kind=DecisionKind.SANCTION,
        staff=staff,
        department=staff.department,
        violation=violation,
        rulebook_version=proposal.version,
        recommended_rule_id=recommendation.rule_id,
        recommended_measure=recommendation.measure,
        recommended_amount=recommendation.amount,
        explanation=explanation,
        factors=sorted(factors),
        measure=chosen,
        amount=amount,
        currency=staff.currency,
        deduction_month=month,
        demotion_grades=(recommendation.demotion_grades or 1)
        if chosen == Measure.DEMOTION
        else None,
        training=recommendation.training if chosen != Measure.NONE else "",
        is_deviation=is_deviation,
        deviation_reason=deviation_reason if is_deviation else "",
        reason=(reason or "").strip(),
        proposed_by=actor,
        proposed_at=now,
    )
    _ledger(
        LedgerKind.PROPOSED,
        actor=actor,
        decision=decision,
        at=now,
        measure=chosen,
        amount=None if amount is None else str(amount),
        recommended=recommendation.measure,
        deviation=is_deviation,
    )
    audit_record(
        action="decision.propose",
        obj=decision,
        changes={
            "violation": violation.pk,
            "measure": [None, chosen],
            "amount": [None, amount],
            "recommended": recommendation.measure,
            "rule": recommendation.rule_code,
            "deviation": is_deviation,
        },
    )
    _notify_approvers(decision)
    return decision


def _check_reward_target(actor, *, kind, measure, staff, department) -> None:
    if kind == DecisionKind.REWARD and measure not in REWARDS:
        raise ValidationError({"measure": _("Choose a reward: a commendation or a bonus.")})
    if kind == DecisionKind.SANCTION and (staff is not None or measure not in DEPARTMENT_SANCTIONS):
        # Sanctions on one employee come only from a confirmed violation.
        raise ValidationError(
            {"measure": _("A department can be given a warning or remedial training.")}
        )
    if staff is not None and getattr(actor, "staff_id", None) == staff.pk:
        raise PermissionDenied(_("Nobody may propose a decision about themselves."))
    if not is_system(actor) and not has_capability(actor, perms.PROPOSE_DECISIONS, department):
        raise PermissionDenied


@transaction.atomic
def decision_propose_direct(
    *,
    actor,
    kind: str,
    measure: str,
    reason: str,
    staff=None,
    department=None,
    amount=None,
    basis=(),
) -> Decision:
    """Propose a reward for an employee, or a reward or penalty for a whole department
    (``staff`` empty), resting on ``basis`` (a scorecard, praise cases, a review)."""
    if staff is not None:
        department = staff.department
    if department is None:
        raise ValidationError({"department": _("Choose an employee or a department.")})
    _check_reward_target(actor, kind=kind, measure=measure, staff=staff, department=department)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Write what the decision rests on.")})
    amount = parse_amount(amount) if measure == Measure.BONUS else None
    if measure == Measure.BONUS and not amount:
        raise ValidationError({"amount": _("A bonus needs an amount.")})
    now = timezone.now()
    decision = Decision.objects.create(
        kind=kind,
        staff=staff,
        department=department,
        basis=list(basis),
        measure=measure,
        recommended_measure=measure,
        amount=amount,
        currency=getattr(staff, "currency", "CNY"),
        reason=reason,
        proposed_by=actor,
        proposed_at=now,
    )
    _ledger(LedgerKind.PROPOSED, actor=actor, decision=decision, at=now, measure=measure)
    audit_record(
        action="decision.propose",
        obj=decision,
        changes={"kind": kind, "measure": [None, measure], "amount": [None, amount]},
    )
    _notify_approvers(decision)
    return decision


def approvers_for(decision: Decision):
    """Active people who may approve ``decision``: an approving role granted on its department
    or above it; never the proposer nor the employee concerned."""
    above = path_and_ancestors(decision.department.path)
    return (
        User.objects.filter(
            is_active=True,
            role_grants__role__in=perms.roles_with(perms.APPROVE_DECISIONS),
            role_grants__department__path__in=above,
        )
        .exclude(pk=decision.proposed_by_id)
        .exclude(staff_id__isnull=False, staff_id=decision.staff_id)
        .distinct()
    )


def _notify_approvers(decision: Decision) -> None:
    url = reverse("discipline:decision_detail", args=[decision.pk])
    for approver in approvers_for(decision):
        notify(
            recipient=approver,
            kind="discipline.awaiting_approval",
            subject=gettext_lazy("A proposal awaits your approval"),
            body=decision.get_measure_display,
            url=url,
        )


@transaction.atomic
def decision_withdraw(*, actor, decision: Decision, reason: str = "") -> Decision:
    decision = _lock(decision)
    if decision.proposed_by_id != actor.pk:
        raise PermissionDenied(_("Only the proposer may withdraw a proposal."))
    if decision.state != DecisionState.PROPOSED:
        raise DecisionRefused(_("Only a proposal awaiting approval can be withdrawn."))
    now = timezone.now()
    decision.state = DecisionState.WITHDRAWN
    decision.decided_at = now
    decision.save(update_fields=["state", "decided_at", "updated_at"])
    _ledger(LedgerKind.WITHDRAWN, actor=actor, decision=decision, at=now, reason=reason)
    audit_record(
        action="decision.withdraw",
        obj=decision,
        changes={"state": [DecisionState.PROPOSED, DecisionState.WITHDRAWN], "reason": reason},
    )
    return decision


# =============================================================================================
# Four eyes
# =============================================================================================


def required_roles(decision: Decision) -> set[str]:
    return {Role.HR, Role.COMPLIANCE} if decision.measure in NEEDS_HR_AND_COMPLIANCE else set()


def required_count(decision: Decision) -> int:
    """Two humans always look: a system proposal needs two approvers, so do the two roles."""
    if required_roles(decision) or is_system(decision.proposed_by):
        return 2
    return 1


def approval_complete(decision: Decision, approvals: list[DecisionApproval]) -> bool:
    given = [approval for approval in approvals if approval.approved]
    roles = {approval.role for approval in given}
    return len(given) >= required_count(decision) and required_roles(decision) <= roles


def _approval_role(actor, decision: Decision, given: list[DecisionApproval]) -> str:
    """The role the actor approves in; refused when their approval could not count."""
    held = approver_roles_over(actor, decision.department)
    if not held:
        raise PermissionDenied
    needed = required_roles(decision)
    if not needed:
        return sorted(held)[0]
    missing = needed - {approval.role for approval in given}
    usable = held & missing
    if not usable:
        raise DecisionRefused(
            _(
                "A demotion or dismissal needs one approver from HR and one from compliance; "
                "%(roles)s has already approved."
            )
            % {"roles": ", ".join(sorted(str(Role(role).label) for role in held & needed))}
            if held & needed
            else _("A demotion or dismissal needs one approver from HR and one from compliance.")
        )
    return sorted(usable)[0]


def check_may_approve(actor, decision: Decision) -> None:
    """Who may say yes or no (the reasons, translated, in the exception)."""
    if decision.state != DecisionState.PROPOSED:
        raise DecisionRefused(_("This decision is no longer awaiting approval."))
    if decision.proposed_by_id == actor.pk:
        raise DecisionRefused(_("The proposer cannot approve their own proposal."))
    if is_the_employee(actor, decision):
        raise DecisionRefused(_("Nobody may approve a decision about themselves."))
    if not has_capability(actor, perms.APPROVE_DECISIONS, decision.department):
        raise PermissionDenied
    if decision.approvals.filter(approver=actor).exists():
        raise DecisionRefused(_("You have already given your approval."))


def may_approve(user, decision: Decision) -> bool:
    try:
        check_may_approve(user, decision)
        _approval_role(user, decision, list(decision.approvals.all()))
    except (DecisionRefused, PermissionDenied):
        return False
    return True


def _in_force_until(decision: Decision, decided: date) -> date | None:
    if decision.kind != DecisionKind.SANCTION or decision.measure == Measure.NONE:
        return None
    rule = decision.recommended_rule
    months = rule.in_force_months if rule is not None else DEFAULT_IN_FORCE_MONTHS
    return add_months(decided, months)


def _appeal_days(decision: Decision) -> int:
    version = decision.rulebook_version
    return version.appeal_days if version is not None else DEFAULT_APPEAL_DAYS


def _notify_decided(decision: Decision) -> bool:
    recipient = User.objects.filter(staff_id=decision.staff_id, is_active=True).first()
    if decision.staff_id is None or recipient is None:
        return False
    measure = decision.get_measure_display
    if decision.kind == DecisionKind.REWARD:
        subject = gettext_lazy("You have received a reward")
    else:
        subject = gettext_lazy("A decision about you: please read and acknowledge it")

    def body() -> str:
        text = _("Decided: %(measure)s.") % {"measure": measure()}
        if decision.appeal_until:
            # On a line of its own: a date in English ends with "a.m." and takes no full stop.
            text += "\n" + _("Deadline for an appeal: %(until)s") % {
                "until": localdatetime(decision.appeal_until)
            }
        return text

    notify(
        recipient=recipient,
        kind="discipline.decision",
        subject=subject,
        body=body,
        url=reverse("discipline:my_decisions") + f"#decision-{decision.pk}",
    )
    return True


def _finalise(decision: Decision, *, actor, now) -> None:
    decision.state = DecisionState.APPROVED
    decision.decided_at = now
    decision.in_force_until = _in_force_until(decision, timezone.localdate(now))
    if decision.kind == DecisionKind.SANCTION and decision.staff_id is not None:
        decision.appeal_until = now + timedelta(days=_appeal_days(decision))
    if _notify_decided(decision):
        decision.notified_at = now
    decision.save(
        update_fields=[
            "state",
            "decided_at",
            "in_force_until",
            "appeal_until",
            "notified_at",
            "updated_at",
        ]
    )
    _ledger(
        LedgerKind.APPROVED,
        actor=actor,
        decision=decision,
        at=now,
        measure=decision.measure,
        amount=None if decision.amount is None else str(decision.amount),
        in_force_until=_text(decision.in_force_until),
        appeal_until=_text(decision.appeal_until),
    )
    if decision.notified_at:
        _ledger(LedgerKind.NOTIFIED, actor=None, decision=decision, at=now)
    emit(
        "decision.approved",
        {
            "decision_id": decision.pk,
            "kind": decision.kind,
            "measure": decision.measure,
            "staff_id": decision.staff_id,
            "department_id": decision.department_id,
        },
    )


@transaction.atomic
def decision_approve(*, actor, decision: Decision, note: str = "") -> Decision:
    """One approver's yes. The last needed approval puts the decision in force."""
    decision = _lock(decision)
    check_may_approve(actor, decision)
    given = list(decision.approvals.all())
    role = _approval_role(actor, decision, given)
    if decision.measure in DEDUCTIONS and decision.staff_id is not None:
        # Two deductions of one month approved at once must not both pass the cap: the
        # employee's row serialises them.
        Staff.objects.select_for_update().filter(pk=decision.staff_id).first()
    _refuse_breaches(
        limit_breaches(
            staff=decision.staff,
            measure=decision.measure,
            amount=decision.amount,
            month=decision.deduction_month,
            excluding=decision.pk,
        )
    )
    now = timezone.now()
    approval = DecisionApproval.objects.create(
        decision=decision, approver=actor, role=role, approved=True, note=note.strip(), at=now
    )
    _ledger(LedgerKind.APPROVAL, actor=actor, decision=decision, at=now, role=role)
    complete = approval_complete(decision, [*given, approval])
    if complete:
        _finalise(decision, actor=actor, now=now)
    audit_record(
        action="decision.approve",
        obj=decision,
        changes={
            "approval": {"role": role, "note": note.strip()},
            "state": [DecisionState.PROPOSED, decision.state],
        },
    )
    return decision


@transaction.atomic
def decision_reject(*, actor, decision: Decision, note: str) -> Decision:
    """One approver's no, with a reason: the proposal ends."""
    decision = _lock(decision)
    check_may_approve(actor, decision)
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": _("Write why the proposal is rejected.")})
    held = approver_roles_over(actor, decision.department)
    role = sorted(held)[0] if held else ""
    now = timezone.now()
    DecisionApproval.objects.create(
        decision=decision, approver=actor, role=role, approved=False, note=note, at=now
    )
    decision.state = DecisionState.REJECTED
    decision.decided_at = now
    decision.save(update_fields=["state", "decided_at", "updated_at"])
    _ledger(LedgerKind.REJECTED, actor=actor, decision=decision, at=now, role=role, note=note)
    audit_record(
        action="decision.reject",
        obj=decision,
        changes={"state": [DecisionState.PROPOSED, DecisionState.REJECTED], "note": note},
    )
    return decision


# =============================================================================================
# The employee: acknowledge, appeal
# =============================================================================================


@transaction.atomic
def decision_acknowledge(*, actor, decision: Decision) -> Decision:
    """The employee has read the decision (they may still appeal within the window)."""
    decision = _lock(decision)
    if not is_the_employee(actor, decision):
        raise PermissionDenied(_("Only the employee concerned acknowledges a decision."))
    if decision.state != DecisionState.APPROVED:
        raise DecisionRefused(_("Only a decision in force can be acknowledged."))
    if decision.acknowledged_at is not None:
        return decision
    now = timezone.now()
    decision.acknowledged_at = now
    decision.save(update_fields=["acknowledged_at", "updated_at"])
    _ledger(LedgerKind.ACKNOWLEDGED, actor=actor, decision=decision, at=now)
    audit_record(action="decision.acknowledge", obj=decision, changes={"acknowledged_at": now})
    return decision


def may_appeal(user, decision: Decision, now=None) -> bool:
    now = now or timezone.now()
    return (
        is_the_employee(user, decision)
        and decision.state == DecisionState.APPROVED
        and decision.kind == DecisionKind.SANCTION
        and decision.appeal_until is not None
        and now <= decision.appeal_until
        and not Appeal.objects.filter(decision=decision).exists()
    )


@transaction.atomic
def appeal_file(*, actor, decision: Decision, grounds: str) -> Appeal:
    decision = _lock(decision)
    if not is_the_employee(actor, decision):
        raise PermissionDenied(_("Only the employee concerned may appeal a decision."))
    if decision.state != DecisionState.APPROVED or decision.kind != DecisionKind.SANCTION:
        raise DecisionRefused(_("Only a sanction in force can be appealed."))
    if Appeal.objects.filter(decision=decision).exists():
        raise DecisionRefused(_("This decision has already been appealed."))
    now = timezone.now()
    if decision.appeal_until is None or now > decision.appeal_until:
        raise DecisionRefused(_("The time to appeal this decision has passed."))
    grounds = (grounds or "").strip()
    if not grounds:
        raise ValidationError({"grounds": _("Write the grounds of your appeal.")})
    appeal = Appeal.objects.create(decision=decision, filed_by=actor, filed_at=now, grounds=grounds)
    _ledger(LedgerKind.APPEALED, actor=actor, decision=decision, at=now, appeal=appeal.pk)
    audit_record(action="appeal.file", obj=appeal, changes={"decision": decision.pk})
    return appeal


def took_part(user, decision: Decision) -> bool:
    """The proposer, any approver (yes or no) and the employee took part in a decision."""
    return (
        decision.proposed_by_id == user.pk
        or is_the_employee(user, decision)
        or decision.approvals.filter(approver=user).exists()
    )


def check_may_decide_appeal(actor, appeal: Appeal) -> None:
    decision = appeal.decision
    if appeal.state != AppealState.OPEN:
        raise DecisionRefused(_("This appeal has already been decided."))
    if not has_capability(actor, perms.DECIDE_APPEALS, decision.department):
        raise PermissionDenied
    if took_part(actor, decision) or appeal.filed_by_id == actor.pk:
        raise DecisionRefused(
            _("An appeal is decided by someone who took no part in the decision.")
        )


def may_decide_appeal(user, appeal: Appeal) -> bool:
    try:
        check_may_decide_appeal(user, appeal)
    except (DecisionRefused, PermissionDenied):
        return False
    return True


def _ladder_rank(measure: str) -> int:
    from servicecharter.discipline.rulebook import LADDER_POSITION

    return LADDER_POSITION.get(measure, SANCTION_LADDER.index(Measure.NONE))


def _check_reduction(decision: Decision, measure: str, amount) -> Decimal | None:
    """A reduction is a lesser rung, or the same deduction for less money."""
    if not measure or (measure not in SANCTIONS and measure != Measure.NONE):
        raise ValidationError({"reduced_measure": _("Choose the lesser measure.")})
    if measure in DEDUCTIONS:
        amount = parse_amount(amount)
        if not amount:
            raise ValidationError({"reduced_amount": _("A fine or pay reduction needs an amount.")})
    else:
        amount = None
    same_rung = _ladder_rank(measure) == _ladder_rank(decision.measure)
    lesser = _ladder_rank(measure) < _ladder_rank(decision.measure) or (
        same_rung
        and measure in DEDUCTIONS
        and decision.measure in DEDUCTIONS
        and amount < (decision.amount or ZERO)
    )
    if not lesser:
        raise ValidationError(
            {"reduced_measure": _("A reduced decision must be milder than the original.")}
        )
    return amount


@transaction.atomic
def appeal_decide(
    *,
    actor,
    appeal: Appeal,
    outcome: str,
    reason: str,
    reduced_measure: str | None = None,
    reduced_amount=None,
) -> Appeal:
    appeal = (
        Appeal.objects.select_for_update(of=("self",)).select_related("decision").get(pk=appeal.pk)
    )
    decision = _lock(appeal.decision)
    appeal.decision = decision
    check_may_decide_appeal(actor, appeal)
    if outcome not in (AppealState.UPHELD, AppealState.REDUCED, AppealState.OVERTURNED):
        raise ValidationError({"outcome": _("Choose upheld, reduced or overturned.")})
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Write the reason for the outcome.")})
    now = timezone.now()
    before = {"measure": decision.measure, "amount": decision.amount}
    decision_fields = ["updated_at"]
    if outcome == AppealState.REDUCED:
        amount = _check_reduction(decision, reduced_measure, reduced_amount)
        appeal.reduced_measure, appeal.reduced_amount = reduced_measure, amount
        decision.measure, decision.amount = reduced_measure, amount
        if reduced_measure != Measure.DEMOTION:
            decision.demotion_grades = None
        if reduced_measure not in DEDUCTIONS:
            decision.deduction_month = None
        decision_fields += ["measure", "amount", "demotion_grades", "deduction_month"]
        if reduced_measure == Measure.NONE:
            decision.in_force_until = timezone.localdate(now) - timedelta(days=1)
            decision_fields.append("in_force_until")
    elif outcome == AppealState.OVERTURNED:
        # It stops counting as a prior (and as a deduction) from the day it is overturned.
        decision.in_force_until = timezone.localdate(now) - timedelta(days=1)
        decision_fields.append("in_force_until")
    decision.save(update_fields=decision_fields)
    appeal.state = outcome
    appeal.decided_by = actor
    appeal.decided_at = now
    appeal.outcome_reason = reason
    appeal.save()
    after = {"measure": decision.measure, "amount": decision.amount}
    _ledger(
        LedgerKind.APPEAL_DECIDED,
        actor=actor,
        decision=decision,
        at=now,
        outcome=outcome,
        reason=reason,
        before={"measure": before["measure"], "amount": _text(before["amount"])},
        after={"measure": after["measure"], "amount": _text(after["amount"])},
    )
    _notify_appeal(appeal)
    audit_record(
        action="appeal.decide",
        obj=appeal,
        changes={
            "state": [AppealState.OPEN, outcome],
            "measure": [before["measure"], after["measure"]],
            "amount": [before["amount"], after["amount"]],
            "reason": reason,
        },
    )
    return appeal


def _text(value) -> str | None:
    return None if value is None else str(value)


def _notify_appeal(appeal: Appeal) -> None:
    outcome = appeal.get_state_display
    notify(
        recipient=appeal.filed_by,
        kind="discipline.decision",
        subject=gettext_lazy("Your appeal has been decided"),
        body=lambda: _("Outcome: %(outcome)s.") % {"outcome": outcome()},
        url=reverse("discipline:my_decisions") + f"#decision-{appeal.decision_id}",
    )


# =============================================================================================
# Priors
# =============================================================================================


def counts_as_prior_q(on: date, prefix: str = "") -> Q:
    """Decisions that count as a prior on ``on``: approved sanctions with a measure, still in
    force, not overturned on appeal. ``prefix`` reaches a Decision from another model
    (``"decisions__"`` from a Violation)."""
    return (
        Q(
            **{
                f"{prefix}state": DecisionState.APPROVED,
                f"{prefix}kind": DecisionKind.SANCTION,
                f"{prefix}in_force_until__gte": on,
            }
        )
        & ~Q(**{f"{prefix}measure": Measure.NONE})
        & ~Q(**{f"{prefix}appeal__state": AppealState.OVERTURNED})
    )
