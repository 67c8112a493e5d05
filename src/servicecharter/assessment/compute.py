"""The queries behind a period: one aggregate per source, grouped by employee, over the period's
window — never a query per employee — then the maths of ``scoring`` in memory, and the rows
the service writes in one bulk insert.

Sources (see ``scoring`` for each KPI's definition):

- interactions: interactions served and those without a deviation (the denormalised
  ``deviation_count`` of each interaction), by ``started_at``;
- survey answers: CSAT and NPS answers attributed to the employee, by ``answered_at``;
- complaints about the employee (``staff_involved``): received in the window (per 1,000
  interactions), and upheld — fully or partly — with their answer in the window (with those
  about service attitude counted apart);
- complaints the employee handled (``handler`` is their sign-in): answered in the window, on
  time when no deadline breach was recorded; a complaint that breached its deadline in the
  window and is still unanswered at the end of it counts as handled late there;
- completed evaluations (every scored state) by ``completed_at``: their scores, and the
  answers to their attitude criteria.

Departments: every department gets a scorecard over the staff of its whole subtree (a
branch's covers its teams); departments are ranked among departments of the same kind.
"""

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import Decimal

from django.db.models import Case as When_
from django.db.models import Count, F, FloatField, Q, Sum, Value, When
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.translation import gettext_noop

from servicecharter.assessment import scoring
from servicecharter.assessment.choices import TIER_ORDER, Kpi
from servicecharter.assessment.models import (
    DepartmentScorecard,
    Period,
    SchemeVersion,
    StaffScorecard,
)
from servicecharter.cases.choices import UPHELD_OUTCOMES, CaseKind
from servicecharter.cases.models import Case
from servicecharter.interactions.models import Interaction
from servicecharter.org.choices import StaffStatus
from servicecharter.org.models import Department, Staff
from servicecharter.quality.choices import CriterionCategory, Scale
from servicecharter.quality.models import Answer, Evaluation
from servicecharter.quality.selectors import SCORED_STATES
from servicecharter.surveys.models import Response

Progress = Callable[[int, str], None]


def window(period: Period) -> tuple[datetime, datetime]:
    """[first day 00:00, the day after the last day 00:00) in the institution's time zone."""
    start = timezone.make_aware(datetime.combine(period.start, time.min))
    end = timezone.make_aware(datetime.combine(period.end + timedelta(days=1), time.min))
    return start, end


def rules_of(version: SchemeVersion) -> scoring.SchemeRules:
    kpis = list(version.kpis.all())
    return scoring.SchemeRules(
        weights={k.kpi: k.weight for k in kpis},
        min_samples={k.kpi: k.min_sample for k in kpis},
        thresholds=version.thresholds(),
        min_kpis=version.min_kpis,
        min_peers=version.min_peers,
    )


# --- the aggregates --------------------------------------------------------------------------


def _in(field: str, start, end) -> Q:
    return Q(**{f"{field}__gte": start, f"{field}__lt": end})


def interaction_counts(start, end) -> dict[int, tuple[int, int]]:
    """staff → (interactions, interactions without a deviation)."""
    rows = (
        Interaction.objects.filter(_in("started_at", start, end), staff_id__isnull=False)
        .order_by()
        .values("staff_id")
        .annotate(n=Count("id"), clean=Count("id", filter=Q(deviation_count=0)))
    )
    return {r["staff_id"]: (r["n"], r["clean"]) for r in rows}


def survey_counts(start, end) -> dict[int, dict]:
    rows = (
        Response.objects.filter(_in("answered_at", start, end), staff_id__isnull=False)
        .order_by()
        .values("staff_id")
        .annotate(
            csat_n=Count("csat"),
            satisfied=Count("id", filter=Q(csat__gte=4)),
            nps_n=Count("nps"),
            promoters=Count("id", filter=Q(nps__gte=9)),
            detractors=Count("id", filter=Q(nps__lte=6)),
        )
    )
    return {r["staff_id"]: r for r in rows}


def complaints_about(start, end) -> dict[int, dict]:
    """staff → complaints received about them, upheld (answered in the window), upheld
    about attitude."""
    through = Case.staff_involved.through
    received = Q(case__received_at__gte=start, case__received_at__lt=end)
    upheld = Q(
        case__responded_at__gte=start,
        case__responded_at__lt=end,
        case__outcome__in=sorted(UPHELD_OUTCOMES),
    )
    rows = (
        through.objects.filter(case__kind=CaseKind.COMPLAINT)
        .filter(received | upheld)
        .order_by()
        .values("staff_id")
        .annotate(
            received=Count("case_id", filter=received),
            upheld=Count("case_id", filter=upheld),
            upheld_attitude=Count("case_id", filter=upheld & Q(case__concerns_attitude=True)),
        )
    )
    return {r["staff_id"]: r for r in rows}


def complaints_handled(start, end) -> dict[int, tuple[int, int]]:
    """staff → (complaints handled, answered on time)."""
    answered = Q(responded_at__gte=start, responded_at__lt=end)
    breached_unanswered = Q(breached_at__gte=start, breached_at__lt=end) & (
        Q(responded_at__isnull=True) | Q(responded_at__gte=end)
    )
    rows = (
        Case.objects.filter(kind=CaseKind.COMPLAINT, handler__staff__isnull=False)
        .filter(answered | breached_unanswered)
        .order_by()
        .values(staff=F("handler__staff"))
        .annotate(
            handled=Count("id"),
            on_time=Count("id", filter=answered & Q(breached_at__isnull=True)),
        )
    )
    return {r["staff"]: (r["handled"], r["on_time"]) for r in rows}


def evaluation_counts(start, end) -> dict[int, tuple[int, Decimal]]:
    """staff → (completed evaluations, sum of their scores)."""
    rows = (
        Evaluation.objects.filter(_in("completed_at", start, end), state__in=SCORED_STATES)
        .order_by()
        .values("staff_id")
        .annotate(n=Count("id"), total=Sum("score"))
    )
    return {r["staff_id"]: (r["n"], r["total"] or Decimal(0)) for r in rows}


# A yes or a 5 is a full point, a 1 none, a 3 half: (value − 1) / 4 on the 1–5 scale.
ATTITUDE_POINTS = When_(
    When(criterion__scale=Scale.YES_NO, then=Cast("value", FloatField())),
    default=(Cast("value", FloatField()) - Value(1.0)) / Value(4.0),
    output_field=FloatField(),
)


def attitude_answers(start, end) -> dict[int, tuple[int, Decimal]]:
    """staff → (attitude answers, their points)."""
    rows = (
        Answer.objects.filter(
            evaluation__completed_at__gte=start,
            evaluation__completed_at__lt=end,
            evaluation__state__in=SCORED_STATES,
            criterion__category=CriterionCategory.ATTITUDE,
            value__isnull=False,
        )
        .order_by()
        .values(staff=F("evaluation__staff_id"))
        .annotate(n=Count("id"), points=Sum(ATTITUDE_POINTS))
    )
    return {r["staff"]: (r["n"], Decimal(str(round(r["points"] or 0, 4)))) for r in rows}


# --- putting it together ---------------------------------------------------------------------


@dataclass
class Computed:
    staff_rows: list[StaffScorecard]
    department_rows: list[DepartmentScorecard]


def _counts_of(staff_id: int, sources: dict) -> dict[str, tuple]:
    """kpi → (num, den, n) for one employee, from the aggregates."""
    served, clean = sources["interactions"].get(staff_id, (0, 0))
    survey = sources["surveys"].get(staff_id) or {}
    about = sources["about"].get(staff_id) or {}
    handled, on_time = sources["handled"].get(staff_id, (0, 0))
    evaluations, score_sum = sources["evaluations"].get(staff_id, (0, Decimal(0)))
    answers, points = sources["attitude"].get(staff_id, (0, Decimal(0)))
    upheld_attitude = about.get("upheld_attitude", 0)
    csat_n, nps_n = survey.get("csat_n", 0), survey.get("nps_n", 0)
    return {
        Kpi.CSAT: (survey.get("satisfied", 0), csat_n, csat_n),
        Kpi.NPS: (survey.get("promoters", 0) - survey.get("detractors", 0), nps_n, nps_n),
        Kpi.COMPLAINTS_PER_1000: (about.get("received", 0), served, served),
        Kpi.COMPLAINT_TIMELINESS: (on_time, handled, handled),
        Kpi.UPHELD_COMPLAINTS: (about.get("upheld", 0), served, served),
        Kpi.QA_SCORE: (score_sum, evaluations, evaluations),
        Kpi.ATTITUDE: (points, answers + upheld_attitude, answers + upheld_attitude),
        Kpi.STANDARD_ADHERENCE: (clean, served, served),
        Kpi.TRAINING: (0, 0, 0),
    }


def gather(period: Period, version: SchemeVersion, progress: Progress | None = None) -> Computed:
    """Read every source once and score everyone. Writes nothing."""
    report = progress or (lambda _percent, _note: None)
    start, end = window(period)
    # The notes are stored in English and translated when shown (gettext_noop marks them).
    steps = (
        ("interactions", interaction_counts, gettext_noop("Reading interactions")),
        ("surveys", survey_counts, gettext_noop("Reading survey answers")),
        ("about", complaints_about, gettext_noop("Reading complaints about staff")),
        ("handled", complaints_handled, gettext_noop("Reading complaints handled")),
        ("evaluations", evaluation_counts, gettext_noop("Reading evaluations")),
        ("attitude", attitude_answers, gettext_noop("Reading attitude answers")),
    )
    sources = {}
    for index, (key, query, note) in enumerate(steps):
        report(5 + index * 12, note)
        sources[key] = query(start, end)
    report(80, gettext_noop("Scoring"))
    staff = _assessed_staff(sources)
    rules = rules_of(version)
    members = {
        pk: scoring.Member(peer_group=position, counts=_counts_of(pk, sources))
        for pk, (_dept, position) in staff.items()
    }
    scoring.score_population(members, rules)
    staff_rows = [
        StaffScorecard(
            period=period,
            staff_id=pk,
            department_id=staff[pk][0],
            peer_group=member.peer_group,
            tier=member.tier,
            score=member.score,
            rank=member.rank,
            peer_count=member.peer_count,
            kpis={k: f.as_json(rules.weights[k]) for k, f in member.figures.items()},
            kpis_with_data=member.kpis_with_data,
        )
        for pk, member in members.items()
    ]
    report(90, gettext_noop("Department scorecards"))
    return Computed(staff_rows, department_rows(period, staff_rows, rules))


def _assessed_staff(sources: dict) -> dict[int, tuple[int, str]]:
    """staff → (department, peer group): everyone active, and anyone with facts in the
    period (someone who left mid-month is still assessed on what they did)."""
    staff = {
        pk: (dept, position)
        for pk, dept, position in Staff.objects.filter(status=StaffStatus.ACTIVE).values_list(
            "pk", "department_id", "position"
        )
    }
    with_facts = set()
    for rows in sources.values():
        with_facts.update(rows)
    missing = with_facts - staff.keys()
    if missing:
        staff.update(
            {
                pk: (dept, position)
                for pk, dept, position in Staff.objects.filter(pk__in=missing).values_list(
                    "pk", "department_id", "position"
                )
            }
        )
    return staff


@dataclass
class _Pool:
    """What a department sums from the staff of its subtree."""

    staff: int = 0
    scores: list = field(default_factory=list)
    tiers: Counter = field(default_factory=Counter)
    sums: dict = field(default_factory=dict)  # kpi → [num, den, n]


def department_rows(
    period: Period, staff_rows: list[StaffScorecard], rules: scoring.SchemeRules
) -> list[DepartmentScorecard]:
    departments = {
        pk: (path, kind) for pk, path, kind in Department.objects.values_list("pk", "path", "kind")
    }
    pools: dict[int, _Pool] = defaultdict(_Pool)
    for row in staff_rows:
        # Each employee's counts are read once, then added to every department above them.
        counts = {
            kpi: (Decimal(f["num"]), Decimal(f["den"]), f["n"]) for kpi, f in row.kpis.items()
        }
        path = departments.get(row.department_id, ("", ""))[0]
        for segment in path.split(".")[:-1]:
            pool = pools[int(segment)]
            pool.staff += 1
            pool.tiers[row.tier] += 1
            if row.score is not None:
                pool.scores.append(row.score)
            for kpi, (num, den, n) in counts.items():
                total = pool.sums.setdefault(kpi, [Decimal(0), Decimal(0), 0])
                total[0] += num
                total[1] += den
                total[2] += n
    rows = []
    for pk, pool in pools.items():
        score = scoring.mean_score(pool.scores)
        rows.append(
            DepartmentScorecard(
                period=period,
                department_id=pk,
                score=score,
                tier=scoring.tier_for(score, rules.thresholds),
                staff_count=pool.staff,
                scored_count=len(pool.scores),
                tier_counts={str(t): pool.tiers.get(t, 0) for t in TIER_ORDER},
                kpis=_pooled_kpis(pool.sums),
            )
        )
    _rank_departments(rows, departments)
    return rows


def _pooled_kpis(sums: dict) -> dict:
    pooled = {}
    for kpi, (num, den, n) in sums.items():
        value = None if kpi == Kpi.TRAINING else scoring.kpi_value(kpi, num, den)
        pooled[kpi] = {
            "value": None if value is None else str(value),
            "n": n,
            "num": str(num),
            "den": str(den),
        }
    return pooled


def _rank_departments(rows: list[DepartmentScorecard], departments: dict) -> None:
    by_kind: dict[str, dict] = defaultdict(dict)
    for index, row in enumerate(rows):
        if row.score is not None:
            by_kind[departments[row.department_id][1]][index] = row.score
    for scores in by_kind.values():
        for index, rank in scoring.competition_ranks(scores).items():
            rows[index].rank = rank
