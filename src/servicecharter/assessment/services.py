"""Every write of the assessment module: schemes and their versions, periods (create, compute,
close). One transaction each, an audit row per state change, and a ledger row
(``PeriodEvent``) per change of a period.

The life of a period: open (``period_create``) → computed (``period_compute``; again as often
as needed while under review) → closed (``period_close``: the scorecards are a frozen snapshot
from then on, and ``assessment.period_closed`` is emitted once, in the closing transaction).

``actor`` None is the system (the demo, the benchmarks); a person needs MANAGE_ASSESSMENT.
"""

import logging
from calendar import monthrange
from datetime import date
from decimal import Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.tasks import task
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from servicecharter.accounts import permissions as perms
from servicecharter.accounts.scoping import has_capability
from servicecharter.assessment import compute
from servicecharter.assessment.choices import (
    Kpi,
    PeriodEventKind,
    PeriodKind,
    PeriodState,
)
from servicecharter.assessment.models import (
    DepartmentScorecard,
    Period,
    PeriodEvent,
    Scheme,
    SchemeKpi,
    SchemeVersion,
    StaffScorecard,
)
from servicecharter.assessment.scoring import Thresholds
from servicecharter.core.audit import audit_record
from servicecharter.core.context import Actor, reset_actor, set_actor
from servicecharter.core.events import emit
from servicecharter.org.choices import StaffStatus
from servicecharter.org.models import Staff

logger = logging.getLogger(__name__)

# More active staff than this: the computation runs in the background, with its progress shown.
INLINE_MAX_STAFF = 2_000
BULK_BATCH = 2_000


def _require_manager(actor) -> None:
    if actor is not None and not has_capability(actor, perms.MANAGE_ASSESSMENT):
        raise PermissionDenied


def _ledger(period: Period, kind: str, actor, note: str = "") -> None:
    PeriodEvent.objects.create(period=period, at=timezone.now(), kind=kind, actor=actor, note=note)


# --- schemes ---------------------------------------------------------------------------------


def _clean_kpis(kpis: list[dict]) -> list[dict]:
    """[{kpi, weight, min_sample}] checked: known KPIs, each once, positive weights, a minimum
    sample of at least one. Raises ValidationError naming the problem."""
    errors = []
    seen = set()
    cleaned = []
    for row in kpis:
        code = row.get("kpi")
        if code not in Kpi.values:
            errors.append(_("Unknown KPI “%(kpi)s”.") % {"kpi": code})
            continue
        if code in seen:
            errors.append(_("%(kpi)s is listed twice.") % {"kpi": Kpi(code).label})
            continue
        seen.add(code)
        try:
            weight = Decimal(str(row.get("weight")))
        except (InvalidOperation, ValueError):
            weight = Decimal(-1)
        if not weight.is_finite() or weight <= 0 or weight > 1000:
            errors.append(
                _("The weight of %(kpi)s must be a number above 0 and at most 1,000.")
                % {"kpi": Kpi(code).label}
            )
        min_sample = row.get("min_sample")
        if not isinstance(min_sample, int) or min_sample < 1:
            errors.append(
                _("The minimum sample of %(kpi)s must be a whole number of at least 1.")
                % {"kpi": Kpi(code).label}
            )
        cleaned.append({"kpi": code, "weight": weight, "min_sample": min_sample})
    if not cleaned and not errors:
        errors.append(_("A scheme needs at least one KPI."))
    if errors:
        raise ValidationError({"kpis": errors})
    return cleaned


def _check_version_fields(thresholds: Thresholds, min_kpis: int, min_peers: int, kpi_count):
    errors = {}
    problems = thresholds.problems()
    if problems:
        errors["excellent_from"] = problems
    if not 1 <= min_kpis <= kpi_count:
        errors["min_kpis"] = [
            _("The minimum KPIs with data must be between 1 and the %(n)s KPIs of the scheme.")
            % {"n": kpi_count}
        ]
    if min_peers < 1:
        errors["min_peers"] = [_("The minimum peer group is at least 1.")]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def scheme_create(*, actor, code: str, name_en: str, name_zh: str, **version_fields) -> Scheme:
    _require_manager(actor)
    if Scheme.objects.filter(code=code).exists():
        raise ValidationError({"code": _("A scheme with this code exists already.")})
    scheme = Scheme(code=code, name_en=name_en, name_zh=name_zh)
    scheme.full_clean()
    scheme.save()
    audit_record(action="assessment.scheme_create", obj=scheme, changes={"code": [None, code]})
    scheme_version_save(actor=actor, scheme=scheme, **version_fields)
    return scheme


def version_in_use(version: SchemeVersion) -> bool:
    return version.periods.exists()


@transaction.atomic
def scheme_version_save(
    *,
    actor,
    scheme: Scheme,
    kpis: list[dict],
    excellent_from,
    good_from,
    meets_from,
    needs_improvement_from,
    min_kpis: int = 3,
    min_peers: int = 5,
) -> SchemeVersion:
    """Write the scheme's KPIs and thresholds. The latest version is edited in place while no
    period was computed with it; otherwise a new version is made, and scorecards computed
    before keep the version they were computed by."""
    _require_manager(actor)
    scheme = Scheme.objects.select_for_update().get(pk=scheme.pk)
    cleaned = _clean_kpis(kpis)
    thresholds = Thresholds(
        *(Decimal(str(v)) for v in (excellent_from, good_from, meets_from, needs_improvement_from))
    )
    _check_version_fields(thresholds, min_kpis, min_peers, len(cleaned))
    latest = scheme.latest_version()
    fields = {
        "excellent_from": thresholds.excellent,
        "good_from": thresholds.good,
        "meets_from": thresholds.meets,
        "needs_improvement_from": thresholds.needs_improvement,
        "min_kpis": min_kpis,
        "min_peers": min_peers,
    }
    if latest is None or version_in_use(latest):
        number = 1 if latest is None else latest.number + 1
        version = SchemeVersion.objects.create(
            scheme=scheme, number=number, created_by=actor, **fields
        )
        action = "assessment.scheme_version_create"
    else:
        version = latest
        for name, value in fields.items():
            setattr(version, name, value)
        version.save()
        version.kpis.all().delete()
        action = "assessment.scheme_version_edit"
    SchemeKpi.objects.bulk_create([SchemeKpi(version=version, **row) for row in cleaned])
    audit_record(
        action=action,
        obj=version,
        changes={
            "kpis": [None, [{**r, "weight": str(r["weight"])} for r in cleaned]],
            **{k: [None, str(v)] for k, v in fields.items()},
        },
    )
    return version


# --- periods ---------------------------------------------------------------------------------


def period_bounds(kind: str, start: date) -> tuple[date, date]:
    """The first and (inclusive) last day of the month or quarter starting on ``start``."""
    if start.day != 1:
        raise ValidationError({"start": _("A period starts on the first day of a month.")})
    if kind == PeriodKind.QUARTER:
        if start.month not in (1, 4, 7, 10):
            raise ValidationError(
                {"start": _("A quarter starts on 1 January, 1 April, 1 July or 1 October.")}
            )
        last_month = start.month + 2
        return start, date(start.year, last_month, monthrange(start.year, last_month)[1])
    if kind == PeriodKind.MONTH:
        return start, date(start.year, start.month, monthrange(start.year, start.month)[1])
    raise ValidationError({"kind": _("A period is a month or a quarter.")})


@transaction.atomic
def period_create(*, actor, kind: str, start: date, scheme: Scheme) -> Period:
    _require_manager(actor)
    start, end = period_bounds(kind, start)
    if end >= timezone.localdate():
        raise ValidationError({"start": _("Only a period that has ended can be assessed.")})
    if Period.objects.filter(kind=kind, start=start).exists():
        raise ValidationError({"start": _("This period exists already.")})
    if scheme.latest_version() is None:
        raise ValidationError({"scheme": _("The scheme has no version yet.")})
    period = Period.objects.create(kind=kind, start=start, end=end, scheme=scheme)
    audit_record(
        action="assessment.period_create",
        obj=period,
        changes={"kind": [None, kind], "start": [None, start.isoformat()]},
    )
    _ledger(period, PeriodEventKind.CREATED, actor)
    return period


def _require_not_closed(period: Period) -> None:
    if period.state == PeriodState.CLOSED:
        raise ValidationError(_("The period is closed: its scorecards can no longer change."))


def period_compute(*, actor, period: Period, background: bool | None = None) -> Period:
    """Compute the period now (small institutions) or queue it for the worker (more than
    ``INLINE_MAX_STAFF`` active staff, or ``background=True``); the page shows the progress."""
    _require_manager(actor)
    _require_not_closed(period)
    if background is None:
        background = Staff.objects.filter(status=StaffStatus.ACTIVE).count() > INLINE_MAX_STAFF
    if not background:
        return period_compute_run(actor=actor, period=period)
    with transaction.atomic():
        period = Period.objects.select_for_update().get(pk=period.pk)
        _require_not_closed(period)
        if period.computing:
            raise ValidationError(_("The period is being computed already."))
        period.computing, period.progress, period.progress_note = True, 0, gettext_noop("Queued")
        period.save(update_fields=["computing", "progress", "progress_note", "updated_at"])
        audit_record(action="assessment.period_compute_queued", obj=period)
        _ledger(period, PeriodEventKind.COMPUTE_QUEUED, actor)
        actor_id = actor.pk if actor is not None else None
        transaction.on_commit(lambda: period_compute_task.enqueue(period.pk, actor_id))
    return period


@task()
def period_compute_task(period_id: int, actor_id: int | None) -> None:
    """Background entry point (the worker)."""
    from servicecharter.accounts.models import User

    actor = User.objects.filter(pk=actor_id).first() if actor_id else None
    token = set_actor(Actor(user_id=actor_id, label=str(actor or "system")))
    try:
        period_compute_run(actor=actor, period=Period.objects.get(pk=period_id))
    except Exception as error:
        logger.exception("assessment period %s failed to compute", period_id)
        with transaction.atomic():
            Period.objects.filter(pk=period_id).update(
                computing=False, progress_note=str(error)[:200]
            )
            _ledger(Period(pk=period_id), PeriodEventKind.COMPUTE_FAILED, actor, str(error))
        raise
    finally:
        reset_actor(token)


def _progress_writer(period_id: int):
    def report(percent: int, note: str) -> None:
        Period.objects.filter(pk=period_id).update(progress=percent, progress_note=note)

    return report


def period_compute_run(*, actor, period: Period) -> Period:
    """Read every source once (outside the write transaction, reporting progress), then in one
    transaction replace the period's scorecards with one bulk insert each."""
    _require_manager(actor)
    _require_not_closed(period)
    version = period.scheme.latest_version()
    computed = compute.gather(period, version, _progress_writer(period.pk))
    with transaction.atomic():
        period = Period.objects.select_for_update().get(pk=period.pk)
        _require_not_closed(period)
        before = period.state
        StaffScorecard.objects.filter(period=period).delete()
        DepartmentScorecard.objects.filter(period=period).delete()
        StaffScorecard.objects.bulk_create(computed.staff_rows, batch_size=BULK_BATCH)
        DepartmentScorecard.objects.bulk_create(computed.department_rows, batch_size=BULK_BATCH)
        period.state = PeriodState.COMPUTED
        period.scheme_version = version
        period.computing, period.progress, period.progress_note = False, 100, ""
        period.computed_at = timezone.now()
        period.save()
        tiers: dict[str, int] = {}
        for row in computed.staff_rows:
            tiers[row.tier] = tiers.get(row.tier, 0) + 1
        audit_record(
            action="assessment.period_compute",
            obj=period,
            changes={
                "state": [before, period.state],
                "scheme_version": [None, str(version)],
                "staff": [None, len(computed.staff_rows)],
                "tiers": [None, tiers],
            },
        )
        _ledger(period, PeriodEventKind.COMPUTED, actor, str(version))
    return period


@transaction.atomic
def period_close(*, actor, period: Period) -> Period:
    """Freeze the computed scorecards and announce it (``assessment.period_closed``, once)."""
    _require_manager(actor)
    period = Period.objects.select_for_update().get(pk=period.pk)
    if period.state != PeriodState.COMPUTED or period.computing:
        raise ValidationError(_("Only a computed period under review can be closed."))
    period.state = PeriodState.CLOSED
    period.closed_at = timezone.now()
    period.closed_by = actor
    period.save(update_fields=["state", "closed_at", "closed_by", "updated_at"])
    audit_record(
        action="assessment.period_close",
        obj=period,
        changes={"state": [PeriodState.COMPUTED, PeriodState.CLOSED]},
    )
    _ledger(period, PeriodEventKind.CLOSED, actor)
    emit(
        "assessment.period_closed",
        {
            "period_id": period.pk,
            "kind": period.kind,
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
        },
        dedupe_key=f"assessment.period_closed:{period.pk}",
    )
    return period
