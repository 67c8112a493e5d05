"""Issue 5, item 11: accountability through the real pages in Chromium.

(a) A complaint breaches its deadline; the sweep's event gives the handler a violation, which a
compliance officer confirms on its page. Because the employee has one earlier confirmed breach,
the rulebook recommends a written warning; the officer proposes it as pre-filled, a second
officer approves, the employee reads the decision with its rule and evidence and appeals, and
HR (who took no part) reduces it to a verbal warning, which the employee then sees.
(b) A pay reduction that would take the month's deductions above the 20% cap is refused on the
proposal page, which says which limit and by how much.

Only the facts are set up through services (the institution, the people, the earlier breach,
the complaint, the deadline sweep and the event delivery the worker would do); every step after
that is a click. Run with `uv run pytest tests/browser/test_accountability_flow.py`."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from servicecharter.cases import services as case_services
from servicecharter.cases.choices import CaseKind
from servicecharter.core.services.events import deliver_due
from servicecharter.discipline import decisions as decision_services
from servicecharter.discipline.choices import (
    AppealState,
    DecisionState,
    FinePolicy,
    ImpactScope,
    Measure,
    Severity,
    ViolationCategory,
    ViolationState,
)
from servicecharter.discipline.models import Decision, LawfulLimits, Violation, ViolationType
from servicecharter.org.choices import Channel
from tests.browser.test_foundation_flows import sign_in
from tests.discipline import conftest as discipline_fixtures
from tests.discipline.conftest import make_version, make_violation

# Fixtures shared with the discipline tests.
bj_staff = discipline_fixtures.bj_staff
bj_employee = discipline_fixtures.bj_employee
second_compliance = discipline_fixtures.second_compliance
hr_user = discipline_fixtures.hr_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

GROUNDS = "The customer asked twice for more time to send the statements; I have the emails."
REDUCTION_REASON = "The delay was partly the customer's: a verbal warning is enough."

# The ladder of the rulebook in force: a first breach is a verbal warning, a second inside
# the year a written warning, a third a pay reduction.
RULES = (
    {
        "code": "FIRST",
        "max_priors": 0,
        "measure": Measure.VERBAL_WARNING,
        "explanation_en": "A first minor breach: verbal warning.",
    },
    {
        "code": "SECOND",
        "min_priors": 1,
        "max_priors": 1,
        "measure": Measure.WRITTEN_WARNING,
        "in_force_months": 12,
        "explanation_en": "A second breach inside a year: written warning.",
    },
    {
        "code": "REPEAT",
        "min_priors": 2,
        "measure": Measure.PAY_REDUCTION,
        "wage_percent": Decimal(10),
        "amount_cap": Decimal(1000),
    },
)


def as_user(browser, live_server, username: str, *, totp: bool = False):
    """A fresh browser for one person, signed in (with the second factor where the role needs
    it)."""
    person = browser.new_context(base_url=live_server.url, locale="en-GB")
    person.set_default_timeout(10_000)
    page = person.new_page()
    sign_in(page, username, totp=totp)
    return person, page


@pytest.fixture
def late_handling(db):
    """The catalogue's timeliness type (a data migration ships it; a transactional test before
    this one may have emptied the table)."""
    vtype, _ = ViolationType.objects.get_or_create(
        code="late_handling",
        defaults={
            "name_en": "Complaint handled after its deadline",
            "name_zh": "投诉处理超时",
            "category": ViolationCategory.TIMELINESS,
            "default_severity": Severity.MINOR,
            "default_impact": ImpactScope.ONE_CUSTOMER,
            "source": "case.deadline_breached",
        },
    )
    return vtype


@pytest.fixture
def rulebook(db):
    """The rulebook in force for the Beijing branch (CN), and CN's limits: deductions of a
    month at most 20% of the wage, the wage left at least the minimum wage."""
    LawfulLimits.objects.update_or_create(
        jurisdiction="CN",
        defaults={
            "fine_policy": FinePolicy.PAY_REDUCTION,
            "deduction_cap_percent": Decimal(20),
            "minimum_wage": Decimal("2690.00"),
            "currency": "CNY",
            "note": "Provisions on Wage Payment art. 16.",
        },
    )
    return make_version(code="E2E-CN", rules=RULES)


@pytest.fixture
def prior(bj_staff, late_handling, rulebook):
    """An earlier breach of the same employee, confirmed two months ago."""
    return make_violation(
        bj_staff,
        late_handling,
        at=timezone.now() - timedelta(days=60),
        state=ViolationState.CONFIRMED,
        summary="An earlier late complaint",
    )


@pytest.fixture
def breached_complaint(tree, bj_employee, prior):
    """A complaint the employee handles, received 40 days ago: its deadline has passed. The
    deadline sweep and the event delivery run as the worker runs them."""
    case = case_services.case_create(
        actor=bj_employee,
        kind=CaseKind.COMPLAINT,
        channel=Channel.PHONE,
        subject="Statement copies not sent",
        description="Asked for six months of statements; nothing arrived.",
        contact_name="Li Lei",
        department=tree["bj_team"],
        handler=bj_employee,
        received_at=timezone.now() - timedelta(days=40),
    ).case
    assert case.due_at < timezone.now()
    case_services.sweep_deadlines(now=timezone.now())
    deliver_due(worker_id="browser-test")
    return case


def test_a_breached_deadline_becomes_a_written_warning_that_the_employee_appeals_and_hr_reduces(
    browser,
    live_server,
    breached_complaint,
    bj_staff,
    prior,
    compliance_officer,
    second_compliance,
    hr_user,
):
    # The compliance officer finds the new violation in the queue and confirms it.
    person, page = as_user(browser, live_server, "compliance", totp=True)
    page.goto("/discipline/violations/?state=open")
    row = page.locator("tr", has_text="Complaint handled after its deadline").filter(
        has_text=bj_staff.employee_number
    )
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Awaiting review")
    row.locator("a").click()
    expect(page.locator("h1")).to_have_text("Complaint handled after its deadline")
    evidence = page.locator("ul.evidence a", has_text=breached_complaint.reference)
    expect(evidence).to_have_attribute("href", f"/cases/{breached_complaint.pk}/")
    expect(page.locator("main")).to_contain_text("A violation is sanctioned only once it is")
    page.fill("#confirm-note", "The case timeline shows no response before the deadline.")
    page.locator("button[type=submit]", has_text="Confirm the violation").click()
    expect(page.locator("#violation-state")).to_have_text("Confirmed")

    # The rulebook counts the earlier breach and recommends a written warning.
    recommendation = page.locator("section", has=page.locator("#rec-title"))
    expect(recommendation).to_contain_text("Written warning")
    expect(recommendation).to_contain_text("1 confirmed prior(s)")
    expect(recommendation).to_contain_text("Rule SECOND applies: Written warning.")

    # The officer proposes what the rulebook recommends, as the form pre-fills it.
    page.locator("a.button", has_text="Propose a sanction").click()
    expect(page.locator("select[name=measure]")).to_have_value(Measure.WRITTEN_WARNING)
    expect(page.locator("#recommended")).to_contain_text("Written warning")
    expect(page.locator("#recommended")).to_contain_text("rule SECOND")
    expect(page.locator("textarea[name=deviation_reason]")).to_have_count(0)
    page.fill("textarea[name=reason]", "Second late complaint inside the year.")
    page.locator("button[type=submit]", has_text="Propose").click()
    expect(page.locator("#decision-state")).to_have_text("Awaiting approval")
    decision = Decision.objects.get(violation__source_key__startswith="case.deadline_breached")
    # The proposer is never offered the approval.
    expect(page.locator("button", has_text="Approve")).to_have_count(0)
    person.close()

    # A second compliance officer approves it from the queue.
    person, page = as_user(browser, live_server, "compliance2", totp=True)
    page.goto("/discipline/decisions/queue/")
    page.locator(f"#decision-row-{decision.pk} a").click()
    expect(page.locator("main")).to_contain_text("Rule SECOND of")
    page.fill("#approve-note", "Agreed: the timeline is clear.")
    page.locator("button[type=submit]", has_text="Approve").click()
    expect(page.locator("#decision-state")).to_have_text("Approved")
    person.close()

    # The employee reads the decision with its facts, rule and evidence, and appeals.
    person, page = as_user(browser, live_server, "bj.agent")
    page.goto("/discipline/mine/")
    card = page.locator(f"#decision-{decision.pk}")
    expect(card.locator("h2")).to_contain_text("Written warning")
    expect(card).to_contain_text("Complaint handled after its deadline")
    expect(card).to_contain_text("Rule SECOND applies: Written warning.")
    expect(card).to_contain_text("A second breach inside a year: written warning.")
    expect(card.locator("ul.evidence")).to_contain_text(breached_complaint.reference)
    card.locator("button", has_text="I have read this decision").click()
    card = page.locator(f"#decision-{decision.pk}")
    expect(card).to_contain_text("You acknowledged this decision")
    card.locator("summary", has_text="Appeal (until").click()
    card.locator("textarea[name=grounds]").fill(GROUNDS)
    card.locator("button", has_text="File the appeal").click()
    card = page.locator(f"#decision-{decision.pk}")
    expect(card).to_contain_text("My appeal")
    expect(card).to_contain_text(GROUNDS)
    person.close()

    # HR, who neither proposed nor approved, reduces it to a verbal warning.
    person, page = as_user(browser, live_server, "hr", totp=True)
    page.goto("/discipline/appeals/")
    page.locator("tr", has_text=bj_staff.employee_number).locator("a").click()
    expect(page.locator("main")).to_contain_text(GROUNDS)
    page.check(f"input[name=outcome][value={AppealState.REDUCED}]")
    page.select_option("select[name=reduced_measure]", Measure.VERBAL_WARNING)
    page.fill("textarea[name=reason]", REDUCTION_REASON)
    page.locator("button[type=submit]", has_text="Decide").click()
    expect(page.locator("h1")).to_contain_text("Verbal warning")
    appeal_card = page.locator("section", has=page.locator("#appeal-title"))
    expect(appeal_card).to_contain_text(f"Reduced: {REDUCTION_REASON}")
    person.close()

    # The employee now sees the reduced measure and the outcome of the appeal.
    person, page = as_user(browser, live_server, "bj.agent")
    page.goto("/discipline/mine/")
    card = page.locator(f"#decision-{decision.pk}")
    expect(card.locator("h2")).to_contain_text("Verbal warning")
    expect(card).to_contain_text(f"Reduced: {REDUCTION_REASON}")
    person.close()

    decision.refresh_from_db()
    assert decision.state == DecisionState.APPROVED
    assert decision.measure == Measure.VERBAL_WARNING
    assert decision.recommended_measure == Measure.WRITTEN_WARNING
    assert not decision.is_deviation
    assert {decision.proposed_by.username, decision.appeal.decided_by.username} == {
        "compliance",
        "hr",
    }
    assert [a.approver.username for a in decision.approvals.all()] == ["compliance2"]


@pytest.fixture
def deducted_this_month(
    bj_staff, late_handling, rulebook, prior, bj_supervisor, compliance_officer
):
    """A pay reduction of 1,000 approved for this month's wage (8,000: the cap is 1,600), and a
    new confirmed breach waiting for a decision."""
    earlier = make_violation(
        bj_staff,
        late_handling,
        at=timezone.now() - timedelta(days=20),
        state=ViolationState.CONFIRMED,
        summary="A second late complaint",
    )
    decision = decision_services.decision_propose(
        actor=bj_supervisor,
        violation=earlier,
        measure=Measure.PAY_REDUCTION,
        amount=Decimal(1000),
        deviation_reason="The customer lost the interest on a deposit.",
    )
    decision_services.decision_approve(actor=compliance_officer, decision=decision)
    return make_violation(
        bj_staff,
        late_handling,
        at=timezone.now() - timedelta(days=2),
        state=ViolationState.CONFIRMED,
        summary="A third late complaint",
    )


def test_a_pay_reduction_above_the_monthly_cap_is_refused_with_the_limit_and_the_excess(
    browser, live_server, deducted_this_month, bj_supervisor
):
    violation = deducted_this_month
    person, page = as_user(browser, live_server, "bj.supervisor")
    page.goto(f"/discipline/violations/{violation.pk}/")
    page.locator("a.button", has_text="Propose a sanction").click()
    # Two priors: the rulebook's own pay reduction (10% of 8,000, at most 1,000) already breaks
    # the cap with the 1,000 taken this month.
    expect(page.locator("select[name=measure]")).to_have_value(Measure.PAY_REDUCTION)
    expect(page.locator("#recommended")).to_contain_text("rule REPEAT")

    # The proposer lowers the amount; the check beside the form still finds the cap broken.
    page.fill("input[name=amount]", "900")
    breaches = page.locator("#limit-breaches")
    expect(breaches).to_contain_text(
        "All deductions of the month would total CN¥1,900.00, above the cap of 20% of the "
        "monthly wage (CN¥1,600.00) by CN¥300.00."
    )
    page.fill("textarea[name=deviation_reason]", "Lower than the rule: the loss was small.")
    page.locator("button[type=submit]", has_text="Propose").click()

    # Refused on the page, with the same reason beside the amount; nothing is recorded.
    expect(page.locator("h1")).to_have_text("Propose a sanction")
    refusal = page.locator("#id_amount_error")
    expect(refusal).to_contain_text("above the cap of 20% of the monthly wage (CN¥1,600.00)")
    expect(refusal).to_contain_text("by CN¥300.00")
    expect(page.locator("input[name=amount]")).to_have_value("900")
    person.close()
    assert not Decision.objects.filter(violation=violation).exists()
    assert Violation.objects.get(pk=violation.pk).state == ViolationState.CONFIRMED
