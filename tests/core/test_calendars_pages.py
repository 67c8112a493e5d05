"""Calendar administration pages: administrators only; every write through the services."""

from datetime import date

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from servicecharter.core.models import Calendar, CalendarDay, Event
from servicecharter.core.services.calendars import calendar_create, calendar_day_set

pytestmark = pytest.mark.django_db

LIST = reverse("core:calendar_list")
NEW = reverse("core:calendar_new")


def detail(code, year=None):
    url = reverse("core:calendar_detail", kwargs={"code": code})
    return f"{url}?year={year}" if year else url


def schedule(code):
    return reverse("core:calendar_schedule", kwargs={"code": code})


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@time_machine.travel("2026-11-28 10:00Z", tick=False)
def test_the_list_shows_every_calendar_with_the_next_year_warning(admin_client):
    page = admin_client.get(LIST)
    assert page.status_code == 200
    body = page.content.decode()
    for code in ("CN", "UK", "US"):
        assert f">{code}</a>" in body
    assert "No official holiday schedule for 2027" in body
    assert "Official data 2004–2026" in body


def test_the_list_runs_the_same_queries_for_three_or_thirteen_calendars(admin_client):
    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(LIST).status_code == 200
        return len(captured)

    admin_client.get(LIST)  # warm the session
    few = queries()
    for i in range(10):
        calendar_create(
            code=f"C{i}", name_en="c", name_zh="c", base="CN", time_zone="Asia/Shanghai"
        )
        calendar_day_set(calendar_code=f"C{i}", day=date(2025, 3, i + 1), kind="holiday")
    body_codes = admin_client.get(LIST).content.decode()
    assert ">C9</a>" in body_codes
    assert queries() == few


@pytest.mark.parametrize("persona", ["bj_supervisor", "compliance_officer", "stranger"])
def test_people_without_the_capability_are_refused(client, request, persona):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(LIST).status_code == 403
    assert client.get(detail("CN")).status_code == 403
    refused = client.post(schedule("CN"), {"text": "2027-01-01 holiday"})
    assert refused.status_code == 403
    add = reverse("core:calendar_day_add", kwargs={"code": "CN"})
    assert client.post(add, {"date": "2027-01-01", "kind": "holiday"}).status_code == 403
    assert not CalendarDay.objects.exists()


def test_anonymous_visitors_are_sent_to_sign_in(client):
    page = client.get(LIST)
    assert page.status_code == 302
    assert reverse("accounts:login") in page["Location"]


def test_the_menu_shows_calendars_to_administrators_only(client, admin_user, bj_supervisor):
    client.force_login(admin_user)
    assert f'href="{LIST}"' in client.get(reverse("home")).content.decode()
    client.force_login(bj_supervisor)
    assert f'href="{LIST}"' not in client.get(reverse("home")).content.decode()


def test_an_administrator_creates_a_custom_calendar(admin_client):
    page = admin_client.post(
        NEW,
        {
            "code": "cn-sz",
            "name_en": "Shenzhen",
            "name_zh": "深圳",
            "base": "CN",
            "time_zone": "Asia/Shanghai",
        },
    )
    assert page.status_code == 302
    assert Calendar.objects.get(code="CN-SZ").base == "CN"
    assert admin_client.get(detail("CN-SZ", 2025)).status_code == 200


def test_a_bad_time_zone_is_reported_beside_the_field(admin_client):
    page = admin_client.post(
        NEW,
        {"code": "X1", "name_en": "x", "name_zh": "x", "base": "", "time_zone": "Nowhere/City"},
    )
    assert page.status_code == 200
    assert "is not a known time zone" in page.content.decode()
    assert not Calendar.objects.exists()


def test_the_year_grid_colours_holidays_and_make_up_days(admin_client):
    body = admin_client.get(detail("CN", 2025)).content.decode()
    assert 'class="day off holiday" title="Spring Festival" data-date="2025-01-28"' in body
    assert 'class="day makeup" title="Spring Festival" data-date="2025-01-26"' in body
    assert 'class="day makeup" title="National Day" data-date="2025-10-11"' in body
    assert "No official holiday schedule" not in body


def test_a_year_without_data_shows_its_warning_on_the_grid(admin_client):
    body = admin_client.get(detail("CN", 2027)).content.decode()
    assert "No official holiday schedule for 2027" in body


def test_an_unknown_calendar_is_not_found(admin_client):
    assert admin_client.get(detail("NOPE")).status_code == 404


def test_an_administrator_adds_and_removes_a_day(admin_client):
    add = reverse("core:calendar_day_add", kwargs={"code": "UK"})
    page = admin_client.post(add, {"date": "2026-06-01", "kind": "holiday", "name": "Extra"})
    assert page.status_code == 302
    assert CalendarDay.objects.get(date=date(2026, 6, 1)).name == "Extra"
    remove = reverse("core:calendar_day_delete", kwargs={"code": "UK", "day": "2026-06-01"})
    assert admin_client.post(remove).status_code == 302
    assert not CalendarDay.objects.exists()
    assert Event.objects.filter(name="calendar.changed").count() == 2


def test_a_bad_day_is_reported_and_not_saved(admin_client):
    add = reverse("core:calendar_day_add", kwargs={"code": "CN"})
    page = admin_client.post(add, {"date": "2026-02-30", "kind": "holiday"})
    assert page.status_code == 400
    assert "errorlist" in page.content.decode()
    assert not CalendarDay.objects.exists()


def test_a_pasted_schedule_with_bad_lines_reports_each_by_number(admin_client):
    text = "2027-01-01 holiday 元旦\n2027-02-30 holiday 春节\n2027-02-07 wrkday 春节调休\n"
    page = admin_client.post(schedule("CN"), {"text": text})
    assert page.status_code == 400
    body = page.content.decode()
    assert "Line 2:" in body and "Line 3:" in body
    assert "Line 1:" not in body
    assert not CalendarDay.objects.exists()


def test_a_good_pasted_schedule_is_saved_and_covers_the_year(admin_client):
    text = "2027-01-01 holiday 元旦\n2027-02-07 workday 春节调休\n"
    page = admin_client.post(schedule("CN"), {"text": text})
    assert page.status_code == 302
    assert CalendarDay.objects.count() == 2
    body = admin_client.get(detail("CN", 2027)).content.decode()
    assert "No official holiday schedule for 2027" not in body
    assert 'class="day makeup entered" title="春节调休" data-date="2027-02-07"' in body
