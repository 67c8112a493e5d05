"""Scoped reads of periods and scorecards. Who sees what:

- an employee (``user.staff``) always sees their own scorecards, with no capability;
- VIEW_ASSESSMENT sees the staff and department scorecards of the departments in its scope;
- only MANAGE_ASSESSMENT sees a period before it is closed (computed, under review): everyone
  else sees closed periods only.

A scorecard outside what the caller may see answers 404, exactly like one that does not exist
(and the attempt is recorded)."""

from django.db.models import Q, QuerySet
from django.http import Http404

from servicecharter.accounts import permissions as perms
from servicecharter.accounts.scoping import has_capability, scope_q
from servicecharter.assessment.choices import PeriodKind, PeriodState
from servicecharter.assessment.models import (
    DepartmentScorecard,
    Period,
    Scheme,
    StaffScorecard,
)
from servicecharter.core.audit import audit_refusal
from servicecharter.org.models import Staff

TREND_PERIODS = 12


def may_manage(user) -> bool:
    return has_capability(user, perms.MANAGE_ASSESSMENT)


def period_list_for_user(*, user) -> QuerySet[Period]:
    periods = Period.objects.select_related("scheme", "scheme_version")
    if may_manage(user):
        return periods
    return periods.filter(state=PeriodState.CLOSED)


def period_get_for_user(*, user, pk: int) -> Period:
    period = period_list_for_user(user=user).filter(pk=pk).first()
    if period is None:
        raise Http404
    return period


def _own_or_scope(user) -> Q:
    own = Q(staff_id=user.staff_id) if getattr(user, "staff_id", None) else Q(pk__in=[])
    return own | scope_q(user, perms.VIEW_ASSESSMENT)


def staff_scorecards_for_user(*, user, period: Period) -> QuerySet[StaffScorecard]:
    return (
        StaffScorecard.objects.filter(period=period)
        .filter(_own_or_scope(user))
        .select_related("staff", "department")
    )


def staff_scorecard_get_for_user(*, user, pk: int) -> StaffScorecard:
    card = (
        StaffScorecard.objects.filter(pk=pk, period__in=period_list_for_user(user=user))
        .filter(_own_or_scope(user))
        .select_related("staff", "department", "period", "period__scheme_version")
        .first()
    )
    if card is None:
        if StaffScorecard.objects.filter(pk=pk).exists():
            audit_refusal(
                reason="out_of_scope",
                object_type="assessment.staffscorecard",
                object_id=str(pk),
                details={"capability": perms.VIEW_ASSESSMENT},
            )
        raise Http404
    return card


def department_scorecards_for_user(*, user, period: Period) -> QuerySet[DepartmentScorecard]:
    return (
        DepartmentScorecard.objects.filter(period=period)
        .filter(scope_q(user, perms.VIEW_ASSESSMENT))
        .select_related("department")
    )


def staff_history_for_user(*, user, staff_id: int, kind: str = PeriodKind.MONTH):
    """The employee's scorecards of the periods the caller may see, oldest first (the last
    ``TREND_PERIODS``). 404 for an employee who is neither the caller nor in their scope."""
    staff = Staff.objects.filter(pk=staff_id).select_related("department").first()
    own = staff is not None and staff.pk == getattr(user, "staff_id", None)
    if staff is None or not (own or has_capability(user, perms.VIEW_ASSESSMENT, staff.department)):
        raise Http404
    cards = (
        StaffScorecard.objects.filter(
            staff_id=staff_id,
            period__in=period_list_for_user(user=user).filter(kind=kind),
        )
        .filter(_own_or_scope(user))
        .select_related("period", "department")
        .order_by("-period__start")[:TREND_PERIODS]
    )
    return staff, list(reversed(cards))


def my_latest_scorecard(*, user, kind: str = PeriodKind.MONTH) -> StaffScorecard | None:
    """The caller's scorecard of the latest closed period of ``kind``."""
    if not getattr(user, "staff_id", None):
        return None
    return (
        StaffScorecard.objects.filter(
            staff_id=user.staff_id, period__state=PeriodState.CLOSED, period__kind=kind
        )
        .select_related("period", "department", "period__scheme_version")
        .order_by("-period__start")
        .first()
    )


def department_trend(*, department_id: int, kind: str, until) -> list[DepartmentScorecard]:
    cards = (
        DepartmentScorecard.objects.filter(
            department_id=department_id,
            period__kind=kind,
            period__state=PeriodState.CLOSED,
            period__start__lte=until,
        )
        .select_related("period")
        .order_by("-period__start")[:TREND_PERIODS]
    )
    return list(reversed(cards))


def scheme_list() -> QuerySet[Scheme]:
    return Scheme.objects.prefetch_related("versions")


def previous_period(period: Period) -> Period | None:
    """The closed period of the same kind just before ``period`` (what a trend compares with)."""
    return (
        Period.objects.filter(kind=period.kind, state=PeriodState.CLOSED, start__lt=period.start)
        .order_by("-start")
        .first()
    )


def previous_scores(period: Period, staff_ids: list[int]) -> dict[int, object]:
    """staff → score in the previous closed period (one query for a page of staff)."""
    before = previous_period(period)
    if before is None:
        return {}
    return dict(
        StaffScorecard.objects.filter(period=before, staff_id__in=staff_ids).values_list(
            "staff_id", "score"
        )
    )
