"""Violations: recorded from events or by hand, adjusted with a reason, confirmed or dismissed
after review. Every change writes a ledger row and an audit row in the same transaction.

A violation is never sanctioned while open; ``violation.confirmed`` tells the decision side
that a proposal may follow.
"""

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from servicecharter.accounts.permissions import RAISE_VIOLATIONS, REVIEW_VIOLATIONS
from servicecharter.accounts.scoping import has_capability
from servicecharter.core.audit import audit_record
from servicecharter.core.events import emit
from servicecharter.discipline.choices import (
    IMPACT_RANK,
    SEVERITY_RANK,
    ImpactScope,
    LedgerKind,
    Severity,
    ViolationSource,
    ViolationState,
)
from servicecharter.discipline.models import LedgerEntry, Violation, ViolationType

logger = logging.getLogger(__name__)

EVIDENCE_KINDS = ("case", "evaluation", "review", "interaction", "period", "file", "note")
# Money at stake from which an automatic violation is graded one step more serious, and two.
MONEY_MODERATE = Decimal(50_000)
MONEY_LARGE = Decimal(500_000)


class ViolationRefused(ValidationError):
    """The violation's state or the reviewer forbids the step (confirming twice, reviewing a
    violation about oneself). A ValidationError, so forms show it; the API answers 409."""


# --- grading (pure) --------------------------------------------------------------------------


@dataclass(frozen=True)
class Grading:
    severity: str
    impact_scope: str
    reasons: tuple[str, ...]


def _raise_severity(severity: str, steps: int) -> str:
    # Events alone never make a breach "severe": that is a person's finding (adjustment).
    ceiling = SEVERITY_RANK[Severity.SERIOUS]
    rank = max(SEVERITY_RANK[severity], min(SEVERITY_RANK[severity] + steps, ceiling))
    return Severity.values[rank]


def _widen(impact: str, at_least: str) -> str:
    return impact if IMPACT_RANK[impact] >= IMPACT_RANK[at_least] else at_least


def grade(
    *,
    severity: str,
    impact_scope: str,
    money_at_stake: Decimal | None = None,
    vulnerable_customer: bool = False,
    escalated_externally: bool = False,
    critical_case: bool = False,
    customers: int = 1,
) -> Grading:
    """Severity and impact of an automatic violation, from the type's defaults and the facts:

    - money at stake of 50,000 or more: one step more serious; 500,000 or more: two;
    - a vulnerable customer: one step more serious;
    - a case of critical severity: one step more serious;
    - escalated to a regulator or ombudsman: one step more serious, impact at least a department;
    - more than one customer affected: impact at least several customers.

    Automatic grading stops at "serious": only a reviewer can find a breach severe."""
    steps = 0
    reasons: list[str] = []
    if money_at_stake is not None and money_at_stake >= MONEY_LARGE:
        steps += 2
        reasons.append("money_large")
    elif money_at_stake is not None and money_at_stake >= MONEY_MODERATE:
        steps += 1
        reasons.append("money_moderate")
    if vulnerable_customer:
        steps += 1
        reasons.append("vulnerable_customer")
    if critical_case:
        steps += 1
        reasons.append("critical_case")
    if escalated_externally:
        steps += 1
        impact_scope = _widen(impact_scope, ImpactScope.DEPARTMENT)
        reasons.append("escalated_externally")
    if customers > 1:
        impact_scope = _widen(impact_scope, ImpactScope.SEVERAL_CUSTOMERS)
        reasons.append("several_customers")
    return Grading(
        severity=_raise_severity(severity, steps),
        impact_scope=impact_scope,
        reasons=tuple(reasons),
    )


# --- helpers -----------------------------------------------------------------------------------


def _ledger(violation: Violation, kind: str, *, actor=None, **data) -> LedgerEntry:
    return LedgerEntry.objects.create(
        at=timezone.now(), kind=kind, actor=actor, violation=violation, data=data
    )


def clean_evidence(evidence) -> list[dict]:
    """Evidence links as stored: a kind, a label, and a link inside this site (never another
    address: a link an employee follows must not lead away)."""
    cleaned = []
    for item in evidence or []:
        kind = item.get("kind", "note")
        label = (item.get("label") or "").strip()
        url = (item.get("url") or "").strip()
        if kind not in EVIDENCE_KINDS:
            raise ValidationError({"evidence": _("Unknown kind of evidence: %s.") % kind})
        if not label:
            raise ValidationError({"evidence": _("Describe each piece of evidence.")})
        if url and (not url.startswith("/") or url.startswith("//")):
            raise ValidationError(
                {"evidence": _("Evidence links must point inside this system (start with /).")}
            )
        entry = {"kind": kind, "label": label[:300], "url": url}
        if item.get("id") is not None:
            entry["id"] = item["id"]
        cleaned.append(entry)
    return cleaned


def _require(actor, capability: str, violation_or_department) -> None:
    department = getattr(violation_or_department, "department", violation_or_department)
    if not has_capability(actor, capability, department):
        raise PermissionDenied


def _refuse_own(actor, violation: Violation, message: str) -> None:
    if actor.staff_id is not None and actor.staff_id == violation.staff_id:
        raise ViolationRefused(message)


def _locked(violation: Violation) -> Violation:
    return (
        Violation.objects.select_for_update(of=("self",))
        .select_related("staff", "department", "type")
        .get(pk=violation.pk)
    )


def _require_open(violation: Violation) -> None:
    if violation.state != ViolationState.OPEN:
        raise ViolationRefused(
            _("This violation was already reviewed (%(state)s).")
            % {"state": violation.get_state_display()}
        )


# --- recording --------------------------------------------------------------------------------


@transaction.atomic
def violation_record(
    *,
    vtype: ViolationType,
    staff,
    source: str,
    occurred_at: datetime,
    summary: str,
    evidence: list[dict],
    source_key: str | None = None,
    severity: str | None = None,
    impact_scope: str | None = None,
    money_lost: Decimal | None = None,
    details: str = "",
    grading_reasons: tuple[str, ...] = (),
    actor=None,
) -> tuple[Violation, bool]:
    """Store one open violation; with ``source_key``, a second call finds the first and
    creates nothing. Returns (violation, created)."""
    if source_key is not None:
        existing = Violation.objects.filter(source_key=source_key).first()
        if existing is not None:
            return existing, False
    violation = Violation(
        staff=staff,
        department=staff.department,
        type=vtype,
        source=source,
        source_key=source_key,
        occurred_at=occurred_at,
        severity=severity or vtype.default_severity,
        impact_scope=impact_scope or vtype.default_impact,
        money_lost=money_lost,
        currency=staff.currency,
        summary=summary[:300],
        details=details,
        evidence=clean_evidence(evidence),
        raised_by=actor,
    )
    try:
        with transaction.atomic():
            violation.save()
    except IntegrityError:
        # Another delivery of the same event stored it between our look-up and our insert.
        if source_key is None:
            raise
        return Violation.objects.get(source_key=source_key), False
    _ledger(
        violation,
        LedgerKind.VIOLATION_RAISED,
        actor=actor,
        source=source,
        severity=violation.severity,
        impact_scope=violation.impact_scope,
        grading=list(grading_reasons),
    )
    audit_record(
        action="violation.raise",
        obj=violation,
        changes={
            "staff": [None, staff.employee_number],
            "type": [None, vtype.code],
            "source": [None, source],
            "severity": [None, violation.severity],
            "impact_scope": [None, violation.impact_scope],
        },
    )
    return violation, True


@transaction.atomic
def violation_raise(
    *,
    actor,
    staff,
    vtype: ViolationType,
    occurred_at: datetime,
    summary: str,
    details: str = "",
    evidence: list[dict] | None = None,
    severity: str | None = None,
    impact_scope: str | None = None,
    money_lost: Decimal | None = None,
) -> Violation:
    """A violation recorded by hand (RAISE_VIOLATIONS over the employee's department)."""
    _require(actor, RAISE_VIOLATIONS, staff)
    errors = {}
    if not (summary or "").strip():
        errors["summary"] = _("Say in one line what happened.")
    if occurred_at is None:
        errors["occurred_at"] = _("Say when it happened.")
    elif occurred_at > timezone.now():
        errors["occurred_at"] = _("A violation cannot have happened in the future.")
    if not vtype.is_active:
        errors["vtype"] = _("This type of violation is no longer used.")
    if severity and severity not in Severity.values:
        errors["severity"] = _("Choose a severity.")
    if impact_scope and impact_scope not in ImpactScope.values:
        errors["impact_scope"] = _("Choose an impact scope.")
    if money_lost is not None and money_lost < 0:
        errors["money_lost"] = _("Money lost cannot be negative.")
    if not evidence and not (details or "").strip():
        errors["details"] = _("Give the evidence or describe what was observed.")
    if errors:
        raise ValidationError(errors)
    violation, _created = violation_record(
        vtype=vtype,
        staff=staff,
        source=ViolationSource.MANUAL,
        occurred_at=occurred_at,
        summary=summary.strip(),
        details=(details or "").strip(),
        evidence=evidence or [],
        severity=severity,
        impact_scope=impact_scope,
        money_lost=money_lost,
        actor=actor,
    )
    return violation


# --- review ----------------------------------------------------------------------------------


@transaction.atomic
def violation_adjust(
    *,
    actor,
    violation: Violation,
    reason: str,
    severity: str | None = None,
    impact_scope: str | None = None,
    money_lost: Decimal | None = None,
) -> Violation:
    """Change severity, impact scope or money lost of an open violation, with a reason."""
    _require(actor, REVIEW_VIOLATIONS, violation)
    violation = _locked(violation)
    _require_open(violation)
    _refuse_own(actor, violation, _("You cannot adjust a violation about yourself."))
    errors = {}
    if not (reason or "").strip():
        errors["reason"] = _("Give the reason for the adjustment.")
    if severity and severity not in Severity.values:
        errors["severity"] = _("Choose a severity.")
    if impact_scope and impact_scope not in ImpactScope.values:
        errors["impact_scope"] = _("Choose an impact scope.")
    if money_lost is not None and money_lost < 0:
        errors["money_lost"] = _("Money lost cannot be negative.")
    if errors:
        raise ValidationError(errors)
    changes = {}
    for field, value in (
        ("severity", severity),
        ("impact_scope", impact_scope),
        ("money_lost", money_lost),
    ):
        if value not in (None, "") and getattr(violation, field) != value:
            changes[field] = [getattr(violation, field), value]
            setattr(violation, field, value)
    if not changes:
        raise ValidationError({"reason": _("Nothing was changed.")})
    violation.adjustment_reason = reason.strip()
    violation.save(update_fields=[*changes, "adjustment_reason", "updated_at"])
    plain = {
        field: [str(a) if a is not None else None, str(b)] for field, (a, b) in changes.items()
    }
    _ledger(violation, LedgerKind.VIOLATION_ADJUSTED, actor=actor, reason=reason.strip(), **plain)
    audit_record(
        action="violation.adjust", obj=violation, changes={**plain, "reason": [None, reason]}
    )
    return violation


def _review(actor, violation: Violation, *, state: str, note: str, kind: str) -> Violation:
    _require(actor, REVIEW_VIOLATIONS, violation)
    violation = _locked(violation)
    _require_open(violation)
    _refuse_own(actor, violation, _("You cannot review a violation about yourself."))
    now = timezone.now()
    violation.state = state
    violation.reviewed_by = actor
    violation.reviewed_at = now
    violation.review_note = (note or "").strip()
    violation.save(
        update_fields=["state", "reviewed_by", "reviewed_at", "review_note", "updated_at"]
    )
    _ledger(violation, kind, actor=actor, note=violation.review_note)
    audit_record(
        action=f"violation.{'confirm' if state == ViolationState.CONFIRMED else 'dismiss'}",
        obj=violation,
        changes={"state": [ViolationState.OPEN, state], "note": [None, violation.review_note]},
    )
    return violation


@transaction.atomic
def violation_confirm(*, actor, violation: Violation, note: str = "") -> Violation:
    """The facts hold: the violation may now be sanctioned (``violation.confirmed``)."""
    violation = _review(
        actor,
        violation,
        state=ViolationState.CONFIRMED,
        note=note,
        kind=LedgerKind.VIOLATION_CONFIRMED,
    )
    emit(
        "violation.confirmed",
        {"violation_id": violation.pk, "staff_id": violation.staff_id},
        dedupe_key=f"violation.confirmed:{violation.pk}",
    )
    return violation


@transaction.atomic
def violation_dismiss(*, actor, violation: Violation, note: str) -> Violation:
    """The facts do not hold, or do not amount to a breach: say why."""
    if not (note or "").strip():
        raise ValidationError({"note": _("Say why the violation is dismissed.")})
    return _review(
        actor,
        violation,
        state=ViolationState.DISMISSED,
        note=note,
        kind=LedgerKind.VIOLATION_DISMISSED,
    )
