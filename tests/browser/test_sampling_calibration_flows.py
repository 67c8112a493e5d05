"""Browser tests of sampling and calibration: an auditor makes a plan on the form, draws it and
checks the draw; two auditors score a calibration session blind, it is closed, and the results
page draws its two charts.

Run with `uv run pytest tests/browser` (they need Chromium)."""

import os

import pytest
from playwright.sync_api import expect

from servicecharter.quality import calibration
from servicecharter.quality.models import CalibrationSession, Evaluation, SamplingPlan
from tests.browser.test_quality_flows import answer, as_user
from tests.quality import conftest as quality_fixtures
from tests.standards.conftest import make_staff

auditor = quality_fixtures.auditor
second_auditor = quality_fixtures.second_auditor
bj_staff = quality_fixtures.bj_staff
phone_card = quality_fixtures.phone_card

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = os.environ.get("SCREENSHOTS_DIR")


def shot(page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)


@pytest.fixture
def calls(tree, bj_staff):
    other = make_staff(tree["bj_team"], "E10002", "王强")
    numbers = iter(range(1, 1000))
    return [
        quality_fixtures.make_interaction(staff, next(numbers))
        for staff in (bj_staff, other)
        for _ in range(5)
    ]


def test_an_auditor_makes_a_plan_draws_it_and_checks_the_draw(
    browser, live_server, auditor, second_auditor, phone_card, calls
):
    _context, page = as_user(browser, live_server, auditor.username)
    page.goto("/quality/sampling/new/")
    page.fill("input[name=name]", "June spot check")
    page.select_option("select[name=department]", label="— BJ · Beijing Branch")
    page.fill("input[name=period_start]", "2025-06-01")
    page.fill("input[name=period_end]", "2025-06-30")
    page.select_option("select[name=scorecard_version]", index=1)
    page.fill("input[name=per_agent]", "3")
    page.check("input[name=target_abandoned]")
    page.get_by_label("auditor2").check()
    page.get_by_label("auditor", exact=True).check()
    page.fill("input[name=seed]", "20250601")
    shot(page, "sampling_form")
    page.click("text=Create the plan")

    expect(page.locator("h1")).to_have_text("June spot check")
    page.click("text=Draw the plan")
    expect(page.locator("body")).to_contain_text("Drawn: 6 interactions of 10")
    shot(page, "sampling_detail")
    page.locator("a", has_text="Show picks").first.click()
    expect(page.locator("#picks table tbody tr")).to_have_count(3)
    page.click("text=Check the draw")
    expect(page.locator(".badge.ok")).to_have_text("Identical")
    shot(page, "sampling_check")
    plan = SamplingPlan.objects.get()
    assert plan.seed == 20250601
    assert Evaluation.objects.filter(plan=plan).count() == 6


def test_two_auditors_calibrate_blind_and_the_results_show_their_charts(
    browser, live_server, auditor, second_auditor, phone_card, calls
):
    session = calibration.calibration_session_create(
        actor=auditor,
        name="June calibration",
        scorecard_version=phone_card,
        interactions=calls[:3],
        auditors=[auditor, second_auditor],
    )
    criteria = calibration.criteria_of(phone_card)
    for person, values in ((auditor, ("1", "1", "5", "4")), (second_auditor, ("1", "1", "3", "4"))):
        _context, page = as_user(browser, live_server, person.username)
        for call in calls[:3]:
            page.goto(f"/quality/calibration/{session.pk}/score/{call.pk}/")
            for criterion, value in zip(criteria, values, strict=True):
                answer(page, criterion, value)
            if person == auditor and call == calls[0]:
                shot(page, "calibration_score")
            page.click("text=Save my scores")
            expect(page.locator("body")).to_contain_text("Your scores are saved")

    page.goto(f"/quality/calibration/{session.pk}/results/")
    expect(page.locator("body")).to_contain_text("scores are blind")
    page.click("text=Close the session and compute the agreement")

    expect(page.locator("h1")).to_contain_text("Calibration results")
    expect(page.locator("#bias-chart canvas")).to_have_count(1)
    expect(page.locator("#agreement-chart canvas")).to_have_count(1)
    shot(page, "calibration_results")
    assert CalibrationSession.objects.get().closed_at is not None
