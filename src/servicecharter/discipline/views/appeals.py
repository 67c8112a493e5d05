"""Appeal pages: the queue of open appeals in the caller's DECIDE_APPEALS scope that they took
no part in, and the page to decide one (upheld, reduced to a lesser measure, overturned).
Filing is on the employee's "my decisions" page (``views.mine``)."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from servicecharter.accounts import permissions as perms
from servicecharter.discipline import decision_selectors as selectors
from servicecharter.discipline import decisions as services
from servicecharter.discipline.choices import SANCTIONS, AppealState, Measure
from servicecharter.org.forms import apply_service_errors
from servicecharter.org.views import OpenEndedPage, capability_required

PAGE_SIZE = 25
OUTCOMES = [
    (state.value, state.label)
    for state in (AppealState.UPHELD, AppealState.REDUCED, AppealState.OVERTURNED)
]


class AppealDecideForm(forms.Form):
    outcome = forms.ChoiceField(
        label=gettext_lazy("Outcome"), choices=OUTCOMES, widget=forms.RadioSelect
    )
    reduced_measure = forms.ChoiceField(
        label=gettext_lazy("Reduced to"),
        required=False,
        choices=[("", "—")]
        + [(m.value, m.label) for m in Measure if m in SANCTIONS or m == Measure.NONE],
    )
    reduced_amount = forms.DecimalField(
        label=gettext_lazy("Reduced amount"), required=False, min_value=0, decimal_places=2
    )
    reason = forms.CharField(label=gettext_lazy("Reason"), widget=forms.Textarea)


@capability_required(perms.DECIDE_APPEALS)
def appeal_queue(request):
    page = OpenEndedPage(
        selectors.appeal_queue(user=request.user), request.GET.get("page"), PAGE_SIZE
    )
    return render(request, "discipline/appeal_queue.html", {"page": page})


@capability_required(perms.DECIDE_APPEALS)
def appeal_decide(request, pk: int):
    appeal = selectors.appeal_get_for_user(user=request.user, pk=pk)
    decision = selectors.decision_get_for_user(user=request.user, pk=appeal.decision_id)
    form = AppealDecideForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.appeal_decide(
                actor=request.user,
                appeal=appeal,
                outcome=data["outcome"],
                reason=data["reason"],
                reduced_measure=data["reduced_measure"] or None,
                reduced_amount=data["reduced_amount"],
            )
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, _("The appeal is decided and the employee told."))
            return redirect("discipline:decision_detail", pk=decision.pk)
    return render(
        request,
        "discipline/appeal_decide.html",
        {
            "appeal": appeal,
            "decision": decision,
            "form": form,
            "may_decide": services.may_decide_appeal(request.user, appeal),
            "ledger": selectors.ledger_of(decision),
        },
    )


urlpatterns = [
    path("appeals/", appeal_queue, name="appeal_queue"),
    path("appeals/<int:pk>/", appeal_decide, name="appeal_decide"),
]
