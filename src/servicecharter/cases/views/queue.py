"""The staff's lists of cases: "my cases" and the department queue, with filters, saved views
and bulk assignment.

Both lists read ``selectors.case_list_for_user`` (the queues in the caller's scope) narrowed by
``case_filter``. A page never counts the table: it fetches one row more than it shows to know
whether a next page exists (``OpenEndedPage``), so a page is one indexed query with a LIMIT
whatever the size of the queue, and the number of queries does not grow with the rows.
HTMX filter requests get only the results block, as on the institution pages.
"""

from datetime import datetime

from django.contrib import messages
from django.http import QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.timesince import timesince, timeuntil
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from servicecharter.accounts import permissions as perms
from servicecharter.accounts.scoping import has_capability
from servicecharter.cases import selectors, services
from servicecharter.cases.choices import OPEN_STATES, STATE_BADGE, CaseKind, CaseState
from servicecharter.cases.deadlines import DeadlineRuleError
from servicecharter.cases.models import Case, SavedView
from servicecharter.cases.staff_forms import (
    BulkAssignForm,
    QueueFilterForm,
    SavedViewForm,
    filter_query,
    filtered_cases,
    handler_refusal,
    open_first_due_soonest,
)
from servicecharter.cases.workflow import TransitionRefused
from servicecharter.org.views import OpenEndedPage, capability_required

PAGE_SIZE = 25
SEVERITY_BADGE = {"low": "", "medium": "", "high": "warn", "critical": "bad"}


# Deadline countdowns, shared with the case page ----------------------------------------


def countdown(due: datetime, now: datetime) -> str:
    """ "3 days, 4 hours left" or "2 days, 1 hour overdue", in the current language."""
    if due >= now:
        return _("%(time)s left") % {"time": timeuntil(due, now, depth=2)}
    return _("%(time)s overdue") % {"time": timesince(due, now, depth=2)}


def due_badge(case: Case, now: datetime) -> dict | None:
    """The countdown of an open case with a running deadline: red when breached or past due,
    amber once the warning share of the time has passed, else plain."""
    if case.state not in OPEN_STATES:
        return None
    if case.due_at is None:
        if case.kind == CaseKind.COMPLAINT and case.state == CaseState.AWAITING_CUSTOMER:
            return {"text": _("Clock paused"), "css": "", "at": None}
        return None
    if case.breached_at or case.due_at < now:
        css = "bad"
    elif case.warn_at and case.warn_at <= now:
        css = "warn"
    else:
        css = "ok"
    return {"text": countdown(case.due_at, now), "css": css, "at": case.due_at}


def case_row(case: Case, now: datetime) -> dict:
    return {
        "case": case,
        "state_badge": STATE_BADGE.get(case.state, ""),
        "severity_badge": SEVERITY_BADGE.get(case.severity, ""),
        "due": due_badge(case, now),
    }


# The lists ----------------------------------------------------------------------------------


def _list_response(request, template: str, context: dict):
    """The whole page, or only its ``results`` partial for an HTMX filter request (the whole
    page when HTMX restores history it has not cached)."""
    partial = request.htmx and not request.htmx.history_restore_request
    return render(request, f"{template}#results" if partial else template, context)


def _export_query(request, **extra) -> str:
    params = QueryDict(mutable=True)
    params.update(QueryDict(filter_query(request.GET)))
    for key, value in extra.items():
        params[key] = value
    return params.urlencode()


def _list_context(request, form, cases, **extra) -> dict:
    now = timezone.now()
    page = OpenEndedPage(cases, request.GET.get("page"), size=PAGE_SIZE)
    return {
        "form": form,
        "page": page,
        "rows": [case_row(case, now) for case in page],
        "now": now,
        "current_query": filter_query(request.GET),
        "can_export": has_capability(request.user, perms.EXPORT_CASES),
        **extra,
    }


def my_cases_queryset(user, filters: dict):
    cases = selectors.case_list_for_user(user=user).filter(handler=user)
    return open_first_due_soonest(filtered_cases(cases, filters))


def queue_queryset(user, filters: dict):
    """Every case of the queues in scope, newest first: the order of the primary key, which
    PostgreSQL and SQLite walk backwards through the index and stop after one page."""
    cases = filtered_cases(selectors.case_list_for_user(user=user), filters)
    return cases.order_by("-id")


@capability_required(perms.HANDLE_CASES)
def my_cases(request):
    form = QueueFilterForm(request.GET or None, user=request.user, show_handler=False)
    cases = my_cases_queryset(request.user, form.filters())
    context = _list_context(
        request,
        form,
        cases,
        title=_("My cases"),
        export_query=_export_query(request, mine="1"),
    )
    return _list_response(request, "cases/queue_mine.html", context)


@capability_required(perms.VIEW_CASES)
def queue(request):
    form = QueueFilterForm(request.GET or None, user=request.user)
    cases = queue_queryset(request.user, form.filters())
    can_assign = has_capability(request.user, perms.ASSIGN_CASES)
    context = _list_context(
        request,
        form,
        cases,
        title=_("Case queue"),
        export_query=_export_query(request),
        can_assign=can_assign,
        assign_form=BulkAssignForm(user=request.user, auto_id="assign_%s") if can_assign else None,
        saved_views=SavedView.objects.filter(user=request.user),
        saved_view_form=SavedViewForm(initial={"query": filter_query(request.GET)}),
    )
    return _list_response(request, "cases/queue.html", context)


# Bulk assignment ---------------------------------------------------------------------------


def _queue_url(query: str) -> str:
    url = reverse("cases:queue")
    return f"{url}?{query}" if query else url


@require_POST
@capability_required(perms.ASSIGN_CASES)
def bulk_assign(request):
    """Assign every ticked case to one handler, or none of them: each case must be in the
    caller's scope for assigning, open, and in the handler's scope for handling."""
    form = BulkAssignForm(request.POST, user=request.user)
    query = filter_query(QueryDict(request.POST.get("query", "")))
    if not form.is_valid():
        problems = " ".join(error for errors in form.errors.values() for error in errors)
        messages.error(request, f"{problems} {_('Nothing was assigned.')}")
        return redirect(_queue_url(query))
    wanted = set(form.cleaned_data["cases"])
    cases = list(
        selectors.case_list_for_user(user=request.user, capability=perms.ASSIGN_CASES).filter(
            pk__in=wanted
        )
    )
    handler = form.cleaned_data["handler"]
    if len(cases) != len(wanted):
        problem = _("Some of the ticked cases are not in the queues you assign.")
    else:
        problem = handler_refusal(handler, cases)
    if not problem:
        try:
            services.case_assign_many(actor=request.user, cases=cases, handler=handler)
        except (TransitionRefused, DeadlineRuleError) as error:
            problem = str(error)
    if problem:
        messages.error(request, f"{problem} {_('Nothing was assigned.')}")
    else:
        messages.success(
            request,
            ngettext(
                "%(count)s case assigned to %(name)s.",
                "%(count)s cases assigned to %(name)s.",
                len(cases),
            )
            % {"count": len(cases), "name": handler.get_full_name() or handler.get_username()},
        )
    return redirect(_queue_url(query))


# Saved views ---------------------------------------------------------------------------------


@capability_required(perms.VIEW_CASES)
def saved_view_list(request):
    return render(
        request,
        "cases/queue_saved_views.html",
        {"saved_views": SavedView.objects.filter(user=request.user)},
    )


@require_POST
@capability_required(perms.VIEW_CASES)
def saved_view_create(request):
    form = SavedViewForm(request.POST)
    query = filter_query(QueryDict(request.POST.get("query", "")))
    if form.is_valid():
        services.saved_view_save(user=request.user, name=form.cleaned_data["name"], query=query)
        messages.success(
            request, _("View “%(name)s” saved.") % {"name": form.cleaned_data["name"].strip()}
        )
    else:
        messages.error(request, _("Give the view a name."))
    return redirect(_queue_url(query))


@require_POST
@capability_required(perms.VIEW_CASES)
def saved_view_delete(request, pk: int):
    view = get_object_or_404(SavedView, pk=pk, user=request.user)
    services.saved_view_delete(user=request.user, view=view)
    messages.success(request, _("View “%(name)s” deleted.") % {"name": view.name})
    return redirect("cases:saved_view_list")


urlpatterns: list = [
    path("mine/", my_cases, name="my_cases"),
    path("queue/", queue, name="queue"),
    path("queue/assign/", bulk_assign, name="bulk_assign"),
    path("queue/views/", saved_view_list, name="saved_view_list"),
    path("queue/views/new/", saved_view_create, name="saved_view_create"),
    path("queue/views/<int:pk>/delete/", saved_view_delete, name="saved_view_delete"),
]
