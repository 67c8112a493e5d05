"""Sampling plan pages (MANAGE_QUALITY): the plans of the departments the caller manages, a
form to make one, a plan's page (what it picks and why, the draw, its picks per auditor and per
agent) and "check the draw", which recomputes the picks from the recorded seed to show an
employee that the sample was fair.

Plans are read through ``sampling.sampling_plan_get_for_user`` (a plan outside the caller's
departments answers 404) and written only through ``sampling.sampling_plan_create`` and
``sampling.sampling_plan_draw``; a refusal is shown beside the field it concerns and nothing is
saved. The per-agent table pages without counting (``OpenEndedPage``); HTMX paging and the
picks of one agent get only their block.
"""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from servicecharter.accounts import permissions as perms
from servicecharter.org import selectors as org_selectors
from servicecharter.org.choices import Channel
from servicecharter.org.forms import DepartmentChoiceField, apply_service_errors
from servicecharter.org.views import OpenEndedPage, capability_required
from servicecharter.quality import sampling
from servicecharter.quality.choices import SampleReason

PAGE_SIZE = 25
AGENT_PAGE_SIZE = 50
CHECK_DIFFERENCES_SHOWN = 50
PICKS_SHOWN = 200
STRATA_SHOWN = 100
DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
PER_AGENT = "per_agent"
SHARE = "share"


def rules() -> list[tuple[str, str]]:
    """Why each targeted pick is made, as the plan pages explain it."""
    return [
        (
            SampleReason.COMPLAINT.label,
            _(
                "The customer filed a complaint received at or after the interaction started and "
                "less than 7 days after it."
            ),
        ),
        (
            SampleReason.LOW_SURVEY.label,
            _("The survey about the interaction was answered with CSAT ≤ 2 or NPS ≤ 6."),
        ),
        (SampleReason.ABANDONED.label, _("The customer left before being served.")),
        (
            SampleReason.LONG.label,
            _("Handling time above the 95th percentile of its channel in the plan's period."),
        ),
    ]


# The form --------------------------------------------------------------------------------------


class AuditorsField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        name = obj.get_full_name()
        return f"{name} ({obj.get_username()})" if name else obj.get_username()


class ScorecardVersionField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.scorecard.code} v{obj.number} · {obj.scorecard.name}"


class SamplingPlanForm(forms.Form):
    """The shape of a plan; the rules (one way of picking at random, auditors who evaluate the
    department, a scorecard in use) are the service's, shown beside the field they concern."""

    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)
    department = DepartmentChoiceField(
        label=gettext_lazy("Department"),
        queryset=None,
        help_text=gettext_lazy("Its interactions and those of every department below it."),
    )
    period_start = forms.DateField(label=gettext_lazy("From"), widget=DATE_WIDGET)
    period_end = forms.DateField(label=gettext_lazy("To (inclusive)"), widget=DATE_WIDGET)
    scorecard_version = ScorecardVersionField(
        label=gettext_lazy("Scorecard version"), queryset=None
    )
    method = forms.ChoiceField(
        label=gettext_lazy("Random picks"),
        choices=[
            (PER_AGENT, gettext_lazy("A number per agent")),
            (SHARE, gettext_lazy("A share of each channel")),
        ],
        widget=forms.RadioSelect,
        initial=PER_AGENT,
    )
    per_agent = forms.IntegerField(
        label=gettext_lazy("Interactions per agent"),
        required=False,
        min_value=1,
        max_value=sampling.MAX_PER_AGENT,
        initial=8,
        help_text=gettext_lazy("All of an agent's interactions when they have fewer."),
    )
    auditors = AuditorsField(
        label=gettext_lazy("Auditors"),
        queryset=None,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy(
            "The picks are shared out evenly; nobody is given their own interactions."
        ),
    )
    seed = forms.IntegerField(
        label=gettext_lazy("Seed"),
        required=False,
        min_value=0,
        max_value=2**63 - 1,
        help_text=gettext_lazy(
            "Leave empty for a random one. Either way it is recorded: the same plan over the "
            "same data always picks the same interactions."
        ),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = org_selectors.department_list(
            user=user, capability=perms.MANAGE_QUALITY
        )
        self.fields["scorecard_version"].queryset = sampling.active_scorecard_versions()
        self.fields["auditors"].queryset = sampling.auditor_candidates()
        for channel in Channel:
            self.fields[f"share_{channel.value}"] = forms.DecimalField(
                label=channel.label,
                required=False,
                min_value=0,
                max_value=100,
                decimal_places=2,
                widget=forms.NumberInput(attrs={"step": "0.5", "min": "0", "max": "100"}),
            )
        for reason in sampling.TARGETED_REASONS:
            self.fields[f"target_{reason}"] = forms.BooleanField(
                label=SampleReason(reason).label, required=False
            )
            self.fields[f"limit_{reason}"] = forms.IntegerField(
                label=_("Up to, per agent"),
                required=False,
                min_value=1,
                max_value=sampling.MAX_PER_AGENT,
                help_text=_("Empty: all of them."),
            )

    def share_fields(self):
        return [self[f"share_{channel.value}"] for channel in Channel]

    def target_rows(self):
        explained = dict(rules())
        return [
            (
                self[f"target_{reason}"],
                self[f"limit_{reason}"],
                explained[SampleReason(reason).label],
            )
            for reason in sampling.TARGETED_REASONS
        ]

    def clean(self):
        data = super().clean()
        if data.get("method") == PER_AGENT:
            if data.get("per_agent") is None:
                self.add_error("per_agent", _("How many per agent?"))
        elif data.get("method") == SHARE and not self.shares():
            self.add_error(None, _("Give a share (more than 0%) for at least one channel."))
        return data

    def shares(self) -> dict[str, float]:
        return {
            channel.value: float(value)
            for channel in Channel
            if (value := self.cleaned_data.get(f"share_{channel.value}"))
        }

    def service_arguments(self) -> dict:
        data = self.cleaned_data
        by_agent = data["method"] == PER_AGENT
        return {
            "name": data["name"],
            "department": data["department"],
            "period_start": data["period_start"],
            "period_end": data["period_end"],
            "scorecard_version": data["scorecard_version"],
            "auditors": list(data["auditors"]),
            "per_agent": data["per_agent"] if by_agent else None,
            "share_per_channel": None if by_agent else self.shares(),
            "targeted": {
                reason: data.get(f"limit_{reason}")
                for reason in sampling.TARGETED_REASONS
                if data.get(f"target_{reason}")
            },
            "seed": data["seed"],
        }


# The pages -------------------------------------------------------------------------------------


@capability_required(perms.MANAGE_QUALITY)
def plan_list(request):
    plans = sampling.sampling_plan_list_for_user(user=request.user)
    page = OpenEndedPage(plans, request.GET.get("page"), PAGE_SIZE)
    partial = request.htmx and not request.htmx.history_restore_request
    template = "quality/sampling_list.html#results" if partial else "quality/sampling_list.html"
    return render(request, template, {"page": page})


@capability_required(perms.MANAGE_QUALITY)
def plan_create(request):
    form = SamplingPlanForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            plan = sampling.sampling_plan_create(actor=request.user, **form.service_arguments())
        except ValidationError as error:
            apply_service_errors(form, _with_share_errors(error))
        else:
            messages.success(request, _("Sampling plan created. Check it, then draw it."))
            return redirect("quality:sampling_detail", pk=plan.pk)
    return render(request, "quality/sampling_form.html", {"form": form, "rules": rules()})


def _with_share_errors(error: ValidationError) -> ValidationError:
    """The service names the whole share mapping; the form shows it above the shares."""
    if hasattr(error, "error_dict") and "share_per_channel" in error.error_dict:
        errors = dict(error.error_dict)
        errors["method"] = errors.pop("share_per_channel")
        return ValidationError(errors)
    return error


def _method_text(plan) -> str:
    if plan.per_agent is not None:
        return _("%(n)s per agent") % {"n": plan.per_agent}
    return ", ".join(
        f"{Channel(channel).label} {share:g}%"
        for channel, share in sorted(plan.share_per_channel.items())
    )


def _targets_text(plan) -> list[str]:
    texts = []
    for reason, limit in sorted(sampling.normal_targets(plan.targeted).items()):
        label = SampleReason(reason).label
        if limit is None:
            texts.append(_("%(reason)s: all") % {"reason": label})
        else:
            texts.append(_("%(reason)s: up to %(n)s per agent") % {"reason": label, "n": limit})
    return texts


@capability_required(perms.MANAGE_QUALITY)
def plan_detail(request, pk: int):
    plan = sampling.sampling_plan_get_for_user(user=request.user, pk=pk)
    picks = _agent_picks(plan, request.GET.get("staff"))
    partial = request.htmx and not request.htmx.history_restore_request
    if partial and picks is not None:
        return render(request, "quality/sampling_detail.html#picks", {"picks": picks})
    agents = OpenEndedPage(
        sampling.sampling_plan_picks_by_agent(plan), request.GET.get("page"), AGENT_PAGE_SIZE
    )
    if partial:
        return render(request, "quality/sampling_detail.html#agents", {"agents": agents})
    return render(
        request,
        "quality/sampling_detail.html",
        {
            "plan": plan,
            "agents": agents,
            "picks": picks,
            "auditors": list(plan.auditors.order_by("username")),
            "by_auditor": list(sampling.sampling_plan_picks_by_auditor(plan)),
            "method": _method_text(plan),
            "targets": _targets_text(plan),
            "reasons": SampleReason.choices,
            "rules": rules(),
        },
    )


def _agent_picks(plan, staff: str | None) -> list | None:
    """The picks of one agent (``?staff=<id>``), or None when none was asked for."""
    if staff is None:
        return None
    try:
        staff_id = int(staff)
    except ValueError:
        return []
    return list(sampling.sampling_plan_picks(plan, staff_id=staff_id)[:PICKS_SHOWN])


@capability_required(perms.MANAGE_QUALITY)
@require_POST
def plan_draw(request, pk: int):
    plan = sampling.sampling_plan_get_for_user(user=request.user, pk=pk)
    try:
        draw = sampling.sampling_plan_draw(actor=request.user, plan=plan)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request,
            _("Drawn: %(picks)s interactions of %(population)s to evaluate.")
            % {
                "picks": f"{len(draw.sample.picks):,}",
                "population": f"{draw.population:,}",
            },
        )
    return redirect("quality:sampling_detail", pk=plan.pk)


@capability_required(perms.MANAGE_QUALITY)
def plan_check(request, pk: int):
    plan = sampling.sampling_plan_get_for_user(user=request.user, pk=pk)
    if plan.drawn_at is None:
        messages.error(request, _("This plan has not been drawn yet."))
        return redirect("quality:sampling_detail", pk=plan.pk)
    check = sampling.sampling_plan_check(plan=plan)
    strata = check.recomputed.sample.strata
    return render(
        request,
        "quality/sampling_check.html",
        {
            "plan": plan,
            "check": check,
            "picks": len(check.recomputed.sample.picks),
            "by_reason": [
                (SampleReason(reason).label, n)
                for reason, n in sorted(check.recomputed.by_reason.items())
            ],
            "thresholds": [
                (Channel(channel).label, seconds)
                for channel, seconds in sorted(check.recomputed.long_thresholds.items())
            ],
            "strata": strata[:STRATA_SHOWN],
            "more_strata": max(0, len(strata) - STRATA_SHOWN),
            "missing": check.missing[:CHECK_DIFFERENCES_SHOWN],
            "extra": check.extra[:CHECK_DIFFERENCES_SHOWN],
            "method": _method_text(plan),
            "targets": _targets_text(plan),
        },
    )


urlpatterns = [
    path("sampling/", plan_list, name="sampling_list"),
    path("sampling/new/", plan_create, name="sampling_create"),
    path("sampling/<int:pk>/", plan_detail, name="sampling_detail"),
    path("sampling/<int:pk>/draw/", plan_draw, name="sampling_draw"),
    path("sampling/<int:pk>/check/", plan_check, name="sampling_check"),
]
