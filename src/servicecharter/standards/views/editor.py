"""Writing standards (MANAGE_STANDARDS on a whole tree): create a standard, change its names
and audience, draft a version (a copy of the latest one), edit the draft's steps, publish it.

Every write goes through ``standards.services``; a refusal is shown beside the field it concerns
and nothing is saved. A published version has no editing controls: "Edit" drafts a new one.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from servicecharter.org.forms import apply_service_errors
from servicecharter.standards import selectors, services
from servicecharter.standards.forms import PublishForm, StandardForm, StepForm, VersionSummaryForm
from servicecharter.standards.views import manager_required
from servicecharter.standards.views.library import version_context


def _run(request, form, write, done: str):
    """Run the service ``write``; on a refusal show it beside the field. The result, or None."""
    try:
        result = write()
    except ValidationError as error:
        apply_service_errors(form, error)
        return None
    messages.success(request, done)
    return result


@manager_required
def standard_create(request):
    form = StandardForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        standard = _run(
            request,
            form,
            lambda: services.standard_create(
                actor=request.user,
                code=data["code"],
                name_en=data["name_en"],
                name_zh=data["name_zh"],
                business_type=data["business_type"],
                channel=data["channel"],
                departments=list(data["departments"]),
            ),
            _("Standard created: add the steps of its first version, then publish it."),
        )
        if standard:
            return redirect("standards:version_detail", pk=standard.versions.get().pk)
    return render(request, "standards/form.html", {"form": form, "title": _("New standard")})


@manager_required
def standard_edit(request, pk: int):
    standard = selectors.standard_get(pk=pk)
    locked = services.standard_has_published(standard)
    form = StandardForm(request.POST or None, standard=standard, locked=locked)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        extra = (
            {} if locked else {"business_type": data["business_type"], "channel": data["channel"]}
        )
        saved = _run(
            request,
            form,
            lambda: services.standard_update(
                actor=request.user,
                standard=standard,
                name_en=data["name_en"],
                name_zh=data["name_zh"],
                departments=list(data["departments"]),
                **extra,
            ),
            _("Standard saved."),
        )
        if saved:
            return redirect("standards:standard_detail", pk=standard.pk)
    title = _("Edit standard %(code)s") % {"code": standard.code}
    return render(request, "standards/form.html", {"form": form, "title": title})


@manager_required
@require_POST
def version_draft(request, pk: int):
    """Open the standard's draft, drafting a new version from the latest one if needed."""
    standard = selectors.standard_get(pk=pk)
    draft = services.standard_version_draft(actor=request.user, standard=standard)
    return redirect("standards:version_detail", pk=draft.pk)


def _draft(request, pk: int):
    return selectors.standard_version_get(user=request.user, pk=pk)


def _editor_again(request, version, status: int = 422, **forms):
    """The version page again with the form that failed (422, so HTMX and tests see it)."""
    context = version_context(request, version, **forms)
    return render(request, "standards/version_detail.html", context, status=status)


@manager_required
@require_POST
def version_summary(request, pk: int):
    version = _draft(request, pk)
    form = VersionSummaryForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        if _run(
            request,
            form,
            lambda: services.standard_version_update(
                actor=request.user,
                version=version,
                summary_en=data["summary_en"],
                summary_zh=data["summary_zh"],
            ),
            _("Summary saved."),
        ):
            return redirect("standards:version_detail", pk=version.pk)
    return _editor_again(request, version, summary_form=form)


@manager_required
@require_POST
def step_add(request, pk: int):
    version = _draft(request, pk)
    form = StepForm(request.POST)
    if form.is_valid() and _run(
        request,
        form,
        lambda: services.standard_step_add(
            actor=request.user, version=version, **form.cleaned_data
        ),
        _("Step added."),
    ):
        return redirect(f"{version_url(version)}#steps")
    return _editor_again(request, version, step_form=form)


def version_url(version) -> str:
    return reverse("standards:version_detail", args=[version.pk])


@manager_required
def step_edit(request, pk: int):
    step = selectors.standard_step_get(user=request.user, pk=pk)
    form = StepForm(request.POST or None, step=step)
    if request.method == "POST" and form.is_valid():
        saved = _run(
            request,
            form,
            lambda: services.standard_step_update(
                actor=request.user, step=step, **form.cleaned_data
            ),
            _("Step saved."),
        )
        if saved:
            return redirect(f"{version_url(step.version)}#steps")
    title = _("Step %(code)s of %(standard)s, version %(number)s") % {
        "code": step.code,
        "standard": step.version.standard.code,
        "number": step.version.number,
    }
    return render(
        request,
        "standards/form.html",
        {"form": form, "title": title, "cancel_url": version_url(step.version)},
    )


@manager_required
@require_POST
def step_remove(request, pk: int):
    step = selectors.standard_step_get(user=request.user, pk=pk)
    try:
        services.standard_step_remove(actor=request.user, step=step)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("Step %(code)s removed.") % {"code": step.code})
    return redirect(f"{version_url(step.version)}#steps")


@manager_required
@require_POST
def step_move(request, pk: int, direction: str):
    step = selectors.standard_step_get(user=request.user, pk=pk)
    try:
        services.standard_step_move(actor=request.user, step=step, direction=direction)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect(f"{version_url(step.version)}#steps")


@manager_required
@require_POST
def version_publish(request, pk: int):
    version = _draft(request, pk)
    form = PublishForm(request.POST)
    if form.is_valid() and _run(
        request,
        form,
        lambda: services.standard_version_publish(
            actor=request.user,
            version=version,
            effective_from=form.cleaned_data["effective_from"],
        ),
        _("Version %(number)s published.") % {"number": version.number},
    ):
        return redirect("standards:standard_detail", pk=version.standard_id)
    return _editor_again(request, version, publish_form=form)


urlpatterns = [
    path("new/", standard_create, name="standard_create"),
    path("<int:pk>/edit/", standard_edit, name="standard_edit"),
    path("<int:pk>/draft/", version_draft, name="version_draft"),
    path("versions/<int:pk>/summary/", version_summary, name="version_summary"),
    path("versions/<int:pk>/steps/", step_add, name="step_add"),
    path("versions/<int:pk>/publish/", version_publish, name="version_publish"),
    path("steps/<int:pk>/edit/", step_edit, name="step_edit"),
    path("steps/<int:pk>/remove/", step_remove, name="step_remove"),
    path("steps/<int:pk>/move/<str:direction>/", step_move, name="step_move"),
]
