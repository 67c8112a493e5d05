"""Reads of the surveys module, scoped to what the caller may see (VIEW_SURVEYS).

Results come from the rollups only, never from the responses: a department's page over a
million responses lets the database sum the monthly rollups three ways (by month × channel and
by department — a few thousand rows for a whole institution's year — and by employee, about one
row per employee and month) and folds the few dozen sums in Python. Each figure comes with its
uncertainty from ``quality.stats``: CSAT (the share of 4–5 answers) with a Wilson interval, NPS
with its trinomial interval, and whether the number of answers is enough to act on.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property

from django.conf import settings
from django.db.models import Q, QuerySet, Sum
from django.http import Http404
from django.utils import timezone

from servicecharter.accounts import permissions as perms
from servicecharter.accounts.scoping import get_in_scope_or_404, restrict
from servicecharter.org.choices import Channel
from servicecharter.org.models import Department, Staff
from servicecharter.quality import stats
from servicecharter.quality.sampling import LOW_CSAT, LOW_NPS
from servicecharter.surveys.models import (
    DailyRollup,
    MonthlyRollup,
    MonthlyStaffRollup,
    OutboxMessage,
    Response,
    SurveyRule,
)
from servicecharter.surveys.services import ROLLUP_COUNTERS, MonthOf

MINIMUM_ANSWERS = getattr(settings, "QUALITY_MINIMUM_SAMPLE", stats.DEFAULT_MINIMUM_SAMPLE)
MONTHS_SHOWN = 12
STAFF_SHOWN = 100
COMMENTS_SHOWN = 10
COMMENT_DAYS = 30


@dataclass
class Tally:
    """Sums of rollup counters, and the figures computed from them."""

    invited: int = 0
    answered: int = 0
    csat_n: int = 0
    csat_sum: int = 0
    csat_satisfied: int = 0
    nps_n: int = 0
    nps_promoters: int = 0
    nps_detractors: int = 0
    effort_n: int = 0
    effort_sum: int = 0

    def counters(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in ROLLUP_COUNTERS}

    def add(self, row: dict) -> "Tally":
        for name in ROLLUP_COUNTERS:
            setattr(self, name, getattr(self, name) + (row.get(name) or 0))
        self.__dict__.pop("csat", None)
        self.__dict__.pop("nps", None)
        return self

    @property
    def response_rate(self) -> float | None:
        return self.answered / self.invited if self.invited else None

    @cached_property
    def csat(self) -> stats.Interval:
        """Share of satisfied answers (4 or 5) with its Wilson interval."""
        return stats.csat_interval(self.csat_satisfied, self.csat_n)

    @property
    def csat_mean(self) -> float | None:
        return self.csat_sum / self.csat_n if self.csat_n else None

    @cached_property
    def nps(self) -> stats.Interval:
        passives = self.nps_n - self.nps_promoters - self.nps_detractors
        return stats.nps_interval(stats.NpsTally(self.nps_promoters, passives, self.nps_detractors))

    @property
    def effort_mean(self) -> float | None:
        return self.effort_sum / self.effort_n if self.effort_n else None

    @property
    def adequacy(self) -> stats.SampleAdequacy:
        return stats.sample_adequacy(self.answered, MINIMUM_ANSWERS)

    def as_dict(self) -> dict:
        """The figures for the API and the charts (shares as fractions, NPS in points)."""
        return {
            "invited": self.invited,
            "answered": self.answered,
            "response_rate": self.response_rate,
            "csat": _interval_dict(self.csat),
            "csat_mean": self.csat_mean,
            "nps": _interval_dict(self.nps),
            "effort_mean": self.effort_mean,
            "effort_answers": self.effort_n,
            "adequate": self.adequacy.adequate,
            "minimum_answers": self.adequacy.minimum,
        }


def _interval_dict(interval: stats.Interval) -> dict:
    return {
        "estimate": interval.estimate,
        "low": interval.low,
        "high": interval.high,
        "n": interval.n,
    }


@dataclass
class Row:
    """One line of a breakdown: what it is about, and its tally."""

    key: object
    label: str
    tally: Tally = field(default_factory=Tally)
    extra: object = None  # the Department or Staff the line is about, when there is one


@dataclass
class SurveyResults:
    department: Department | None
    channel: str
    first_month: date
    last_month: date
    total: Tally
    by_month: list[Row]
    by_channel: list[Row]
    by_department: list[Row]
    by_staff: list[Row]
    staff_cut: bool = False  # more employees than STAFF_SHOWN answered

    def chart_data(self) -> dict:
        """What the page's charts draw: CSAT % and NPS with their bands per month, and the
        figures per channel."""

        def pct(value):
            return None if value is None else round(100 * value, 1)

        def pts(value):
            return None if value is None else round(value, 1)

        return {
            "months": [row.label for row in self.by_month],
            "csat": [pct(row.tally.csat.estimate) for row in self.by_month],
            "csat_low": [pct(row.tally.csat.low) for row in self.by_month],
            "csat_high": [pct(row.tally.csat.high) for row in self.by_month],
            "nps": [pts(row.tally.nps.estimate) for row in self.by_month],
            "nps_low": [pts(row.tally.nps.low) for row in self.by_month],
            "nps_high": [pts(row.tally.nps.high) for row in self.by_month],
            "channels": [row.label for row in self.by_channel],
            "channel_csat": [pct(row.tally.csat.estimate) for row in self.by_channel],
            "channel_nps": [pts(row.tally.nps.estimate) for row in self.by_channel],
            "channel_rate": [pct(row.tally.response_rate) for row in self.by_channel],
        }


# --- scope ---------------------------------------------------------------------------------------


def departments_in_scope(user, capability: str = perms.VIEW_SURVEYS) -> QuerySet:
    """The departments whose survey results the user may see, in tree order."""
    return restrict(Department.objects.all(), user, capability, "").order_by("path")


def survey_department_get_for_user(*, user, pk: int) -> Department:
    """A department the user may see the survey results of (404 otherwise)."""
    return get_in_scope_or_404(Department.objects.all(), user, perms.VIEW_SURVEYS, "", pk=pk)


def _subtree(departments: list[tuple[int, str]], department: Department | None):
    if department is None:
        return departments
    return [(pk, path) for pk, path in departments if path.startswith(department.path)]


# --- results -------------------------------------------------------------------------------------


def default_period(today: date | None = None) -> tuple[date, date]:
    """The last twelve months, this one included: (first day of the first, today)."""
    today = today or timezone.localdate()
    year, month = today.year, today.month - (MONTHS_SHOWN - 1)
    while month < 1:
        year, month = year - 1, month + 12
    return date(year, month, 1), today


def _sums() -> dict:
    return {name: Sum(name) for name in ROLLUP_COUNTERS}


def month_label(month: date) -> str:
    return f"{month.year:04d}-{month.month:02d}"


def _month_labels(first: date, last: date) -> list[str]:
    labels, year, month = [], first.year, first.month
    while (year, month) <= (last.year, last.month):
        labels.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return labels


def _head_of(path: str, heads: dict, depth: int | None) -> str:
    """The head ``path`` lies under: its ancestor at ``depth`` (the heads of a department's
    breakdown are its children, all one level down), or, for the roots of a scope (few, of
    different depths), the first that is a prefix of it."""
    if depth is not None:
        return ".".join(path.split(".")[:depth]) + "."
    return next((head for head in heads if path.startswith(head)), "")


def _department_rows(
    department: Department | None, subtree: list[tuple[int, str]], by_id: dict[int, Tally]
) -> list[Row]:
    """The tallies of the selected department's children (each with its subtree), and of the
    department itself when answers are recorded on it directly. With no department selected:
    the roots of the caller's scope."""
    if department is None:
        # Sorted paths list a subtree right after its root: the roots are the paths that do
        # not start with the last root seen.
        heads: list[str] = []
        for path in sorted(path for _pk, path in subtree):
            if not heads or not path.startswith(heads[-1]):
                heads.append(path)
    else:
        depth = department.path.count(".") + 1
        heads = [
            path for _pk, path in subtree if path.count(".") == depth and path != department.path
        ]
    rows: dict[str, Row] = {path: Row(path, "") for path in heads}
    own = Row(department.path, "", extra=department) if department is not None else None
    head_depth = None if department is None else depth
    for pk, path in subtree:
        tally = by_id.get(pk)
        if tally is None:
            continue
        target = rows.get(_head_of(path, rows, head_depth)) or own
        if target is not None:
            target.tally.add(tally.counters())
    pk_of = {path: pk for pk, path in subtree}
    departments = Department.objects.in_bulk([pk_of[path] for path in heads])
    result = []
    for path, row in rows.items():
        row.extra = departments.get(pk_of[path])
        row.label = row.extra.name if row.extra else path
        if row.tally.invited or row.tally.answered:
            result.append(row)
    if own is not None and (own.tally.invited or own.tally.answered):
        own.label = department.name
        result.insert(0, own)
    return result


def survey_results_for_user(
    *,
    user,
    department: Department | None = None,
    channel: str = "",
    first_month: date | None = None,
    last_month: date | None = None,
) -> SurveyResults:
    """Survey results of the departments in the caller's scope (or of ``department``'s
    subtree, which must be in scope: 404 otherwise), optionally one channel, over the months
    of ``first_month``…``last_month`` (any day of them; default: the last twelve months).
    From the monthly rollups: five queries whatever the number of responses."""
    default_first, default_last = default_period()
    first_month = (first_month or default_first).replace(day=1)
    last_month = (last_month or default_last).replace(day=1)
    scope = list(departments_in_scope(user).values_list("pk", "path"))
    if department is not None and not any(pk == department.pk for pk, _path in scope):
        raise Http404
    subtree = _subtree(scope, department)
    where = {
        "department_id__in": [pk for pk, _path in subtree],
        "month__gte": first_month,
        "month__lte": last_month,
    }
    if channel:
        where["channel"] = channel
    rollups = MonthlyRollup.objects.filter(**where)
    total = Tally()
    months = {label: Row(label, label) for label in _month_labels(first_month, last_month)}
    channels: dict[str, Row] = {}
    # The database sums (a few thousand rows at most); Python folds the few dozen sums.
    for row in rollups.values("month", "channel").annotate(**_sums()).order_by():
        total.add(row)
        label = month_label(row["month"])
        months.setdefault(label, Row(label, label)).tally.add(row)
        channels.setdefault(row["channel"], Row(row["channel"], "")).tally.add(row)
    by_department = {
        row["department_id"]: Tally().add(row)
        for row in rollups.values("department_id").annotate(**_sums()).order_by()
    }
    labels = dict(Channel.choices)
    for key, row in channels.items():
        row.label = str(labels.get(key, key))
    staff_rows, cut = _staff_rows(MonthlyStaffRollup.objects.filter(**where))
    return SurveyResults(
        department=department,
        channel=channel,
        first_month=first_month,
        last_month=last_month,
        total=total,
        by_month=[months[key] for key in sorted(months)],
        by_channel=sorted(channels.values(), key=lambda r: -r.tally.answered),
        by_department=_department_rows(department, subtree, by_department),
        by_staff=staff_rows,
        staff_cut=cut,
    )


def _staff_rows(rollups: QuerySet) -> tuple[list[Row], bool]:
    """Per employee, those with the most answers first (STAFF_SHOWN at most), then sorted
    with the lowest CSAT first: who needs attention, and on how many answers.

    Two steps: rank the employees by their answers alone (one sum per group, the cheap part
    of a scan over every employee's months), then sum everything for the few ranked, through
    the (staff key, month) index. On the head office's page that halves the time."""
    ranked = list(
        rollups.values("staff_key")
        .annotate(ranked_by=Sum("answered"))
        .order_by("-ranked_by", "staff_key")
        .values_list("staff_key", flat=True)[: STAFF_SHOWN + 1]
    )
    cut = len(ranked) > STAFF_SHOWN
    ranked = ranked[:STAFF_SHOWN]
    grouped = list(
        rollups.filter(staff_key__in=ranked).values("staff_key").annotate(**_sums()).order_by()
    )
    staff = Staff.objects.in_bulk(ranked)
    rows = []
    for row in grouped:
        member = staff.get(row["staff_key"])
        label = f"{member.name} ({member.employee_number})" if member else str(row["staff_key"])
        rows.append(Row(row["staff_key"], label, Tally().add(row), member))

    def attention(row: Row):
        estimate = row.tally.csat.estimate
        return (estimate is None, estimate if estimate is not None else 0, row.label)

    return sorted(rows, key=attention), cut


def recent_comments(*, user, department: Department | None = None, limit: int = COMMENTS_SHOWN):
    """The latest free-text answers of the last 30 days in scope (or in ``department``'s
    subtree), newest first through the partial index of answers with a comment: a bounded
    read however many departments the scope holds."""
    scope = list(departments_in_scope(user).values_list("pk", "path"))
    ids = [pk for pk, _path in _subtree(scope, department)]
    since = timezone.now() - timedelta(days=COMMENT_DAYS)
    return list(
        Response.objects.filter(department_id__in=ids, answered_at__gte=since)
        .exclude(comment="")
        .select_related("staff", "department")
        .order_by("-answered_at")[:limit]
    )


# --- an employee's own feedback ------------------------------------------------------------------


@dataclass
class StaffFeedback:
    staff: Staff
    first_day: date
    last_day: date
    total: Tally
    by_month: list[Row]
    comments: list[Response]


def survey_feedback_for_staff(
    *, staff: Staff, first_day: date | None = None, last_day: date | None = None
) -> StaffFeedback:
    """What customers said about ``staff`` over ``first_day``…``last_day`` (default: the
    last twelve months): the figures (from the rollups of their staff key), by month, and
    their latest comments. Two queries."""
    default_first, default_last = default_period()
    first_day, last_day = first_day or default_first, last_day or default_last
    grouped = (
        DailyRollup.objects.filter(staff_key=staff.pk, day__gte=first_day, day__lte=last_day)
        .annotate(month=MonthOf("day"))
        .values("month")
        .annotate(**_sums())
        .order_by()
    )
    total = Tally()
    months = {label: Row(label, label) for label in _month_labels(first_day, last_day)}
    for row in grouped:
        total.add(row)
        months.setdefault(row["month"], Row(row["month"], row["month"])).tally.add(row)
    comments = list(
        Response.objects.filter(staff=staff).exclude(comment="").order_by("-answered_at", "-pk")[:5]
    )
    return StaffFeedback(
        staff=staff,
        first_day=first_day,
        last_day=last_day,
        total=total,
        by_month=[months[key] for key in sorted(months)],
        comments=comments,
    )


def survey_feedback_panel(request, staff, since, until) -> dict:
    """The "survey feedback about me" panel of the quality module's "my quality" page, over
    that page's period ([since, until) as aware instants; no end: up to today)."""
    first_day = timezone.localdate(since)
    last_day = timezone.localdate(until) - timedelta(days=1) if until else timezone.localdate()
    return {
        "feedback": survey_feedback_for_staff(staff=staff, first_day=first_day, last_day=last_day)
    }


def survey_feedback_for_user(*, user) -> StaffFeedback | None:
    """The signed-in employee's own survey feedback; None for a user who is not staff."""
    staff = getattr(user, "staff", None) if user.is_authenticated else None
    if staff is None:
        return None
    return survey_feedback_for_staff(staff=staff)


# --- lists ---------------------------------------------------------------------------------------


def survey_response_list_for_user(*, user) -> QuerySet:
    """Every response of the departments in the caller's scope, newest first."""
    ids = list(departments_in_scope(user).values_list("pk", flat=True))
    return (
        Response.objects.filter(department_id__in=ids)
        .select_related("staff", "department", "invitation")
        .order_by("-pk")
    )


def survey_rule_list():
    return SurveyRule.objects.select_related("business_type").order_by("-is_active", "name")


def outbox_list(*, state: str = ""):
    messages = OutboxMessage.objects.order_by("-pk")
    if state:
        messages = messages.filter(state=state)
    return messages


# --- read by quality (handed over in SurveysConfig.ready) -------------------------------------


def low_score_interaction_ids(in_scope, as_of) -> set[int]:
    """Interactions (``in_scope(prefix)`` filters them) whose survey was answered before
    ``as_of`` with CSAT ≤ 2 or NPS ≤ 6: the sampling plans' "low survey score" picks."""
    return set(
        Response.objects.filter(in_scope("invitation__interaction__"))
        .filter(Q(csat__lte=LOW_CSAT) | Q(nps__lte=LOW_NPS), answered_at__lt=as_of)
        .order_by()
        .values_list("invitation__interaction_id", flat=True)
    )


def period_tally(department_ids: list[int], first_day: date, last_day: date) -> Tally:
    """The departments' survey figures over the days, summed from the daily rollups."""
    sums = DailyRollup.objects.filter(
        department_id__in=department_ids, day__gte=first_day, day__lte=last_day
    ).aggregate(**{name: Sum(name) for name in ROLLUP_COUNTERS})
    return Tally().add(sums)
