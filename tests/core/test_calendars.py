"""Business-day arithmetic: China's make-up working days, DST in the UK and US, year ends,
years without data, and administrator-entered schedules."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from servicecharter.core.calendars import (
    CN_DATA_YEARS,
    BusinessCalendar,
    CalendarError,
    UnknownCalendar,
    get_calendar,
    holiday_name,
    parse_schedule,
)
from servicecharter.core.models import AuditEntry, Calendar, CalendarDay, Event
from servicecharter.core.services.calendars import (
    calendar_create,
    calendar_day_remove,
    calendar_day_set,
    calendar_schedule_import,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")

CN = BusinessCalendar(code="CN", base="CN", time_zone="Asia/Shanghai")
UK = BusinessCalendar(code="UK", base="UK", time_zone="Europe/London")
US = BusinessCalendar(code="US", base="US", time_zone="America/New_York")


def sh(*args):
    return datetime(*args, tzinfo=SHANGHAI)


# --- China: holidays and make-up working days (调休) ------------------------------------------


def test_the_package_covers_2004_to_2026():
    assert min(CN_DATA_YEARS) == 2004
    assert max(CN_DATA_YEARS) >= 2026


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2025, 1, 26), True),  # Sunday, make-up day before Spring Festival
        (date(2025, 1, 28), False),  # New Year's Eve, holiday
        (date(2025, 2, 4), False),  # last day of the Spring Festival holiday
        (date(2025, 2, 8), True),  # Saturday, make-up day after Spring Festival
        (date(2025, 2, 9), False),  # an ordinary Sunday
        (date(2025, 9, 28), True),  # Sunday, make-up day before National Day
        (date(2025, 10, 1), False),
        (date(2025, 10, 8), False),  # National Day and Mid-Autumn joined this year
        (date(2025, 10, 11), True),  # Saturday, make-up day after National Day
        (date(2025, 10, 12), False),
    ],
)
def test_china_knows_holidays_and_make_up_days(day, working):
    assert CN.is_working_day(day) is working


def test_a_make_up_sunday_counts_as_a_business_day_before_spring_festival():
    # Friday 24 Jan 2025, 15:00: Sunday 26 and Monday 27 are working days, then 28 Jan–4 Feb off.
    start = sh(2025, 1, 24, 15, 0)
    assert CN.add_business_days(start, 1).at == sh(2025, 1, 26, 15, 0)
    assert CN.add_business_days(start, 2).at == sh(2025, 1, 27, 15, 0)
    assert CN.add_business_days(start, 3).at == sh(2025, 2, 5, 15, 0)
    assert CN.add_business_days(start, 5).at == sh(2025, 2, 7, 15, 0)
    assert CN.add_business_days(start, 6).at == sh(2025, 2, 8, 15, 0)  # make-up Saturday


def test_national_day_2025_with_its_make_up_weekend_days():
    start = sh(2025, 9, 26, 10, 30)  # Friday
    assert CN.add_business_days(start, 1).at == sh(2025, 9, 28, 10, 30)  # make-up Sunday
    assert CN.add_business_days(start, 3).at == sh(2025, 9, 30, 10, 30)
    assert CN.add_business_days(start, 4).at == sh(2025, 10, 9, 10, 30)
    assert CN.add_business_days(start, 6).at == sh(2025, 10, 11, 10, 30)  # make-up Saturday
    assert CN.business_days_between(start, sh(2025, 10, 11, 10, 30)) == 6


def test_a_start_on_a_holiday_counts_from_the_next_working_day_at_midnight():
    received = sh(2025, 10, 3, 16, 0)  # a holiday
    assert CN.add_business_days(received, 0).at == sh(2025, 10, 9, 0, 0)
    assert CN.add_business_days(received, 1).at == sh(2025, 10, 10, 0, 0)
    assert CN.business_days_between(received, sh(2025, 10, 9, 23, 59)) == 0
    assert CN.business_days_between(received, sh(2025, 10, 10, 0, 0)) == 1


def test_business_days_between_counts_only_whole_days():
    start = sh(2025, 3, 3, 15, 0)  # Monday
    assert CN.business_days_between(start, sh(2025, 3, 4, 14, 59)) == 0
    assert CN.business_days_between(start, sh(2025, 3, 4, 15, 0)) == 1
    assert CN.business_days_between(sh(2025, 3, 4, 15, 0), start) == -1


def test_holiday_names_follow_the_language():
    info = CN.day_info(date(2025, 10, 1))
    assert holiday_name(info, "en") == "National Day"
    assert holiday_name(info, "zh-hans") == "国庆节"


def test_next_working_day_skips_the_whole_holiday():
    assert CN.next_working_day(date(2025, 1, 27)) == date(2025, 2, 5)
    assert CN.next_working_day(sh(2025, 2, 7, 23, 0)) == date(2025, 2, 8)


def test_instants_are_read_in_the_calendars_time_zone():
    # 17:00 UTC on Friday 24 Jan is already Saturday 01:00 in Shanghai: a non-working day.
    friday_evening_utc = datetime(2025, 1, 24, 17, 0, tzinfo=UTC)
    assert not CN.is_working_day(friday_evening_utc)
    assert CN.add_business_days(friday_evening_utc, 1).at == sh(2025, 1, 27, 0, 0)


def test_naive_datetimes_and_negative_counts_are_refused():
    with pytest.raises(CalendarError):
        CN.add_business_days(datetime(2025, 1, 1, 9, 0), 1)
    with pytest.raises(CalendarError):
        CN.add_business_days(sh(2025, 1, 2, 9, 0), -1)


def test_year_end_crosses_new_years_day():
    start = sh(2025, 12, 31, 9, 0)  # Wednesday; 1–3 Jan 2026 off, Sunday 4 Jan a make-up day
    assert CN.add_business_days(start, 1).at == sh(2026, 1, 4, 9, 0)
    assert CN.add_business_days(start, 2).at == sh(2026, 1, 5, 9, 0)


def test_calendar_days_may_roll_forward_off_a_holiday():
    start = sh(2025, 9, 16, 9, 0)
    plain = CN.add_calendar_days(start, 15)
    assert plain.at == sh(2025, 10, 1, 9, 0)
    assert CN.add_calendar_days(start, 15, roll_forward=True).at == sh(2025, 10, 9, 9, 0)


# --- UK and US: bank holidays and daylight saving time ---------------------------------------


def test_uk_spring_forward_keeps_the_wall_clock_time():
    # Friday 28 Mar 2025 09:00 GMT; clocks go forward on Sunday 30 Mar.
    start = datetime(2025, 3, 28, 9, 0, tzinfo=LONDON)
    due = UK.add_business_days(start, 1).at
    assert due.astimezone(LONDON).replace(tzinfo=None) == datetime(2025, 3, 31, 9, 0)
    assert due.astimezone(UTC) == datetime(2025, 3, 31, 8, 0, tzinfo=UTC)
    assert due.astimezone(UTC) - start.astimezone(UTC) == timedelta(days=3, hours=-1)


def test_uk_fall_back_keeps_the_wall_clock_time():
    # Clocks go back on Sunday 26 Oct 2025.
    start = datetime(2025, 10, 24, 17, 30, tzinfo=LONDON)
    due = UK.add_business_days(start, 1).at
    assert due.astimezone(UTC) == datetime(2025, 10, 27, 17, 30, tzinfo=UTC)
    assert UK.business_days_between(start, due) == 1


def test_uk_bank_holidays_of_england_and_wales():
    assert not UK.is_working_day(date(2025, 4, 18))  # Good Friday
    assert not UK.is_working_day(date(2025, 8, 25))  # Summer bank holiday (England)
    christmas_eve = datetime(2025, 12, 24, 12, 0, tzinfo=LONDON)
    assert UK.add_business_days(christmas_eve, 1).at == datetime(2025, 12, 29, 12, 0, tzinfo=LONDON)


def test_us_dst_starts_on_the_second_sunday_of_march():
    start = datetime(2025, 3, 7, 16, 0, tzinfo=NEW_YORK)  # Friday, EST
    due = US.add_business_days(start, 1).at
    assert due.astimezone(UTC) == datetime(2025, 3, 10, 20, 0, tzinfo=UTC)  # Monday, EDT
    assert US.business_days_between(start, due) == 1


def test_us_dst_ends_on_the_first_sunday_of_november():
    start = datetime(2025, 10, 31, 16, 0, tzinfo=NEW_YORK)  # Friday, EDT
    due = US.add_business_days(start, 1).at
    assert due.astimezone(UTC) == datetime(2025, 11, 3, 21, 0, tzinfo=UTC)  # Monday, EST


def test_us_federal_holidays_and_year_end():
    assert not US.is_working_day(date(2025, 7, 4))
    assert not US.is_working_day(date(2025, 11, 27))  # Thanksgiving
    start = datetime(2025, 12, 31, 10, 0, tzinfo=NEW_YORK)
    assert US.add_business_days(start, 1).at == datetime(2026, 1, 2, 10, 0, tzinfo=NEW_YORK)


def test_a_wall_clock_time_inside_the_spring_gap_moves_past_it():
    # A custom calendar that works on Sundays meets the missing hour 01:00–02:00 on 30 Mar 2025.
    sunday_work = BusinessCalendar(
        code="X",
        base="UK",
        time_zone="Europe/London",
        entered={date(2025, 3, 30): ("workday", "")},
    )
    start = datetime(2025, 3, 28, 1, 30, tzinfo=LONDON)
    due = sunday_work.add_business_days(start, 1).at
    assert due.astimezone(UTC) == datetime(2025, 3, 30, 1, 30, tzinfo=UTC)
    assert sunday_work.is_working_day(due)


# --- Years no shipped data covers ------------------------------------------------------------


def test_a_2027_deadline_falls_back_and_says_so(db):
    cal = get_calendar("CN")
    due = cal.add_business_days(sh(2026, 12, 30, 9, 0), 3)
    # 31 Dec, then 1 Jan 2027 (fixed-date holiday) and the weekend are skipped.
    assert due.at == sh(2027, 1, 5, 9, 0)
    assert [w.year for w in due.warnings] == [2027]
    assert "2027" in due.warnings[0].message
    assert due.is_estimate


def test_the_fallback_knows_the_fixed_date_holidays_only(db):
    cal = get_calendar("CN")
    assert not cal.is_working_day(date(2027, 5, 1))
    assert not cal.is_working_day(date(2027, 10, 1))
    assert not cal.is_working_day(date(2027, 10, 3))
    assert cal.is_working_day(date(2027, 10, 4))  # a Monday; the real schedule may differ
    assert cal.coverage_warnings(date(2026, 1, 1), date(2026, 12, 31)) == ()


def test_a_deadline_inside_covered_years_has_no_warning(db):
    due = get_calendar("CN").add_business_days(sh(2026, 12, 1, 9, 0), 5)
    assert due.warnings == ()


def test_an_entered_2027_schedule_removes_the_warning_and_changes_the_result(db):
    start = sh(2026, 12, 30, 9, 0)
    before = get_calendar("CN").add_business_days(start, 3)
    calendar_schedule_import(
        calendar_code="CN",
        text="2027-01-01 holiday 元旦\n2027-01-04 holiday 元旦调休\n",
    )
    after = get_calendar("CN").add_business_days(start, 3)
    assert before.warnings and after.warnings == ()
    assert after.at == sh(2027, 1, 6, 9, 0)
    assert after.at != before.at


def test_an_entered_schedule_drops_the_fixed_date_guess_for_that_year(db):
    calendar_day_set(calendar_code="CN", day=date(2027, 2, 6), kind="holiday", name="春节")
    cal = get_calendar("CN")
    # The administrator's schedule is the truth for 2027: 1 Oct is not assumed.
    assert cal.covers(2027)
    assert cal.is_working_day(date(2027, 10, 1))


def test_years_before_the_data_are_also_flagged():
    assert CN.coverage_warnings(date(2003, 6, 1), date(2004, 1, 5))[0].year == 2003


# --- Custom calendars and administrator-entered days ------------------------------------------


def test_a_custom_calendar_adds_days_to_its_base_and_inherits_the_cn_schedule(db):
    calendar_create(
        code="CN-SZ", name_en="Shenzhen", name_zh="深圳", base="CN", time_zone="Asia/Shanghai"
    )
    calendar_day_set(calendar_code="CN-SZ", day=date(2025, 3, 3), kind="holiday", name="本地")
    calendar_day_set(calendar_code="CN", day=date(2027, 1, 4), kind="holiday", name="元旦")
    sz = get_calendar("CN-SZ")
    assert not sz.is_working_day(date(2025, 3, 3))
    assert get_calendar("CN").is_working_day(date(2025, 3, 3))
    assert not sz.is_working_day(date(2027, 1, 4))
    assert sz.covers(2027)
    assert sz.is_working_day(date(2025, 1, 26))  # the make-up Sunday is inherited


def test_a_weekend_only_calendar_in_another_zone(db):
    calendar_create(
        code="HK-OPS", name_en="Ops", name_zh="运营", base="", time_zone="Asia/Hong_Kong"
    )
    cal = get_calendar("HK-OPS")
    assert cal.is_working_day(date(2025, 1, 1))
    assert not cal.is_working_day(date(2025, 1, 4))
    assert cal.coverage_warnings(date(2030, 1, 1), date(2031, 1, 1)) == ()


def test_removing_an_entered_day_restores_the_base(db):
    calendar_day_set(calendar_code="UK", day=date(2025, 6, 2), kind="holiday", name="Extra")
    assert not get_calendar("UK").is_working_day(date(2025, 6, 2))
    calendar_day_remove(calendar_code="UK", day=date(2025, 6, 2))
    assert get_calendar("UK").is_working_day(date(2025, 6, 2))


def test_a_change_made_elsewhere_is_seen_through_the_updated_at_stamp(db):
    get_calendar("CN")
    calendar_day_set(calendar_code="CN", day=date(2025, 3, 3), kind="holiday")
    assert not get_calendar("CN").is_working_day(date(2025, 3, 3))
    # Another process changes the row directly; its updated_at moves, our cache notices.
    CalendarDay.objects.filter(date=date(2025, 3, 3)).update(kind="workday")
    Calendar.objects.filter(code="CN").update(updated_at=datetime(2030, 1, 1, tzinfo=UTC))
    assert get_calendar("CN").is_working_day(date(2025, 3, 3))


def test_an_unknown_calendar_is_an_error(db):
    with pytest.raises(UnknownCalendar):
        get_calendar("NOPE")


def test_every_change_is_audited_and_announced(db):
    calendar_create(code="CN-X", name_en="X", name_zh="X", base="CN", time_zone="Asia/Shanghai")
    calendar_day_set(calendar_code="CN", day=date(2027, 1, 1), kind="holiday", name="元旦")
    event = Event.objects.get(name="calendar.changed")
    assert event.payload["calendar"] == "CN"
    assert event.payload["affected_calendars"] == ["CN", "CN-X"]
    assert event.payload["dates"] == ["2027-01-01"]
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"calendar.create", "calendar_day.set"} <= actions


@pytest.mark.parametrize(
    ("fields", "bad_field"),
    [
        ({"code": "cn"}, "code"),  # upper-cased to CN, a built-in code
        ({"code": "bad code!"}, "code"),
        ({"base": "FR"}, "base"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
    ],
)
def test_a_bad_custom_calendar_is_refused_and_nothing_is_saved(db, fields, bad_field):
    values = {
        "code": "OK-1",
        "name_en": "n",
        "name_zh": "n",
        "base": "CN",
        "time_zone": "Asia/Shanghai",
    } | fields
    with pytest.raises(ValidationError) as caught:
        calendar_create(**values)
    assert bad_field in caught.value.message_dict
    assert not Calendar.objects.exists()
    assert not AuditEntry.objects.exists()


# --- Pasted schedules -------------------------------------------------------------------------


def test_a_pasted_schedule_reports_every_bad_line_by_number():
    text = "\n".join(
        [
            "# 2027 official schedule",
            "2027-01-01 holiday 元旦",
            "2027-02-30 holiday",
            "2027-02-07 weekday",
            "",
            "2027-01-01 workday",
            "tomorrow",
        ]
    )
    entries, errors = parse_schedule(text)
    assert [entry.line_no for entry in entries] == [2]
    assert [error.line_no for error in errors] == [3, 4, 6, 7]
    assert "Line 3" in str(errors[0])


def test_chinese_kind_words_and_commas_are_accepted():
    entries, errors = parse_schedule("2027-02-07，班，春节调休\n2027-02-10 休 春节")
    assert errors == []
    assert [(e.kind, e.name) for e in entries] == [("workday", "春节调休"), ("holiday", "春节")]


def test_a_bad_schedule_saves_nothing(db):
    with pytest.raises(ValidationError) as caught:
        calendar_schedule_import(
            calendar_code="CN", text="2027-01-01 holiday 元旦\n2027-13-01 holiday"
        )
    assert caught.value.messages[0].startswith("Line 2")
    assert not CalendarDay.objects.exists()
    assert not Event.objects.exists()


def test_replacing_a_years_schedule_removes_the_old_days_of_that_year(db):
    calendar_schedule_import(calendar_code="CN", text="2027-01-01 holiday\n2027-01-04 holiday")
    calendar_day_set(calendar_code="CN", day=date(2028, 1, 3), kind="holiday")
    result = calendar_schedule_import(
        calendar_code="CN", text="2027-01-01 holiday 元旦", replace_years=True
    )
    assert result.replaced == 2 and result.saved == 1
    days = set(CalendarDay.objects.values_list("date", flat=True))
    assert days == {date(2027, 1, 1), date(2028, 1, 3)}
