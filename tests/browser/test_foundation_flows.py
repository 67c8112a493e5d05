"""Issue 2, item 14: two people using the real pages in Chromium."""

from decimal import Decimal

import pyotp
import pytest
from playwright.sync_api import expect

from servicecharter.accounts.choices import Role
from servicecharter.org.models import Staff
from servicecharter.org.services import staff_create
from tests.conftest import TOTP_SECRET, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery"


def sign_in(page, username: str, *, totp: bool = False) -> None:
    page.goto("/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    if totp:
        page.wait_for_url("**/accounts/login/code/**")
        page.fill("input[name=code]", pyotp.TOTP(TOTP_SECRET).now())
        page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login" not in url)


@pytest.fixture
def staffed(tree):
    for number, name, department in (
        ("BJ0001", "王小明", tree["bj_team"]),
        ("SH0001", "李华", tree["sh_team"]),
    ):
        staff_create(
            employee_number=number,
            name=name,
            department=department,
            base_wage=Decimal("9000"),
            hire_date="2023-03-01",
        )
    return tree


def test_a_branch_supervisor_works_in_chinese_and_sees_only_their_branch(
    page, staffed, bj_supervisor
):
    sign_in(page, "bj.supervisor")

    page.select_option("#language-select", "zh-hans")
    page.wait_for_load_state("load")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")

    page.goto("/org/departments/tree/")
    tree_card = page.locator(".tree")
    expect(tree_card).to_contain_text("北京分行")
    expect(tree_card).to_contain_text("北京一组")
    expect(tree_card).not_to_contain_text("上海")

    page.goto("/org/staff/")
    expect(page.locator("main")).to_contain_text("王小明")
    expect(page.locator("main")).not_to_contain_text("李华")

    page.locator("form[action='/accounts/logout/'] button").click()
    page.wait_for_url("**/accounts/login/**")
    page.goto("/org/staff/")
    assert "/accounts/login" in page.url


def test_an_administrator_sees_every_bad_row_of_a_staff_import_and_nothing_is_imported(
    page, tree, tmp_path, settings
):
    settings.MEDIA_ROOT = tmp_path / "media"
    make_user("hq.admin", Role.ADMIN, tree["head"])
    csv_file = tmp_path / "staff.csv"
    csv_file.write_text(
        "employee_number,name,department,base_wage,hire_date,status\n"
        "E100,张伟,BJ-T1,8800,2022-05-01,active\n"
        "E101,刘洋,NOPE,8800,2022-05-01,active\n"
        "E102,陈静,SH-T1,not-a-number,2022-05-01,active\n"
        "E103,杨帆,SH-T1,9100,2021-09-15,active\n",
        encoding="utf-8",
    )

    sign_in(page, "hq.admin", totp=True)
    page.goto("/core/imports/")
    page.select_option("select[name=kind]", "staff")
    page.set_input_files("input[name=file]", str(csv_file))
    page.click("form[enctype] button[type=submit]")

    errors = page.locator("table.errors tbody tr")
    expect(errors).to_have_count(2)
    expect(errors.nth(0).locator("td").first).to_have_text("3")
    expect(errors.nth(1).locator("td").first).to_have_text("4")
    expect(page.locator("main")).to_contain_text("NOPE")
    assert not Staff.objects.filter(employee_number__in=["E100", "E101", "E102", "E103"]).exists()
