"""Periodic quality review pages (定期服务质量审查): the reviews of the departments in the
caller's VIEW_QUALITY scope with the overdue rectifications, a form to plan one
(MANAGE_QUALITY), a review's page (its figures with their intervals and the formula, findings,
rectifications with owners and deadlines, and the actions the caller may take), and "my
rectifications" for whoever owns one (no capability needed: it was given to them).

Reads go through ``quality.reviews`` (a review outside the scope answers 404); writes only
through its services. A refusal shows beside the field it concerns; nothing is half-saved.
"""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from servicecharter.accounts import permissions as perms
from servicecharter.accounts.models import User
from servicecharter.accounts.scoping import has_capability
from servicecharter.core.templatetags.formatting import number
from servicecharter.org import selectors as org_selectors
from servicecharter.org.forms import DepartmentChoiceField, apply_service_errors
from servicecharter.org.models import Staff
from servicecharter.org.views import OpenEndedPage, capability_required
from servicecharter.quality import reviews, sampling
from servicecharter.quality.choices import FindingSeverity, RectificationState, ReviewState
from servicecharter.quality.models import Finding

PAGE_SIZE = 25
DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class UserField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        name = obj.get_full_name()
        return f"{name} ({obj.get_username()})" if name else obj.get_username()


class PlanField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.name} · {obj.department.code} · {obj.period_start} – {obj.period_end}"


class ReviewForm(forms.Form):
    department = DepartmentChoiceField(
        label=gettext_lazy("Department"),
        queryset=None,
        help_text=gettext_lazy("It and every department below it."),
    )
    period_start = forms.DateField(label=gettext_lazy("From"), widget=DATE_WIDGET)
    period_end = forms.DateField(label=gettext_lazy("To (inclusive)"), widget=DATE_WIDGET)
    threshold = forms.IntegerField(
        label=gettext_lazy("Pass threshold (%)"), min_value=0, max_value=100, initial=80
    )
    reviewer = UserField(label=gettext_lazy("Reviewer"), queryset=None)
    plan = PlanField(
        label=gettext_lazy("Sampling plan"),
        queryset=None,
        required=False,
        help_text=gettext_lazy(
            "Optional: only its evaluations count. Empty: every evaluation of the period."
        ),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = org_selectors.department_list(
            user=user, capability=perms.MANAGE_QUALITY
        )
        self.fields["reviewer"].queryset = reviews.reviewer_candidates()
        self.fields["plan"].queryset = sampling.sampling_plan_list_for_user(user=user)
        self.initial.setdefault("reviewer", user.pk)


class FindingForm(forms.Form):
    severity = forms.ChoiceField(label=gettext_lazy("Severity"), choices=FindingSeverity.choices)
    text = forms.CharField(label=gettext_lazy("Finding"), widget=forms.Textarea(attrs={"rows": 2}))
    staff = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Staff concerned"), queryset=Staff.objects.none(), required=False
    )

    def __init__(self, *args, review, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["staff"].queryset = Staff.objects.filter(
            department__path__startswith=review.department.path
        ).order_by("name")


class RectificationForm(forms.Form):
    action = forms.CharField(label=gettext_lazy("Action"), widget=forms.Textarea(attrs={"rows": 2}))
    owner = UserField(label=gettext_lazy("Owner"), queryset=User.objects.filter(is_active=True))
    due_on = forms.DateField(label=gettext_lazy("Due"), widget=DATE_WIDGET)


class NoteForm(forms.Form):
    note = forms.CharField(
        label=gettext_lazy("Note"), widget=forms.Textarea(attrs={"rows": 2}), required=False
    )


# Figures as the page shows them ----------------------------------------------------------------


def _value(value, places=1, suffix="") -> str:
    return _("—") if value is None else f"{number(value, places)}{suffix}"


def _range(interval: dict, suffix="") -> str:
    if interval.get("low") is None:
        return interval.get("reason") or ""
    return f"{number(interval['low'], 1)}{suffix}–{number(interval['high'], 1)}{suffix}"


def figure_rows(figures: dict) -> list[dict]:
    """One line per figure: what, the value, its 95% interval, on how many observations, and
    the component it gives the score."""
    if not figures:
        return []
    qa, survey, standards = figures["qa"], figures["survey"], figures["standards"]
    components = figures["components"]
    sample_note = "" if qa["adequate"] else _("Insufficient sample")
    return [
        {
            "label": _("QA mean score"),
            "value": _value(qa["mean"]["estimate"]),
            "interval": _range(qa["mean"]),
            "n": qa["n"],
            "component": _value(components["qa"]),
            "weight": figures["weights"]["qa"],
            "note": sample_note,
        },
        {
            "label": _("QA pass rate"),
            "value": _value(qa["pass_rate"]["estimate"], suffix="%"),
            "interval": _range(qa["pass_rate"], "%"),
            "n": qa["n"],
            "component": "",
            "weight": None,
            "note": _("%(n)s auto-failed") % {"n": qa["auto_fails"]} if qa["auto_fails"] else "",
        },
        {
            "label": _("CSAT (share of 4–5)"),
            "value": _value(survey["csat"]["estimate"], suffix="%"),
            "interval": _range(survey["csat"], "%"),
            "n": survey["csat"]["n"],
            "component": _value(components["csat"]),
            "weight": figures["weights"]["csat"],
            "note": _("target %(target)s%%") % {"target": number(survey["target"])},
        },
        {
            "label": _("NPS"),
            "value": _value(survey["nps"]["estimate"]),
            "interval": _range(survey["nps"]),
            "n": survey["nps"]["n"],
            "component": "",
            "weight": None,
            "note": "",
        },
        {
            "label": _("Deviations per 100 interactions"),
            "value": _value(standards["per_100"]),
            "interval": "",
            "n": standards["interactions"],
            "component": _value(components["standards"]),
            "weight": figures["weights"]["standards"],
            "note": _("%(n)s deviations") % {"n": number(standards["deviations"])},
        },
        {
            "label": _("Interactions with a deviation"),
            "value": _value(standards["with_deviation"]["estimate"], suffix="%"),
            "interval": _range(standards["with_deviation"], "%"),
            "n": standards["interactions"],
            "component": "",
            "weight": None,
            "note": "",
        },
    ]


# Pages -------------------------------------------------------------------------------------------


@capability_required(perms.VIEW_QUALITY)
def review_list(request):
    page = OpenEndedPage(
        reviews.review_list_for_user(user=request.user), request.GET.get("page"), PAGE_SIZE
    )
    partial = request.htmx and not request.htmx.history_restore_request
    if partial:
        return render(request, "quality/review_list.html#results", {"page": page})
    return render(
        request,
        "quality/review_list.html",
        {
            "page": page,
            "overdue": list(reviews.overdue_rectifications(user=request.user)[:50]),
            "can_plan": has_capability(request.user, perms.MANAGE_QUALITY),
        },
    )


@capability_required(perms.MANAGE_QUALITY)
def review_create(request):
    form = ReviewForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            review = reviews.review_plan(actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, _("Review planned. Compute its figures when ready."))
            return redirect("quality:review_detail", pk=review.pk)
    return render(request, "quality/review_form.html", {"form": form})


def _detail_context(request, review, **forms_) -> dict:
    manager = reviews.may_manage(request.user, review)
    findings = reviews.review_findings(review)
    today = timezone.localdate()
    for finding in findings:
        for rectification in finding.rectifications.all():
            rectification.overdue = reviews.is_overdue(rectification, today)
            rectification.may_do = (
                rectification.owner_id == request.user.pk
                and rectification.state in reviews.OPEN_RECTIFICATION
            )
            rectification.may_verify = (
                manager
                and rectification.owner_id != request.user.pk
                and rectification.state == RectificationState.DONE
            )
    concluded = review.state in reviews.CONCLUDED
    return {
        "review": review,
        "findings": findings,
        "figures": figure_rows(review.figures),
        "missed_steps": (review.figures or {}).get("standards", {}).get("missed", []),
        "manager": manager,
        "concluded": concluded,
        "may_conclude": manager and review.state == ReviewState.IN_PROGRESS,
        "finding_form": forms_.get("finding_form") or FindingForm(review=review),
        "rectification_form": forms_.get("rectification_form") or RectificationForm(),
        "rectification_for": forms_.get("rectification_for"),
    }


@capability_required(perms.VIEW_QUALITY)
def review_detail(request, pk: int):
    review = reviews.review_get_for_user(user=request.user, pk=pk)
    return render(request, "quality/review_detail.html", _detail_context(request, review))


def _managed(request, pk: int):
    review = reviews.review_get_for_user(user=request.user, pk=pk)
    if not reviews.may_manage(request.user, review):
        raise PermissionDenied
    return review


def _refused(request, error: ValidationError) -> None:
    messages.error(request, " ".join(error.messages))


@capability_required(perms.VIEW_QUALITY)
@require_POST
def review_compute(request, pk: int):
    review = _managed(request, pk)
    try:
        reviews.review_compute(actor=request.user, review=review)
    except ValidationError as error:
        _refused(request, error)
    else:
        messages.success(request, _("Figures computed; findings proposed."))
    return redirect("quality:review_detail", pk=pk)


@capability_required(perms.VIEW_QUALITY)
@require_POST
def review_conclude(request, pk: int):
    review = _managed(request, pk)
    try:
        review = reviews.review_conclude(actor=request.user, review=review)
    except ValidationError as error:
        _refused(request, error)
    else:
        messages.success(
            request, _("Review concluded: %(state)s.") % {"state": review.get_state_display()}
        )
    return redirect("quality:review_detail", pk=pk)


@capability_required(perms.VIEW_QUALITY)
@require_POST
def finding_add(request, pk: int):
    review = _managed(request, pk)
    form = FindingForm(request.POST, review=review)
    if form.is_valid():
        try:
            reviews.finding_add(actor=request.user, review=review, **form.cleaned_data)
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, _("Finding added."))
            return redirect("quality:review_detail", pk=pk)
    context = _detail_context(request, review, finding_form=form)
    return render(request, "quality/review_detail.html", context, status=422)


@capability_required(perms.VIEW_QUALITY)
@require_POST
def rectification_add(request, pk: int, finding_pk: int):
    review = _managed(request, pk)
    finding = get_object_or_404(
        Finding.objects.select_related("review"), pk=finding_pk, review=review
    )
    form = RectificationForm(request.POST)
    if form.is_valid():
        try:
            reviews.rectification_add(actor=request.user, finding=finding, **form.cleaned_data)
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, _("Rectification action added."))
            return redirect("quality:review_detail", pk=pk)
    context = _detail_context(
        request, review, rectification_form=form, rectification_for=finding.pk
    )
    return render(request, "quality/review_detail.html", context, status=422)


def _back(request, rectification):
    target = request.POST.get("next")
    if target == "mine":
        return redirect("quality:my_rectifications")
    return redirect("quality:review_detail", pk=rectification.finding.review_id)


@login_required
@require_POST
def rectification_done(request, pk: int):
    rectification = reviews.rectification_get(pk=pk)
    if rectification.owner_id != request.user.pk:
        raise PermissionDenied
    try:
        reviews.rectification_done(
            actor=request.user, rectification=rectification, note=request.POST.get("note", "")
        )
    except ValidationError as error:
        _refused(request, error)
    else:
        messages.success(request, _("Marked done; someone else will verify it."))
    return _back(request, rectification)


@capability_required(perms.MANAGE_QUALITY)
@require_POST
def rectification_verify(request, pk: int):
    rectification = reviews.rectification_get(pk=pk)
    # Through the scoped read: a rectification of a review out of scope is 404.
    reviews.review_get_for_user(user=request.user, pk=rectification.finding.review_id)
    try:
        reviews.rectification_verify(
            actor=request.user,
            rectification=rectification,
            accepted=request.POST.get("accepted") == "1",
            note=request.POST.get("note", ""),
        )
    except ValidationError as error:
        _refused(request, error)
    else:
        messages.success(request, _("Verification recorded."))
    return _back(request, rectification)


@login_required
def my_rectifications(request):
    rows = list(reviews.rectifications_of_owner(user=request.user)[:200])
    today = timezone.localdate()
    for row in rows:
        row.overdue = reviews.is_overdue(row, today)
        row.may_do = row.state in reviews.OPEN_RECTIFICATION
    return render(request, "quality/review_mine.html", {"rectifications": rows})


urlpatterns = [
    path("reviews/", review_list, name="review_list"),
    path("reviews/new/", review_create, name="review_create"),
    path("reviews/mine/", my_rectifications, name="my_rectifications"),
    path("reviews/<int:pk>/", review_detail, name="review_detail"),
    path("reviews/<int:pk>/compute/", review_compute, name="review_compute"),
    path("reviews/<int:pk>/conclude/", review_conclude, name="review_conclude"),
    path("reviews/<int:pk>/findings/", finding_add, name="review_finding_add"),
    path(
        "reviews/<int:pk>/findings/<int:finding_pk>/rectifications/",
        rectification_add,
        name="rectification_add",
    ),
    path("rectifications/<int:pk>/done/", rectification_done, name="rectification_done"),
    path("rectifications/<int:pk>/verify/", rectification_verify, name="rectification_verify"),
]
