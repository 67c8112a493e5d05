"""Events become violations: one open violation per employee, with evidence, graded by rules,
and a second delivery of the same event creates nothing."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction

from servicecharter.cases import services as case_services
from servicecharter.cases.choices import CaseKind, Outcome
from servicecharter.core.events import emit
from servicecharter.core.models import EventDelivery
from servicecharter.core.services.events import deliver_due
from servicecharter.discipline.choices import ImpactScope, Severity, ViolationState
from servicecharter.discipline.models import LedgerEntry, Violation
from servicecharter.discipline.violations import grade
from servicecharter.org.choices import Channel


def deliver(event):
    deliver_due(worker_id="test", event_id=event.pk)
    states = set(EventDelivery.objects.filter(event=event).values_list("state", flat=True))
    assert states == {"delivered"}, EventDelivery.objects.filter(event=event).values("last_error")


def redeliver(event):
    """Deliver the same event again, as a worker whose claim expired would."""
    EventDelivery.objects.filter(event=event).update(state="pending", claimed_by="")
    deliver(event)


def emit_now(name, payload):
    with transaction.atomic():
        return emit(name, payload)


# --- grading, directly -------------------------------------------------------------------------


def test_grade_defaults_without_aggravating_facts():
    g = grade(severity=Severity.MINOR, impact_scope=ImpactScope.ONE_CUSTOMER)
    assert (g.severity, g.impact_scope, g.reasons) == (Severity.MINOR, ImpactScope.ONE_CUSTOMER, ())


def test_grade_money_vulnerable_and_regulator_raise_it():
    g = grade(
        severity=Severity.MINOR,
        impact_scope=ImpactScope.ONE_CUSTOMER,
        money_at_stake=Decimal(60_000),
    )
    assert g.severity == Severity.MODERATE and g.reasons == ("money_moderate",)
    g = grade(
        severity=Severity.MINOR,
        impact_scope=ImpactScope.ONE_CUSTOMER,
        money_at_stake=Decimal(500_000),
    )
    assert g.severity == Severity.SERIOUS
    g = grade(
        severity=Severity.MINOR, impact_scope=ImpactScope.ONE_CUSTOMER, escalated_externally=True
    )
    assert (g.severity, g.impact_scope) == (Severity.MODERATE, ImpactScope.DEPARTMENT)
    g = grade(severity=Severity.MINOR, impact_scope=ImpactScope.ONE_CUSTOMER, customers=3)
    assert g.impact_scope == ImpactScope.SEVERAL_CUSTOMERS


def test_grade_never_makes_severe_on_its_own_nor_lowers():
    g = grade(
        severity=Severity.MODERATE,
        impact_scope=ImpactScope.INSTITUTION,
        money_at_stake=Decimal(10**7),
        vulnerable_customer=True,
        critical_case=True,
    )
    assert g.severity == Severity.SERIOUS and g.impact_scope == ImpactScope.INSTITUTION
    assert grade(severity=Severity.SEVERE, impact_scope=ImpactScope.ONE_CUSTOMER).severity == (
        Severity.SEVERE
    )


# --- cases -------------------------------------------------------------------------------------


@pytest.fixture
def complaint(tree, bj_employee):
    return case_services.case_create(
        actor=bj_employee,
        kind=CaseKind.COMPLAINT,
        channel=Channel.PHONE,
        subject="Card fee charged twice",
        description="The annual fee was charged twice.",
        contact_name="Li Lei",
        department=tree["bj_team"],
        handler=bj_employee,
        money_at_stake=Decimal(80_000),
    ).case


def test_deadline_breach_gives_the_handler_one_timeliness_violation(complaint, bj_staff):
    case_services.sweep_deadlines(now=complaint.due_at + timedelta(seconds=1))
    from servicecharter.core.models import Event

    event = Event.objects.get(name="case.deadline_breached")
    deliver(event)
    violation = Violation.objects.get()
    assert violation.staff == bj_staff and violation.type.code == "late_handling"
    assert violation.state == ViolationState.OPEN
    assert violation.department == bj_staff.department
    # 80,000 at stake: one step above the type's "minor".
    assert violation.severity == Severity.MODERATE
    assert violation.evidence == [
        {
            "kind": "case",
            "id": complaint.pk,
            "label": complaint.reference,
            "url": f"/cases/{complaint.pk}/",
        }
    ]
    assert LedgerEntry.objects.get(violation=violation).data["grading"] == ["money_moderate"]
    redeliver(event)
    assert Violation.objects.count() == 1


def test_the_same_event_delivered_twice_creates_one_violation(bj_staff):
    payload = {
        "case_id": 999,
        "reference": "C-X",
        "handler_staff_id": bj_staff.pk,
        "due_at": "2026-03-01T10:00:00+00:00",
        "breached_at": "2026-03-01T10:00:01+00:00",
    }
    event = emit_now("case.deadline_breached", payload)
    deliver(event)
    redeliver(event)
    # A second event about the same fact (another emitter's replay) also finds it.
    deliver(emit_now("case.deadline_breached", payload))
    assert Violation.objects.count() == 1
    assert LedgerEntry.objects.count() == 1


def test_event_without_a_staff_member_is_skipped(db):
    event = emit_now(
        "case.deadline_breached", {"case_id": 1, "reference": "C-1", "handler_staff_id": None}
    )
    deliver(event)
    assert not Violation.objects.exists()


def test_upheld_attitude_complaint(complaint, bj_staff, compliance_officer, bj_employee):
    case_services.case_acknowledge(actor=bj_employee, case=complaint)
    case_services.case_start(actor=bj_employee, case=complaint)
    case_services.case_respond(
        actor=bj_employee,
        case=complaint,
        outcome=Outcome.UPHELD,
        response_text="We apologise.",
        staff_involved=[bj_staff],
        concerns_attitude=True,
        redress_amount=Decimal("350.00"),
    )
    from servicecharter.core.models import Event

    for event in Event.objects.filter(name="case.upheld_against_staff"):
        deliver(event)
    violation = Violation.objects.get()
    assert violation.type.code == "upheld_attitude" and violation.type.category == "attitude"
    assert violation.source == "case.upheld_against_staff"
    # The redress paid is the money lost; 80,000 at stake raises "moderate" to "serious".
    assert violation.money_lost == Decimal("350.00")
    assert violation.severity == Severity.SERIOUS


def test_upheld_not_about_attitude_is_a_process_violation(bj_staff):
    event = emit_now(
        "case.upheld_against_staff",
        {"case_id": 12345, "reference": "C-9", "staff_id": bj_staff.pk, "outcome": "upheld"},
    )
    deliver(event)
    assert Violation.objects.get().type.code == "upheld_process"


def test_reopened_and_overturned(bj_staff, sh_staff):
    deliver(
        emit_now(
            "case.reopened", {"case_id": 5, "reference": "C-5", "handler_staff_id": bj_staff.pk}
        )
    )
    event = emit_now(
        "case.overturned",
        {
            "case_id": 5,
            "reference": "C-5",
            "staff_ids": [bj_staff.pk, sh_staff.pk],
            "by": "regulator",
        },
    )
    deliver(event)
    redeliver(event)
    codes = sorted(Violation.objects.values_list("type__code", "staff__employee_number"))
    assert codes == [
        ("complaint_reopened", "E10001"),
        ("decision_overturned", "E10001"),
        ("decision_overturned", "E20001"),
    ]


def test_evaluation_auto_failed(bj_staff):
    event = emit_now(
        "evaluation.auto_failed",
        {
            "evaluation_id": 77,
            "staff_id": bj_staff.pk,
            "criterion_code": "verify_identity",
            "criterion_text_en": "Verified the identity",
            "interaction_id": None,
        },
    )
    deliver(event)
    violation = Violation.objects.get()
    assert violation.type.code == "critical_item_failed"
    assert violation.evidence[0]["url"] == "/quality/evaluations/77/"
    assert violation.summary.startswith("verify_identity")


def test_review_failed_one_per_named_employee_graded_by_their_findings(bj_staff, sh_staff, tree):
    event = emit_now(
        "review.failed",
        {
            "review_id": 3,
            "department_id": tree["bj"].pk,
            "department_code": "BJ",
            "period_start": "2026-01-01",
            "period_end": "2026-03-31",
            "score": "61.0",
            "staff_ids": [bj_staff.pk, sh_staff.pk],
            "findings": [
                {"id": 1, "severity": "serious", "text": "x", "staff_ids": [bj_staff.pk]},
                {"id": 2, "severity": "minor", "text": "y", "staff_ids": [sh_staff.pk]},
            ],
        },
    )
    deliver(event)
    redeliver(event)
    by_staff = dict(Violation.objects.values_list("staff__employee_number", "severity"))
    assert by_staff == {"E10001": Severity.SERIOUS, "E20001": Severity.MODERATE}
    assert set(Violation.objects.values_list("impact_scope", flat=True)) == {ImpactScope.DEPARTMENT}


# --- assessment: unsatisfactory in consecutive periods ---------------------------------------


def _closed_months(months):
    from datetime import date

    from servicecharter.assessment.models import Period, Scheme
    from servicecharter.assessment.services import period_bounds

    scheme = Scheme.objects.create(code="t", name_en="t", name_zh="t")
    periods = []
    for month in months:
        start, end = period_bounds("month", date(2026, month, 1))
        periods.append(
            Period.objects.create(kind="month", start=start, end=end, state="closed", scheme=scheme)
        )
    return periods


def _tier(period, staff, tier):
    from servicecharter.assessment.models import StaffScorecard

    StaffScorecard.objects.create(
        period=period, staff=staff, department=staff.department, tier=tier
    )


def _close(period):
    return emit_now(
        "assessment.period_closed",
        {
            "period_id": period.pk,
            "kind": period.kind,
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
        },
    )


def test_two_consecutive_unsatisfactory_months_give_one_violation(bj_staff, sh_staff):
    jan, feb, mar, apr = _closed_months([1, 2, 3, 4])
    for period in (jan, feb, mar, apr):
        _tier(period, bj_staff, "unsatisfactory")
    _tier(jan, sh_staff, "unsatisfactory")
    _tier(feb, sh_staff, "meets")
    deliver(_close(jan))  # one period alone is not a streak
    assert not Violation.objects.exists()
    event = _close(feb)
    deliver(event)
    redeliver(event)
    violation = Violation.objects.get()
    assert violation.staff == bj_staff and violation.type.code == "persistent_unsatisfactory"
    assert violation.source == "assessment.unsatisfactory"
    assert [item["kind"] for item in violation.evidence] == ["period", "period"]
    assert violation.evidence[0]["url"].startswith("/assessment/scorecards/")
    deliver(_close(mar))  # feb–mar overlaps the streak already counted
    assert Violation.objects.count() == 1
    deliver(_close(apr))  # mar–apr: a new streak
    assert Violation.objects.count() == 2


def test_a_gap_between_periods_is_no_streak(bj_staff):
    jan, mar = _closed_months([1, 3])
    _tier(jan, bj_staff, "unsatisfactory")
    _tier(mar, bj_staff, "unsatisfactory")
    deliver(_close(mar))
    assert not Violation.objects.exists()
