"""An employee's scorecard: "my scorecard" (the latest closed period, no capability needed),
one scorecard by id (the employee's own, or one in the caller's VIEW_ASSESSMENT scope), and the
facts behind one of its numbers. Anything else answers 404."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.urls import path
from django.utils.translation import gettext as _

from servicecharter.assessment import facts, selectors
from servicecharter.assessment.choices import Kpi, PeriodKind
from servicecharter.assessment.views.display import kpi_rows, tier_badge, trend_chart


def _scorecard_context(request, card) -> dict:
    staff, history = selectors.staff_history_for_user(
        user=request.user, staff_id=card.staff_id, kind=card.period.kind
    )
    return {
        "card": card,
        "staff": staff,
        "kpis": kpi_rows(card.kpis),
        "badge": tier_badge(card.tier),
        "history": history,
        "trend": trend_chart(history, _("Score over the periods")),
        "own": card.staff_id == request.user.staff_id,
    }


@login_required
def my_scorecard(request):
    kind = request.GET.get("kind", PeriodKind.MONTH)
    if kind not in PeriodKind.values:
        kind = PeriodKind.MONTH
    card = selectors.my_latest_scorecard(user=request.user, kind=kind)
    context = {"kind": kind, "kinds": PeriodKind.choices, "has_staff": bool(request.user.staff_id)}
    if card is not None:
        context.update(_scorecard_context(request, card))
    return render(request, "assessment/mine.html", context)


@login_required
def scorecard_detail(request, pk: int):
    card = selectors.staff_scorecard_get_for_user(user=request.user, pk=pk)
    return render(request, "assessment/scorecard.html", _scorecard_context(request, card))


@login_required
def scorecard_facts(request, pk: int, kpi: str):
    card = selectors.staff_scorecard_get_for_user(user=request.user, pk=pk)
    if kpi not in card.kpis:
        raise Http404
    figure = kpi_rows({kpi: card.kpis[kpi]})[0]
    return render(
        request,
        "assessment/facts.html",
        {
            "card": card,
            "figure": figure,
            "kpi_label": Kpi(kpi).label,
            "tables": facts.facts_for(card, kpi),
            "shown": facts.SHOWN,
        },
    )


urlpatterns = [
    path("mine/", my_scorecard, name="mine"),
    path("scorecards/<int:pk>/", scorecard_detail, name="scorecard"),
    path("scorecards/<int:pk>/<slug:kpi>/", scorecard_facts, name="facts"),
]
