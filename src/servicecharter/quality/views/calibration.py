"""Calibration pages: the sessions the caller scores in or manages, a form to make one
(MANAGE_QUALITY), a session's page (for its auditors: the interactions to score; for its
managers: who has scored how much, and closing it), the blind scoring screen, and the results
with their charts once the session is closed.

Blind: the scoring screen shows an auditor only their own answers, the session page shows a
manager counts and never values, and the results page refuses to show anything until the
session closes. Sessions are read through ``calibration.calibration_session_get_for_user``
(anyone else gets 404) and written only through the ``calibration`` services; a refusal is
shown beside the field it concerns and nothing is saved.
"""

import re
from decimal import Decimal

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from servicecharter.accounts import permissions as perms
from servicecharter.accounts.scoping import has_capability
from servicecharter.interactions.models import Deviation, Interaction
from servicecharter.org.forms import apply_service_errors
from servicecharter.org.views import OpenEndedPage, capability_required
from servicecharter.quality import calibration, sampling
from servicecharter.quality.choices import Scale
from servicecharter.quality.forms import ScoringForm
from servicecharter.quality.models import CalibrationScore
from servicecharter.quality.views.sampling import AuditorsField, ScorecardVersionField
from servicecharter.quality.views.scoring import interaction_panel

PAGE_SIZE = 25
NOT_APPLICABLE = "na"


# The form ------------------------------------------------------------------------------------


class CalibrationSessionForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)
    scorecard_version = ScorecardVersionField(
        label=gettext_lazy("Scorecard version"), queryset=None
    )
    interactions = forms.CharField(
        label=gettext_lazy("Interactions"),
        help_text=gettext_lazy(
            "The numbers of 3 to 5 interactions (as in their addresses), separated by commas."
        ),
    )
    auditors = AuditorsField(
        label=gettext_lazy("Auditors"), queryset=None, widget=forms.CheckboxSelectMultiple
    )
    alpha_tolerance = forms.DecimalField(
        label=gettext_lazy("Agreement tolerance (Krippendorff's alpha)"),
        min_value=0,
        max_value=1,
        decimal_places=3,
        initial=Decimal("0.800"),
        help_text=gettext_lazy(
            "An auditor whose agreement with the others is below it is flagged."
        ),
    )
    bias_tolerance = forms.DecimalField(
        label=gettext_lazy("Bias tolerance (points on 1–5)"),
        min_value=0,
        max_value=4,
        decimal_places=2,
        initial=Decimal("0.50"),
        help_text=gettext_lazy(
            "An auditor kinder or harsher than the others by more than this on average is flagged."
        ),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["scorecard_version"].queryset = sampling.active_scorecard_versions()
        self.fields["auditors"].queryset = sampling.auditor_candidates()

    def clean_interactions(self) -> list[Interaction]:
        numbers = re.split(r"[\s,;，；]+", self.cleaned_data["interactions"].strip())
        try:
            ids = list(dict.fromkeys(int(number) for number in numbers if number))
        except ValueError as error:
            raise ValidationError(
                _("Give the interactions' numbers, e.g. 1041, 1042, 1057.")
            ) from error
        found = {
            interaction.pk: interaction
            for interaction in Interaction.objects.filter(pk__in=ids).select_related("department")
        }
        unknown = [str(pk) for pk in ids if pk not in found]
        if unknown:
            # The same words as for an interaction outside the caller's departments.
            raise ValidationError(
                _("No interaction %(ids)s among those you manage.") % {"ids": ", ".join(unknown)}
            )
        return [found[pk] for pk in ids]


# The pages -----------------------------------------------------------------------------------


@capability_required(perms.EVALUATE)
def session_list(request):
    sessions = calibration.calibration_session_list_for_user(user=request.user)
    page = OpenEndedPage(sessions, request.GET.get("page"), PAGE_SIZE)
    partial = request.htmx and not request.htmx.history_restore_request
    template = (
        "quality/calibration_list.html#results" if partial else "quality/calibration_list.html"
    )
    return render(
        request,
        template,
        {"page": page, "can_create": has_capability(request.user, perms.MANAGE_QUALITY)},
    )


@capability_required(perms.MANAGE_QUALITY)
def session_create(request):
    form = CalibrationSessionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            session = calibration.calibration_session_create(
                actor=request.user,
                name=data["name"],
                scorecard_version=data["scorecard_version"],
                interactions=data["interactions"],
                auditors=list(data["auditors"]),
                alpha_tolerance=data["alpha_tolerance"],
                bias_tolerance=data["bias_tolerance"],
            )
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(
                request, _("Calibration session created. The auditors can score it now.")
            )
            return redirect("quality:calibration_detail", pk=session.pk)
    return render(request, "quality/calibration_form.html", {"form": form})


def _session_interactions(session) -> list[Interaction]:
    return list(session.interactions.select_related("staff", "department").order_by("pk"))


@capability_required(perms.EVALUATE)
def session_detail(request, pk: int):
    session = calibration.calibration_session_get_for_user(user=request.user, pk=pk)
    interactions = _session_interactions(session)
    is_auditor = calibration.is_session_auditor(request.user, session)
    can_manage = calibration.can_manage_session(request.user, session)
    mine = set()
    if is_auditor:
        mine = {
            interaction_id
            for interaction_id, _criterion in calibration.my_calibration_scores(
                session, request.user
            )
        }
    progress = calibration.calibration_progress(session) if can_manage else {}
    auditors = list(session.auditors.order_by("username"))
    return render(
        request,
        "quality/calibration_session.html",
        {
            "session": session,
            "rows": [(interaction, interaction.pk in mine) for interaction in interactions],
            "is_auditor": is_auditor,
            "can_manage": can_manage,
            "progress": [(auditor, progress.get(auditor.pk, 0)) for auditor in auditors],
            "auditors": auditors,
            "total": len(interactions),
        },
    )


def _interaction_for_scoring(session, interaction_pk: int) -> Interaction:
    queryset = session.interactions.select_related(
        "staff", "department", "business_type", "customer", "standard_version__standard"
    ).prefetch_related(Prefetch("deviations", queryset=Deviation.objects.order_by("pk")))
    return get_object_or_404(queryset, pk=interaction_pk)


class BlindScoringForm(ScoringForm):
    """The scoring form of an evaluation without its comments: a calibration keeps the answers
    only."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in [name for name in self.fields if name.startswith("comment-")]:
            del self.fields[name]

    def rows(self):
        return [(criterion, self[f"answer-{criterion.pk}"]) for criterion in self.criteria]

    def answers_by_id(self) -> dict[int, int | None]:
        answers = self.answers()
        return {criterion.pk: answers[criterion.code] for criterion in self.criteria}


@capability_required(perms.EVALUATE)
def session_score(request, pk: int, interaction_pk: int):
    session = calibration.calibration_session_get_for_user(user=request.user, pk=pk, action="score")
    interaction = _interaction_for_scoring(session, interaction_pk)
    criteria = calibration.criteria_of(session.scorecard_version)
    own = calibration.my_calibration_scores(session, request.user)
    initial = {
        criterion.pk: (
            NOT_APPLICABLE
            if own[(interaction.pk, criterion.pk)] is None
            else str(own[(interaction.pk, criterion.pk)]),
            "",
        )
        for criterion in criteria
        if (interaction.pk, criterion.pk) in own
    }
    form = BlindScoringForm(request.POST or None, criteria=criteria, answers=initial)
    closed = session.closed_at is not None
    if request.method == "POST" and not closed and form.is_valid():
        try:
            calibration.calibration_score_submit(
                actor=request.user,
                session=session,
                interaction=interaction,
                answers=form.answers_by_id(),
            )
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(
                request, _("Your scores are saved. Nobody sees them until the session closes.")
            )
            return redirect("quality:calibration_detail", pk=session.pk)
    return render(
        request,
        "quality/calibration_score.html",
        {"session": session, "form": form, "closed": closed, **interaction_panel(interaction)},
    )


@capability_required(perms.MANAGE_QUALITY)
@require_POST
def session_close(request, pk: int):
    session = calibration.calibration_session_get_for_user(
        user=request.user, pk=pk, action="manage"
    )
    try:
        calibration.calibration_session_close(actor=request.user, session=session)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("quality:calibration_detail", pk=session.pk)
    messages.success(
        request, _("Session closed: everyone's scores and the agreement are shown now.")
    )
    return redirect("quality:calibration_results", pk=session.pk)


def _shown(answer, yes_no: bool) -> str:
    if answer == "":
        return ""
    if answer is None:
        return _("N/A")
    if yes_no:
        return _("Yes") if answer else _("No")
    return str(answer)


def _side_by_side(session, results, interactions) -> list[dict]:
    """Every answer now that they are no longer blind: per interaction and criterion, each
    auditor's value in the order of the auditors' columns."""
    values = {
        (auditor_id, interaction_id, criterion_id): value
        for auditor_id, interaction_id, criterion_id, value in CalibrationScore.objects.filter(
            session=session
        ).values_list("auditor_id", "interaction_id", "criterion_id", "value")
    }
    auditors = [row.user for row in results.auditors]
    rows = []
    for interaction in interactions:
        for row in results.criteria:
            answers = [values.get((a.pk, interaction.pk, row.criterion.pk), "") for a in auditors]
            yes_no = row.criterion.scale == Scale.YES_NO
            rows.append(
                {
                    "interaction": interaction,
                    "criterion": row.criterion,
                    "answers": [_shown(answer, yes_no) for answer in answers],
                    "agree": len({answer for answer in answers if answer != ""}) <= 1,
                }
            )
    return rows


@capability_required(perms.EVALUATE)
def session_results(request, pk: int):
    session = calibration.calibration_session_get_for_user(user=request.user, pk=pk)
    if session.closed_at is None:
        messages.info(
            request,
            _("The results are shown when the session closes: until then the scores are blind."),
        )
        return redirect("quality:calibration_detail", pk=session.pk)
    results = calibration.calibration_results(session)
    interactions = _session_interactions(session)
    return render(
        request,
        "quality/calibration_results.html",
        {
            "session": session,
            "results": results,
            "bias_chart": results.chart_bias(),
            "agreement_chart": results.chart_agreement(),
            "side_by_side": _side_by_side(session, results, interactions),
        },
    )


urlpatterns = [
    path("calibration/", session_list, name="calibration_list"),
    path("calibration/new/", session_create, name="calibration_create"),
    path("calibration/<int:pk>/", session_detail, name="calibration_detail"),
    path(
        "calibration/<int:pk>/score/<int:interaction_pk>/",
        session_score,
        name="calibration_score",
    ),
    path("calibration/<int:pk>/close/", session_close, name="calibration_close"),
    path("calibration/<int:pk>/results/", session_results, name="calibration_results"),
]
