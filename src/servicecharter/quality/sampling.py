"""Sampling plans (抽查): which interactions of a period the auditors score, and why.

A plan names a period, a department subtree, a scorecard version, how many random picks (N per
agent, or a share of each channel), which targeted picks to add, the auditors, and a seed. The
draw reads the population once, asks ``stats.sample_plan`` for the picks and
``stats.assign_auditors`` (inside it) to spread them, and writes one Evaluation per pick in bulk.
The seed is recorded, so ``sampling_plan_check`` can recompute the draw and show an employee
that the sample was fair: the same plan over the same data picks the same interactions.

The rules, stated once (the plan pages show them too):

- **Population**: interactions started in the period (dates inclusive, in the institution's time
  zone ``settings.TIME_ZONE``) by a member of staff, in the plan's department or below.
- **Complaint**: the interaction's customer filed a complaint case received at or after the
  interaction started and less than 7 days after (``started_at ≤ received_at < started_at +
  7 days``). An interaction with no known customer is never linked to a complaint.
- **Low survey score**: the survey invitation sent for the interaction was answered with CSAT ≤ 2
  or NPS ≤ 6.
- **Abandoned**: the customer hung up or left before being served.
- **Very long**: handling time above the 95th percentile (nearest rank) of its channel among the
  plan's population.
- Interactions already evaluated on the plan's scorecard before the draw (by hand, or by another
  plan) are left out of the population, so no pick is wasted on them.

Complaints and survey answers count as they stood at the draw (recorded or answered before
``drawn_at``), so a complaint recorded after the draw, even one dated earlier, does not make
the check disagree with it.

Reads (the selectors, with the permission check inside) are at the end of this module.
"""

from __future__ import annotations

import gc
import math
import secrets
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from servicecharter.accounts import permissions as perms
from servicecharter.accounts.models import User
from servicecharter.accounts.scoping import get_in_scope_or_404, has_capability, restrict
from servicecharter.cases.choices import CaseKind
from servicecharter.cases.models import Case
from servicecharter.core.audit import audit_record
from servicecharter.core.events import emit
from servicecharter.interactions.choices import InteractionOutcome
from servicecharter.interactions.models import Interaction
from servicecharter.org.choices import Channel
from servicecharter.org.models import Department
from servicecharter.quality import stats, survey_facts
from servicecharter.quality.choices import EvaluationState, SampleReason, ScorecardState
from servicecharter.quality.models import Evaluation, SamplingPlan, ScorecardVersion

COMPLAINT_WINDOW = timedelta(days=7)
LOW_CSAT = 2  # CSAT at or below this is a low score (1–5 scale)
LOW_NPS = 6  # NPS at or below this is a detractor (0–10 scale)
LONG_PERCENTILE = 0.95
TARGETED_REASONS = tuple(reason for reason in SampleReason.values if reason != SampleReason.RANDOM)
MAX_PER_AGENT = 100
SEED_BITS = 62  # fits a signed 64-bit column with room to spare


# ---------------------------------------------------------------------------------------------
# Writes
# ---------------------------------------------------------------------------------------------


def _require_manager(actor, department: Department) -> None:
    if not has_capability(actor, perms.MANAGE_QUALITY, department):
        raise PermissionDenied


def _check_period(period_start: date, period_end: date) -> dict:
    if period_end < period_start:
        return {"period_end": _("The period cannot end before it starts.")}
    return {}


def _check_method(per_agent: int | None, shares: Mapping[str, float]) -> dict:
    """Exactly one way of picking at random: N per agent, or a share of each channel."""
    if per_agent is not None and shares:
        return {"per_agent": _("Choose a number per agent or a share per channel, not both.")}
    if per_agent is None and not shares:
        return {"per_agent": _("Give a number per agent or a share of at least one channel.")}
    if per_agent is not None and not 1 <= per_agent <= MAX_PER_AGENT:
        return {
            "per_agent": _("The number per agent must be from 1 to %(max)s.")
            % {"max": MAX_PER_AGENT}
        }
    for channel, share in shares.items():
        if channel not in Channel.values:
            return {"share_per_channel": _("Unknown channel: %(channel)s.") % {"channel": channel}}
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share <= 100:
            return {
                "share_per_channel": _(
                    "The share of %(channel)s must be more than 0%% and at most 100%%."
                )
                % {"channel": Channel(channel).label}
            }
    return {}


def normal_targets(targeted: Mapping[str, int | None] | Iterable[str] | None) -> dict:
    """{reason: how many per agent, None for all}; a plain list of reasons means all of each."""
    if not targeted:
        return {}
    if isinstance(targeted, Mapping):
        return dict(targeted)
    return dict.fromkeys(targeted)


def _check_targets(targets: Mapping[str, int | None]) -> dict:
    for reason, limit in targets.items():
        if reason not in TARGETED_REASONS:
            return {"targeted": _("Unknown targeted pick: %(reason)s.") % {"reason": reason}}
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 1
        ):
            return {"targeted": _("Targeted picks must be 1 or more per agent, or all of them.")}
    return {}


def _check_auditors(auditors: list, department: Department) -> dict:
    if not auditors:
        return {"auditors": _("Choose at least one auditor.")}
    outside = [
        auditor.get_username()
        for auditor in auditors
        if not has_capability(auditor, perms.EVALUATE, department)
    ]
    if outside:
        return {
            "auditors": _("These people cannot evaluate in %(department)s: %(names)s.")
            % {"department": department.name, "names": ", ".join(sorted(outside))}
        }
    return {}


def _check_scorecard(version: ScorecardVersion) -> dict:
    if version.state != ScorecardState.ACTIVE:
        return {"scorecard_version": _("Choose a scorecard version that is in use.")}
    return {}


def _check_seed(seed: int | None) -> dict:
    if seed is not None and not 0 <= seed < 2**63:
        return {"seed": _("The seed must be a whole number from 0 to 2⁶³ − 1.")}
    return {}


@transaction.atomic
def sampling_plan_create(
    *,
    actor,
    name: str,
    department: Department,
    period_start: date,
    period_end: date,
    scorecard_version: ScorecardVersion,
    auditors: Iterable[User],
    per_agent: int | None = None,
    share_per_channel: Mapping[str, float] | None = None,
    targeted: Mapping[str, int | None] | Iterable[str] | None = None,
    seed: int | None = None,
) -> SamplingPlan:
    """A plan ready to draw. ``share_per_channel`` is in percent ({"phone": 2.5}); ``targeted``
    maps a reason (complaint, low_survey, abandoned, long) to how many per agent (None: all of
    them). Without a seed one is drawn at random; either way it is recorded."""
    _require_manager(actor, department)
    shares = dict(share_per_channel or {})
    targets = normal_targets(targeted)
    auditors = sorted(set(auditors), key=lambda user: user.pk)
    errors = {
        **_check_period(period_start, period_end),
        **_check_method(per_agent, shares),
        **_check_targets(targets),
        **_check_auditors(auditors, department),
        **_check_scorecard(scorecard_version),
        **_check_seed(seed),
    }
    if not name.strip():
        errors["name"] = _("Give the plan a name.")
    if errors:
        raise ValidationError(errors)
    plan = SamplingPlan.objects.create(
        name=name.strip(),
        department=department,
        period_start=period_start,
        period_end=period_end,
        scorecard_version=scorecard_version,
        per_agent=per_agent,
        share_per_channel=shares,
        targeted=targets,
        seed=secrets.randbits(SEED_BITS) if seed is None else seed,
        created_by=actor,
    )
    plan.auditors.set(auditors)
    audit_record(
        action="sampling_plan.create",
        obj=plan,
        changes={
            "department": [None, department.code],
            "period": [None, [period_start.isoformat(), period_end.isoformat()]],
            "scorecard_version": [None, scorecard_version.pk],
            "per_agent": [None, per_agent],
            "share_per_channel": [None, shares],
            "targeted": [None, targets],
            "auditors": [None, [auditor.pk for auditor in auditors]],
            "seed": [None, str(plan.seed)],
        },
    )
    return plan


@dataclass(frozen=True)
class Draw:
    """What a draw did: the picks with the strata they came from, out of how many."""

    plan: SamplingPlan
    sample: stats.SamplePlan
    population: int
    long_thresholds: dict[str, int]

    @property
    def by_reason(self) -> dict[str, int]:
        return dict(Counter(pick.reason for pick in self.sample.picks))


@transaction.atomic
def sampling_plan_draw(*, actor, plan: SamplingPlan) -> Draw:
    """Draw the plan once: read the population, pick with the recorded seed, and create one
    Evaluation (to score, with the reason it was picked) per pick, in bulk. A plan already
    drawn is refused: drawing again could only be a way to get a different sample."""
    _require_manager(actor, plan.department)
    plan = (
        SamplingPlan.objects.select_for_update(of=("self",))
        .select_related("department", "scorecard_version")
        .get(pk=plan.pk)
    )
    if plan.drawn_at is not None:
        raise ValidationError(
            _("This plan was drawn on %(when)s; a plan is drawn only once.")
            % {"when": timezone.localtime(plan.drawn_at).strftime("%Y-%m-%d %H:%M")}
        )
    # Grants may have changed since the plan was made: every auditor must still evaluate here.
    errors = _check_auditors(list(plan.auditors.all()), plan.department)
    if errors:
        raise ValidationError(errors)
    drawn_at = timezone.now()
    draw = _compute(plan, as_of=drawn_at)
    _insert_evaluations(plan, draw.sample.picks, drawn_at)
    plan.drawn_at = drawn_at
    plan.save(update_fields=["drawn_at", "updated_at"])
    audit_record(
        action="sampling_plan.draw",
        obj=plan,
        changes={
            "seed": str(plan.seed),
            "population": draw.population,
            "picks": len(draw.sample.picks),
            "by_reason": draw.by_reason,
            "strata": len(draw.sample.strata),
        },
    )
    emit(
        "sampling_plan.drawn",
        {
            "plan_id": plan.pk,
            "department_id": plan.department_id,
            "picks": len(draw.sample.picks),
            "by_reason": draw.by_reason,
        },
    )
    return draw


def sampling_plan_preview(*, plan: SamplingPlan) -> Draw:
    """The picks a draw would make now, written nowhere (a plan not drawn yet)."""
    if plan.drawn_at is not None:
        raise ValidationError(_("This plan is drawn: check the draw instead."))
    return _compute(plan, as_of=timezone.now())


@contextmanager
def _collector_paused():
    """Reading a million rows makes millions of small tuples, none of which can form a cycle,
    yet their number sets off the cyclic garbage collector again and again (each time walking
    everything kept so far): paused, the population and the picks take half the time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _compute(plan: SamplingPlan, *, as_of: datetime) -> Draw:
    """The draw of ``plan`` over the data as it stood at ``as_of``: a pure function of the plan,
    its seed and the data, so the check can run it again."""
    targets = normal_targets(plan.targeted)
    auditor_keys = _auditor_keys(plan)
    shares = plan.share_per_channel or None
    with _collector_paused():
        population, thresholds = plan_population(plan, as_of=as_of, targets=targets.keys())
        try:
            sample = stats.sample_plan(
                population,
                seed=plan.seed,
                per_agent=plan.per_agent,
                share_per_channel=(
                    {channel: share / 100 for channel, share in shares.items()} if shares else None
                ),
                targeted=targets or None,
                auditors=list(auditor_keys),
            )
        except stats.StatsError as error:
            raise ValidationError(str(error)) from error
    pick = stats.Pick  # rebuilt plainly: namedtuple._replace costs twenty times more
    picks = tuple(pick(i, a, c, r, auditor_keys[au]) for i, a, c, r, au in sample.picks)
    return Draw(
        plan, stats.SamplePlan(sample.seed, picks, sample.strata), len(population), thresholds
    )


# The picks are valid by construction (the population lies in the plan's department, where the
# actor manages and every auditor evaluates; nobody gets their own interactions; those already
# evaluated on the scorecard were left out), so they are written as plain values in one
# statement that takes each interaction's department from the interaction itself: on
# PostgreSQL an INSERT … SELECT over arrays, elsewhere one executemany. Building 60,000 model
# instances would take longer than the rest of the draw.
EVALUATION_COLUMNS = (
    "interaction_id",
    "plan_id",
    "reason",
    "scorecard_version_id",
    "auditor_id",
    "staff_id",
    "department_id",
    "state",
    "auto_failed",
    "created_at",
    "updated_at",
)


def _insert_evaluations(plan: SamplingPlan, picks, now: datetime) -> None:
    if not picks:
        return
    # In interaction order: the lookups of the departments and the foreign-key checks then walk
    # the interactions table forwards instead of jumping about it.
    picks = sorted(picks)
    quote = connection.ops.quote_name
    table = quote(Evaluation._meta.db_table)
    interactions = quote(Interaction._meta.db_table)
    columns = ", ".join(quote(column) for column in EVALUATION_COLUMNS)
    stamp = connection.ops.adapt_datetimefield_value(now)
    assigned = EvaluationState.ASSIGNED.value
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"INSERT INTO {table} ({columns}) "
                f"SELECT p.interaction_id, %s, p.reason, %s, p.auditor_id, p.staff_id, "
                f"i.department_id, %s, false, %s, %s "
                f"FROM unnest(string_to_array(%s, ',')::bigint[], string_to_array(%s, ','), "
                f"string_to_array(%s, ',')::bigint[], string_to_array(%s, ',')::bigint[]) "
                f"AS p(interaction_id, reason, auditor_id, staff_id) "
                f"JOIN {interactions} i ON i.id = p.interaction_id",
                [
                    plan.pk,
                    plan.scorecard_version_id,
                    assigned,
                    stamp,
                    stamp,
                    # Lists as comma-separated text: one string to quote instead of an array
                    # of 60,000 values quoted one by one by the driver's client-side binding.
                    ",".join(str(pick.interaction_id) for pick in picks),
                    ",".join(pick.reason for pick in picks),
                    ",".join(str(pick.auditor) for pick in picks),
                    ",".join(str(pick.agent_id) for pick in picks),
                ],
            )
            return
        cursor.executemany(
            f"INSERT INTO {table} ({columns}) VALUES (%s, %s, %s, %s, %s, %s, "
            f"(SELECT department_id FROM {interactions} WHERE id = %s), %s, %s, %s, %s)",
            [
                (
                    pick.interaction_id,
                    plan.pk,
                    pick.reason,
                    plan.scorecard_version_id,
                    pick.auditor,
                    pick.agent_id,
                    pick.interaction_id,
                    assigned,
                    False,
                    stamp,
                    stamp,
                )
                for pick in picks
            ],
        )


def _auditor_keys(plan: SamplingPlan) -> dict:
    """The auditors as ``assign_auditors`` sees them, in user-id order: by their staff id when
    they have a staff record (so nobody is given their own interactions), else by user id.
    Maps each key to the user id."""
    keys = {}
    for user_id, staff_id in plan.auditors.order_by("pk").values_list("pk", "staff_id"):
        keys[staff_id if staff_id is not None else f"user:{user_id}"] = user_id
    return keys


# ---------------------------------------------------------------------------------------------
# The population: one set-based query per input, read as small tuples
# ---------------------------------------------------------------------------------------------


def period_bounds(period_start: date, period_end: date) -> tuple[datetime, datetime]:
    """[start, end) instants of a period of whole days in the institution's time zone."""
    zone = ZoneInfo(settings.TIME_ZONE)
    return (
        datetime.combine(period_start, time.min, tzinfo=zone),
        datetime.combine(period_end + timedelta(days=1), time.min, tzinfo=zone),
    )


def _subtree_ids(department: Department) -> list[int]:
    return list(
        Department.objects.filter(path__startswith=department.path).values_list("pk", flat=True)
    )


def _in_plan(plan: SamplingPlan, prefix: str = "") -> Q:
    """Interactions of the plan's population (``prefix`` is the lookup path to them)."""
    start, end = period_bounds(plan.period_start, plan.period_end)
    return Q(
        **{
            f"{prefix}department_id__in": _subtree_ids(plan.department),
            f"{prefix}started_at__gte": start,
            f"{prefix}started_at__lt": end,
            f"{prefix}staff_id__isnull": False,
        }
    )


def complaint_interaction_ids(plan: SamplingPlan, *, as_of: datetime) -> set[int]:
    """Interactions of the population whose customer complained within the following 7 days
    (a complaint case recorded before ``as_of``). Driven from the complaints, the smaller side:
    their customers' interactions are found through the customer index, and the time window
    is checked here against each customer's complaint times."""
    start, end = period_bounds(plan.period_start, plan.period_end)
    complaints = Case.objects.filter(
        kind=CaseKind.COMPLAINT,
        customer_id__isnull=False,
        received_at__gte=start,
        received_at__lt=end + COMPLAINT_WINDOW,
        created_at__lt=as_of,
    ).order_by()
    received: defaultdict[int, list[datetime]] = defaultdict(list)
    for customer_id, at in complaints.values_list("customer_id", "received_at"):
        received[customer_id].append(at)
    if not received:
        return set()
    for times in received.values():
        times.sort()
    candidates = (
        Interaction.objects.filter(_in_plan(plan))
        .filter(customer_id__in=complaints.values("customer_id"))
        .order_by()
        .values_list("pk", "customer_id", "started_at")
    )
    linked = set()
    for pk, customer_id, started_at in candidates:
        times = received.get(customer_id, ())
        first = bisect_left(times, started_at)  # the first complaint at or after the start
        if first < len(times) and times[first] < started_at + COMPLAINT_WINDOW:
            linked.add(pk)
    return linked


def low_survey_interaction_ids(plan: SamplingPlan, *, as_of: datetime) -> set[int]:
    """Interactions of the population whose survey was answered with CSAT ≤ 2 or NPS ≤ 6
    (answered before ``as_of``), read by the surveys module."""
    return survey_facts.low_score_interaction_ids(
        lambda prefix: _in_plan(plan, prefix), as_of=as_of
    )


def evaluated_interaction_ids(plan: SamplingPlan, *, as_of: datetime) -> set[int]:
    """Interactions of the population already evaluated on the plan's scorecard (any version)
    before ``as_of`` other than by this plan: left out, so no pick is wasted on them."""
    return set(
        Evaluation.objects.filter(
            _in_plan(plan, "interaction__"),
            scorecard_version__scorecard_id=plan.scorecard_version.scorecard_id,
            created_at__lt=as_of,
        )
        .exclude(plan_id=plan.pk)
        .order_by()
        .values_list("interaction_id", flat=True)
    )


def long_thresholds(handle_times: Mapping[str, list[int]]) -> dict[str, int]:
    """Per channel, the 95th percentile of handling time by the nearest-rank method: the
    smallest time at least 95% of the channel's interactions do not exceed. An interaction is
    very long when its time is above it (so a channel of equal times has none)."""
    thresholds = {}
    for channel, times in handle_times.items():
        if times:
            times.sort()
            thresholds[channel] = times[max(0, math.ceil(LONG_PERCENTILE * len(times)) - 1)]
    return thresholds


def plan_population(
    plan: SamplingPlan, *, as_of: datetime, targets: Iterable[str] = ()
) -> tuple[list[stats.InteractionRow], dict[str, int]]:
    """The rows ``stats.sample_plan`` draws from — (interaction id, staff id, channel, flags) —
    and the very-long threshold of each channel. One query for the interactions, one for those
    already evaluated, and one for each targeted input kept elsewhere (complaints — two, one
    inside the other — and surveys); only the flags asked for are computed. Rows without a flag share one
    empty set, so a million of them stay small."""
    targets = set(targets)
    population = Interaction.objects.filter(_in_plan(plan)).order_by()
    # One pass over the population; the outcome rides along rather than costing a second scan.
    raw = _fetch_all(
        population.values_list("pk", "staff_id", "channel", "handle_seconds", "outcome")
    )
    flagged: defaultdict[int, set[str]] = defaultdict(set)
    if SampleReason.COMPLAINT in targets:
        _flag(flagged, complaint_interaction_ids(plan, as_of=as_of), SampleReason.COMPLAINT)
    if SampleReason.LOW_SURVEY in targets:
        _flag(flagged, low_survey_interaction_ids(plan, as_of=as_of), SampleReason.LOW_SURVEY)
    if SampleReason.ABANDONED in targets:
        abandoned = InteractionOutcome.ABANDONED.value
        _flag(flagged, [row[0] for row in raw if row[4] == abandoned], SampleReason.ABANDONED)
    thresholds: dict[str, int] = {}
    if SampleReason.LONG in targets:
        # Before leaving anything out: "very long" compares with the channel's whole period.
        thresholds = long_thresholds(_handle_times(raw))
        _flag(flagged, _above(raw, thresholds), SampleReason.LONG)
    evaluated = evaluated_interaction_ids(plan, as_of=as_of)
    return _rows(raw, flagged, evaluated), thresholds


def _fetch_all(queryset: QuerySet) -> list[tuple]:
    """The rows of a values_list as the driver gives them: the ORM writes the SQL, but a
    million rows are not walked one by one through its iterator."""
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _flag(flagged: dict, ids: Iterable[int], reason: str) -> None:
    for pk in ids:
        flagged[pk].add(reason)


def _handle_times(raw) -> dict[str, list[int]]:
    times: defaultdict[str, list[int]] = defaultdict(list)
    for _pk, _staff_id, channel, seconds, _outcome in raw:
        if seconds is not None:
            times[channel].append(seconds)
    return times


def _above(raw, thresholds: Mapping[str, int]) -> list[int]:
    return [
        pk
        for pk, _staff_id, channel, seconds, _outcome in raw
        if seconds is not None and seconds > thresholds[channel]
    ]


def _rows(raw, flagged: Mapping[int, set[str]], evaluated: set[int]) -> list:
    """(id, staff id, channel, flags); the flags of a kind are one shared frozenset."""
    shared: dict[frozenset[str], frozenset[str]] = {}
    flags_of = {pk: shared.setdefault(frozenset(f), frozenset(f)) for pk, f in flagged.items()}
    none: frozenset[str] = frozenset()
    get = flags_of.get
    if evaluated:
        return [
            (pk, staff_id, channel, get(pk, none))
            for pk, staff_id, channel, _seconds, _outcome in raw
            if pk not in evaluated
        ]
    return [(pk, staff_id, channel, get(pk, none)) for pk, staff_id, channel, _s, _o in raw]


# ---------------------------------------------------------------------------------------------
# Checking a draw
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DrawCheck:
    """The draw recomputed from the recorded seed beside what was recorded. ``missing``: picks
    the recomputation makes that were not recorded; ``extra``: recorded picks it does not make.
    Each pick is (interaction id, reason, auditor user id)."""

    plan: SamplingPlan
    recomputed: Draw
    recorded: int
    missing: list[tuple]
    extra: list[tuple]

    @property
    def identical(self) -> bool:
        return not self.missing and not self.extra


def sampling_plan_check(*, plan: SamplingPlan) -> DrawCheck:
    """Run the draw again from the recorded seed, over the data as it stood at the draw, and
    compare it with the evaluations the draw created. Writes nothing."""
    if plan.drawn_at is None:
        raise ValidationError(_("This plan has not been drawn yet."))
    recomputed = _compute(plan, as_of=plan.drawn_at)
    expected = {
        (pick.interaction_id, pick.reason, pick.auditor) for pick in recomputed.sample.picks
    }
    recorded = set(
        Evaluation.objects.filter(plan=plan).values_list("interaction_id", "reason", "auditor_id")
    )
    return DrawCheck(
        plan,
        recomputed,
        len(recorded),
        sorted(expected - recorded),
        sorted(recorded - expected),
    )


# ---------------------------------------------------------------------------------------------
# Reads (selectors): the permission check is inside
# ---------------------------------------------------------------------------------------------


def sampling_plan_list_for_user(*, user) -> QuerySet:
    """Plans of the departments where the caller manages quality, newest period first, with
    their number of picks."""
    return (
        restrict(SamplingPlan.objects.all(), user, perms.MANAGE_QUALITY)
        .select_related("department", "scorecard_version__scorecard")
        .annotate(picks=Count("evaluations"))
        .order_by("-period_start", "name", "pk")
    )


def sampling_plan_get_for_user(*, user, pk: int) -> SamplingPlan:
    """One plan the caller manages (404 otherwise, as if it did not exist)."""
    queryset = SamplingPlan.objects.select_related(
        "department", "scorecard_version__scorecard", "created_by"
    )
    return get_in_scope_or_404(queryset, user, perms.MANAGE_QUALITY, pk=pk)


def _reason_counts() -> dict:
    return {f"n_{reason}": Count("pk", filter=Q(reason=reason)) for reason in SampleReason.values}


def sampling_plan_picks_by_agent(plan: SamplingPlan) -> QuerySet:
    """One row per agent: their picks in all and by reason (one grouped query)."""
    return (
        Evaluation.objects.filter(plan=plan)
        .values("staff_id", "staff__name", "staff__employee_number")
        .annotate(total=Count("pk"), **_reason_counts())
        .order_by("staff__employee_number")
    )


def sampling_plan_picks_by_auditor(plan: SamplingPlan) -> QuerySet:
    """One row per auditor: their picks in all, by reason, and how many are still to score."""
    return (
        Evaluation.objects.filter(plan=plan)
        .values("auditor_id", "auditor__username", "auditor__first_name", "auditor__last_name")
        .annotate(
            total=Count("pk"),
            to_score=Count("pk", filter=Q(state=EvaluationState.ASSIGNED)),
            **_reason_counts(),
        )
        .order_by("auditor__username")
    )


def sampling_plan_picks(plan: SamplingPlan, *, staff_id: int | None = None) -> QuerySet:
    """The picked interactions (optionally of one agent) with why and who scores them."""
    picks = Evaluation.objects.filter(plan=plan).select_related("interaction", "staff", "auditor")
    if staff_id is not None:
        picks = picks.filter(staff_id=staff_id)
    return picks.order_by("staff__employee_number", "interaction__started_at", "pk")


def auditor_candidates() -> QuerySet:
    """People who hold EVALUATE somewhere (the form lists them; the service checks each covers
    the plan's department)."""
    roles = perms.roles_with(perms.EVALUATE)
    return (
        User.objects.filter(is_active=True, role_grants__role__in=roles)
        .distinct()
        .order_by("username")
    )


def active_scorecard_versions() -> QuerySet:
    return (
        ScorecardVersion.objects.filter(state=ScorecardState.ACTIVE)
        .select_related("scorecard")
        .order_by("scorecard__code", "-number")
    )
