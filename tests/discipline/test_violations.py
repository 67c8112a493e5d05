"""Violation services: raise by hand, adjust with a reason, confirm or dismiss after review;
who may, what is refused, the ledger and audit rows, and the event after confirmation."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from servicecharter.core.models import AuditEntry, Event
from servicecharter.discipline.choices import (
    ImpactScope,
    LedgerKind,
    Severity,
    ViolationSource,
    ViolationState,
)
from servicecharter.discipline.models import LedgerEntry, Violation, ViolationType
from servicecharter.discipline.violations import (
    ViolationRefused,
    violation_adjust,
    violation_confirm,
    violation_dismiss,
    violation_raise,
)
from tests.discipline.conftest import make_violation


@pytest.fixture
def rude():
    return ViolationType.objects.get(code="rude_conduct")


def raise_one(actor, staff, vtype, **extra):
    fields = {
        "actor": actor,
        "staff": staff,
        "vtype": vtype,
        "occurred_at": timezone.now() - timedelta(hours=2),
        "summary": "Raised voice at a customer",
        "evidence": [{"kind": "case", "label": "C-1", "url": "/cases/1/"}],
        **extra,
    }
    return violation_raise(**fields)


def test_supervisor_raises_a_violation_in_their_branch(bj_supervisor, bj_staff, rude):
    violation = raise_one(bj_supervisor, bj_staff, rude)
    assert violation.state == ViolationState.OPEN and violation.source == ViolationSource.MANUAL
    assert (violation.severity, violation.impact_scope) == (
        Severity.MINOR,
        ImpactScope.ONE_CUSTOMER,
    )
    assert violation.raised_by == bj_supervisor
    assert LedgerEntry.objects.get(violation=violation).kind == LedgerKind.VIOLATION_RAISED
    assert AuditEntry.objects.filter(action="violation.raise", object_id=str(violation.pk)).exists()


def test_raising_outside_scope_or_without_capability_is_refused(
    sh_supervisor, bj_agent, bj_staff, rude
):
    with pytest.raises(PermissionDenied):
        raise_one(sh_supervisor, bj_staff, rude)
    with pytest.raises(PermissionDenied):
        raise_one(bj_agent, bj_staff, rude)
    assert not Violation.objects.exists()


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"summary": "  "}, "summary"),
        ({"occurred_at": timezone.now() + timedelta(days=2)}, "occurred_at"),
        ({"evidence": [], "details": ""}, "details"),
        (
            {"evidence": [{"kind": "case", "label": "x", "url": "https://evil.example/"}]},
            "evidence",
        ),
        ({"money_lost": Decimal(-1)}, "money_lost"),
        ({"severity": "apocalyptic"}, "severity"),
    ],
)
def test_bad_input_is_refused_with_a_message(bj_supervisor, bj_staff, rude, extra, field):
    with pytest.raises(ValidationError) as caught:
        raise_one(bj_supervisor, bj_staff, rude, **extra)
    assert field in caught.value.message_dict
    assert not Violation.objects.exists()


@pytest.fixture
def open_violation(bj_staff, attitude_type):
    return make_violation(bj_staff, attitude_type)


def test_confirm_records_reviewer_and_emits(open_violation, compliance_officer):
    violation = violation_confirm(actor=compliance_officer, violation=open_violation, note="Seen")
    assert violation.state == ViolationState.CONFIRMED
    assert violation.reviewed_by == compliance_officer and violation.reviewed_at is not None
    event = Event.objects.get(name="violation.confirmed")
    assert event.payload == {"violation_id": violation.pk, "staff_id": violation.staff_id}
    assert LedgerEntry.objects.filter(kind=LedgerKind.VIOLATION_CONFIRMED).count() == 1
    with pytest.raises(ViolationRefused):
        violation_confirm(actor=compliance_officer, violation=violation)
    with pytest.raises(ViolationRefused):
        violation_dismiss(actor=compliance_officer, violation=violation, note="no")


def test_dismiss_needs_a_note(open_violation, compliance_officer):
    with pytest.raises(ValidationError):
        violation_dismiss(actor=compliance_officer, violation=open_violation, note=" ")
    open_violation.refresh_from_db()
    assert open_violation.state == ViolationState.OPEN
    violation_dismiss(actor=compliance_officer, violation=open_violation, note="Not them")
    open_violation.refresh_from_db()
    assert open_violation.state == ViolationState.DISMISSED
    assert not Event.objects.filter(name="violation.confirmed").exists()


def test_supervisor_cannot_review_and_out_of_scope_reviewer_is_refused(
    open_violation, bj_supervisor, sh_compliance
):
    with pytest.raises(PermissionDenied):
        violation_confirm(actor=bj_supervisor, violation=open_violation)
    with pytest.raises(PermissionDenied):
        violation_dismiss(actor=sh_compliance, violation=open_violation, note="x")


def test_nobody_reviews_a_violation_about_themselves(tree, compliance_officer, attitude_type):
    from tests.standards.conftest import make_staff

    own_staff = make_staff(tree["head"], "E00001", "合规")
    compliance_officer.staff = own_staff
    compliance_officer.save(update_fields=["staff"])
    violation = make_violation(own_staff, attitude_type)
    with pytest.raises(ViolationRefused):
        violation_dismiss(actor=compliance_officer, violation=violation, note="not me")
    with pytest.raises(ViolationRefused):
        violation_adjust(
            actor=compliance_officer, violation=violation, reason="x", severity=Severity.MINOR
        )
    violation.refresh_from_db()
    assert violation.state == ViolationState.OPEN


def test_adjust_requires_a_reason_and_records_both_values(open_violation, compliance_officer):
    with pytest.raises(ValidationError):
        violation_adjust(
            actor=compliance_officer, violation=open_violation, reason="", severity=Severity.SERIOUS
        )
    violation = violation_adjust(
        actor=compliance_officer,
        violation=open_violation,
        reason="The customer lost savings",
        severity=Severity.SERIOUS,
        money_lost=Decimal("12000"),
    )
    assert violation.severity == Severity.SERIOUS and violation.money_lost == Decimal("12000")
    assert violation.adjustment_reason == "The customer lost savings"
    entry = LedgerEntry.objects.get(kind=LedgerKind.VIOLATION_ADJUSTED)
    assert entry.data["severity"] == [Severity.MINOR, Severity.SERIOUS]
    with pytest.raises(ValidationError):
        violation_adjust(
            actor=compliance_officer, violation=violation, reason="again", severity=Severity.SERIOUS
        )
