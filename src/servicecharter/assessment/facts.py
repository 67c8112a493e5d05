"""The facts behind a number of a scorecard: for one (scorecard, KPI), the rows its figure was
computed from, read with the same conditions as ``compute`` (window, states, roles), each with
a link to the page of the interaction, case or evaluation when there is one.

The figures on a closed scorecard are frozen; the rows listed are read now, so a case whose
outcome changed since the close shows its current outcome (the page says so)."""

from dataclasses import dataclass, field

from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext as _

from servicecharter.assessment.choices import Kpi
from servicecharter.assessment.compute import window
from servicecharter.assessment.models import StaffScorecard
from servicecharter.cases.choices import UPHELD_OUTCOMES, CaseKind
from servicecharter.cases.models import Case
from servicecharter.interactions.models import Interaction
from servicecharter.quality.choices import CriterionCategory
from servicecharter.quality.models import Answer, Evaluation
from servicecharter.quality.selectors import SCORED_STATES
from servicecharter.surveys.models import Response

SHOWN = 200


@dataclass
class FactRow:
    at: object
    label: str
    value: str
    url: str = ""


@dataclass
class FactTable:
    title: str
    total: int
    rows: list[FactRow] = field(default_factory=list)


def _table(title: str, queryset, to_row) -> FactTable:
    return FactTable(title, queryset.count(), [to_row(item) for item in queryset[:SHOWN]])


def _case_row(case: Case, value: str) -> FactRow:
    return FactRow(
        case.received_at,
        f"{case.reference} · {case.subject}",
        value,
        reverse("cases:case_detail", args=[case.pk]),
    )


def _response_url(response: Response) -> str:
    invitation = response.invitation
    if invitation.interaction_id:
        return reverse("interactions:detail", args=[invitation.interaction_id])
    if invitation.case_id:
        return reverse("cases:case_detail", args=[invitation.case_id])
    return ""


def facts_for(card: StaffScorecard, kpi: str) -> list[FactTable]:
    start, end = window(card.period)
    staff_id = card.staff_id
    if kpi in (Kpi.CSAT, Kpi.NPS):
        answers = (
            Response.objects.filter(staff_id=staff_id, answered_at__gte=start, answered_at__lt=end)
            .filter(**{f"{kpi}__isnull": False})
            .select_related("invitation")
            .order_by("answered_at")
        )
        return [
            _table(
                _("Survey answers"),
                answers,
                lambda r: FactRow(
                    r.answered_at,
                    r.comment or r.get_channel_display(),
                    str(getattr(r, kpi)),
                    _response_url(r),
                ),
            )
        ]
    if kpi in (Kpi.COMPLAINTS_PER_1000, Kpi.UPHELD_COMPLAINTS, Kpi.ATTITUDE):
        tables = []
        about = Case.objects.filter(kind=CaseKind.COMPLAINT, staff_involved=staff_id)
        if kpi == Kpi.COMPLAINTS_PER_1000:
            received = about.filter(received_at__gte=start, received_at__lt=end)
            tables.append(
                _table(
                    _("Complaints about the employee received in the period"),
                    received.order_by("received_at"),
                    lambda c: _case_row(c, c.get_state_display()),
                )
            )
            tables.append(_interactions(staff_id, start, end))
            return tables
        upheld = about.filter(
            responded_at__gte=start, responded_at__lt=end, outcome__in=sorted(UPHELD_OUTCOMES)
        )
        if kpi == Kpi.ATTITUDE:
            tables.append(_attitude_answers(staff_id, start, end))
            upheld = upheld.filter(concerns_attitude=True)
            title = _("Upheld complaints about service attitude (each counts as a zero)")
        else:
            title = _("Upheld complaints about the employee answered in the period")
        tables.append(
            _table(
                title,
                upheld.order_by("responded_at"),
                lambda c: _case_row(c, c.get_outcome_display()),
            )
        )
        return tables
    if kpi == Kpi.COMPLAINT_TIMELINESS:
        answered = Q(responded_at__gte=start, responded_at__lt=end)
        breached = Q(breached_at__gte=start, breached_at__lt=end) & (
            Q(responded_at__isnull=True) | Q(responded_at__gte=end)
        )
        handled = Case.objects.filter(kind=CaseKind.COMPLAINT, handler__staff_id=staff_id).filter(
            answered | breached
        )
        return [
            _table(
                _("Complaints the employee handled"),
                handled.order_by("received_at"),
                lambda c: _case_row(
                    c,
                    _("late")
                    if c.breached_at is not None or c.responded_at is None
                    else _("on time"),
                ),
            )
        ]
    if kpi == Kpi.QA_SCORE:
        evaluations = Evaluation.objects.filter(
            staff_id=staff_id,
            state__in=SCORED_STATES,
            completed_at__gte=start,
            completed_at__lt=end,
        ).order_by("completed_at")
        return [
            _table(
                _("Completed evaluations"),
                evaluations,
                lambda e: FactRow(
                    e.completed_at,
                    e.get_state_display(),
                    str(e.score),
                    reverse("quality:evaluation", args=[e.pk]),
                ),
            )
        ]
    if kpi == Kpi.STANDARD_ADHERENCE:
        return [_interactions(staff_id, start, end)]
    return []


def _interactions(staff_id: int, start, end) -> FactTable:
    interactions = Interaction.objects.filter(
        staff_id=staff_id, started_at__gte=start, started_at__lt=end
    ).order_by("-deviation_count", "started_at")
    return _table(
        _("Interactions served (those with deviations first)"),
        interactions,
        lambda i: FactRow(
            i.started_at,
            f"{i.get_channel_display()} {i.external_id}",
            _("%(n)s deviations") % {"n": i.deviation_count},
            reverse("interactions:detail", args=[i.pk]),
        ),
    )


def _attitude_answers(staff_id: int, start, end) -> FactTable:
    answers = (
        Answer.objects.filter(
            evaluation__staff_id=staff_id,
            evaluation__completed_at__gte=start,
            evaluation__completed_at__lt=end,
            evaluation__state__in=SCORED_STATES,
            criterion__category=CriterionCategory.ATTITUDE,
            value__isnull=False,
        )
        .select_related("criterion", "evaluation")
        .order_by("evaluation__completed_at", "id")
    )
    return _table(
        _("Attitude answers of the evaluations"),
        answers,
        lambda a: FactRow(
            a.evaluation.completed_at,
            a.criterion.code,
            str(a.value),
            reverse("quality:evaluation", args=[a.evaluation_id]),
        ),
    )
