"""Issue 3, item 11: a customer files a complaint on the public form in Chinese, a complaints
officer answers it on the case page, and the customer reads the answer with the tracking code
and accepts it — real pages in Chromium."""

import pytest
from playwright.sync_api import expect

from servicecharter.accounts.choices import Role
from servicecharter.cases.choices import CaseState
from servicecharter.cases.models import Case
from tests.browser.test_foundation_flows import sign_in
from tests.conftest import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ANSWER = "我们已退还重复收取的年费 300 元，并致歉。"


def file_complaint(page) -> tuple[str, str]:
    page.goto("/feedback/?lang=zh-hans")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    page.check("input[name=kind][value=complaint]")
    page.fill("input[name=contact_name]", "张伟")
    page.fill("input[name=contact_email]", "zhang.wei@example.cn")
    page.fill("input[name=subject]", "信用卡年费重复收取")
    page.fill("textarea[name=description]", "本月信用卡年费被扣了两次，请退还。")
    page.click("form.card button[type=submit]")
    receipts = page.locator("dd.receipt")
    expect(receipts).to_have_count(2)
    return receipts.nth(0).inner_text().strip(), receipts.nth(1).inner_text().strip()


def answer_case(page, reference: str) -> None:
    case = Case.objects.get(reference=reference)
    sign_in(page, "complaints")
    page.goto(f"/cases/{case.pk}/")
    page.locator("#action-start summary").click()
    page.locator("#action-start button[type=submit]").click()
    expect(page.locator("#action-respond")).to_be_visible()
    page.locator("#action-respond summary").click()
    page.select_option("#action-respond select[name=respond-outcome]", "upheld")
    page.fill("#action-respond textarea[name=respond-response_text]", ANSWER)
    page.locator("#action-respond form > button[type=submit]").click()
    expect(page.locator("#case-panel")).to_contain_text(ANSWER)


def test_a_customer_files_in_chinese_gets_an_answer_and_accepts_it(browser, live_server, tree):
    make_user("complaints", Role.COMPLAINTS_OFFICER, tree["head"])
    customer = browser.new_context(base_url=live_server.url, locale="zh-CN")
    handler = browser.new_context(base_url=live_server.url, locale="en-GB")
    try:
        customer_page, handler_page = customer.new_page(), handler.new_page()
        reference, code = file_complaint(customer_page)
        assert Case.objects.get(reference=reference).state == CaseState.RECEIVED

        answer_case(handler_page, reference)

        # A fresh visit: the customer comes back with the reference and the tracking code.
        customer.clear_cookies()
        customer_page.goto("/feedback/track/?lang=zh-hans")
        customer_page.fill("input[name=reference]", reference)
        customer_page.fill("input[name=code]", code)
        customer_page.locator("form.card button[type=submit]").click()
        expect(customer_page.locator("main")).to_contain_text(ANSWER)
        customer_page.check("input[name=accepted][value=yes]")
        customer_page.locator("form[action$='/answer/'] button[type=submit]").click()
        expect(customer_page.locator("input[name=accepted]")).to_have_count(0)
        case = Case.objects.get(reference=reference)
        assert case.state == CaseState.CLOSED and case.customer_accepted is True
    finally:
        customer.close()
        handler.close()
