"""The employee's "my quality" page: their result over a period (how many evaluations, the mean
score and the pass rate with their intervals, auto-fails, and whether the sample is large
enough to mean anything), their scored evaluations and their disputes. Anyone signed in with a
staff record sees their own; no capability is needed, and nobody else's is shown.

Other modules add their own panels here without this module importing them (a module further
down — surveys — may not be imported by quality). They register a panel once, at import time
(from their AppConfig.ready), and the page renders each panel's template with its context::

    from servicecharter.quality.views.mine import register_my_quality_panel

    def survey_feedback(request, staff, since, until) -> dict | None:
        return {"responses": ...}          # None: nothing to show

    register_my_quality_panel("surveys", "surveys/_my_feedback.html", survey_feedback)

The panels appear below the evaluations, in the order they were registered.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import path

from servicecharter.org.views import OpenEndedPage
from servicecharter.quality import selectors
from servicecharter.quality.forms import PeriodForm

PAGE_SIZE = 20
DISPUTES_SHOWN = 20

PanelContext = Callable[..., dict | None]


@dataclass(frozen=True)
class MyQualityPanel:
    key: str
    template: str
    context: PanelContext  # (request, staff, since, until) -> dict, or None to show nothing


_PANELS: dict[str, MyQualityPanel] = {}


def register_my_quality_panel(key: str, template: str, context: PanelContext) -> None:
    """Add a panel to "my quality" (idempotent by ``key``)."""
    _PANELS[key] = MyQualityPanel(key, template, context)


def _panels(request, staff, since, until) -> list[dict]:
    shown = []
    for panel in _PANELS.values():
        context = panel.context(request, staff, since, until)
        if context is not None:
            shown.append({"key": panel.key, "template": panel.template, "context": context})
    return shown


@login_required
def my_quality(request):
    staff = request.user.staff
    form = PeriodForm(request.GET or None)
    if staff is None:
        return render(request, "quality/mine.html", {"form": form, "staff": None})
    since, until = form.period()
    evaluations = selectors.evaluations_of_staff(staff_id=staff.pk)
    page = OpenEndedPage(evaluations, request.GET.get("page"), PAGE_SIZE)
    if request.htmx and not request.htmx.history_restore_request and "page" in request.GET:
        return render(request, "quality/mine.html#evaluations", {"page": page})
    disputes = list(
        evaluations.filter(dispute__isnull=False).order_by("-dispute__raised_at")[:DISPUTES_SHOWN]
    )
    return render(
        request,
        "quality/mine.html",
        {
            "form": form,
            "staff": staff,
            "result": selectors.employee_result(staff=staff, since=since, until=until),
            "since": since,
            "until": until - timedelta(days=1) if until else None,
            "page": page,
            "disputes": disputes,
            "panels": _panels(request, staff, since, until),
        },
    )


urlpatterns = [path("mine/", my_quality, name="mine")]
