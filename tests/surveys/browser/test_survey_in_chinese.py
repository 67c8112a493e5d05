"""Issue 4, item 11: a customer answers a survey from its link in Chinese, and the answer
appears on the department's survey page — real pages in Chromium."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from servicecharter.surveys import services
from tests.browser.test_foundation_flows import sign_in
from tests.surveys.conftest import dispatch

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

COMMENT = "客服很耐心，问题当场解决了。"


def test_a_customer_answers_in_chinese_and_the_department_page_shows_it(
    browser, live_server, tree, make_rule, make_interaction, bj_staff, bj_customer, bj_supervisor
):
    make_rule()
    assert dispatch(make_interaction(bj_staff, bj_customer)) == 1
    services.outbox_send_due()
    [message] = mail.outbox
    link = re.search(r"/survey/[\w-]+/", message.body).group(0)

    customer = browser.new_context(base_url=live_server.url, locale="zh-CN")
    page = customer.new_page()
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    page.goto(link)
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    page.locator("label.scale-option", has=page.locator("input[name=csat][value='5']")).click()
    page.locator("label.scale-option", has=page.locator("input[name=nps][value='10']")).click()
    page.locator("label.scale-option", has=page.locator("input[name=effort][value='1']")).click()
    page.fill("textarea[name=comment]", COMMENT)
    page.click("form.card button[type=submit]")
    expect(page.locator("h1")).to_be_visible()
    page.goto(link)  # a second visit: already answered
    expect(page.locator("form.card")).to_have_count(0)
    customer.close()

    staff = browser.new_context(base_url=live_server.url, locale="en-GB")
    page = staff.new_page()
    sign_in(page, "bj.supervisor")
    page.goto(f"/surveys/departments/{tree['bj'].pk}/")
    expect(page.locator(".survey-comments")).to_contain_text(COMMENT)
    expect(page.locator(".survey-figures .figure").first).to_have_text("1")
    expect(page.locator("[data-survey-chart=trend] canvas")).to_have_count(1)
    staff.close()
