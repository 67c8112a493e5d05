"""Scorecards (MANAGE_QUALITY): the list, a scorecard's version history, a version's page —
the editor while it is a draft (pass mark, sections, criteria, activation) — and "edit" on a
version in use, which drafts a new version copied from it and never changes the old one.

Reading needs MANAGE_QUALITY somewhere; writing needs it institution-wide (the services refuse
anyone else with 403). Every write goes through ``quality.services``; a refusal — including the
statistics module's (a critical item that is not yes/no, a weight that is not positive, a
version that cannot be scored) — is shown beside the field it concerns and nothing is saved.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from servicecharter.accounts import permissions as perms
from servicecharter.org.forms import apply_service_errors
from servicecharter.org.views import capability_required
from servicecharter.quality import selectors, services
from servicecharter.quality.choices import ScorecardState
from servicecharter.quality.forms import CriterionForm, PassMarkForm, ScorecardForm, SectionForm
from servicecharter.quality.models import Evaluation, ScorecardVersion

VERSION_BADGE = {
    ScorecardState.DRAFT: "badge-muted",
    ScorecardState.ACTIVE: "ok",
    ScorecardState.RETIRED: "",
}


def _run(request, form, write, done: str):
    """Run the service ``write``; on a refusal show it beside the field. The result, or None."""
    try:
        result = write()
    except ValidationError as error:
        apply_service_errors(form, error)
        return None
    messages.success(request, done)
    return result


def _version_url(version, anchor: str = "") -> str:
    url = reverse("quality:scorecard_version", args=[version.pk])
    return f"{url}#{anchor}" if anchor else url


# The list and a scorecard's history ------------------------------------------------------------


@capability_required(perms.MANAGE_QUALITY)
def scorecard_list(request):
    scorecards = list(selectors.scorecard_list(user=request.user))
    rows = []
    for scorecard in scorecards:
        versions = list(scorecard.versions.all())
        rows.append(
            {
                "scorecard": scorecard,
                "active": next((v for v in versions if v.state == ScorecardState.ACTIVE), None),
                "draft": next((v for v in versions if v.state == ScorecardState.DRAFT), None),
                "versions": len(versions),
            }
        )
    return render(
        request,
        "quality/scorecard_list.html",
        {"rows": rows, "can_manage": selectors.can_manage_scorecards(request.user)},
    )


@capability_required(perms.MANAGE_QUALITY)
def scorecard_create(request):
    form = ScorecardForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        scorecard = _run(
            request,
            form,
            lambda: services.scorecard_create(
                actor=request.user,
                code=data["code"],
                name_en=data["name_en"],
                name_zh=data["name_zh"],
                pass_mark=data["pass_mark"],
            ),
            _("Scorecard created: add its sections and criteria, then put it in use."),
        )
        if scorecard:
            return redirect("quality:scorecard_version", pk=scorecard.versions.get().pk)
    return render(request, "quality/form.html", {"form": form, "title": _("New scorecard")})


@capability_required(perms.MANAGE_QUALITY)
def scorecard_detail(request, pk: int):
    """The scorecard's versions, newest first, with how many evaluations each scored."""
    scorecard = selectors.scorecard_get(user=request.user, pk=pk)
    versions = list(scorecard.versions.all())
    counts = dict(
        Evaluation.objects.filter(scorecard_version__in=versions)
        .values_list("scorecard_version")
        .annotate(n=Count("pk"))
    )
    criteria = dict(
        ScorecardVersion.objects.filter(pk__in=[v.pk for v in versions])
        .annotate(n=Count("sections__criteria"))
        .values_list("pk", "n")
    )
    rows = [
        {
            "version": version,
            "badge": VERSION_BADGE.get(version.state, ""),
            "evaluations": counts.get(version.pk, 0),
            "criteria": criteria.get(version.pk, 0),
        }
        for version in versions
    ]
    return render(
        request,
        "quality/scorecard_detail.html",
        {
            "scorecard": scorecard,
            "rows": rows,
            "can_manage": selectors.can_manage_scorecards(request.user),
        },
    )


@capability_required(perms.MANAGE_QUALITY)
def scorecard_edit(request, pk: int):
    scorecard = selectors.scorecard_get(user=request.user, pk=pk)
    form = ScorecardForm(request.POST or None, scorecard=scorecard)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        saved = _run(
            request,
            form,
            lambda: services.scorecard_update(
                actor=request.user,
                scorecard=scorecard,
                name_en=data["name_en"],
                name_zh=data["name_zh"],
            ),
            _("Scorecard saved."),
        )
        if saved:
            return redirect("quality:scorecard", pk=scorecard.pk)
    title = _("Edit scorecard %(code)s") % {"code": scorecard.code}
    cancel = reverse("quality:scorecard", args=[scorecard.pk])
    return render(
        request, "quality/form.html", {"form": form, "title": title, "cancel_url": cancel}
    )


# A version: the editor while it is a draft ------------------------------------------------------


def version_context(request, version, **forms) -> dict:
    editable = version.state == ScorecardState.DRAFT and selectors.can_manage_scorecards(
        request.user
    )
    sections = list(version.sections.all())
    failing = forms.get("criterion_section")
    context = {
        "version": version,
        "scorecard": version.scorecard,
        "section_rows": [
            {
                "section": section,
                "criterion_form": (
                    forms["criterion_form"]
                    if failing == section.pk
                    else CriterionForm(prefix=f"s{section.pk}")
                )
                if editable
                else None,
            }
            for section in sections
        ],
        "badge": VERSION_BADGE.get(version.state, ""),
        "editable": editable,
        "can_manage": selectors.can_manage_scorecards(request.user),
        "evaluations": Evaluation.objects.filter(scorecard_version=version).count(),
    }
    if editable:
        context |= {
            "pass_mark_form": forms.get("pass_mark_form")
            or PassMarkForm(initial={"pass_mark": version.pass_mark}),
            "section_form": forms.get("section_form") or SectionForm(),
            "activate_errors": forms.get("activate_errors", []),
        }
    return context


def _editor_again(request, version, **forms):
    """The version page again with the form that failed (422, so HTMX and tests see it)."""
    version = selectors.scorecard_version_get(user=request.user, pk=version.pk)
    context = version_context(request, version, **forms)
    return render(request, "quality/scorecard_version.html", context, status=422)


@capability_required(perms.MANAGE_QUALITY)
def version_detail(request, pk: int):
    version = selectors.scorecard_version_get(user=request.user, pk=pk)
    return render(request, "quality/scorecard_version.html", version_context(request, version))


@capability_required(perms.MANAGE_QUALITY)
@require_POST
def version_edit(request, pk: int):
    """Open the version for changes: a draft itself, or a new draft copied from it."""
    version = selectors.scorecard_version_get(user=request.user, pk=pk)
    draft = services.scorecard_version_edit(actor=request.user, version=version)
    if draft.pk != version.pk:
        messages.info(
            request,
            _("Version %(number)s is in use and stays as it is: you are editing version %(new)s.")
            % {"number": version.number, "new": draft.number},
        )
    return redirect("quality:scorecard_version", pk=draft.pk)


@capability_required(perms.MANAGE_QUALITY)
@require_POST
def version_pass_mark(request, pk: int):
    version = selectors.scorecard_version_get(user=request.user, pk=pk)
    form = PassMarkForm(request.POST)
    if form.is_valid() and _run(
        request,
        form,
        lambda: services.scorecard_version_update(
            actor=request.user, version=version, pass_mark=form.cleaned_data["pass_mark"]
        ),
        _("Pass mark saved."),
    ):
        return redirect(_version_url(version))
    return _editor_again(request, version, pass_mark_form=form)


@capability_required(perms.MANAGE_QUALITY)
@require_POST
def section_add(request, pk: int):
    version = selectors.scorecard_version_get(user=request.user, pk=pk)
    form = SectionForm(request.POST)
    if form.is_valid() and _run(
        request,
        form,
        lambda: services.section_add(actor=request.user, version=version, **form.cleaned_data),
        _("Section added."),
    ):
        return redirect(_version_url(version, "sections"))
    return _editor_again(request, version, section_form=form)


@capability_required(perms.MANAGE_QUALITY)
def section_edit(request, pk: int):
    section = selectors.section_get(user=request.user, pk=pk)
    form = SectionForm(request.POST or None, section=section)
    if (
        request.method == "POST"
        and form.is_valid()
        and _run(
            request,
            form,
            lambda: services.section_update(
                actor=request.user, section=section, **form.cleaned_data
            ),
            _("Section saved."),
        )
    ):
        return redirect(_version_url(section.version, "sections"))
    title = _("Section “%(name)s” of %(code)s, version %(number)s") % {
        "name": section.name_en,
        "code": section.version.scorecard.code,
        "number": section.version.number,
    }
    return render(
        request,
        "quality/form.html",
        {"form": form, "title": title, "cancel_url": _version_url(section.version)},
    )


@capability_required(perms.MANAGE_QUALITY)
@require_POST
def section_remove(request, pk: int):
    section = selectors.section_get(user=request.user, pk=pk)
    try:
        services.section_remove(actor=request.user, section=section)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("Section removed."))
    return redirect(_version_url(section.version, "sections"))


@capability_required(perms.MANAGE_QUALITY)
@require_POST
def criterion_add(request, pk: int):
    """A criterion at the end of section ``pk``."""
    section = selectors.section_get(user=request.user, pk=pk)
    form = CriterionForm(request.POST, prefix=f"s{section.pk}")
    if form.is_valid() and _run(
        request,
        form,
        lambda: services.criterion_add(actor=request.user, section=section, **form.cleaned_data),
        _("Criterion added."),
    ):
        return redirect(_version_url(section.version, f"section-{section.pk}"))
    return _editor_again(
        request, section.version, criterion_form=form, criterion_section=section.pk
    )


@capability_required(perms.MANAGE_QUALITY)
def criterion_edit(request, pk: int):
    criterion = selectors.criterion_get(user=request.user, pk=pk)
    version = criterion.section.version
    form = CriterionForm(request.POST or None, criterion=criterion)
    if (
        request.method == "POST"
        and form.is_valid()
        and _run(
            request,
            form,
            lambda: services.criterion_update(
                actor=request.user, criterion=criterion, **form.cleaned_data
            ),
            _("Criterion saved."),
        )
    ):
        return redirect(_version_url(version, f"section-{criterion.section_id}"))
    title = _("Criterion %(code)s of %(scorecard)s, version %(number)s") % {
        "code": criterion.code,
        "scorecard": version.scorecard.code,
        "number": version.number,
    }
    return render(
        request,
        "quality/form.html",
        {"form": form, "title": title, "cancel_url": _version_url(version)},
    )


@capability_required(perms.MANAGE_QUALITY)
@require_POST
def criterion_remove(request, pk: int):
    criterion = selectors.criterion_get(user=request.user, pk=pk)
    try:
        services.criterion_remove(actor=request.user, criterion=criterion)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("Criterion %(code)s removed.") % {"code": criterion.code})
    return redirect(_version_url(criterion.section.version, f"section-{criterion.section_id}"))


@capability_required(perms.MANAGE_QUALITY)
@require_POST
def version_activate(request, pk: int):
    version = selectors.scorecard_version_get(user=request.user, pk=pk)
    try:
        services.scorecard_version_activate(actor=request.user, version=version)
    except ValidationError as error:
        return _editor_again(request, version, activate_errors=error.messages)
    messages.success(
        request,
        _("Version %(number)s is in use; the version before it is retired.")
        % {"number": version.number},
    )
    return redirect("quality:scorecard", pk=version.scorecard_id)


urlpatterns = [
    path("scorecards/", scorecard_list, name="scorecards"),
    path("scorecards/new/", scorecard_create, name="scorecard_create"),
    path("scorecards/<int:pk>/", scorecard_detail, name="scorecard"),
    path("scorecards/<int:pk>/edit/", scorecard_edit, name="scorecard_edit"),
    path("scorecards/versions/<int:pk>/", version_detail, name="scorecard_version"),
    path("scorecards/versions/<int:pk>/edit/", version_edit, name="scorecard_version_edit"),
    path("scorecards/versions/<int:pk>/pass-mark/", version_pass_mark, name="pass_mark"),
    path("scorecards/versions/<int:pk>/sections/", section_add, name="section_add"),
    path("scorecards/versions/<int:pk>/activate/", version_activate, name="activate"),
    path("scorecards/sections/<int:pk>/edit/", section_edit, name="section_edit"),
    path("scorecards/sections/<int:pk>/remove/", section_remove, name="section_remove"),
    path("scorecards/sections/<int:pk>/criteria/", criterion_add, name="criterion_add"),
    path("scorecards/criteria/<int:pk>/edit/", criterion_edit, name="criterion_edit"),
    path("scorecards/criteria/<int:pk>/remove/", criterion_remove, name="criterion_remove"),
]
