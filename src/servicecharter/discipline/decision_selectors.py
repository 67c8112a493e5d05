"""Reads of decisions and appeals, scoped to the caller.

A decision is seen by those holding VIEW_DISCIPLINE for its department, and by the employee
it concerns once it is decided (an employee never sees a proposal still being weighed, nor a
rejected or withdrawn one). A decision outside that answers 404 exactly like one that does not
exist, and a guess at an existing one is recorded.
"""

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404

from servicecharter.accounts import permissions as perms
from servicecharter.accounts.scoping import scope_q
from servicecharter.core.audit import audit_refusal
from servicecharter.discipline.choices import AppealState, DecisionState
from servicecharter.discipline.models import Appeal, Decision, DecisionApproval, LedgerEntry

DECISION_RELATED = (
    "staff__department",
    "department",
    "violation__type",
    "recommended_rule",
    "rulebook_version__rulebook",
    "proposed_by",
    "appeal",
)


def own_decisions_q(user) -> Q:
    staff_id = getattr(user, "staff_id", None)
    if staff_id is None:
        return Q(pk__in=[])
    return Q(staff_id=staff_id, state=DecisionState.APPROVED)


def decision_list_for_user(*, user) -> QuerySet:
    """Every decision the caller may read, newest proposal first."""
    visible = scope_q(user, perms.VIEW_DISCIPLINE) | own_decisions_q(user)
    return (
        Decision.objects.filter(visible)
        .select_related(*DECISION_RELATED)
        .order_by("-proposed_at", "-pk")
    )


def decision_get_for_user(*, user, pk: int) -> Decision:
    try:
        return decision_list_for_user(user=user).get(pk=pk)
    except Decision.DoesNotExist:
        if Decision.objects.filter(pk=pk).exists():
            audit_refusal(
                reason="out_of_scope",
                object_type="discipline.decision",
                object_id=str(pk),
                details={"capability": perms.VIEW_DISCIPLINE},
            )
        raise Http404 from None


def my_decisions(*, user) -> QuerySet:
    """The decisions in force about the caller's own staff record, newest first."""
    return (
        Decision.objects.filter(own_decisions_q(user))
        .select_related(*DECISION_RELATED)
        .order_by("-decided_at", "-pk")
    )


def approval_queue(*, user) -> QuerySet:
    """Proposals awaiting approval in the caller's APPROVE_DECISIONS scope, excluding their own
    proposals, decisions about themselves and those they have already approved; oldest first."""
    voted = DecisionApproval.objects.filter(decision=OuterRef("pk"), approver=user)
    rows = Decision.objects.filter(
        scope_q(user, perms.APPROVE_DECISIONS), state=DecisionState.PROPOSED
    ).exclude(proposed_by=user)
    if getattr(user, "staff_id", None) is not None:
        rows = rows.exclude(staff_id=user.staff_id)
    return (
        rows.exclude(Exists(voted))
        .select_related(*DECISION_RELATED)
        .prefetch_related("approvals__approver")
        .order_by("proposed_at", "pk")
    )


def appeal_queue(*, user) -> QuerySet:
    """Open appeals in the caller's DECIDE_APPEALS scope that the caller took no part in."""
    took_part = DecisionApproval.objects.filter(decision=OuterRef("decision"), approver=user)
    rows = (
        Appeal.objects.filter(
            scope_q(user, perms.DECIDE_APPEALS, "decision__department"), state=AppealState.OPEN
        )
        .exclude(decision__proposed_by=user)
        .exclude(filed_by=user)
        .exclude(Exists(took_part))
    )
    if getattr(user, "staff_id", None) is not None:
        rows = rows.exclude(decision__staff_id=user.staff_id)
    return rows.select_related(
        "decision__staff", "decision__department", "decision__violation__type", "filed_by"
    ).order_by("filed_at", "pk")


def appeal_get_for_user(*, user, pk: int) -> Appeal:
    """An appeal whose decision the caller may read; 404 otherwise."""
    appeal = Appeal.objects.select_related("decision").filter(pk=pk).first()
    if appeal is None:
        raise Http404
    decision_get_for_user(user=user, pk=appeal.decision_id)
    return appeal


def ledger_of(decision: Decision) -> QuerySet:
    """The decision's timeline, and its violation's, oldest first."""
    condition = Q(decision=decision)
    if decision.violation_id is not None:
        condition |= Q(violation_id=decision.violation_id, decision__isnull=True)
    return LedgerEntry.objects.filter(condition).select_related("actor").order_by("at", "pk")


def approvals_of(decision: Decision) -> list[DecisionApproval]:
    return list(decision.approvals.select_related("approver").order_by("at", "pk"))
