"""The employee's "my decisions": every decision in force about them, each with the facts of
the violation, the rule and the rulebook's reasoning step by step, the evidence, an
acknowledge button, and the appeal form with its deadline (or the appeal and its outcome).
No capability is needed: one sees only one's own, and acting on anyone else's is refused."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from servicecharter.discipline import decision_selectors as selectors
from servicecharter.discipline import decisions as services


def _own_decision(request, pk: int):
    """A decision in force about the caller; anyone else's is 404."""
    found = selectors.my_decisions(user=request.user).filter(pk=pk).first()
    if found is None:
        # Recorded when it exists: someone tried to act on another's decision.
        selectors.decision_get_for_user(user=request.user, pk=pk)
        raise Http404
    return found


@login_required
def my_decisions(request):
    now = timezone.now()
    decisions = list(selectors.my_decisions(user=request.user))
    for decision in decisions:
        decision.may_appeal = services.may_appeal(request.user, decision, now)
    return render(
        request,
        "discipline/mine.html",
        {"decisions": decisions, "has_staff": request.user.staff_id is not None},
    )


@require_POST
@login_required
def acknowledge(request, pk: int):
    decision = _own_decision(request, pk)
    try:
        services.decision_acknowledge(actor=request.user, decision=decision)
    except (ValidationError, PermissionDenied) as error:
        messages.error(request, " ".join(getattr(error, "messages", [str(error)])))
    else:
        messages.success(request, _("Thank you: your acknowledgement is recorded."))
    return redirect(f"{_mine_url()}#decision-{pk}")


@require_POST
@login_required
def appeal(request, pk: int):
    decision = _own_decision(request, pk)
    try:
        services.appeal_file(
            actor=request.user, decision=decision, grounds=request.POST.get("grounds", "")
        )
    except (ValidationError, PermissionDenied) as error:
        messages.error(request, " ".join(getattr(error, "messages", [str(error)])))
    else:
        messages.success(
            request, _("Your appeal is filed. Someone who took no part in the decision decides it.")
        )
    return redirect(f"{_mine_url()}#decision-{pk}")


def _mine_url() -> str:
    from django.urls import reverse

    return reverse("discipline:my_decisions")


urlpatterns = [
    path("mine/", my_decisions, name="my_decisions"),
    path("mine/<int:pk>/acknowledge/", acknowledge, name="decision_acknowledge"),
    path("mine/<int:pk>/appeal/", appeal, name="appeal_file"),
]
