"""Violation pages: the queue of the violations in scope (VIEW_DISCIPLINE; filters by state,
type, department and source; HTMX refreshes the rows), a violation's page with its evidence,
ledger and the rulebook's recommendation step by step, and for reviewers (REVIEW_VIOLATIONS)
the confirm, dismiss and adjust forms; raising a violation by hand (RAISE_VIOLATIONS); and the
employee's "my violations" (their own staff record only).

Reads go through ``selectors`` (a violation outside the scope is 404); writes only through
``violations``."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from servicecharter.accounts import permissions as perms
from servicecharter.accounts.scoping import has_capability, restrict
from servicecharter.discipline import selectors
from servicecharter.discipline import violations as services
from servicecharter.discipline.choices import ViolationState
from servicecharter.discipline.forms import (
    ReviewNoteForm,
    ViolationAdjustForm,
    ViolationFilterForm,
    ViolationRaiseForm,
)
from servicecharter.discipline.rulebook_services import violation_recommend
from servicecharter.org import selectors as org_selectors
from servicecharter.org.forms import apply_service_errors
from servicecharter.org.models import Staff
from servicecharter.org.views import OpenEndedPage, capability_required

PAGE_SIZE = 25


def _error_text(error) -> str:
    return " ".join(getattr(error, "messages", None) or [str(error) or _("Not allowed.")])


# The queue -----------------------------------------------------------------------------------


@capability_required(perms.VIEW_DISCIPLINE)
def violation_queue(request):
    user = request.user
    departments = org_selectors.department_list(user=user, capability=perms.VIEW_DISCIPLINE)
    form = ViolationFilterForm(
        request.GET or None, departments=departments, types=selectors.violation_types()
    )
    filters = form.cleaned_data if form.is_valid() else {}
    rows = selectors.violation_queue(
        user=user,
        state=filters.get("state", ""),
        type_code=filters.get("type", ""),
        department=filters.get("department"),
        source=filters.get("source", ""),
    )
    page = OpenEndedPage(rows, request.GET.get("page"), PAGE_SIZE)
    context = {
        "form": form,
        "page": page,
        "may_raise": has_capability(user, perms.RAISE_VIOLATIONS),
    }
    if request.headers.get("HX-Request") and request.headers.get("HX-Target") == "results":
        return render(request, "discipline/_violation_results.html", context)
    return render(request, "discipline/violation_queue.html", context)


# One violation -------------------------------------------------------------------------------


def _recommendation(violation):
    try:
        return violation_recommend(violation=violation)
    except ValidationError:
        return None, None


def _detail_context(request, violation, **forms) -> dict:
    user = request.user
    may_review = (
        violation.state == ViolationState.OPEN
        and has_capability(user, perms.REVIEW_VIOLATIONS, violation.department)
        and user.staff_id != violation.staff_id
    )
    version, recommendation = _recommendation(violation)
    return {
        "violation": violation,
        "ledger": selectors.ledger_of(violation),
        "version": version,
        "recommendation": recommendation,
        "decisions": violation.decisions.order_by("-proposed_at"),
        "may_review": may_review,
        "may_propose": violation.state == ViolationState.CONFIRMED
        and has_capability(user, perms.PROPOSE_DECISIONS, violation.department)
        and user.staff_id != violation.staff_id,
        "adjust_form": forms.get("adjust_form")
        or ViolationAdjustForm(initial={"money_lost": violation.money_lost}),
        "review_form": forms.get("review_form") or ReviewNoteForm(),
    }


@capability_required(perms.VIEW_DISCIPLINE)
def violation_detail(request, pk: int):
    violation = selectors.violation_get_for_user(user=request.user, pk=pk)
    return render(request, "discipline/violation_detail.html", _detail_context(request, violation))


def _review_action(request, pk: int, action):
    violation = selectors.violation_get_for_user(user=request.user, pk=pk)
    form = ReviewNoteForm(request.POST)
    form.is_valid()
    try:
        action(violation, form.cleaned_data.get("note", ""))
    except PermissionDenied:
        raise
    except ValidationError as error:
        apply_service_errors(form, error)
        messages.error(request, _error_text(error))
        context = _detail_context(request, violation, review_form=form)
        return render(request, "discipline/violation_detail.html", context, status=400)
    return None


@require_POST
@capability_required(perms.REVIEW_VIOLATIONS)
def violation_confirm(request, pk: int):
    refused = _review_action(
        request,
        pk,
        lambda v, note: services.violation_confirm(actor=request.user, violation=v, note=note),
    )
    if refused:
        return refused
    messages.success(request, _("The violation is confirmed. A sanction may now be proposed."))
    return redirect("discipline:violation_detail", pk=pk)


@require_POST
@capability_required(perms.REVIEW_VIOLATIONS)
def violation_dismiss(request, pk: int):
    refused = _review_action(
        request,
        pk,
        lambda v, note: services.violation_dismiss(actor=request.user, violation=v, note=note),
    )
    if refused:
        return refused
    messages.success(request, _("The violation is dismissed."))
    return redirect("discipline:violation_detail", pk=pk)


@require_POST
@capability_required(perms.REVIEW_VIOLATIONS)
def violation_adjust(request, pk: int):
    violation = selectors.violation_get_for_user(user=request.user, pk=pk)
    form = ViolationAdjustForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.violation_adjust(
                actor=request.user,
                violation=violation,
                reason=data["reason"],
                severity=data["severity"] or None,
                impact_scope=data["impact_scope"] or None,
                money_lost=data["money_lost"],
            )
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, _("The violation is adjusted."))
            return redirect("discipline:violation_detail", pk=pk)
    context = _detail_context(request, violation, adjust_form=form)
    return render(request, "discipline/violation_detail.html", context, status=400)


# Raising by hand -------------------------------------------------------------------------


@capability_required(perms.RAISE_VIOLATIONS)
def violation_raise(request):
    form = ViolationRaiseForm(request.POST or None, types=selectors.violation_types())
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        staff = (
            restrict(
                Staff.objects.select_related("department"),
                request.user,
                perms.RAISE_VIOLATIONS,
            )
            .filter(employee_number=data["employee_number"].strip())
            .first()
        )
        if staff is None:
            form.add_error("employee_number", _("No employee with this number in your scope."))
        else:
            try:
                violation = services.violation_raise(
                    actor=request.user,
                    staff=staff,
                    vtype=data["vtype"],
                    occurred_at=data["occurred_at"],
                    summary=data["summary"],
                    details=data["details"],
                    evidence=data["evidence"],
                    severity=data["severity"] or None,
                    impact_scope=data["impact_scope"] or None,
                    money_lost=data["money_lost"],
                )
            except ValidationError as error:
                apply_service_errors(form, error)
            else:
                messages.success(request, _("The violation is recorded and awaits review."))
                return redirect("discipline:violation_detail", pk=violation.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "discipline/violation_raise.html", {"form": form}, status=status)


# The employee's own ---------------------------------------------------------------------------


@login_required
def my_violations(request):
    """The caller's own violations, each with its evidence and what happened to it."""
    violations = list(selectors.my_violations(user=request.user))
    return render(
        request,
        "discipline/violation_mine.html",
        {
            "violations": violations,
            "has_staff": request.user.staff_id is not None,
            "decisions_url": reverse("discipline:my_decisions"),
        },
    )


urlpatterns = [
    path("violations/", violation_queue, name="violation_queue"),
    path("violations/new/", violation_raise, name="violation_raise"),
    path("violations/<int:pk>/", violation_detail, name="violation_detail"),
    path("violations/<int:pk>/confirm/", violation_confirm, name="violation_confirm"),
    path("violations/<int:pk>/dismiss/", violation_dismiss, name="violation_dismiss"),
    path("violations/<int:pk>/adjust/", violation_adjust, name="violation_adjust"),
    path("mine/violations/", my_violations, name="my_violations"),
]
