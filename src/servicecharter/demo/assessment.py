"""Demo assessment: the last three months assessed with the default scheme over the demo's
interactions, survey answers, evaluations and complaints — computed and closed, oldest first,
so "my scorecard" has a trend and the executive summary something to compare with. Closing
emits ``assessment.period_closed`` as HR's close would."""

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.utils import timezone

from servicecharter.assessment import services
from servicecharter.assessment.choices import PeriodKind
from servicecharter.assessment.defaults import DEFAULT_SCHEME_CODE
from servicecharter.assessment.models import Period, Scheme

MONTHS = 3


@dataclass
class AssessmentSummary:
    periods: list[str] = field(default_factory=list)
    tiers: dict[str, int] = field(default_factory=dict)  # of the latest period


def _month_starts(today: date, count: int) -> list[date]:
    starts = []
    first = today.replace(day=1)
    for _ in range(count):
        first = (first - timedelta(days=1)).replace(day=1)
        starts.append(first)
    return list(reversed(starts))


def assessment_seed(*, today: date | None = None) -> AssessmentSummary:
    scheme = Scheme.objects.get(code=DEFAULT_SCHEME_CODE)
    summary = AssessmentSummary()
    for start in _month_starts(today or timezone.localdate(), MONTHS):
        if Period.objects.filter(kind=PeriodKind.MONTH, start=start).exists():
            continue
        period = services.period_create(
            actor=None, kind=PeriodKind.MONTH, start=start, scheme=scheme
        )
        period = services.period_compute_run(actor=None, period=period)
        period = services.period_close(actor=None, period=period)
        summary.periods.append(str(period))
        summary.tiers = dict(Counter(period.staff_scorecards.values_list("tier", flat=True)))
    return summary
