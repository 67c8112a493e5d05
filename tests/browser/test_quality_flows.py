"""Issue 4, item 11: quality and satisfaction through the real pages in Chromium.

(a) An auditor scores an interaction on the scoring screen and answers "no" to a critical
item (the live total warns of the auto-fail), the employee signs in and disputes the
evaluation, and a second auditor (from the workspace) upholds the score.
(b) A customer answers a survey from its link in Chinese, and the answer appears on the
department's survey page.

Run with `uv run pytest tests/browser/test_quality_flows.py`."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from servicecharter.quality.choices import EvaluationState
from servicecharter.quality.models import Criterion
from servicecharter.surveys import services as survey_services
from tests.browser.test_foundation_flows import sign_in
from tests.quality import conftest as quality_fixtures
from tests.surveys import conftest as survey_fixtures

# Fixtures shared with the quality and survey tests.
auditor = quality_fixtures.auditor
second_auditor = quality_fixtures.second_auditor
bj_staff = quality_fixtures.bj_staff
bj_employee = quality_fixtures.bj_employee
phone_card = quality_fixtures.phone_card
assign = quality_fixtures.assign
bj_customer = survey_fixtures.bj_customer
make_rule = survey_fixtures.make_rule
make_interaction = survey_fixtures.make_interaction
dispatch = survey_fixtures.dispatch

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

IDENTITY_MISSED = {"greeting": "1", "verify_identity": "0", "accuracy": "5", "courtesy": "5"}
REASON = "The customer was known to me from the branch; I checked identity before the call."
COMMENT = "客服很耐心，问题当场解决了。"


def as_user(browser, live_server, username: str, **context):
    """A fresh browser for one person, signed in."""
    person = browser.new_context(base_url=live_server.url, locale="en-GB", **context)
    person.set_default_timeout(10_000)
    page = person.new_page()
    sign_in(page, username)
    return person, page


def answer(page, criterion: Criterion, value: str) -> None:
    page.locator(
        "label.choice", has=page.locator(f"input[name='answer-{criterion.pk}'][value='{value}']")
    ).click()


def test_an_auto_failed_evaluation_is_disputed_by_the_employee_and_upheld_by_another_auditor(
    browser, live_server, assign, bj_staff, bj_employee, auditor, second_auditor, phone_card
):
    evaluation = assign(bj_staff)
    criteria = {c.code: c for c in Criterion.objects.filter(section__version=phone_card)}

    # The auditor scores it on the scoring screen, beside the interaction.
    person, page = as_user(browser, live_server, "auditor")
    page.goto("/quality/workspace/")
    page.locator(f"a[href='/quality/evaluations/{evaluation.pk}/score/']").click()
    for code, value in IDENTITY_MISSED.items():
        answer(page, criteria[code], value)
    expect(page.locator("#live-total")).to_contain_text("Auto-fail")
    page.locator("button[type=submit]", has_text="Submit the evaluation").click()
    page.wait_for_url(f"**/quality/evaluations/{evaluation.pk}/")
    expect(page.locator("main")).to_contain_text("Auto-failed")
    person.close()

    # The employee sees it and disputes it.
    person, page = as_user(browser, live_server, "bj.agent")
    page.goto(f"/quality/evaluations/{evaluation.pk}/")
    page.fill("textarea[name=reason]", REASON)
    page.locator("button[type=submit]", has_text="Dispute").click()
    expect(page.locator("#dispute-title")).to_be_visible()
    expect(page.locator("main")).to_contain_text(REASON)
    person.close()

    # A second auditor, who did not score it, upholds the score.
    person, page = as_user(browser, live_server, "auditor2")
    page.goto("/quality/workspace/")
    page.locator(f"a[href='/quality/evaluations/{evaluation.pk}/decide/']").click()
    expect(page.locator("main")).to_contain_text(REASON)
    page.check("input[name=decision][value=uphold]")
    page.fill("textarea[name=note]", "The recording shows no identity check on this call.")
    page.locator("button[type=submit]", has_text="Record the decision").click()
    page.wait_for_url(f"**/quality/evaluations/{evaluation.pk}/")
    expect(page.locator("main")).to_contain_text("The score stands")
    person.close()

    evaluation.refresh_from_db()
    assert evaluation.state == EvaluationState.UPHELD
    assert evaluation.auto_failed and evaluation.score == 0


def test_a_customer_answers_a_survey_in_chinese_and_the_department_page_shows_it(
    browser, live_server, tree, make_rule, make_interaction, bj_staff, bj_customer, bj_supervisor
):
    make_rule()
    assert dispatch(make_interaction(bj_staff, bj_customer)) == 1
    survey_services.outbox_send_due()
    [message] = mail.outbox
    link = re.search(r"/survey/[\w-]+/", message.body).group(0)

    customer = browser.new_context(base_url=live_server.url, locale="en-GB")
    customer.set_default_timeout(10_000)
    page = customer.new_page()
    page.goto(f"{link}?lang=zh-hans")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    for question, value in (("csat", "5"), ("nps", "10"), ("effort", "1")):
        page.locator(
            "label.scale-option", has=page.locator(f"input[name={question}][value='{value}']")
        ).click()
    page.fill("textarea[name=comment]", COMMENT)
    page.click("form.card button[type=submit]")
    expect(page.locator("form.card")).to_have_count(0)
    customer.close()

    person, page = as_user(browser, live_server, "bj.supervisor")
    page.goto(f"/surveys/departments/{tree['bj'].pk}/")
    expect(page.locator(".survey-comments")).to_contain_text(COMMENT)
    expect(page.locator(".survey-figures .figure").first).to_have_text("1")
    person.close()
