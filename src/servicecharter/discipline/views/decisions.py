"""Decision pages: the list of decisions in scope (VIEW_DISCIPLINE), the approval queue
(APPROVE_DECISIONS: awaiting my approval, in scope, not my own proposals), a decision's page
with its facts, rule, approvals, ledger and the caller's actions, proposing a sanction from a
confirmed violation (the form pre-filled with the rulebook's recommendation; changing the
measure, amount or factors asks the server again through HTMX, which shows the reason field
when the proposal deviates and the lawful-limit check), and proposing a reward for an employee
or a reward or penalty for a department.

Reads go through ``decision_selectors`` (a decision outside the scope is 404); writes only
through ``decisions``. A refusal shows beside the field it concerns; nothing is half-saved."""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from servicecharter.accounts import permissions as perms
from servicecharter.accounts.scoping import get_in_scope_or_404, has_capability, restrict
from servicecharter.discipline import decision_selectors as selectors
from servicecharter.discipline import decisions as services
from servicecharter.discipline import fairness
from servicecharter.discipline.choices import (
    DEDUCTIONS,
    REWARDS,
    SANCTIONS,
    DecisionKind,
    DecisionState,
    Measure,
)
from servicecharter.discipline.models import Decision, Violation
from servicecharter.org import selectors as org_selectors
from servicecharter.org.forms import DepartmentChoiceField, apply_service_errors
from servicecharter.org.models import Staff
from servicecharter.org.views import OpenEndedPage, capability_required

PAGE_SIZE = 25
MONTH_WIDGET = forms.DateInput(attrs={"type": "month"}, format="%Y-%m")
SANCTION_CHOICES = [
    (measure.value, measure.label) for measure in Measure if measure in SANCTIONS
] + [(Measure.NONE.value, Measure.NONE.label)]


def _error_text(error) -> str:
    return " ".join(getattr(error, "messages", None) or [str(error) or _("Not allowed.")])


# Lists --------------------------------------------------------------------------------------


@capability_required(perms.VIEW_DISCIPLINE)
def decision_list(request):
    rows = selectors.decision_list_for_user(user=request.user)
    state = request.GET.get("state", "")
    if state in DecisionState.values:
        rows = rows.filter(state=state)
    kind = request.GET.get("kind", "")
    if kind in DecisionKind.values:
        rows = rows.filter(kind=kind)
    page = OpenEndedPage(rows, request.GET.get("page"), PAGE_SIZE)
    return render(
        request,
        "discipline/decision_list.html",
        {
            "page": page,
            "state": state,
            "kind": kind,
            "states": DecisionState.choices,
            "kinds": DecisionKind.choices,
            "may_propose": has_capability(request.user, perms.PROPOSE_DECISIONS),
        },
    )


@capability_required(perms.APPROVE_DECISIONS)
def decision_queue(request):
    page = OpenEndedPage(
        selectors.approval_queue(user=request.user), request.GET.get("page"), PAGE_SIZE
    )
    return render(request, "discipline/decision_queue.html", {"page": page})


# One decision -------------------------------------------------------------------------------


def _detail_context(request, decision) -> dict:
    user = request.user
    breaches = []
    if decision.state == DecisionState.PROPOSED and decision.measure in DEDUCTIONS:
        breaches = services.limit_breaches(
            staff=decision.staff,
            measure=decision.measure,
            amount=decision.amount,
            month=decision.deduction_month,
            excluding=decision.pk,
        )
    appeal = getattr(decision, "appeal", None)
    thin = fairness.thin_evidence(Decision.objects.filter(pk=decision.pk))
    return {
        "decision": decision,
        "thin_evidence": thin[0].reasons if thin else [],
        "approvals": selectors.approvals_of(decision),
        "ledger": selectors.ledger_of(decision),
        "breaches": breaches,
        "may_approve": services.may_approve(user, decision),
        "may_withdraw": decision.state == DecisionState.PROPOSED
        and decision.proposed_by_id == user.pk,
        "appeal": appeal,
        "may_decide_appeal": appeal is not None and services.may_decide_appeal(user, appeal),
        "needs_roles": sorted(str(role) for role in services.required_roles(decision)),
        "required_count": services.required_count(decision),
    }


def decision_detail(request, pk: int):
    """Readers in scope and the employee (once decided) see it; anyone else gets 404."""
    if not request.user.is_authenticated:
        return redirect(f"{reverse('accounts:login')}?next={request.path}")
    decision = selectors.decision_get_for_user(user=request.user, pk=pk)
    if (
        services.is_the_employee(request.user, decision)
        and decision.state == DecisionState.APPROVED
    ):
        return redirect(f"{reverse('discipline:my_decisions')}#decision-{pk}")
    return render(request, "discipline/decision_detail.html", _detail_context(request, decision))


def _act(request, pk: int, change, done: str):
    decision = selectors.decision_get_for_user(user=request.user, pk=pk)
    try:
        change(decision)
    except ValidationError as error:
        messages.error(request, _error_text(error))
    else:
        messages.success(request, done)
    return redirect("discipline:decision_detail", pk=pk)


@require_POST
@capability_required(perms.APPROVE_DECISIONS)
def decision_approve(request, pk: int):
    note = request.POST.get("note", "")
    return _act(
        request,
        pk,
        lambda decision: services.decision_approve(
            actor=request.user, decision=decision, note=note
        ),
        _("Your approval is recorded."),
    )


@require_POST
@capability_required(perms.APPROVE_DECISIONS)
def decision_reject(request, pk: int):
    note = request.POST.get("note", "")
    return _act(
        request,
        pk,
        lambda decision: services.decision_reject(actor=request.user, decision=decision, note=note),
        _("The proposal is rejected."),
    )


@require_POST
@capability_required(perms.PROPOSE_DECISIONS)
def decision_withdraw(request, pk: int):
    return _act(
        request,
        pk,
        lambda decision: services.decision_withdraw(actor=request.user, decision=decision),
        _("The proposal is withdrawn."),
    )


# Proposing a sanction -----------------------------------------------------------------------


class ProposeForm(forms.Form):
    measure = forms.ChoiceField(label=gettext_lazy("Measure"), choices=SANCTION_CHOICES)
    amount = forms.DecimalField(
        label=gettext_lazy("Amount"), required=False, min_value=0, decimal_places=2
    )
    deduction_month = forms.DateField(
        label=gettext_lazy("Deducted from the wage of (month)"),
        required=False,
        widget=MONTH_WIDGET,
        input_formats=["%Y-%m", "%Y-%m-%d"],
    )
    factors = forms.MultipleChoiceField(
        label=gettext_lazy("Aggravating and mitigating factors"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    reason = forms.CharField(label=gettext_lazy("Reason"), required=False, widget=forms.Textarea)
    deviation_reason = forms.CharField(
        label=gettext_lazy("Why you deviate from the rulebook"),
        required=False,
        # Kept as typed when the check beside it is redrawn (htmx keeps a preserved element).
        widget=forms.Textarea(attrs={"rows": 3, "hx-preserve": "true"}),
    )

    def __init__(self, *args, factor_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["factors"].choices = factor_choices


def _violation_for_proposal(request, pk: int) -> Violation:
    violation = get_in_scope_or_404(
        Violation.objects.select_related("staff__department", "type", "department"),
        request.user,
        perms.PROPOSE_DECISIONS,
        "staff__department",
        pk=pk,
    )
    if not services.may_propose_for(request.user, violation):
        raise PermissionDenied
    return violation


def _factor_choices(violation) -> list[tuple[str, str]]:
    from servicecharter.discipline.rulebook_services import version_for

    version = version_for(violation)
    if version is None:
        return []
    return [
        (factor.code, f"{factor.name} ({factor.get_effect_display()})")
        for factor in version.factors.order_by("effect", "code")
    ]


def _check(violation, data: dict) -> dict:
    """The recommendation for the ticked factors and what the chosen measure implies:
    whether it deviates (the reason field appears) and the limits it would break."""
    factors = [code for code in data.get("factors") or [] if code]
    try:
        proposal = services.recommendation_for(violation=violation, factors=factors)
    except ValidationError as error:
        return {"error": _error_text(error)}
    measure = data.get("measure") or proposal.measure
    amount = data.get("amount")
    conversion = None
    try:
        measure, conversion = services.lawful_measure(violation.staff, measure)
    except ValidationError as error:
        return {"proposal": proposal, "error": _error_text(error), "deviates": True}
    if measure in DEDUCTIONS and amount in (None, "") and measure == proposal.measure:
        amount = proposal.amount
    try:
        amount = services.parse_amount(amount) if measure in DEDUCTIONS else None
    except ValidationError as error:
        return {"proposal": proposal, "error": _error_text(error)}
    deviates = services.deviates(
        measure=measure,
        amount=amount,
        recommended_measure=proposal.measure,
        recommended_amount=proposal.amount,
    )
    breaches = services.limit_breaches(
        staff=violation.staff, measure=measure, amount=amount, month=data.get("deduction_month")
    )
    return {
        "proposal": proposal,
        "measure": measure,
        "amount": amount,
        "conversion": conversion,
        "deviates": deviates,
        "breaches": breaches,
    }


def _initial(proposal) -> dict:
    return {
        "measure": proposal.measure if proposal.measure in dict(SANCTION_CHOICES) else "",
        "amount": proposal.amount,
        "deduction_month": timezone.localdate().replace(day=1),
    }


@capability_required(perms.PROPOSE_DECISIONS)
def decision_propose(request, pk: int):
    violation = _violation_for_proposal(request, pk)
    choices = _factor_choices(violation)
    if request.method == "POST":
        form = ProposeForm(request.POST, factor_choices=choices)
        if form.is_valid():
            data = form.cleaned_data
            try:
                decision = services.decision_propose(
                    actor=request.user,
                    violation=violation,
                    measure=data["measure"],
                    amount=data["amount"],
                    factors=data["factors"],
                    deviation_reason=data["deviation_reason"],
                    reason=data["reason"],
                    deduction_month=data["deduction_month"],
                )
            except ValidationError as error:
                apply_service_errors(form, error)
            else:
                messages.success(request, _("Proposed. It takes effect once approved."))
                return redirect("discipline:decision_detail", pk=decision.pk)
        check = _check(violation, form.cleaned_data if form.is_bound else {})
    else:
        check = _check(violation, {})
        form = ProposeForm(
            initial=_initial(check["proposal"]) if "proposal" in check else {},
            factor_choices=choices,
        )
    return render(
        request,
        "discipline/decision_propose.html",
        {"violation": violation, "form": form, "check": check},
    )


@capability_required(perms.PROPOSE_DECISIONS)
def decision_preview(request, pk: int):
    """HTMX: the recommendation and the checks for the form as it stands (nothing saved)."""
    violation = _violation_for_proposal(request, pk)
    form = ProposeForm(request.GET, factor_choices=_factor_choices(violation))
    form.is_valid()
    data = {key: form.cleaned_data.get(key) for key in ("measure", "amount", "factors")}
    data["deduction_month"] = form.cleaned_data.get("deduction_month")
    return render(
        request,
        "discipline/decision_propose.html#check",
        {"violation": violation, "form": form, "check": _check(violation, data)},
    )


# Rewards, and department decisions ----------------------------------------------------------


class DirectForm(forms.Form):
    employee_number = forms.CharField(
        label=gettext_lazy("Employee number"),
        required=False,
        max_length=32,
        help_text=gettext_lazy("Empty for a decision about a whole department."),
    )
    department = DepartmentChoiceField(
        label=gettext_lazy("Department"), queryset=None, required=False
    )
    measure = forms.ChoiceField(label=gettext_lazy("Measure"))
    amount = forms.DecimalField(
        label=gettext_lazy("Amount (bonus)"), required=False, min_value=0, decimal_places=2
    )
    reason = forms.CharField(label=gettext_lazy("What it rests on"), widget=forms.Textarea)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["department"].queryset = org_selectors.department_list(
            user=user, capability=perms.PROPOSE_DECISIONS
        )
        allowed = REWARDS | services.DEPARTMENT_SANCTIONS
        self.fields["measure"].choices = [(m.value, m.label) for m in Measure if m in allowed]

    def clean(self):
        data = super().clean()
        number = (data.get("employee_number") or "").strip()
        data["staff"] = None
        if number:
            staff = _staff_in_scope(self.user, number)
            if staff is None:
                self.add_error("employee_number", _("No employee with this number in your scope."))
            data["staff"] = staff
        elif not data.get("department"):
            self.add_error("department", _("Choose an employee or a department."))
        return data


def _staff_in_scope(user, number: str):
    return (
        restrict(Staff.objects.select_related("department"), user, perms.PROPOSE_DECISIONS)
        .filter(employee_number=number)
        .first()
    )


def _department_basis(user, reference: str) -> tuple[dict, object] | None:
    """What a department decision rests on, from ``department_scorecard:<id>`` (a closed
    period's department scorecard) or ``quality_review:<id>`` (a concluded quality review),
    when it lies in the caller's PROPOSE_DECISIONS scope; None otherwise."""
    kind, _sep, pk = (reference or "").partition(":")
    if not pk.isdigit():
        return None
    if kind == "department_scorecard":
        from servicecharter.assessment.choices import PeriodState
        from servicecharter.assessment.models import DepartmentScorecard

        found = (
            restrict(
                DepartmentScorecard.objects.select_related("period", "department"),
                user,
                perms.PROPOSE_DECISIONS,
            )
            .filter(pk=int(pk), period__state=PeriodState.CLOSED)
            .first()
        )
        if found is None:
            return None
        label = f"{found.period} · {found.department.code} · {found.get_tier_display()}"
        url = reverse("assessment:period_departments", args=[found.period_id])
    elif kind == "quality_review":
        from servicecharter.quality.choices import ReviewState
        from servicecharter.quality.models import QualityReview

        found = (
            restrict(
                QualityReview.objects.select_related("department"), user, perms.PROPOSE_DECISIONS
            )
            .filter(pk=int(pk), state__in=(ReviewState.PASSED, ReviewState.FAILED))
            .first()
        )
        if found is None:
            return None
        label = (
            f"{found.department.code} · {found.period_start} – {found.period_end} · "
            f"{found.get_state_display()}"
        )
        url = reverse("quality:review_detail", args=[found.pk])
    else:
        return None
    return {"kind": kind, "id": found.pk, "label": label, "url": url}, found.department


@capability_required(perms.PROPOSE_DECISIONS)
def decision_propose_direct(request):
    """``?basis=department_scorecard:<id>`` or ``quality_review:<id>`` (links from those pages)
    proposes for that department, resting on it."""
    reference = request.POST.get("basis") or request.GET.get("basis", "")
    basis = _department_basis(request.user, reference)
    initial = {"department": basis[1]} if basis else {}
    form = DirectForm(request.POST or None, user=request.user, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        measure = data["measure"]
        kind = DecisionKind.REWARD if measure in REWARDS else DecisionKind.SANCTION
        try:
            decision = services.decision_propose_direct(
                actor=request.user,
                kind=kind,
                measure=measure,
                reason=data["reason"],
                staff=data["staff"],
                department=None if data["staff"] else data["department"],
                amount=data["amount"],
                basis=[basis[0]] if basis and not data["staff"] else [],
            )
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, _("Proposed. It takes effect once approved."))
            return redirect("discipline:decision_detail", pk=decision.pk)
    return render(
        request,
        "discipline/decision_direct.html",
        {"form": form, "basis": basis[0] if basis else None, "reference": reference},
    )


urlpatterns = [
    path("decisions/", decision_list, name="decision_list"),
    path("decisions/queue/", decision_queue, name="decision_queue"),
    path("decisions/new/", decision_propose_direct, name="decision_propose_direct"),
    path("decisions/<int:pk>/", decision_detail, name="decision_detail"),
    path("decisions/<int:pk>/approve/", decision_approve, name="decision_approve"),
    path("decisions/<int:pk>/reject/", decision_reject, name="decision_reject"),
    path("decisions/<int:pk>/withdraw/", decision_withdraw, name="decision_withdraw"),
    path("violations/<int:pk>/propose/", decision_propose, name="decision_propose"),
    path("violations/<int:pk>/propose/check/", decision_preview, name="decision_preview"),
]
