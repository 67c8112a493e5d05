"""A supervisor's team view (VIEW_QUALITY, scoped): one row per employee judged in the
departments in scope over a period — evaluations, mean score with its t interval, pass rate
with its Wilson interval, auto-fails — and a mark on every result whose sample is too small to
act on. A bar chart shows the mean scores; the same figures are in the table beside it.

Results come from ``selectors.team_results``: two queries whatever the number of evaluations,
so the page's query count is fixed. HTMX filter requests get only the results block.
"""

from django.shortcuts import render
from django.urls import path
from django.utils.translation import gettext as _

from servicecharter.accounts import permissions as perms
from servicecharter.org import selectors as org_selectors
from servicecharter.org.views import capability_required
from servicecharter.quality import selectors
from servicecharter.quality.forms import TeamFilterForm

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


urlpatterns = [path("team/", team, name="team")]
