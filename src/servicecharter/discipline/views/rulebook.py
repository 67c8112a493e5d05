"""Rulebook pages: the version in force, shown to every employee with an acknowledge button
(and to those with VIEW_DISCIPLINE the acknowledgement rate of their scope); for managers of
the rulebook (MANAGE_RULEBOOK over a top-level department) the versions, a version's rules and
factors with the editor while it is a draft, approval and publication, the simulator and the
lawful limits."""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from servicecharter.accounts import permissions as perms
from servicecharter.accounts.scoping import has_capability
from servicecharter.discipline import rulebook_services as services
from servicecharter.discipline import selectors
from servicecharter.discipline.choices import RulebookState
from servicecharter.discipline.forms import (
    ApproveForm,
    FactorForm,
    LimitsForm,
    RuleForm,
    SimulatorForm,
    VersionSettingsForm,
)
from servicecharter.discipline.models import Factor, LawfulLimits, Rule, Rulebook
from servicecharter.org import selectors as org_selectors
from servicecharter.org.forms import apply_service_errors


def rulebook_manager_required(view):
    """Signed in and managing the rulebook institution-wide; otherwise 403."""

    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not services.may_manage_rulebook(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


def _error_text(error) -> str:
    return " ".join(getattr(error, "messages", None) or [str(error)])


# Every employee ------------------------------------------------------------------------------


@login_required
def rulebook_in_force(request):
    """The version in force in the employee's jurisdiction (each jurisdiction's for those
    without a staff record), the next one already published, and the acknowledge button."""
    from django.utils import timezone

    user = request.user
    today = timezone.localdate()
    if user.staff_id is not None:
        jurisdictions = [services.jurisdiction_of(user.staff)]
    else:
        jurisdictions = sorted(set(Rulebook.objects.values_list("jurisdiction", flat=True)))
    shown = []
    for jurisdiction in jurisdictions:
        version = services.rulebook_version_in_force(jurisdiction=jurisdiction, on=today)
        upcoming = (
            selectors.rulebook_versions()
            .filter(
                rulebook__jurisdiction=jurisdiction,
                state=RulebookState.PUBLISHED,
                effective_from__gt=today,
            )
            .order_by("effective_from")
        )
        for each in [version, *upcoming]:
            if each is None:
                continue
            each.acknowledged = each.acknowledgements.filter(user=user).exists()
            if has_capability(user, perms.VIEW_DISCIPLINE):
                each.rate = services.acknowledgement_rate(version=each, user=user)
            shown.append(each)
    return render(
        request,
        "discipline/rulebook_in_force.html",
        {
            "versions": shown,
            "has_staff": user.staff_id is not None,
            "may_manage": services.may_manage_rulebook(user),
        },
    )


@require_POST
@login_required
def rulebook_acknowledge(request, pk: int):
    version = selectors.rulebook_version_get(pk=pk)
    if version.state != RulebookState.PUBLISHED:
        raise Http404
    try:
        services.rulebook_acknowledge(actor=request.user, version=version)
    except ValidationError as error:
        messages.error(request, _error_text(error))
    else:
        messages.success(request, _("Thank you: your acknowledgement is recorded."))
    return redirect("discipline:rulebook_in_force")


# Managing versions ----------------------------------------------------------------------------


@rulebook_manager_required
def rulebook_version_list(request):
    return render(
        request,
        "discipline/rulebook_versions.html",
        {"rulebooks": selectors.rulebooks(), "versions": selectors.rulebook_versions()},
    )


@require_POST
@rulebook_manager_required
def rulebook_draft(request, pk: int):
    rulebook = get_object_or_404(Rulebook, pk=pk)
    try:
        version = services.rulebook_version_draft(actor=request.user, rulebook=rulebook)
    except ValidationError as error:
        messages.error(request, _error_text(error))
        return redirect("discipline:rulebook_versions")
    messages.success(request, _("A new draft is ready to edit."))
    return redirect("discipline:rulebook_version", pk=version.pk)


def _version_context(request, version, **forms) -> dict:
    is_draft = version.state == RulebookState.DRAFT
    return {
        "version": version,
        "rules": version.rules.select_related("violation_type").order_by("order", "code"),
        "factors": version.factors.order_by("effect", "code"),
        "is_draft": is_draft,
        "settings_form": forms.get("settings_form") or VersionSettingsForm(instance=version),
        "rule_form": forms.get("rule_form") or RuleForm(),
        "factor_form": forms.get("factor_form") or FactorForm(),
        "approve_form": forms.get("approve_form") or ApproveForm(),
        "may_approve": version.state == RulebookState.DRAFT
        and version.created_by_id != request.user.pk,
        "may_publish": version.state == RulebookState.APPROVED,
        "rate": services.acknowledgement_rate(version=version)
        if version.state == RulebookState.PUBLISHED
        else None,
    }


@rulebook_manager_required
def rulebook_version(request, pk: int):
    version = selectors.rulebook_version_get(pk=pk)
    return render(request, "discipline/rulebook_version.html", _version_context(request, version))


def _version_form_post(request, pk: int, form_key: str, form, save):
    version = selectors.rulebook_version_get(pk=pk)
    if form.is_valid():
        try:
            save(version, form)
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            return redirect("discipline:rulebook_version", pk=pk)
    context = _version_context(request, version, **{form_key: form})
    return render(request, "discipline/rulebook_version.html", context, status=400)


@require_POST
@rulebook_manager_required
def rulebook_version_settings(request, pk: int):
    return _version_form_post(
        request,
        pk,
        "settings_form",
        VersionSettingsForm(request.POST),
        lambda version, form: services.rulebook_version_update(
            actor=request.user, version=version, **form.cleaned_data
        ),
    )


@require_POST
@rulebook_manager_required
def rule_add(request, pk: int):
    return _version_form_post(
        request,
        pk,
        "rule_form",
        RuleForm(request.POST),
        lambda version, form: services.rule_save(
            actor=request.user, version=version, **form.values()
        ),
    )


@rulebook_manager_required
def rule_edit(request, pk: int):
    rule = get_object_or_404(Rule.objects.select_related("version__rulebook"), pk=pk)
    form = RuleForm(request.POST or None, instance=rule)
    if request.method == "POST" and form.is_valid():
        try:
            # The form changed its instance in place: the service gets the stored rule, so
            # the audit row shows what changed.
            stored = Rule.objects.get(pk=rule.pk)
            services.rule_save(
                actor=request.user, version=rule.version, rule=stored, **form.values()
            )
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, _("The rule is saved."))
            return redirect("discipline:rulebook_version", pk=rule.version_id)
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "discipline/rulebook_rule_edit.html",
        {"form": form, "rule": rule, "version": rule.version},
        status=status,
    )


@require_POST
@rulebook_manager_required
def rule_remove(request, pk: int):
    rule = get_object_or_404(Rule.objects.select_related("version"), pk=pk)
    try:
        services.rule_delete(actor=request.user, rule=rule)
    except ValidationError as error:
        messages.error(request, _error_text(error))
    return redirect("discipline:rulebook_version", pk=rule.version_id)


@require_POST
@rulebook_manager_required
def factor_add(request, pk: int):
    return _version_form_post(
        request,
        pk,
        "factor_form",
        FactorForm(request.POST),
        lambda version, form: services.factor_save(
            actor=request.user, version=version, **form.cleaned_data
        ),
    )


@require_POST
@rulebook_manager_required
def factor_remove(request, pk: int):
    factor = get_object_or_404(Factor.objects.select_related("version"), pk=pk)
    try:
        services.factor_delete(actor=request.user, factor=factor)
    except ValidationError as error:
        messages.error(request, _error_text(error))
    return redirect("discipline:rulebook_version", pk=factor.version_id)


@require_POST
@rulebook_manager_required
def rulebook_approve(request, pk: int):
    return _version_form_post(
        request,
        pk,
        "approve_form",
        ApproveForm(request.POST),
        lambda version, form: services.rulebook_version_approve(
            actor=request.user, version=version, note=form.cleaned_data["note"]
        ),
    )


@require_POST
@rulebook_manager_required
def rulebook_publish(request, pk: int):
    version = selectors.rulebook_version_get(pk=pk)
    try:
        services.rulebook_version_publish(actor=request.user, version=version)
    except ValidationError as error:
        messages.error(request, _error_text(error))
    else:
        messages.success(request, _("Published: the staff are notified and asked to acknowledge."))
    return redirect("discipline:rulebook_version", pk=pk)


# The simulator ------------------------------------------------------------------------------


@rulebook_manager_required
def rulebook_simulate(request):
    versions = selectors.rulebook_versions()
    departments = org_selectors.department_list(user=request.user, capability=perms.VIEW_DISCIPLINE)
    form = SimulatorForm(request.GET or None, versions=versions, departments=departments)
    result = violations = None
    if request.GET and form.is_valid():
        data = form.cleaned_data
        result, violations = services.simulation_run(
            user=request.user,
            before=data["before"],
            after=data["after"],
            start=data["start"],
            end=data["end"],
            department=data["department"],
        )
    rows = []
    if result is not None:
        rows = [
            (violations.get(case.key), case) for case in result.changed[: services.SIMULATION_ROWS]
        ]
    return render(
        request,
        "discipline/rulebook_simulate.html",
        {
            "form": form,
            "result": result,
            "rows": rows,
            "counts": _count_rows(result),
            "limit": services.SIMULATION_ROWS,
        },
    )


def _count_rows(result) -> list[tuple]:
    """(measure, count under the first version, under the second, the change)."""
    if result is None:
        return []
    rows = []
    for measure in result.measures:
        before = result.counts_before.get(measure, 0)
        after = result.counts_after.get(measure, 0)
        rows.append((measure, before, after, after - before))
    return rows


# Lawful limits ------------------------------------------------------------------------------


@rulebook_manager_required
def limits_list(request):
    return render(request, "discipline/limits_list.html", {"rows": selectors.lawful_limits()})


@rulebook_manager_required
def limits_edit(request, jurisdiction: str):
    row = LawfulLimits.objects.filter(jurisdiction=jurisdiction).first()
    initial = (
        {
            "fine_policy": row.fine_policy,
            "cap_percent": row.deduction_cap_percent,
            "minimum_wage": row.minimum_wage,
            "currency": row.currency,
            "note": row.note,
        }
        if row
        else {"cap_percent": 20, "currency": "CNY"}
    )
    form = LimitsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.lawful_limits_save(
                actor=request.user, jurisdiction=jurisdiction[:20], **form.cleaned_data
            )
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, _("The lawful limits are saved."))
            return redirect("discipline:limits_list")
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "discipline/limits_edit.html",
        {"form": form, "jurisdiction": jurisdiction},
        status=status,
    )


urlpatterns = [
    path("rulebook/", rulebook_in_force, name="rulebook_in_force"),
    path("rulebook/<int:pk>/acknowledge/", rulebook_acknowledge, name="rulebook_acknowledge"),
    path("rulebook/versions/", rulebook_version_list, name="rulebook_versions"),
    path("rulebook/books/<int:pk>/draft/", rulebook_draft, name="rulebook_draft"),
    path("rulebook/versions/<int:pk>/", rulebook_version, name="rulebook_version"),
    path(
        "rulebook/versions/<int:pk>/settings/",
        rulebook_version_settings,
        name="rulebook_version_settings",
    ),
    path("rulebook/versions/<int:pk>/rules/", rule_add, name="rule_add"),
    path("rulebook/versions/<int:pk>/factors/", factor_add, name="factor_add"),
    path("rulebook/versions/<int:pk>/approve/", rulebook_approve, name="rulebook_approve"),
    path("rulebook/versions/<int:pk>/publish/", rulebook_publish, name="rulebook_publish"),
    path("rulebook/rules/<int:pk>/", rule_edit, name="rule_edit"),
    path("rulebook/rules/<int:pk>/delete/", rule_remove, name="rule_remove"),
    path("rulebook/factors/<int:pk>/delete/", factor_remove, name="factor_remove"),
    path("rulebook/simulate/", rulebook_simulate, name="rulebook_simulate"),
    path("rulebook/limits/", limits_list, name="limits_list"),
    path("rulebook/limits/<str:jurisdiction>/", limits_edit, name="limits_edit"),
]
