"""The fairness report (VIEW_FAIRNESS): sanctions and rewards per 100 staff by department and
by position, deviation rate per decider, median time to decision, appeal outcomes and the
sanctions that rest on thin evidence, over a period, each figure in a table beside its chart."""

from datetime import timedelta

from django import forms
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from servicecharter.accounts import permissions as perms
from servicecharter.discipline import fairness
from servicecharter.org.views import capability_required

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
DEFAULT_DAYS = 365


class PeriodForm(forms.Form):
    start = forms.DateField(label=gettext_lazy("From"), required=False, widget=DATE_WIDGET)
    end = forms.DateField(label=gettext_lazy("To (inclusive)"), required=False, widget=DATE_WIDGET)

    def period(self):
        today = timezone.localdate()
        start = end = None
        if self.is_valid():
            start, end = self.cleaned_data.get("start"), self.cleaned_data.get("end")
        end = end or today
        start = start or end - timedelta(days=DEFAULT_DAYS)
        if start > end:
            start, end = end, start
        return start, end


def chart_rows(rows, attribute: str) -> list[tuple[str, float]]:
    return [(row.label, getattr(row, attribute) or 0) for row in rows]


@capability_required(perms.VIEW_FAIRNESS)
def fairness_page(request):
    form = PeriodForm(request.GET or None)
    start, end = form.period()
    report = fairness.fairness_report(user=request.user, start=start, end=end)
    return render(
        request,
        "discipline/fairness.html",
        {
            "form": form,
            "report": report,
            "department_chart": chart_rows(report.by_department, "sanctions_per_100"),
            "position_chart": chart_rows(report.by_position, "sanctions_per_100"),
            "decider_chart": [(row.name, row.deviation_rate or 0) for row in report.deciders],
            "sample_reason": _("Small QA sample"),
        },
    )


urlpatterns = [path("fairness/", fairness_page, name="fairness")]
