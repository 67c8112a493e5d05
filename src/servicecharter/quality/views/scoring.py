"""One evaluation: its page (answers, comments, total, dispute; the employee acknowledges or
disputes it there), the scoring screen beside the interaction's details (the assigned auditor),
a live total while answering (HTMX), and deciding a dispute (another auditor, who re-scores
when the dispute is right).

Every view fetches the evaluation through ``selectors.evaluation_get_for_user`` (out of scope:
404) and writes only through ``quality.services``; a refusal is shown beside the form it
concerns and nothing is saved. The interaction is read through the interactions module's
selectors (``judged_steps``) and display helpers.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from servicecharter.interactions.display import deviation_text, duration
from servicecharter.interactions.selectors import judged_steps
from servicecharter.org.forms import apply_service_errors
from servicecharter.quality import selectors, services, stats
from servicecharter.quality.choices import EvaluationState
from servicecharter.quality.forms import DecisionForm, DisputeForm, ScoringForm, initial_answers

STEP_BADGE = {"ok": "ok", "late": "warn", "missed": "bad", "skipped": "badge-muted"}


# The interaction beside the scorecard ----------------------------------------------------------


def interaction_panel(interaction) -> dict:
    """What the auditor (and the employee) see of the interaction: facts, the steps of the
    standard that judged it with when each happened, and its deviations."""
    judged, others = judged_steps(interaction)
    names = {row.step.code: row.step.name for row in judged}
    steps = [
        {
            "name": row.step.name,
            "code": row.step.code,
            "mandatory": row.step.mandatory,
            "disclosure": row.step.is_disclosure,
            "target": row.step.target_seconds,
            "at": row.at,
            "status": row.status,
            "badge": STEP_BADGE.get(row.status, "badge-muted"),
        }
        for row in judged
    ]
    steps += [
        {"name": other.code, "code": other.code, "at": other.at, "status": "other", "badge": ""}
        for other in others
    ]
    return {
        "interaction": interaction,
        "steps": steps,
        "deviations": [
            {"deviation": deviation, **deviation_text(deviation, names)}
            for deviation in interaction.deviations.all()
        ],
        "wait": duration(interaction.wait_seconds) if interaction.wait_seconds is not None else "",
        "handle": duration(interaction.handle_seconds)
        if interaction.handle_seconds is not None
        else "",
    }


def _scorecard(evaluation):
    version = selectors.scorecard_version_with_criteria(evaluation.scorecard_version_id)
    return version, selectors.version_criteria(version)


def _answer_rows(evaluation, criteria) -> list[dict]:
    answers = {answer.criterion_id: answer for answer in evaluation.answers.all()}
    return [{"criterion": criterion, "answer": answers.get(criterion.pk)} for criterion in criteria]


# The evaluation's page ------------------------------------------------------------------------


def _detail_context(request, evaluation, **forms) -> dict:
    user = request.user
    version, criteria = _scorecard(evaluation)
    is_employee = selectors.is_the_employee(user, evaluation)
    now = timezone.now()
    may_dispute = (
        is_employee
        and evaluation.state in (EvaluationState.COMPLETED, EvaluationState.ACKNOWLEDGED)
        and evaluation.dispute_until is not None
        and now <= evaluation.dispute_until
    )
    return {
        "evaluation": evaluation,
        "version": version,
        "rows": _answer_rows(evaluation, criteria),
        "dispute": selectors.dispute_of(evaluation),
        "is_employee": is_employee,
        "can_acknowledge": is_employee and evaluation.state == EvaluationState.COMPLETED,
        "can_dispute": may_dispute,
        "can_score": selectors.can_score(user, evaluation),
        "can_decide": selectors.can_decide(user, evaluation),
        "dispute_form": forms.get("dispute_form") or DisputeForm(),
        **interaction_panel(evaluation.interaction),
    }


@login_required
def evaluation_detail(request, pk: int):
    evaluation = selectors.evaluation_get_for_user(user=request.user, pk=pk)
    return render(request, "quality/evaluation.html", _detail_context(request, evaluation))


@login_required
@require_POST
def evaluation_acknowledge(request, pk: int):
    evaluation = selectors.evaluation_get_for_user(user=request.user, pk=pk)
    try:
        services.evaluation_acknowledge(actor=request.user, evaluation=evaluation)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("Acknowledged. You may still dispute it until the date shown."))
    return redirect("quality:evaluation", pk=evaluation.pk)


@login_required
@require_POST
def evaluation_dispute(request, pk: int):
    evaluation = selectors.evaluation_get_for_user(user=request.user, pk=pk)
    form = DisputeForm(request.POST)
    if form.is_valid():
        try:
            services.evaluation_dispute(
                actor=request.user, evaluation=evaluation, reason=form.cleaned_data["reason"]
            )
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(
                request, _("Your dispute is recorded; another auditor will decide it.")
            )
            return redirect("quality:evaluation", pk=evaluation.pk)
    context = _detail_context(request, evaluation, dispute_form=form)
    return render(request, "quality/evaluation.html", context, status=422)


# Scoring ----------------------------------------------------------------------------------------


def _scoring_context(evaluation, version, form, **extra) -> dict:
    return {
        "evaluation": evaluation,
        "version": version,
        "form": form,
        "live": live_total(form, version),
        **interaction_panel(evaluation.interaction),
        **extra,
    }


def live_total(form: ScoringForm, version) -> dict:
    """The total so far: a critical "no" fails at once; the total once every criterion is
    answered (computed by ``stats`` exactly as on submission)."""
    given = form.partial_answers() if form.is_bound else {}
    failed = [c for c in form.criteria if c.critical and given.get(c.code) == stats.NO]
    live = {"answered": len(given), "total": len(form.criteria), "failed": failed}
    if len(given) == len(form.criteria):
        try:
            result = stats.score_scorecard(selectors.version_scorecard(version), given)
        except stats.ScorecardError as error:
            live["problem"] = str(error)
        else:
            live |= {"result": result}
    return live


@login_required
def evaluation_score(request, pk: int):
    """The scoring screen: the interaction on one side, the scorecard on the other."""
    evaluation = selectors.evaluation_get_for_user(user=request.user, pk=pk)
    if not selectors.can_score(request.user, evaluation):
        raise PermissionDenied
    version, criteria = _scorecard(evaluation)
    form = ScoringForm(request.POST or None, criteria=criteria)
    if request.method == "POST" and form.is_valid():
        try:
            services.evaluation_submit(
                actor=request.user,
                evaluation=evaluation,
                answers=form.answers(),
                comments=form.comments(),
            )
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, _("The evaluation is scored; the employee is told."))
            return redirect("quality:evaluation", pk=evaluation.pk)
    status = 422 if request.method == "POST" else 200
    context = _scoring_context(evaluation, version, form)
    return render(request, "quality/score.html", context, status=status)


@login_required
@require_POST
def evaluation_live_total(request, pk: int):
    """The running total as the auditor answers (HTMX); saves nothing."""
    evaluation = selectors.evaluation_get_for_user(user=request.user, pk=pk)
    if not (
        selectors.can_score(request.user, evaluation)
        or selectors.can_decide(request.user, evaluation)
    ):
        raise PermissionDenied
    version, criteria = _scorecard(evaluation)
    form = ScoringForm(request.POST, criteria=criteria, prefix=request.POST.get("prefix") or None)
    return render(
        request,
        "quality/_live_total.html",
        {"live": live_total(form, version), "version": version},
    )


# Deciding a dispute ------------------------------------------------------------------------------


@login_required
def dispute_decide(request, pk: int):
    """Another auditor decides: the score stands, or they score the interaction again."""
    evaluation = selectors.evaluation_get_for_user(user=request.user, pk=pk)
    if not selectors.may_evaluate(request.user, evaluation.department):
        raise PermissionDenied
    version, criteria = _scorecard(evaluation)
    data = request.POST or None
    decision = DecisionForm(data)
    rescore = ScoringForm(
        data, criteria=criteria, answers=initial_answers(evaluation), prefix="rescore"
    )
    refusal = None
    if not selectors.can_decide(request.user, evaluation):
        refusal = _decision_refusal(request.user, evaluation)
    if request.method == "POST" and refusal is None and decision.is_valid():
        revise = not decision.upheld
        if not revise or rescore.is_valid():
            try:
                services.dispute_decide(
                    actor=request.user,
                    evaluation=evaluation,
                    upheld=decision.upheld,
                    note=decision.cleaned_data["note"],
                    answers=rescore.answers() if revise else None,
                    comments=rescore.comments() if revise else None,
                )
            except ValidationError as error:
                apply_service_errors(decision, error)
            else:
                messages.success(request, _("The dispute is decided; the employee is told."))
                return redirect("quality:evaluation", pk=evaluation.pk)
    context = _scoring_context(
        evaluation,
        version,
        rescore,
        decision=decision,
        dispute=selectors.dispute_of(evaluation),
        rows=_answer_rows(evaluation, criteria),
        refusal=refusal,
    )
    status = 422 if request.method == "POST" else 200
    return render(request, "quality/decide.html", context, status=status)


def _decision_refusal(user, evaluation) -> str:
    if evaluation.state != EvaluationState.DISPUTED:
        return _("This evaluation has no dispute waiting for a decision.")
    if evaluation.auditor_id == user.pk:
        return _("You scored this evaluation: another auditor must decide the dispute.")
    return _("Auditors never decide disputes about their own work.")


urlpatterns = [
    path("evaluations/<int:pk>/", evaluation_detail, name="evaluation"),
    path("evaluations/<int:pk>/acknowledge/", evaluation_acknowledge, name="acknowledge"),
    path("evaluations/<int:pk>/dispute/", evaluation_dispute, name="dispute"),
    path("evaluations/<int:pk>/score/", evaluation_score, name="score"),
    path("evaluations/<int:pk>/live-total/", evaluation_live_total, name="live_total"),
    path("evaluations/<int:pk>/decide/", dispute_decide, name="decide"),
]
