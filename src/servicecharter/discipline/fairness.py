"""The fairness report and the executive summary of decisions over a period, computed with
grouped queries (a fixed number whatever the number of decisions), for the departments in the
reader's VIEW_FAIRNESS scope.

- **Rates per 100 staff**: approved sanctions and rewards about individuals decided in the
  period, per 100 active staff, by department and by position. A rate far from the others is a
  question to ask, not a finding.
- **Deviation rate per decider**: of the sanction proposals each person made in the period, the
  share that departed from the rulebook's recommendation.
- **Time to decision**: the median from proposal to approval or rejection.
- **Appeals**: decided in the period, by outcome, and the share overturned.
- **Thin evidence**: sanctions in force whose violation rests on QA evaluations (its evidence
  names them) when either the employee's scored evaluations in that month are fewer than the
  quality module's minimum sample (``quality.selectors.minimum_sample``, the same threshold the
  QA pages use), or an evaluation was scored by an auditor whose calibration agreement was low
  (flagged, or the whole session below its tolerance, as announced by ``calibration.closed``).
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from statistics import median

from django.db import connection
from django.db.models import Aggregate, Count, DurationField, ExpressionWrapper, F, FloatField, Q
from django.db.models.functions import TruncMonth
from django.utils import timezone

from servicecharter.accounts import permissions as perms
from servicecharter.accounts.scoping import scope_q
from servicecharter.discipline.choices import (
    AppealState,
    DecisionKind,
    DecisionState,
    Measure,
)
from servicecharter.discipline.models import Appeal, Decision
from servicecharter.org.choices import StaffStatus
from servicecharter.org.models import Department, Staff

EVALUATION = "evaluation"


def _start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _rate(count: int, staff: int) -> float | None:
    return round(100 * count / staff, 1) if staff else None


def _share(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


@dataclass
class GroupRow:
    key: object
    label: str
    staff: int = 0
    sanctions: int = 0
    rewards: int = 0

    @property
    def sanctions_per_100(self) -> float | None:
        return _rate(self.sanctions, self.staff)

    @property
    def rewards_per_100(self) -> float | None:
        return _rate(self.rewards, self.staff)


@dataclass
class DeciderRow:
    user_id: int
    name: str
    proposals: int
    deviations: int

    @property
    def deviation_rate(self) -> float | None:
        return _share(self.deviations, self.proposals)


@dataclass
class ThinEvidence:
    decision: Decision
    reasons: list[str] = field(default_factory=list)


@dataclass
class FairnessReport:
    start: date
    end: date  # inclusive
    by_department: list[GroupRow]
    by_position: list[GroupRow]
    deciders: list[DeciderRow]
    median_days_to_decision: float | None
    decided_count: int
    appeals: dict[str, int]
    thin_evidence: list[ThinEvidence]

    @property
    def appeals_decided(self) -> int:
        return sum(n for state, n in self.appeals.items() if state != AppealState.OPEN)

    @property
    def overturn_rate(self) -> float | None:
        return _share(self.appeals.get(AppealState.OVERTURNED, 0), self.appeals_decided)

    @property
    def reduced_rate(self) -> float | None:
        return _share(self.appeals.get(AppealState.REDUCED, 0), self.appeals_decided)


# Queries --------------------------------------------------------------------------------------


def decisions_in_scope(user):
    return Decision.objects.filter(scope_q(user, perms.VIEW_FAIRNESS))


def decided_in(user, start: date, end: date):
    """Approved decisions about individuals decided between ``start`` and ``end`` inclusive."""
    return decisions_in_scope(user).filter(
        state=DecisionState.APPROVED,
        decided_at__gte=_start(start),
        decided_at__lt=_start(end + timedelta(days=1)),
    )


def _staff_counts(user, field: str) -> dict:
    staff = Staff.objects.filter(scope_q(user, perms.VIEW_FAIRNESS), status=StaffStatus.ACTIVE)
    return dict(staff.values_list(field).annotate(n=Count("pk")).values_list(field, "n"))


def _decision_counts(decisions, field: str) -> dict[tuple, int]:
    rows = (
        decisions.filter(staff__isnull=False)
        .values_list(field, "kind")
        .annotate(n=Count("pk"))
        .values_list(field, "kind", "n")
    )
    return {(key, kind): n for key, kind, n in rows}


def _groups(staff_counts: dict, decision_counts: dict, labels: dict) -> list[GroupRow]:
    keys = set(staff_counts) | {key for key, _kind in decision_counts}
    rows = [
        GroupRow(
            key=key,
            label=labels.get(key, key or "—"),
            staff=staff_counts.get(key, 0),
            sanctions=decision_counts.get((key, DecisionKind.SANCTION), 0),
            rewards=decision_counts.get((key, DecisionKind.REWARD), 0),
        )
        for key in keys
    ]
    return sorted(rows, key=lambda row: (-(row.sanctions_per_100 or 0), str(row.label)))


def by_department(user, decisions) -> list[GroupRow]:
    staff = _staff_counts(user, "department_id")
    counts = _decision_counts(decisions, "department_id")
    ids = set(staff) | {key for key, _kind in counts}
    labels = {d.pk: f"{d.code} · {d.name}" for d in Department.objects.filter(pk__in=ids)}
    return _groups(staff, counts, labels)


def by_position(user, decisions) -> list[GroupRow]:
    return _groups(
        _staff_counts(user, "position"), _decision_counts(decisions, "staff__position"), {}
    )


def deciders(user, start: date, end: date) -> list[DeciderRow]:
    """Sanction proposals made in the period, per proposer: how many deviated."""
    rows = (
        decisions_in_scope(user)
        .filter(
            kind=DecisionKind.SANCTION,
            proposed_at__gte=_start(start),
            proposed_at__lt=_start(end + timedelta(days=1)),
        )
        .values("proposed_by_id", "proposed_by__username", "proposed_by__first_name")
        .annotate(proposals=Count("pk"), deviations=Count("pk", filter=Q(is_deviation=True)))
        .order_by("-deviations", "proposed_by__username")
    )
    return [
        DeciderRow(
            user_id=row["proposed_by_id"],
            name=row["proposed_by__first_name"] or row["proposed_by__username"],
            proposals=row["proposals"],
            deviations=row["deviations"],
        )
        for row in rows
    ]


class _MedianSeconds(Aggregate):
    """PostgreSQL: the median of (decided_at − proposed_at) in seconds, in the database."""

    function = "PERCENTILE_CONT"
    template = "PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM (%(expressions)s)))"
    output_field = FloatField()


def _decided_between(user, start: date, end: date):
    return decisions_in_scope(user).filter(
        state__in=(DecisionState.APPROVED, DecisionState.REJECTED),
        decided_at__gte=_start(start),
        decided_at__lt=_start(end + timedelta(days=1)),
    )


def time_to_decision(user, start: date, end: date) -> tuple[float | None, int]:
    """(median days from proposal to approval or rejection, how many), of decisions decided
    in the period. PostgreSQL computes the median itself; elsewhere the durations are read."""
    rows = _decided_between(user, start, end)
    if connection.vendor == "postgresql":
        elapsed = ExpressionWrapper(
            F("decided_at") - F("proposed_at"), output_field=DurationField()
        )
        found = rows.aggregate(median=_MedianSeconds(elapsed), n=Count("pk"))
        days = None if found["median"] is None else found["median"] / 86400
        return (None if days is None else round(days, 1)), found["n"]
    durations = days_to_decision(user, start, end)
    return (round(median(durations), 1) if durations else None), len(durations)


def days_to_decision(user, start: date, end: date) -> list[float]:
    """Days from proposal to approval or rejection, of decisions decided in the period."""
    pairs = _decided_between(user, start, end).values_list("proposed_at", "decided_at")
    return [(decided - proposed).total_seconds() / 86400 for proposed, decided in pairs]


def appeal_outcomes(user, start: date, end: date) -> dict[str, int]:
    """Appeals filed or decided in the period, counted by state."""
    window = Q(decided_at__gte=_start(start), decided_at__lt=_start(end + timedelta(days=1)))
    filed = Q(
        state=AppealState.OPEN,
        filed_at__gte=_start(start),
        filed_at__lt=_start(end + timedelta(days=1)),
    )
    rows = (
        Appeal.objects.filter(scope_q(user, perms.VIEW_FAIRNESS, "decision__department"))
        .filter(window | filed)
        .values_list("state")
        .annotate(n=Count("pk"))
    )
    return {state: n for state, n in rows}


# Thin evidence --------------------------------------------------------------------------------


def _evaluation_ids(evidence) -> list[int]:
    ids = []
    for item in evidence or []:
        if isinstance(item, dict) and item.get("kind") == EVALUATION:
            try:
                ids.append(int(item.get("id")))
            except (TypeError, ValueError):
                continue
    return ids


def low_agreement_auditors() -> set[int]:
    """Auditors whose calibration agreement was low: flagged in a closed session, or in a
    session whose overall agreement fell below its tolerance."""
    from servicecharter.core.models import Event
    from servicecharter.quality.models import CalibrationSession

    flagged: set[int] = set()
    below: list[int] = []
    tolerances = dict(CalibrationSession.objects.values_list("pk", "alpha_tolerance"))
    for payload in Event.objects.filter(name="calibration.closed").values_list(
        "payload", flat=True
    ):
        flagged.update(payload.get("flagged_auditor_ids") or [])
        alpha, session = payload.get("alpha"), payload.get("session_id")
        if alpha is not None and session in tolerances and alpha < float(tolerances[session]):
            below.append(session)
    if below:
        through = CalibrationSession.auditors.through
        flagged.update(
            through.objects.filter(calibrationsession_id__in=below).values_list(
                "user_id", flat=True
            )
        )
    return flagged


def thin_evidence(decisions) -> list[ThinEvidence]:
    """Sanctions in force that rest on QA evaluations from a small sample or a poorly
    calibrated auditor (three queries whatever the number of sanctions)."""
    from servicecharter.quality.models import Evaluation
    from servicecharter.quality.selectors import SCORED_STATES, minimum_sample

    candidates = decisions.filter(kind=DecisionKind.SANCTION, violation__isnull=False).exclude(
        measure=Measure.NONE
    )
    if connection.vendor == "postgresql":
        # Only sanctions whose evidence names an evaluation leave the database (jsonb @>).
        candidates = candidates.filter(violation__evidence__contains=[{"kind": EVALUATION}])
    sanctions = [
        decision
        for decision in candidates.select_related("staff", "violation__type", "department")
        if _evaluation_ids(decision.violation.evidence)
    ]
    if not sanctions:
        return []
    evaluation_ids = {i for d in sanctions for i in _evaluation_ids(d.violation.evidence)}
    auditor_of = dict(
        Evaluation.objects.filter(pk__in=evaluation_ids).values_list("pk", "auditor_id")
    )
    months = {(d.staff_id, _month(d.violation.occurred_at)) for d in sanctions}
    samples = _monthly_samples({staff for staff, _m in months}, months, Evaluation, SCORED_STATES)
    minimum = minimum_sample()
    poorly_calibrated = low_agreement_auditors()
    flagged = []
    for decision in sanctions:
        reasons = []
        n = samples.get((decision.staff_id, _month(decision.violation.occurred_at)), 0)
        if n < minimum:
            reasons.append(("sample", n, minimum))
        ids = _evaluation_ids(decision.violation.evidence)
        if any(auditor_of.get(pk) in poorly_calibrated for pk in ids):
            reasons.append(("calibration", None, None))
        if reasons:
            flagged.append(ThinEvidence(decision, reasons))
    return flagged


def _month(moment: datetime) -> date:
    return timezone.localtime(moment).date().replace(day=1)


def _monthly_samples(staff_ids, months, Evaluation, scored_states) -> dict:
    first = min(month for _s, month in months)
    last = max(month for _s, month in months)
    until = (last.replace(day=28) + timedelta(days=4)).replace(day=1)
    rows = (
        Evaluation.objects.filter(
            staff_id__in=staff_ids,
            state__in=scored_states,
            completed_at__gte=_start(first),
            completed_at__lt=_start(until),
        )
        .annotate(month=TruncMonth("completed_at"))
        .values_list("staff_id", "month")
        .annotate(n=Count("pk"))
        .values_list("staff_id", "month", "n")
    )
    counts: dict = defaultdict(int)
    for staff_id, month, n in rows:
        month = month.date() if isinstance(month, datetime) else month
        counts[(staff_id, month.replace(day=1))] += n
    return counts


# The report -----------------------------------------------------------------------------------


def fairness_report(*, user, start: date, end: date) -> FairnessReport:
    decisions = decided_in(user, start, end)
    median_days, decided_count = time_to_decision(user, start, end)
    return FairnessReport(
        start=start,
        end=end,
        by_department=by_department(user, decisions),
        by_position=by_position(user, decisions),
        deciders=deciders(user, start, end),
        median_days_to_decision=median_days,
        decided_count=decided_count,
        appeals=appeal_outcomes(user, start, end),
        thin_evidence=thin_evidence(decisions),
    )


# The executive summary ------------------------------------------------------------------------


@dataclass
class Summary:
    start: date
    end: date
    by_measure: list[tuple[str, str, int]]  # (kind, measure, count)
    by_unit: list[GroupRow]
    appeals: dict[str, int]
    proposed_open: int


def _units(user) -> list[Department]:
    """The units a summary is broken down by: the level below the top of the reader's scope."""
    departments = list(
        Department.objects.filter(scope_q(user, perms.VIEW_FAIRNESS, "")).only(
            "pk", "path", "depth", "code", "name_en", "name_zh"
        )
    )
    if not departments:
        return []
    top = min(d.depth for d in departments)
    below = [d for d in departments if d.depth == top + 1]
    return below or [d for d in departments if d.depth == top]


def summary_report(*, user, start: date, end: date) -> Summary:
    decisions = decided_in(user, start, end)
    by_measure = list(
        decisions.values_list("kind", "measure").annotate(n=Count("pk")).order_by("kind", "-n")
    )
    by_path = _decision_counts(decisions, "department__path")
    staff_by_path = dict(
        Staff.objects.filter(scope_q(user, perms.VIEW_FAIRNESS), status=StaffStatus.ACTIVE)
        .values_list("department__path")
        .annotate(n=Count("pk"))
        .values_list("department__path", "n")
    )
    units = []
    for unit in _units(user):
        row = GroupRow(key=unit.pk, label=f"{unit.code} · {unit.name}")
        for (path, kind), n in by_path.items():
            if path.startswith(unit.path):
                if kind == DecisionKind.SANCTION:
                    row.sanctions += n
                else:
                    row.rewards += n
        row.staff = sum(n for path, n in staff_by_path.items() if path.startswith(unit.path))
        units.append(row)
    return Summary(
        start=start,
        end=end,
        by_measure=by_measure,
        by_unit=units,
        appeals=appeal_outcomes(user, start, end),
        proposed_open=decisions_in_scope(user).filter(state=DecisionState.PROPOSED).count(),
    )
