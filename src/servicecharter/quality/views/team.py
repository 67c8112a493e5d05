"""A supervisor's team view (VIEW_QUALITY, scoped): one row per employee judged in the
departments in scope over a period — evaluations, mean score with its t interval, pass rate
with its Wilson interval, auto-fails — and a mark on every result whose sample is too small to
act on. A bar chart shows the mean scores; the same figures are in the table beside it.

Results come from ``selectors.team_results``: two queries whatever the number of evaluations,
so the page's query count is fixed. HTMX filter requests get only the results block.
"""

from datetime import timedelta

from django.shortcuts import render
from django.urls import path
from django.utils.translation import gettext as _

from servicecharter.accounts import permissions as perms
from servicecharter.org import selectors as org_selectors
from servicecharter.org.views import OpenEndedPage, capability_required
from servicecharter.quality import selectors
from servicecharter.quality.forms import PeriodForm, TeamFilterForm

CHART_ROWS = 40  # more bars than this are unreadable; the table lists everyone


def chart_data(results) -> dict:
    """Mean scores for the bar chart; an insufficient sample is starred in its label."""
    shown = [result for result in results if result.mean.estimate is not None][:CHART_ROWS]
    return {
        "labels": [f"{result.staff.name}{' *' if result.insufficient else ''}" for result in shown],
        "values": [round(result.mean.estimate, 1) for result in shown],
    }


@capability_required(perms.VIEW_QUALITY)
def team(request):
    departments = org_selectors.department_list(
        user=request.user, capability=perms.VIEW_QUALITY
    ).order_by("path")
    form = TeamFilterForm(request.GET or None, departments=departments)
    since, until = form.period()
    results = selectors.team_results(
        user=request.user, department=form.chosen_department(), since=since, until=until
    )
    context = {
        "form": form,
        "results": results,
        "chart": chart_data(results),
        "chart_label": _("Mean score by employee"),
        "minimum": selectors.minimum_sample(),
    }
    partial = request.htmx and not request.htmx.history_restore_request
    return render(request, "quality/team.html#results" if partial else "quality/team.html", context)


PAGE_SIZE = 25


@capability_required(perms.VIEW_QUALITY)
def team_member(request, pk: int):
    """One employee of the team: their result over the period and their evaluations (those of
    the departments in the caller's scope). An employee outside the scope is 404."""
    staff = org_selectors.staff_get(user=request.user, pk=pk, capability=perms.VIEW_QUALITY)
    form = PeriodForm(request.GET or None)
    since, until = form.period()
    found = selectors.team_results(user=request.user, since=since, until=until, staff=staff)
    evaluations = selectors.team_member_evaluations(user=request.user, staff=staff)
    page = OpenEndedPage(evaluations, request.GET.get("page"), PAGE_SIZE)
    if request.htmx and not request.htmx.history_restore_request:
        return render(request, "quality/team_member.html#evaluations", {"page": page})
    return render(
        request,
        "quality/team_member.html",
        {
            "form": form,
            "staff": staff,
            "result": found[0] if found else selectors.result_from_rows(staff, []),
            "since": since,
            "until": until - timedelta(days=1) if until else None,
            "page": page,
        },
    )


urlpatterns = [
    path("team/", team, name="team"),
    path("team/<int:pk>/", team_member, name="team_member"),
]
