"""Reads of violations and rulebooks, scoped to the caller.

A violation is seen by those holding VIEW_DISCIPLINE for its department, and by the employee
it concerns (their own, on "my violations"). One outside that answers 404 exactly like one that
does not exist, and a guess at an existing one is recorded."""

from django.db.models import Q, QuerySet
from django.http import Http404

from servicecharter.accounts import permissions as perms
from servicecharter.accounts.scoping import scope_q
from servicecharter.core.audit import audit_refusal
from servicecharter.discipline.choices import ViolationState
from servicecharter.discipline.models import (
    LawfulLimits,
    LedgerEntry,
    Rulebook,
    RulebookVersion,
    Violation,
    ViolationType,
)

VIOLATION_RELATED = ("staff", "department", "type", "raised_by", "reviewed_by")


def violation_list_for_user(*, user) -> QuerySet:
    """The violations of the departments in the caller's VIEW_DISCIPLINE scope, newest first."""
    return (
        Violation.objects.filter(scope_q(user, perms.VIEW_DISCIPLINE))
        .select_related(*VIOLATION_RELATED)
        .order_by("-occurred_at", "-pk")
    )


def violation_queue(*, user, state="", type_code="", department=None, source="") -> QuerySet:
    """The list filtered as the queue page asks; unknown filter values are ignored."""
    rows = violation_list_for_user(user=user)
    if state in ViolationState.values:
        rows = rows.filter(state=state)
    if type_code:
        rows = rows.filter(type__code=type_code)
    if department is not None:
        rows = rows.filter(department__path__startswith=department.path)
    if source:
        rows = rows.filter(source=source)
    return rows


def _refused(pk) -> None:
    if Violation.objects.filter(pk=pk).exists():
        audit_refusal(
            reason="out_of_scope",
            object_type="discipline.violation",
            object_id=str(pk),
            details={"capability": perms.VIEW_DISCIPLINE},
        )


def violation_get_for_user(*, user, pk: int) -> Violation:
    try:
        return violation_list_for_user(user=user).get(pk=pk)
    except Violation.DoesNotExist:
        _refused(pk)
        raise Http404 from None


def own_violations_q(user) -> Q:
    staff_id = getattr(user, "staff_id", None)
    if staff_id is None:
        return Q(pk__in=[])
    return Q(staff_id=staff_id)


def my_violations(*, user) -> QuerySet:
    """The caller's own violations (their staff record only), newest first."""
    return (
        Violation.objects.filter(own_violations_q(user))
        .select_related(*VIOLATION_RELATED)
        .order_by("-occurred_at", "-pk")
    )


def my_violation_get(*, user, pk: int) -> Violation:
    try:
        return my_violations(user=user).get(pk=pk)
    except Violation.DoesNotExist:
        _refused(pk)
        raise Http404 from None


def ledger_of(violation: Violation) -> QuerySet:
    return (
        LedgerEntry.objects.filter(violation=violation).select_related("actor").order_by("at", "pk")
    )


def violation_types() -> QuerySet:
    return ViolationType.objects.filter(is_active=True).order_by("category", "code")


def rulebooks() -> QuerySet:
    return Rulebook.objects.order_by("code")


def rulebook_versions(*, rulebook=None) -> QuerySet:
    rows = RulebookVersion.objects.select_related(
        "rulebook", "approved_by", "published_by", "created_by"
    ).order_by("rulebook__code", "-number")
    return rows.filter(rulebook=rulebook) if rulebook is not None else rows


def rulebook_version_get(*, pk: int) -> RulebookVersion:
    """Rulebooks are published to every employee: any signed-in user may read any version
    (drafts only through the editor, which checks MANAGE_RULEBOOK)."""
    try:
        return rulebook_versions().get(pk=pk)
    except RulebookVersion.DoesNotExist:
        raise Http404 from None


def lawful_limits() -> QuerySet:
    return LawfulLimits.objects.order_by("jurisdiction")
