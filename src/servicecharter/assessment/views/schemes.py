"""The scheme editor (MANAGE_ASSESSMENT): the schemes with their versions, and a scheme's KPIs,
weights, minimum samples and tier thresholds. Saving edits the latest version while no period
was computed with it, and otherwise makes a new version (the page says which will happen).
Bad input is shown beside the field and saves nothing."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from servicecharter.accounts import permissions as perms
from servicecharter.assessment import selectors, services
from servicecharter.assessment.choices import Kpi
from servicecharter.assessment.models import Scheme
from servicecharter.org.forms import apply_service_errors
from servicecharter.org.views import capability_required

THRESHOLD = {"min_value": 0, "max_value": 100, "decimal_places": 2, "max_digits": 5}


class SchemeVersionForm(forms.Form):
    excellent_from = forms.DecimalField(label=gettext_lazy("Excellent from"), **THRESHOLD)
    good_from = forms.DecimalField(label=gettext_lazy("Good from"), **THRESHOLD)
    meets_from = forms.DecimalField(label=gettext_lazy("Meets from"), **THRESHOLD)
    needs_improvement_from = forms.DecimalField(
        label=gettext_lazy("Needs improvement from"),
        help_text=gettext_lazy("Below this: unsatisfactory."),
        **THRESHOLD,
    )
    min_kpis = forms.IntegerField(
        label=gettext_lazy("Minimum KPIs with data"),
        min_value=1,
        help_text=gettext_lazy("Fewer: the scorecard is “insufficient data”, never a tier."),
    )
    min_peers = forms.IntegerField(
        label=gettext_lazy("Minimum peer group"),
        min_value=1,
        help_text=gettext_lazy("A smaller peer group is compared with everyone instead."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for kpi in Kpi:
            self.fields[f"weight_{kpi.value}"] = forms.DecimalField(
                label=gettext_lazy("Weight"),
                required=False,
                min_value=0,
                max_value=1000,
                decimal_places=2,
                max_digits=6,
                help_text=gettext_lazy("Empty or 0: not in the scheme."),
            )
            self.fields[f"min_sample_{kpi.value}"] = forms.IntegerField(
                label=gettext_lazy("Minimum sample"), required=False, min_value=1
            )

    def kpi_rows(self):
        return [(kpi, self[f"weight_{kpi.value}"], self[f"min_sample_{kpi.value}"]) for kpi in Kpi]

    def service_arguments(self) -> dict:
        data = dict(self.cleaned_data)
        kpis = []
        for kpi in Kpi:
            weight = data.pop(f"weight_{kpi.value}")
            min_sample = data.pop(f"min_sample_{kpi.value}")
            if weight:
                if min_sample is None:
                    self.add_error(
                        f"min_sample_{kpi.value}",
                        _("A KPI in the scheme needs its minimum sample."),
                    )
                kpis.append({"kpi": kpi.value, "weight": weight, "min_sample": min_sample})
        return {"kpis": kpis, **data}


class SchemeCreateForm(SchemeVersionForm):
    """A new scheme: its code and names, then its first version's KPIs and thresholds."""

    code = forms.SlugField(label=gettext_lazy("Code"), max_length=32)
    name_en = forms.CharField(label=gettext_lazy("Name (English)"), max_length=200)
    name_zh = forms.CharField(label=gettext_lazy("Name (Chinese)"), max_length=200)

    def service_arguments(self) -> dict:
        arguments = super().service_arguments()
        return {name: arguments.pop(name) for name in ("code", "name_en", "name_zh")} | {
            "version_fields": arguments
        }


def _initial(scheme: Scheme) -> dict:
    version = scheme.latest_version()
    if version is None:
        return {"min_kpis": 3, "min_peers": 5}
    initial = {
        name: getattr(version, name)
        for name in (
            "excellent_from",
            "good_from",
            "meets_from",
            "needs_improvement_from",
            "min_kpis",
            "min_peers",
        )
    }
    for row in version.kpis.all():
        initial[f"weight_{row.kpi}"] = row.weight
        initial[f"min_sample_{row.kpi}"] = row.min_sample
    return initial


@capability_required(perms.MANAGE_ASSESSMENT)
def scheme_list(request):
    return render(request, "assessment/scheme_list.html", {"schemes": selectors.scheme_list()})


@capability_required(perms.MANAGE_ASSESSMENT)
def scheme_new(request):
    initial = {"min_kpis": 3, "min_peers": 5, "excellent_from": 90, "good_from": 75}
    initial |= {"meets_from": 60, "needs_improvement_from": 40}
    form = SchemeCreateForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        arguments = form.service_arguments()
        if form.is_valid():
            try:
                scheme = services.scheme_create(
                    actor=request.user,
                    code=arguments["code"],
                    name_en=arguments["name_en"],
                    name_zh=arguments["name_zh"],
                    **arguments["version_fields"],
                )
            except ValidationError as error:
                apply_service_errors(form, error)
            else:
                messages.success(request, _("The scheme is created as version 1."))
                return redirect("assessment:scheme", pk=scheme.pk)
    return render(
        request,
        "assessment/scheme_new.html",
        {"form": form},
        status=422 if request.method == "POST" else 200,
    )


@capability_required(perms.MANAGE_ASSESSMENT)
def scheme_edit(request, pk: int):
    scheme = get_object_or_404(Scheme, pk=pk)
    latest = scheme.latest_version()
    form = SchemeVersionForm(request.POST or None, initial=_initial(scheme))
    if request.method == "POST" and form.is_valid():
        arguments = form.service_arguments()
        if form.is_valid():
            try:
                version = services.scheme_version_save(
                    actor=request.user, scheme=scheme, **arguments
                )
            except ValidationError as error:
                apply_service_errors(form, error)
            else:
                messages.success(
                    request, _("Saved as version %(number)s.") % {"number": version.number}
                )
                return redirect("assessment:scheme", pk=scheme.pk)
    return render(
        request,
        "assessment/scheme_edit.html",
        {
            "scheme": scheme,
            "latest": latest,
            "in_use": latest is not None and services.version_in_use(latest),
            "versions": scheme.versions.prefetch_related("kpis"),
            "form": form,
        },
        status=422 if request.method == "POST" else 200,
    )


urlpatterns = [
    path("schemes/", scheme_list, name="schemes"),
    path("schemes/new/", scheme_new, name="scheme_new"),
    path("schemes/<int:pk>/", scheme_edit, name="scheme"),
]
