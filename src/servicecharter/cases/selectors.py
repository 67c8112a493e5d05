"""Reads of cases, scoped to what the caller may see. Pages and the API share these."""

import re
from datetime import timedelta

from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL
from django.http import Http404
from django.utils import timezone

from servicecharter.accounts import permissions as perms
from servicecharter.accounts.scoping import get_in_scope_or_404, has_capability, restrict
from servicecharter.cases.choices import OPEN_STATES
from servicecharter.cases.models import Case
from servicecharter.cases.services import _open_states_sql as open_states_sql
from servicecharter.cases.services import tracking_digest

# Which capability each kind of access needs.
ACTION_CAPABILITY = {
    "view": perms.VIEW_CASES,
    "handle": perms.HANDLE_CASES,
    "assign": perms.ASSIGN_CASES,
}


def case_queryset() -> QuerySet:
    return Case.objects.select_related("department", "handler", "customer", "product")


def case_list_for_user(*, user, capability: str = perms.VIEW_CASES) -> QuerySet:
    """Every case whose queue lies in the user's scope for ``capability``."""
    return restrict(case_queryset(), user, capability)


def case_get_for_user(*, user, case_id: int, action: str = "view") -> Case:
    """One case the user may ``view``, ``handle`` or ``assign``; 404 otherwise (out-of-scope
    guesses are audited by the scoping helper)."""
    return get_in_scope_or_404(case_queryset(), user, ACTION_CAPABILITY[action], pk=case_id)


def case_get_by_reference_for_user(*, user, reference: str, action: str = "view") -> Case:
    return get_in_scope_or_404(
        case_queryset(), user, ACTION_CAPABILITY[action], reference=reference
    )


def can(user, action: str, case: Case) -> bool:
    return has_capability(user, ACTION_CAPABILITY[action], case.department)


def case_filter(
    queryset: QuerySet,
    *,
    state: str = "",
    channel: str = "",
    kind: str = "",
    product: int | None = None,
    severity: str = "",
    handler: int | None = None,
    due: str = "",
    q: str = "",
) -> QuerySet:
    """The queue filters: state (or "open"), channel, kind, product, severity, handler,
    due ("today", "breached", "overdue"), and a search on reference, subject and name."""
    if state == "open":
        queryset = queryset.filter(state__in=sorted(OPEN_STATES))
    elif state:
        queryset = queryset.filter(state=state)
    if channel:
        queryset = queryset.filter(channel=channel)
    if kind:
        queryset = queryset.filter(kind=kind)
    if product:
        queryset = queryset.filter(product_id=product)
    if severity:
        queryset = queryset.filter(severity=severity)
    if handler:
        queryset = queryset.filter(handler_id=handler)
    now = timezone.now()
    # The deadline filters pick few cases among many: their ids are looked up through the
    # partial indexes of due cases (the sweep's case_due_open) and of breached cases
    # (case_breached), and the list keeps its order. Filtering the list itself would make the
    # database walk every case in scope to find the few.
    if due == "today":
        end_of_day = timezone.localtime(now).replace(hour=23, minute=59, second=59)
        queryset = queryset.filter(pk__in=_open_and_due_by(end_of_day, "<="))
    elif due == "breached":
        queryset = queryset.filter(
            pk__in=Case.objects.filter(breached_at__isnull=False).values("pk")
        )
    elif due == "overdue":
        queryset = queryset.filter(pk__in=_open_and_due_by(now, "<"))
    if q and REFERENCE_SHAPE.match(q):
        queryset = queryset.filter(reference=q.upper())  # through its unique index
    elif q:
        queryset = queryset.filter(
            Q(reference__iexact=q) | Q(subject__icontains=q) | Q(contact_name__icontains=q)
        )
    return queryset


# What ``services.reference_for`` makes: C, year and month, the case number.
REFERENCE_SHAPE = re.compile(r"^C\d{4}-\d{7,}$", re.IGNORECASE)


def _open_and_due_by(moment, operator: str) -> RawSQL:
    """Ids of the open cases due by ``moment`` (``operator`` "<" or "<="): those not breached
    yet through case_due_open, the breached ones through case_breached. Written in SQL because
    SQLite uses a partial index only when the query states its condition literally."""
    quote = connection.ops.quote_name
    table, open_states = quote(Case._meta.db_table), open_states_sql()
    due = connection.ops.adapt_datetimefield_value(moment)
    sql = (
        f"SELECT {quote('id')} FROM {table} WHERE {open_states} "
        f"AND {quote('breached_at')} IS NULL AND {quote('due_at')} {operator} %s "
        f"UNION ALL SELECT {quote('id')} FROM {table} WHERE {quote('breached_at')} IS NOT NULL "
        f"AND {open_states} AND {quote('due_at')} {operator} %s"
    )
    return RawSQL(sql, [due, due])


def case_for_tracking(*, reference: str, code: str) -> Case:
    """The customer's own case by reference and tracking code; Http404 for a wrong code and
    for an unknown reference alike, so the answer says nothing about which it was."""
    case = (
        Case.objects.filter(reference=reference.strip().upper())
        .select_related("department")
        .first()
    )
    if case is None or not code or case.tracking_digest != tracking_digest(code):
        raise Http404
    return case


def recent_cases_of_customer(case: Case, *, days: int = 90) -> QuerySet:
    if case.customer_id is None:
        return Case.objects.none()
    since = case.received_at - timedelta(days=days)
    return Case.objects.filter(customer_id=case.customer_id, received_at__gte=since).exclude(
        pk=case.pk
    )
