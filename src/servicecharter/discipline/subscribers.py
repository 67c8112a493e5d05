"""Facts from other modules that become violations (idempotent handlers).

Each handler creates one OPEN violation per employee the event names, with links to the
evidence, severity and impact graded by ``violations.grade``. ``Violation.source_key``
("<event>:<fact id>:<staff id>") makes a second delivery of the same event, or a second event
about the same fact, create nothing. An event that names no employee is skipped and logged.
"""

import logging
from datetime import datetime
from itertools import pairwise

from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from servicecharter.cases.choices import EscalationTarget
from servicecharter.cases.choices import Severity as CaseSeverity
from servicecharter.core.events import subscriber
from servicecharter.discipline.choices import ViolationSource
from servicecharter.discipline.models import ViolationType
from servicecharter.discipline.violations import grade, violation_record
from servicecharter.org.models import Staff

logger = logging.getLogger(__name__)

# The catalogue codes each event raises (discipline migration 0002).
LATE_HANDLING = "late_handling"
UPHELD_ATTITUDE = "upheld_attitude"
UPHELD_PROCESS = "upheld_process"
REOPENED = "complaint_reopened"
OVERTURNED = "decision_overturned"
CRITICAL_ITEM_FAILED = "critical_item_failed"
REVIEW_FAILED = "review_failed"


def _staff(staff_id) -> Staff | None:
    if not staff_id:
        return None
    return Staff.objects.select_related("department").filter(pk=staff_id).first()


def _type(code: str) -> ViolationType | None:
    vtype = ViolationType.objects.filter(code=code, is_active=True).first()
    if vtype is None:
        logger.warning("violation type %s is missing or inactive: no violation recorded", code)
    return vtype


def _when(value, event) -> datetime:
    parsed = parse_datetime(value) if isinstance(value, str) else None
    return parsed or event.created_at or timezone.now()


def _source_key(event_name: str, fact_id, staff_id) -> str:
    return f"{event_name}:{fact_id}:{staff_id}"


def _breach_fact(payload: dict) -> str:
    # One per deadline: a reopened case that breaches its new deadline is a new fact.
    return f"{payload['case_id']}:{payload.get('due_at', '')}"


def breach_violation_key(payload: dict) -> str:
    """The source key of the violation a ``case.deadline_breached`` payload records."""
    return _source_key(
        "case.deadline_breached", _breach_fact(payload), payload.get("handler_staff_id")
    )


def _record(
    event, *, code: str, staff_id, fact_id, occurred_at, summary, evidence, grading, money_lost=None
):
    staff = _staff(staff_id)
    if staff is None:
        logger.info("%s #%s names no known employee: no violation", event.name, event.pk)
        return None
    vtype = _type(code)
    if vtype is None:
        return None
    graded = grading(vtype)
    violation, created = violation_record(
        vtype=vtype,
        staff=staff,
        source=event.name,
        source_key=_source_key(event.name, fact_id, staff.pk),
        occurred_at=occurred_at,
        summary=summary,
        evidence=evidence,
        severity=graded.severity,
        impact_scope=graded.impact_scope,
        grading_reasons=graded.reasons,
        money_lost=money_lost,
    )
    if not created:
        logger.info("%s #%s: violation %s already recorded", event.name, event.pk, violation.pk)
    return violation


# --- cases -----------------------------------------------------------------------------------


def _case(case_id):
    from servicecharter.cases.models import Case

    return Case.objects.select_related("customer").filter(pk=case_id).first()


def _case_evidence(payload: dict) -> list[dict]:
    return [
        {
            "kind": "case",
            "id": payload["case_id"],
            "label": payload.get("reference") or f"#{payload['case_id']}",
            "url": reverse("cases:case_detail", args=[payload["case_id"]]),
        }
    ]


def _case_grading(case):
    """The grading inputs a case gives: money at stake, a vulnerable customer, its severity and
    any escalation to a regulator or ombudsman."""

    def grading(vtype):
        if case is None:
            return grade(severity=vtype.default_severity, impact_scope=vtype.default_impact)
        return grade(
            severity=vtype.default_severity,
            impact_scope=vtype.default_impact,
            money_at_stake=case.money_at_stake,
            vulnerable_customer=bool(case.customer_id and case.customer.is_vulnerable),
            critical_case=case.severity == CaseSeverity.CRITICAL,
            escalated_externally=case.escalated_to
            in (EscalationTarget.REGULATOR, EscalationTarget.OMBUDSMAN),
        )

    return grading


def _redress(case):
    """Money lost on an upheld or overturned complaint: the redress the institution paid."""
    return case.redress_amount if case is not None and case.redress_amount else None


@subscriber("case.deadline_breached", name="discipline.late_handling")
def on_deadline_breached(event) -> None:
    payload = event.payload
    case = _case(payload["case_id"])
    _record(
        event,
        code=LATE_HANDLING,
        staff_id=payload.get("handler_staff_id"),
        fact_id=_breach_fact(payload),
        occurred_at=_when(payload.get("breached_at"), event),
        summary=payload.get("reference", ""),
        evidence=_case_evidence(payload),
        grading=_case_grading(case),
    )


@subscriber("case.upheld_against_staff", name="discipline.upheld_against_staff")
def on_upheld(event) -> None:
    payload = event.payload
    case = _case(payload["case_id"])
    attitude = bool(case is not None and case.concerns_attitude)
    _record(
        event,
        code=UPHELD_ATTITUDE if attitude else UPHELD_PROCESS,
        staff_id=payload.get("staff_id"),
        # A complaint upheld again after a reopening is the same finding.
        fact_id=payload["case_id"],
        occurred_at=event.created_at,
        summary=payload.get("reference", ""),
        evidence=_case_evidence(payload),
        grading=_case_grading(case),
        money_lost=_redress(case),
    )


@subscriber("case.reopened", name="discipline.case_reopened")
def on_reopened(event) -> None:
    payload = event.payload
    _record(
        event,
        code=REOPENED,
        staff_id=payload.get("handler_staff_id"),
        fact_id=event.pk,  # each reopening is its own fact
        occurred_at=event.created_at,
        summary=payload.get("reference", ""),
        evidence=_case_evidence(payload),
        grading=_case_grading(_case(payload["case_id"])),
    )


@subscriber("case.overturned", name="discipline.case_overturned")
def on_overturned(event) -> None:
    payload = event.payload
    case = _case(payload["case_id"])
    for staff_id in payload.get("staff_ids") or []:
        _record(
            event,
            code=OVERTURNED,
            staff_id=staff_id,
            fact_id=payload["case_id"],
            occurred_at=event.created_at,
            summary=payload.get("reference", ""),
            evidence=_case_evidence(payload),
            grading=_case_grading(case),
            money_lost=_redress(case),
        )
    if not payload.get("staff_ids"):
        logger.info("%s #%s names no employee: no violation", event.name, event.pk)


# --- quality ---------------------------------------------------------------------------------


@subscriber("evaluation.auto_failed", name="discipline.evaluation_auto_failed")
def on_evaluation_auto_failed(event) -> None:
    from servicecharter.quality.models import Evaluation

    payload = event.payload
    evaluation = (
        Evaluation.objects.select_related("interaction__customer")
        .filter(pk=payload["evaluation_id"])
        .first()
    )
    customer = evaluation.interaction.customer if evaluation and evaluation.interaction_id else None

    def grading(vtype):
        return grade(
            severity=vtype.default_severity,
            impact_scope=vtype.default_impact,
            vulnerable_customer=bool(customer is not None and customer.is_vulnerable),
        )

    _record(
        event,
        code=CRITICAL_ITEM_FAILED,
        staff_id=payload.get("staff_id"),
        # A revision that still fails is the same finding.
        fact_id=payload["evaluation_id"],
        occurred_at=(evaluation.completed_at if evaluation else None) or event.created_at,
        summary=f"{payload.get('criterion_code', '')}: {payload.get('criterion_text_en', '')}",
        evidence=[
            {
                "kind": "evaluation",
                "id": payload["evaluation_id"],
                "label": f"#{payload['evaluation_id']} {payload.get('criterion_code', '')}".strip(),
                "url": reverse("quality:evaluation", args=[payload["evaluation_id"]]),
            }
        ],
        grading=grading,
    )


def _finding_severity(findings: list[dict], staff_id: int) -> str | None:
    ranks = {"minor": 0, "moderate": 1, "serious": 2}
    named = [f.get("severity") for f in findings if staff_id in (f.get("staff_ids") or [])]
    named = [severity for severity in named if severity in ranks]
    return max(named, key=ranks.__getitem__) if named else None


@subscriber("review.failed", name="discipline.review_failed")
def on_review_failed(event) -> None:
    payload = event.payload
    findings = payload.get("findings") or []
    staff_ids = payload.get("staff_ids") or []
    if not staff_ids:
        logger.info("%s #%s names no employee: no violation", event.name, event.pk)
    for staff_id in staff_ids:

        def grading(vtype, staff_id=staff_id):
            # The most serious finding naming the employee sets the severity, never less than
            # the type's default.
            severity = _finding_severity(findings, staff_id) or vtype.default_severity
            base = grade(severity=vtype.default_severity, impact_scope=vtype.default_impact)
            ranked = max(
                (severity, base.severity),
                key=lambda value: ("minor", "moderate", "serious", "severe").index(value),
            )
            return grade(severity=ranked, impact_scope=vtype.default_impact)

        _record(
            event,
            code=REVIEW_FAILED,
            staff_id=staff_id,
            fact_id=payload["review_id"],
            occurred_at=event.created_at,
            summary=(
                f"{payload.get('department_code', '')} {payload.get('period_start', '')}–"
                f"{payload.get('period_end', '')}"
            ),
            evidence=[
                {
                    "kind": "review",
                    "id": payload["review_id"],
                    "label": f"{payload.get('department_code', '')} #{payload['review_id']}",
                    "url": reverse("quality:review_detail", args=[payload["review_id"]]),
                }
            ],
            grading=grading,
        )


# Sources as stored on the violations these handlers create.
HANDLED = (
    ViolationSource.CASE_DEADLINE_BREACHED,
    ViolationSource.CASE_UPHELD,
    ViolationSource.CASE_REOPENED,
    ViolationSource.CASE_OVERTURNED,
    ViolationSource.EVALUATION_AUTO_FAILED,
    ViolationSource.REVIEW_FAILED,
)


# --- assessment ---------------------------------------------------------------------------------

# How many consecutive closed periods of one kind (months, or quarters) an employee must be
# "unsatisfactory" in before it becomes a violation. A constant rather than a rulebook field:
# it decides whether a violation exists at all, not how it is sanctioned.
UNSATISFACTORY_STREAK = 2
PERSISTENT_UNSATISFACTORY = "persistent_unsatisfactory"


def consecutive_closed_periods(period, count: int) -> list:
    """``period`` and the closed periods of its kind right before it, newest first — only when
    there are ``count`` of them with no gap between (each starts the day after the previous
    ends); otherwise an empty list."""
    from datetime import timedelta

    from servicecharter.assessment.choices import PeriodState
    from servicecharter.assessment.models import Period

    periods = list(
        Period.objects.filter(
            kind=period.kind, state=PeriodState.CLOSED, start__lte=period.start
        ).order_by("-start")[:count]
    )
    if len(periods) < count or periods[0].pk != period.pk:
        return []
    for later, earlier in pairwise(periods):
        if earlier.end + timedelta(days=1) != later.start:
            return []
    return periods


def _unsatisfactory_key(period_id, staff_id) -> str:
    return f"{ViolationSource.UNSATISFACTORY_TIER}:{period_id}:{staff_id}"


@subscriber("assessment.period_closed", name="discipline.persistent_unsatisfactory")
def on_period_closed(event) -> None:
    """One violation per employee unsatisfactory in the last ``UNSATISFACTORY_STREAK``
    consecutive closed periods of this kind. Streaks do not overlap: an employee whose streak
    already gave a violation inside this window starts counting again."""
    from datetime import datetime as dt
    from datetime import time

    from django.db.models import Count

    from servicecharter.assessment.choices import Tier
    from servicecharter.assessment.models import Period, StaffScorecard
    from servicecharter.discipline.models import Violation

    period = Period.objects.filter(pk=event.payload["period_id"]).first()
    if period is None:
        logger.info("%s #%s: the period is gone", event.name, event.pk)
        return
    periods = consecutive_closed_periods(period, UNSATISFACTORY_STREAK)
    if not periods:
        return
    period_ids = [p.pk for p in periods]
    streaks = (
        StaffScorecard.objects.filter(period_id__in=period_ids, tier=Tier.UNSATISFACTORY)
        .values("staff_id")
        .annotate(periods=Count("period_id", distinct=True))
        .filter(periods=UNSATISFACTORY_STREAK)
    )
    staff_ids = sorted(row["staff_id"] for row in streaks)
    if not staff_ids:
        return
    earlier_keys = [
        _unsatisfactory_key(period_id, staff_id)
        for period_id in period_ids[1:]
        for staff_id in staff_ids
    ]
    already = set(
        Violation.objects.filter(source_key__in=earlier_keys).values_list("staff_id", flat=True)
    )
    vtype = _type(PERSISTENT_UNSATISFACTORY)
    if vtype is None:
        return
    cards = {
        (card.staff_id, card.period_id): card.pk
        for card in StaffScorecard.objects.filter(
            period_id__in=period_ids, staff_id__in=staff_ids
        ).only("pk", "staff_id", "period_id")
    }
    occurred_at = timezone.make_aware(dt.combine(period.end, time(23, 59)))
    staff_by_id = Staff.objects.select_related("department").in_bulk(staff_ids)
    for staff_id in staff_ids:
        staff = staff_by_id.get(staff_id)
        if staff is None or staff_id in already:
            continue
        graded = grade(severity=vtype.default_severity, impact_scope=vtype.default_impact)
        violation_record(
            vtype=vtype,
            staff=staff,
            source=ViolationSource.UNSATISFACTORY_TIER,
            source_key=_unsatisfactory_key(period.pk, staff_id),
            occurred_at=occurred_at,
            summary=" · ".join(f"{p.start:%Y-%m}" for p in reversed(periods)),
            evidence=[
                {
                    "kind": "period",
                    "id": p.pk,
                    "label": f"{p.get_kind_display()} {p.start.isoformat()}–{p.end.isoformat()}",
                    "url": reverse("assessment:scorecard", args=[cards[(staff_id, p.pk)]])
                    if (staff_id, p.pk) in cards
                    else "",
                }
                for p in reversed(periods)
            ],
            severity=graded.severity,
            impact_scope=graded.impact_scope,
        )
