"""The standards library: every standard with the version in force, for everyone signed in.

A member of staff sees first the standards that apply to them (their department is named as
the audience, or they served the standard's channel and business type lately), in their
language, with whether they acknowledged the version in force and a button to do so. A
standard's page shows its version in force step by step and its history; a version's page
shows that version (drafts only to those who may edit them: it is where they are edited).
"""

from itertools import groupby

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from servicecharter.standards import selectors, services
from servicecharter.standards.choices import Phase, VersionState
from servicecharter.standards.forms import (
    PublishForm,
    StandardFilterForm,
    StepForm,
    VersionSummaryForm,
)
from servicecharter.standards.models import StandardVersion


def version_status(version: StandardVersion, now) -> tuple[str, str]:
    """(label, badge css) of a version: draft, scheduled, in force or superseded."""
    if version.state == VersionState.DRAFT:
        return _("Draft"), "badge-muted"
    if version.effective_from and version.effective_from > now:
        return _("Scheduled"), "badge-info"
    if version.effective_to and version.effective_to <= now:
        return _("Superseded"), "badge-muted"
    return _("In force"), "ok"


def steps_by_phase(steps) -> list[tuple[str, list]]:
    """(phase label, steps) in the order of the steps, for the four phases of S2."""
    labels = dict(Phase.choices)
    return [
        (labels.get(phase, phase), list(group))
        for phase, group in groupby(steps, key=lambda s: s.phase)
    ]


def _library_rows(standards, in_force, drafts, acknowledged) -> list[dict]:
    return [
        {
            "standard": standard,
            "version": in_force.get(standard.pk),
            "draft": drafts.get(standard.pk),
            "acknowledged": (
                in_force.get(standard.pk) is not None and in_force[standard.pk].pk in acknowledged
            ),
        }
        for standard in standards
    ]


@login_required
def library(request):
    form = StandardFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    standards = list(
        selectors.standard_list(q=filters.get("q", ""), channel=filters.get("channel", ""))
    )
    mine = selectors.standards_for_staff(request.user)
    ids = {standard.pk for standard in standards} | {standard.pk for standard in mine}
    in_force = selectors.versions_in_force(ids)
    manager = selectors.can_manage(request.user)
    drafts = selectors.drafts_of(ids) if manager else {}
    acknowledged = selectors.acknowledged_version_ids(
        request.user, [version.pk for version in in_force.values()]
    )
    mine_rows = _library_rows(mine, in_force, {}, acknowledged)
    context = {
        "form": form,
        "rows": _library_rows(standards, in_force, drafts, acknowledged),
        "mine": [row for row in mine_rows if row["version"] is not None],
        "is_staff_member": getattr(request.user, "staff", None) is not None,
        "can_manage": manager,
    }
    partial = request.htmx and not request.htmx.history_restore_request
    template = "standards/library.html"
    return render(request, f"{template}#results" if partial else template, context)


@login_required
def standard_detail(request, pk: int):
    standard = selectors.standard_get(pk=pk)
    now = timezone.now()
    versions = list(selectors.standard_versions(user=request.user, standard=standard))
    current = next((v for v in versions if v.in_force_at(now)), None)
    current = selectors.standard_version_get(user=request.user, pk=current.pk) if current else None
    acknowledged = bool(current and selectors.acknowledged_version_ids(request.user, [current.pk]))
    return render(
        request,
        "standards/standard_detail.html",
        {
            "standard": standard,
            "departments": list(standard.departments.order_by("path")),
            "current": current,
            "phases": steps_by_phase(current.steps.all()) if current else [],
            "versions": [(v, *version_status(v, now)) for v in versions],
            "acknowledged": acknowledged,
            "levels": (
                selectors.service_levels_in_force(channel=standard.channel, at=now)
                if standard.channel
                else []
            ),
            "can_manage": selectors.can_manage(request.user),
            "has_draft": any(v.state == VersionState.DRAFT for v in versions),
        },
    )


def version_context(request, version: StandardVersion, **forms) -> dict:
    """The version page: read-only, or the editor of a draft for those who may change it."""
    now = timezone.now()
    editable = version.state == VersionState.DRAFT and selectors.can_manage(request.user)
    steps = list(version.steps.all())
    context = {
        "version": version,
        "standard": version.standard,
        "steps": steps,
        "phases": steps_by_phase(steps),
        "status": version_status(version, now),
        "editable": editable,
        "acknowledged": bool(selectors.acknowledged_version_ids(request.user, [version.pk])),
        "can_acknowledge": version.state == VersionState.PUBLISHED
        and (version.effective_to is None or version.effective_to > now),
    }
    if editable:
        context.update(
            summary_form=forms.get("summary_form")
            or VersionSummaryForm(
                initial={"summary_en": version.summary_en, "summary_zh": version.summary_zh}
            ),
            step_form=forms.get("step_form") or StepForm(),
            publish_form=forms.get("publish_form") or PublishForm(),
        )
    return context


@login_required
def version_detail(request, pk: int):
    version = selectors.standard_version_get(user=request.user, pk=pk)
    return render(request, "standards/version_detail.html", version_context(request, version))


@login_required
@require_POST
def acknowledge(request, pk: int):
    version = selectors.standard_version_get(user=request.user, pk=pk)
    try:
        services.standard_acknowledge(user=request.user, version=version)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request,
            _("You acknowledged %(standard)s, version %(number)s.")
            % {"standard": version.standard.name, "number": version.number},
        )
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("standards:standard_detail", pk=version.standard_id)


urlpatterns = [
    path("", library, name="library"),
    path("<int:pk>/", standard_detail, name="standard_detail"),
    path("versions/<int:pk>/", version_detail, name="version_detail"),
    path("versions/<int:pk>/acknowledge/", acknowledge, name="acknowledge"),
]
