"""The executive summary of a period (VIEW_FAIRNESS): sanctions and rewards by measure and by
unit (the level below the top of the reader's scope), appeals by outcome, with charts."""

from django.shortcuts import render
from django.urls import path

from servicecharter.accounts import permissions as perms
from servicecharter.discipline import fairness
from servicecharter.discipline.choices import AppealState, Measure
from servicecharter.discipline.views.fairness import PeriodForm
from servicecharter.org.views import capability_required


@capability_required(perms.VIEW_FAIRNESS)
def summary_page(request):
    form = PeriodForm(request.GET or None)
    start, end = form.period()
    summary = fairness.summary_report(user=request.user, start=start, end=end)
    measures = [(str(Measure(measure).label), n) for _kind, measure, n in summary.by_measure]
    appeals = [(str(AppealState(state).label), n) for state, n in summary.appeals.items()]
    return render(
        request,
        "discipline/summary.html",
        {
            "form": form,
            "summary": summary,
            "measure_chart": measures,
            "unit_sanctions": [(row.label, row.sanctions) for row in summary.by_unit],
            "unit_rewards": [(row.label, row.rewards) for row in summary.by_unit],
            "appeal_chart": appeals,
        },
    )


urlpatterns = [path("summary/", summary_page, name="summary")]
