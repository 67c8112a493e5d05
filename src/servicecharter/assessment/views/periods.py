"""Periods: the list (and a form to open one, MANAGE_ASSESSMENT), a period's page (its tier
distribution in the caller's scope, the ledger, and compute / close for HR with the progress of
a background computation), its staff scorecards (filtered, ranked within the peer group), its
department scorecards ranked, and the executive summary with charts. Reading needs
VIEW_ASSESSMENT and shows only the departments in scope; a period not yet closed is HR's
alone (404 for everyone else)."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from servicecharter.accounts import permissions as perms
from servicecharter.accounts.scoping import scope_paths
from servicecharter.assessment import charts, selectors, services
from servicecharter.assessment.choices import PeriodKind, PeriodState, Tier
from servicecharter.assessment.models import Scheme
from servicecharter.assessment.views.display import tier_badge, tier_chart, trend_chart
from servicecharter.org.forms import apply_service_errors
from servicecharter.org.models import Department
from servicecharter.org.views import OpenEndedPage, capability_required

PAGE_SIZE = 50


class PeriodForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), choices=PeriodKind.choices)
    start = forms.DateField(
        label=gettext_lazy("First day"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=gettext_lazy("The first day of the month, or of the quarter."),
    )
    scheme = forms.ModelChoiceField(label=gettext_lazy("Scheme"), queryset=Scheme.objects.all())


class StaffFilter(forms.Form):
    tier = forms.ChoiceField(
        label=gettext_lazy("Tier"),
        choices=[("", gettext_lazy("Any")), *Tier.choices],
        required=False,
    )
    peer_group = forms.CharField(label=gettext_lazy("Peer group"), required=False, max_length=100)
    q = forms.CharField(label=gettext_lazy("Name or number"), required=False, max_length=100)


def _tier_counts(cards) -> dict[str, int]:
    return {
        row["tier"]: row["n"] for row in cards.order_by().values("tier").annotate(n=Count("id"))
    }


@capability_required(perms.VIEW_ASSESSMENT)
def period_list(request):
    manager = selectors.may_manage(request.user)
    form = PeriodForm(request.POST or None) if manager else None
    if request.method == "POST" and manager and form.is_valid():
        try:
            period = services.period_create(actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, _("Period opened. Compute it when its facts are in."))
            return redirect("assessment:period", pk=period.pk)
    status = 422 if request.method == "POST" else 200
    page = OpenEndedPage(
        selectors.period_list_for_user(user=request.user), request.GET.get("page"), PAGE_SIZE
    )
    return render(
        request,
        "assessment/period_list.html",
        {"page": page, "form": form, "manager": manager},
        status=status,
    )


def _period(request, pk: int):
    return selectors.period_get_for_user(user=request.user, pk=pk)


@capability_required(perms.VIEW_ASSESSMENT)
def period_detail(request, pk: int):
    period = _period(request, pk)
    if request.htmx and request.GET.get("progress"):
        return render(request, "assessment/period_detail.html#progress", {"period": period})
    cards = selectors.staff_scorecards_for_user(user=request.user, period=period)
    counts = _tier_counts(cards)
    return render(
        request,
        "assessment/period_detail.html",
        {
            "period": period,
            "manager": selectors.may_manage(request.user),
            "counts": counts,
            "total": sum(counts.values()),
            "chart": tier_chart(counts, _("Staff by tier")),
            "events": period.events.select_related("actor"),
            "may_compute": period.state != PeriodState.CLOSED and not period.computing,
            "may_close": period.state == PeriodState.COMPUTED and not period.computing,
        },
    )


@capability_required(perms.MANAGE_ASSESSMENT)
@require_POST
def period_compute(request, pk: int):
    period = _period(request, pk)
    try:
        period = services.period_compute(actor=request.user, period=period)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        if period.computing:
            messages.info(
                request, _("The computation runs in the background; its progress shows here.")
            )
        else:
            messages.success(request, _("Scorecards computed. Review them, then close the period."))
    return redirect("assessment:period", pk=pk)


@capability_required(perms.MANAGE_ASSESSMENT)
@require_POST
def period_close(request, pk: int):
    period = _period(request, pk)
    try:
        services.period_close(actor=request.user, period=period)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("Period closed: its scorecards are final."))
    return redirect("assessment:period", pk=pk)


@capability_required(perms.VIEW_ASSESSMENT)
def period_staff(request, pk: int):
    period = _period(request, pk)
    form = StaffFilter(request.GET or None)
    cards = selectors.staff_scorecards_for_user(user=request.user, period=period)
    if form.is_valid():
        data = form.cleaned_data
        if data["tier"]:
            cards = cards.filter(tier=data["tier"])
        if data["peer_group"]:
            cards = cards.filter(peer_group=data["peer_group"])
        if data["q"]:
            cards = cards.filter(
                Q(staff__name__icontains=data["q"]) | Q(staff__employee_number=data["q"])
            )
    page = OpenEndedPage(
        cards.order_by("peer_group", "rank", "staff__employee_number"),
        request.GET.get("page"),
        PAGE_SIZE,
    )
    cards_on_page = list(page)
    before = selectors.previous_scores(period, [card.staff_id for card in cards_on_page])
    for card in cards_on_page:
        card.badge = tier_badge(card.tier)
        previous = before.get(card.staff_id)
        card.change = (
            card.score - previous if card.score is not None and previous is not None else None
        )
    template = "assessment/period_staff.html"
    if request.htmx and not request.htmx.history_restore_request:
        template += "#results"
    return render(request, template, {"period": period, "form": form, "page": page})


def _ranked_departments(request, period):
    cards = list(
        selectors.department_scorecards_for_user(user=request.user, period=period).order_by(
            "department__depth", "rank", "department__code"
        )
    )
    for card in cards:
        card.badge = tier_badge(card.tier)
    return cards


@capability_required(perms.VIEW_ASSESSMENT)
def period_departments(request, pk: int):
    period = _period(request, pk)
    cards = _ranked_departments(request, period)
    return render(request, "assessment/period_departments.html", {"period": period, "cards": cards})


def _scope_roots(user) -> list[Department]:
    paths = scope_paths(user, perms.VIEW_ASSESSMENT)
    return list(Department.objects.filter(path__in=paths).order_by("path"))


@capability_required(perms.VIEW_ASSESSMENT)
def period_summary(request, pk: int):
    """The executive's page: tiers, departments ranked (the level below the caller's scope),
    and the trend of the scope's score over the earlier periods."""
    period = _period(request, pk)
    counts = _tier_counts(selectors.staff_scorecards_for_user(user=request.user, period=period))
    departments = _ranked_departments(request, period)
    roots = _scope_roots(request.user)
    root_ids = {root.pk for root in roots}
    below = [c for c in departments if c.department.parent_id in root_ids] or [
        c for c in departments if c.department_id in root_ids
    ]
    below.sort(key=lambda c: (c.score is None, -(c.score or 0)))
    ranked_chart = charts.bars(
        [(c.department.name, c.score, charts.TIER_COLOURS[c.tier]) for c in below],
        title=_("Departments by score"),
        maximum=100,
    )
    trends = [
        {
            "department": root,
            "chart": trend_chart(
                selectors.department_trend(
                    department_id=root.pk, kind=period.kind, until=period.start
                ),
                _("Score of %(name)s over the periods") % {"name": root.name},
            ),
        }
        for root in roots
    ]
    return render(
        request,
        "assessment/period_summary.html",
        {
            "period": period,
            "counts": counts,
            "total": sum(counts.values()),
            "tier_chart": tier_chart(counts, _("Staff by tier")),
            "ranked": below,
            "ranked_chart": ranked_chart,
            "trends": trends,
        },
    )


urlpatterns = [
    path("", period_list, name="periods"),
    path("periods/<int:pk>/", period_detail, name="period"),
    path("periods/<int:pk>/compute/", period_compute, name="period_compute"),
    path("periods/<int:pk>/close/", period_close, name="period_close"),
    path("periods/<int:pk>/staff/", period_staff, name="period_staff"),
    path("periods/<int:pk>/departments/", period_departments, name="period_departments"),
    path("periods/<int:pk>/summary/", period_summary, name="period_summary"),
]
