"""Deadlines at the case level: cases recorded, extended, paused, resumed and swept through the
services while time_machine moves the clock — across Spring Festival and National Day with
their make-up working days, across the UK and US clock changes, and after an administrator
enters a year's holiday schedule (the calendar.changed subscriber moves open deadlines).

The arithmetic itself is tested without a database in test_deadlines.py; this file checks that
the cases' stored due_at, the sweep and the services agree with it."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from servicecharter.cases import rules_services, services
from servicecharter.cases.choices import Jurisdiction
from servicecharter.cases.deadlines import ClockState, DeadlineRuleError
from servicecharter.cases.models import Case
from servicecharter.core.models import AuditEntry
from servicecharter.core.services.calendars import calendar_schedule_import
from servicecharter.core.services.events import deliver_due
from servicecharter.org.choices import Channel

SHANGHAI = ZoneInfo("Asia/Shanghai")
LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")


def at(zone, *args):
    return datetime(*args, tzinfo=zone)


def close_of(zone, year, month, day):
    return datetime(year, month, day, 23, 59, 59, 999999, tzinfo=zone)


@pytest.fixture
def received(new_case):
    """A case recorded at ``moment`` (time stands still there until the test moves it)."""

    def make(moment, **fields):
        with time_machine.travel(moment, tick=False):
            return new_case(**fields)

    return make


def swept(moment) -> dict:
    with time_machine.travel(moment, tick=False):
        return services.sweep_deadlines()


def fresh(case) -> Case:
    return Case.objects.get(pk=case.pk)


# --- China: Spring Festival, National Day, make-up working days ----------------------------------


def test_a_complaint_received_before_spring_festival_falls_due_after_it(received):
    # 20 Jan + 15 days = 4 Feb, still the holiday: due at the close of Wednesday 5 Feb.
    case = received(at(SHANGHAI, 2025, 1, 20, 10))
    assert case.due_at == close_of(SHANGHAI, 2025, 2, 5)
    assert swept(at(SHANGHAI, 2025, 2, 4, 12))["breached"] == 0
    assert swept(at(SHANGHAI, 2025, 2, 5, 23, 59))["breached"] == 0
    assert swept(at(SHANGHAI, 2025, 2, 6, 0, 0, 1))["breached"] == 1
    assert fresh(case).breached_at == at(SHANGHAI, 2025, 2, 6, 0, 0, 1)


def test_a_make_up_working_saturday_is_a_working_day(received):
    # 24 Jan + 15 = Saturday 8 Feb 2025, a make-up working day (调休): the deadline stays there.
    case = received(at(SHANGHAI, 2025, 1, 24, 10))
    assert case.due_at == close_of(SHANGHAI, 2025, 2, 8)


@pytest.mark.parametrize(
    ("moment", "due"),
    [
        # 20 Sep + 15 = 5 Oct, inside the National Day holiday: Thursday 9 Oct.
        (at(SHANGHAI, 2025, 9, 20, 16), close_of(SHANGHAI, 2025, 10, 9)),
        # 26 Sep + 15 = Saturday 11 Oct, a make-up working day.
        (at(SHANGHAI, 2025, 9, 26, 9), close_of(SHANGHAI, 2025, 10, 11)),
    ],
)
def test_national_day_moves_the_deadline_to_the_next_working_day(received, moment, due):
    assert received(moment).due_at == due


def test_extensions_across_spring_festival(received, bj_agent, executive):
    case = received(at(SHANGHAI, 2025, 1, 10, 10))
    # 10 Jan + 15 = Saturday 25 Jan, a rest day; Sunday 26 Jan is a make-up working day.
    assert case.due_at == close_of(SHANGHAI, 2025, 1, 26)
    with time_machine.travel(at(SHANGHAI, 2025, 1, 20, 9), tick=False):
        case = services.case_extend(
            actor=bj_agent, case=case, level="complex", note="Several cards"
        )
    # 10 Jan + 30 = Sunday 9 Feb, a rest day after the holiday: Monday 10 Feb.
    assert case.due_at == close_of(SHANGHAI, 2025, 2, 10)
    with time_machine.travel(at(SHANGHAI, 2025, 2, 7, 9), tick=False):
        with pytest.raises(DeadlineRuleError):
            services.case_extend(
                actor=bj_agent, case=case, level="especially_complex", note="Forensic audit"
            )
        case = services.case_extend(
            actor=executive, case=case, level="especially_complex", note="Forensic audit"
        )
    assert case.due_at == close_of(SHANGHAI, 2025, 3, 11)  # 60 days
    assert case.extension_level == "especially_complex"


def test_external_appraisal_time_over_national_day_is_not_counted(received, bj_agent):
    case = received(at(SHANGHAI, 2025, 9, 15, 10))
    assert case.due_at == close_of(SHANGHAI, 2025, 9, 30)
    with time_machine.travel(at(SHANGHAI, 2025, 9, 25, 10), tick=False):
        case = services.case_pause_clock(
            actor=bj_agent, case=case, reason="external_appraisal", note="Signature sent to a lab"
        )
    assert case.due_at is None and case.warn_at is None  # nothing to sweep while paused
    assert swept(at(SHANGHAI, 2025, 10, 2, 12)) == {"warned": 0, "breached": 0}
    with time_machine.travel(at(SHANGHAI, 2025, 10, 10, 10), tick=False):
        case = services.case_resume_clock(actor=bj_agent, case=case, note="Lab report in")
        (status,) = services.case_clocks(case)
    # Paused 25 Sep – 9 Oct: 15 days more, 30 in all: Wednesday 15 Oct.
    assert status.paused_days == 15 and status.state == ClockState.RUNNING
    assert case.due_at == close_of(SHANGHAI, 2025, 10, 15)


def test_new_facts_restart_an_extended_clock_even_if_earlier(received, bj_agent):
    case = received(at(SHANGHAI, 2025, 3, 3, 9))
    with time_machine.travel(at(SHANGHAI, 2025, 3, 4, 9), tick=False):
        case = services.case_extend(actor=bj_agent, case=case, level="complex", note="Two banks")
    assert case.due_at == close_of(SHANGHAI, 2025, 4, 2)
    with time_machine.travel(at(SHANGHAI, 2025, 3, 10, 9), tick=False):
        case = services.case_new_facts(actor=bj_agent, case=case, note="A second statement")
    assert case.due_at == close_of(SHANGHAI, 2025, 3, 25)  # the rule: 15 days from the facts


# --- the clock changes ------------------------------------------------------------------------------


def test_uk_eight_weeks_keep_the_wall_clock_time_across_the_october_change(received):
    case = received(at(LONDON, 2025, 10, 24, 16), jurisdiction=Jurisdiction.UK, currency="GBP")
    assert case.profile_key == "uk_fca_disp"
    # 16:00 BST on receipt, 16:00 GMT eight weeks later: an hour later in UTC.
    assert case.due_at == at(LONDON, 2025, 12, 19, 16)
    assert case.due_at.astimezone(UTC).hour == 16
    summary = next(s for s in services.case_clocks(case) if s.clock.key == "summary_resolution")
    assert summary.due.at == close_of(LONDON, 2025, 10, 29)  # 3rd business day; no due_at
    assert swept(at(UTC, 2025, 12, 19, 15, 59, 59))["breached"] == 0
    assert swept(at(UTC, 2025, 12, 19, 16, 0, 1))["breached"] == 1


def test_uk_payment_services_over_easter_and_the_march_change(received, bj_agent):
    rules_services.profile_rule_create(jurisdiction="UK", profile_key="uk_fca_payment_services")
    case = received(at(LONDON, 2025, 3, 24, 10), jurisdiction=Jurisdiction.UK, currency="GBP")
    # 15 business days from Monday 24 March (GMT), ending in BST: the close of 14 April.
    assert case.due_at == close_of(LONDON, 2025, 4, 14)
    with time_machine.travel(at(LONDON, 2025, 4, 10, 12), tick=False):
        case = services.case_extend(
            actor=bj_agent, case=case, level="exceptional", note="The payee's bank is closed"
        )
    # 35 business days: past Good Friday, Easter Monday and the early May bank holiday.
    assert case.due_at == close_of(LONDON, 2025, 5, 15)


@pytest.mark.parametrize(
    ("moment", "due", "utc_hour"),
    [
        (at(NEW_YORK, 2025, 3, 1, 9), at(NEW_YORK, 2025, 3, 16, 9), 13),  # EST → EDT
        (at(NEW_YORK, 2025, 10, 20, 10), at(NEW_YORK, 2025, 11, 4, 10), 15),  # EDT → EST
    ],
)
def test_us_fifteen_calendar_days_keep_the_wall_clock_time_across_dst(
    received, moment, due, utc_hour
):
    case = received(moment, jurisdiction=Jurisdiction.US, currency="USD")
    assert case.due_at == due and case.due_at.astimezone(UTC).hour == utc_hour


# --- a pause the profile allows: waiting for the customer ----------------------------------------


def test_waiting_for_the_customer_pauses_a_clock_that_allows_it(received, bj_agent):
    rules_services.custom_profile_save(
        key="patient",
        definition={
            "label_en": "Pauses while the customer is asked",
            "clocks": [
                {
                    "key": "reply",
                    "label_en": "Reply",
                    "length": 20,
                    "calendar": "CN",
                    "pause_reasons": ["awaiting_customer"],
                }
            ],
        },
    )
    rules_services.profile_rule_create(channel=Channel.EMAIL, profile_key="patient")
    case = received(at(SHANGHAI, 2025, 6, 2, 10), channel=Channel.EMAIL)
    assert case.due_at == at(SHANGHAI, 2025, 6, 22, 10)
    with time_machine.travel(at(SHANGHAI, 2025, 6, 5, 10), tick=False):
        case = services.case_start(actor=bj_agent, case=case)
        case = services.case_await_customer(actor=bj_agent, case=case, note="Send the statement")
    assert case.due_at is None
    with time_machine.travel(at(SHANGHAI, 2025, 6, 12, 15), tick=False):
        case = services.case_customer_replied(actor=bj_agent, case=case)
    assert case.due_at == at(SHANGHAI, 2025, 6, 29, 10)  # 7 days later


# --- a year no shipped data covers, then entered by an administrator -------------------------------

SCHEDULE_2027 = """
# Spring Festival 2027 (an example schedule)
2027-02-06 holiday 春节
2027-02-07 holiday 春节
2027-02-08 holiday 春节
2027-02-09 holiday 春节
2027-02-10 holiday 春节
2027-02-11 holiday 春节
2027-02-12 holiday 春节
2027-02-13 workday 春节调休
"""


def test_entering_next_years_schedule_moves_open_deadlines(received, tree):
    case = received(at(SHANGHAI, 2027, 1, 25, 10))
    uk_case = received(at(LONDON, 2027, 1, 25, 10), jurisdiction=Jurisdiction.UK, currency="GBP")
    # Without 2027's schedule: weekends and fixed-date holidays only, and a visible warning.
    assert case.due_at == close_of(SHANGHAI, 2027, 2, 9)
    (status,) = services.case_clocks(case)
    assert [warning.year for warning in status.due.warnings] == [2027]
    uk_due = uk_case.due_at
    with time_machine.travel(at(SHANGHAI, 2027, 1, 26, 9), tick=False):
        calendar_schedule_import(calendar_code="CN", text=SCHEDULE_2027)
        deliver_due(worker_id="test")
        # 9 Feb is now a holiday: the next working day is the make-up Saturday, 13 Feb.
        assert fresh(case).due_at == close_of(SHANGHAI, 2027, 2, 13)
        (status,) = services.case_clocks(fresh(case))
        assert status.due.warnings == ()
        assert fresh(uk_case).due_at == uk_due  # another calendar: untouched
        recomputed = AuditEntry.objects.filter(action="case.deadline_recomputed")
        assert list(recomputed.values_list("object_id", flat=True)) == [str(case.pk)]
        # Delivered again (at least once), it finds nothing left to move.
        assert services.case_deadlines_recompute(calendar_codes={"CN"}) == 0
