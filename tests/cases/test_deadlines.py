"""Complaint deadlines on the shipped profiles: China's holidays and make-up working days, UK bank
holidays and DST, US calendar days, extensions, pauses, restarts and refusals."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import translation

from servicecharter.cases.deadlines import (
    ClockEvent,
    ClockState,
    DeadlineRuleError,
    clock_statuses,
)
from servicecharter.cases.profiles import (
    PROFILES,
    Approver,
    DayUnit,
    PauseReason,
    ProfileError,
    get_profile,
    profile_from_dict,
)
from servicecharter.core.calendars import BusinessCalendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
CALENDARS = {
    "CN": BusinessCalendar(code="CN", base="CN", time_zone="Asia/Shanghai"),
    "UK": BusinessCalendar(code="UK", base="UK", time_zone="Europe/London"),
    "US": BusinessCalendar(code="US", base="US", time_zone="America/New_York"),
}
CN = PROFILES["cn_banking_insurance"]
PBOC = PROFILES["cn_pboc_referral"]
UK = PROFILES["uk_fca_disp"]
UK_PAYMENTS = PROFILES["uk_fca_payment_services"]
US = PROFILES["us_cfpb"]


def sh(*args):
    return datetime(*args, tzinfo=SHANGHAI)


def ldn(*args):
    return datetime(*args, tzinfo=LONDON)


def ny(*args):
    return datetime(*args, tzinfo=NEW_YORK)


def close_of(zone, year, month, day):
    return datetime(year, month, day, 23, 59, 59, 999999, tzinfo=zone)


def statuses(profile, received_at, events=(), as_of=None):
    found = clock_statuses(
        profile=profile,
        received_at=received_at,
        events=events,
        as_of=as_of or received_at + timedelta(hours=1),
        calendars=CALENDARS.__getitem__,
    )
    return {status.clock.key: status for status in found}


def final(profile, received_at, events=(), as_of=None):
    return statuses(profile, received_at, events, as_of)["final_response"]


# --- China: 15 calendar days, the last day moved off holidays, make-up days count ---------------


@pytest.mark.parametrize(
    ("received", "due"),
    [
        # 20 Jan + 15 = 4 Feb, still Spring Festival: the period ends on Wed 5 Feb.
        (sh(2025, 1, 20, 10), close_of(SHANGHAI, 2025, 2, 5)),
        # 24 Jan + 15 = Sat 8 Feb, a make-up working day (调休): it stays.
        (sh(2025, 1, 24, 10), close_of(SHANGHAI, 2025, 2, 8)),
        # 20 Sep + 15 = 5 Oct, inside National Day (1–8 Oct): moves to Thu 9 Oct.
        (sh(2025, 9, 20, 16), close_of(SHANGHAI, 2025, 10, 9)),
        # 26 Sep + 15 = Sat 11 Oct, a make-up working day: it stays.
        (sh(2025, 9, 26, 9), close_of(SHANGHAI, 2025, 10, 11)),
        # An ordinary fortnight: calendar days, weekends included.
        (sh(2025, 3, 3, 9), close_of(SHANGHAI, 2025, 3, 18)),
    ],
)
def test_cn_fifteen_days_are_calendar_days_ending_on_a_working_day(received, due):
    status = final(CN, received)
    assert CN.clocks[0].unit == DayUnit.CALENDAR
    assert status.due.at == due
    assert status.due.warnings == ()
    assert status.state == ClockState.RUNNING


def test_cn_clock_is_breached_after_the_close_of_the_last_day():
    received = sh(2025, 1, 20, 10)
    assert final(CN, received, as_of=sh(2025, 2, 5, 23, 59)).state == ClockState.RUNNING
    assert final(CN, received, as_of=sh(2025, 2, 6, 0, 0)).state == ClockState.BREACHED


def test_cn_reply_on_time_meets_the_clock_and_a_late_one_breaches_it():
    received = sh(2025, 3, 3, 9)
    on_time = [ClockEvent.done(sh(2025, 3, 18, 17))]
    late = [ClockEvent.done(sh(2025, 3, 19, 9))]
    assert final(CN, received, on_time, as_of=sh(2025, 4, 1)).state == ClockState.MET
    assert final(CN, received, late, as_of=sh(2025, 4, 1)).state == ClockState.BREACHED


COMPLEX = ClockEvent.extension(sh(2025, 3, 10), level="complex", note="Three products involved")
ESPECIALLY = ClockEvent.extension(
    sh(2025, 3, 28),
    level="especially_complex",
    approved_by=Approver.SENIOR_MANAGER,
    note="Awaiting the insurer's head office",
)


def test_cn_extensions_to_30_then_60_days():
    received = sh(2025, 3, 3, 9)
    complex_case = final(CN, received, [COMPLEX], as_of=sh(2025, 3, 10))
    assert complex_case.due.at == close_of(SHANGHAI, 2025, 4, 2)
    assert complex_case.length == 30
    # 60 days = 2 May, inside the Labour Day holiday (1–5 May): Tue 6 May.
    especially = final(CN, received, [COMPLEX, ESPECIALLY], as_of=sh(2025, 3, 28))
    assert especially.due.at == close_of(SHANGHAI, 2025, 5, 6)
    assert especially.levels == ("complex", "especially_complex")


def test_cn_refuses_a_61st_day():
    asked = ClockEvent.extension(
        sh(2025, 3, 28),
        level="especially_complex",
        length=61,
        approved_by=Approver.SENIOR_MANAGER,
        note="Still waiting",
    )
    with pytest.raises(DeadlineRuleError, match="at most 60 days"):
        final(CN, sh(2025, 3, 3, 9), [COMPLEX, asked], as_of=sh(2025, 3, 28))


def test_cn_a_shorter_especially_complex_extension_is_allowed():
    asked = ClockEvent.extension(
        sh(2025, 3, 28),
        level="especially_complex",
        length=45,
        approved_by=Approver.SENIOR_MANAGER,
        note="One more report",
    )
    status = final(CN, sh(2025, 3, 3, 9), [COMPLEX, asked], as_of=sh(2025, 3, 28))
    assert status.due.at == close_of(SHANGHAI, 2025, 4, 17)


@pytest.mark.parametrize(
    ("events", "message"),
    [
        # Especially complex needs a senior manager, not a supervisor or nobody.
        (
            [COMPLEX, ClockEvent.extension(sh(2025, 3, 28), level="especially_complex", note="x")],
            "senior manager",
        ),
        (
            [
                COMPLEX,
                ClockEvent.extension(
                    sh(2025, 3, 28),
                    level="especially_complex",
                    approved_by=Approver.SUPERVISOR,
                    note="x",
                ),
            ],
            "senior manager",
        ),
        # It can only follow "complex".
        (
            [
                ClockEvent.extension(
                    sh(2025, 3, 5),
                    level="especially_complex",
                    approved_by=Approver.SENIOR_MANAGER,
                    note="x",
                )
            ],
            "can only follow",
        ),
        ([ClockEvent.extension(sh(2025, 3, 5), level="complex")], "reason"),
        ([COMPLEX, COMPLEX], "already granted"),
        ([ClockEvent.extension(sh(2025, 3, 5), level="urgent", note="x")], "cannot be extended"),
        (
            [ClockEvent.extension(sh(2025, 3, 5), level="complex", length=10, note="x")],
            "longer than",
        ),
        # After the 15 days are over it is too late to extend.
        ([ClockEvent.extension(sh(2025, 3, 19), level="complex", note="x")], "has passed"),
        # Waiting for the customer does not stop this regulator's clock.
        ([ClockEvent.pause(sh(2025, 3, 5), reason=PauseReason.AWAITING_CUSTOMER)], "does not stop"),
        ([ClockEvent.resume(sh(2025, 3, 5))], "not paused"),
        ([ClockEvent.withdrawal(sh(2025, 3, 5)), COMPLEX], "withdrawn"),
        ([ClockEvent.done(sh(2025, 3, 5)), COMPLEX], "stopped"),
        ([ClockEvent.new_facts(sh(2025, 3, 1))], "between the receipt"),
    ],
)
def test_cn_refuses_what_the_rules_do_not_allow(events, message):
    with pytest.raises(DeadlineRuleError, match=message):
        final(CN, sh(2025, 3, 3, 9), events, as_of=sh(2025, 4, 1))


def test_cn_external_appraisal_time_is_not_counted():
    received = sh(2025, 3, 3, 9)
    pause = ClockEvent.pause(sh(2025, 3, 5, 14), reason=PauseReason.EXTERNAL_APPRAISAL)
    resume = ClockEvent.resume(sh(2025, 3, 12, 10))
    # Paused at the close of 5, 6, …, 11 March: seven days more than 18 March.
    paused = final(CN, received, [pause], as_of=sh(2025, 3, 8, 12))
    assert paused.state == ClockState.PAUSED
    assert paused.paused_days == 3  # 5, 6 and 7 March so far
    resumed = final(CN, received, [pause, resume], as_of=sh(2025, 3, 12, 10))
    assert resumed.state == ClockState.RUNNING
    assert resumed.paused_days == 7
    assert resumed.due.at == close_of(SHANGHAI, 2025, 3, 25)


def test_a_pause_within_one_day_adds_nothing():
    events = [
        ClockEvent.pause(sh(2025, 3, 5, 9), reason=PauseReason.EXTERNAL_APPRAISAL),
        ClockEvent.resume(sh(2025, 3, 5, 17)),
    ]
    status = final(CN, sh(2025, 3, 3, 9), events, as_of=sh(2025, 3, 6))
    assert status.due.at == close_of(SHANGHAI, 2025, 3, 18)


def test_new_facts_restart_the_clock_with_the_standard_length():
    received = sh(2025, 3, 3, 9)
    events = [COMPLEX, ClockEvent.new_facts(sh(2025, 3, 20, 11))]
    status = final(CN, received, events, as_of=sh(2025, 3, 20, 12))
    assert status.started_at == sh(2025, 3, 20, 11)
    assert status.length == 15
    assert status.levels == ()
    assert status.due.at == close_of(SHANGHAI, 2025, 4, 7)  # 4 Apr is Qingming; 5–6 weekend


def test_the_clocks_are_seen_as_of_now_by_default():
    received = sh(2025, 1, 20, 10)
    common = {"profile": CN, "received_at": received, "calendars": CALENDARS.__getitem__}
    with time_machine.travel(sh(2025, 2, 5, 18), tick=False):
        assert clock_statuses(**common)[0].state == ClockState.RUNNING
    with time_machine.travel(sh(2025, 2, 6, 9), tick=False):
        assert clock_statuses(**common)[0].state == ClockState.BREACHED


def test_naive_datetimes_are_refused():
    with pytest.raises(DeadlineRuleError, match="aware"):
        final(CN, datetime(2025, 3, 3, 9), as_of=sh(2025, 3, 4))


def test_withdrawal_stops_the_clock():
    status = final(CN, sh(2025, 3, 3, 9), [ClockEvent.withdrawal(sh(2025, 3, 6))], sh(2025, 5, 1))
    assert status.state == ClockState.WITHDRAWN
    assert status.stopped_at == sh(2025, 3, 6)


def test_pboc_referral_extends_up_to_60_days_with_the_complaints_heads_approval():
    received = sh(2025, 6, 3, 10)
    approved = ClockEvent.extension(
        sh(2025, 6, 10),
        level="complex",
        length=40,
        approved_by=Approver.COMPLAINTS_HEAD,
        note="Needs the card scheme's records",
    )
    assert final(PBOC, received).due.at == close_of(SHANGHAI, 2025, 6, 18)
    assert final(PBOC, received, [approved], sh(2025, 6, 10)).due.at == close_of(
        SHANGHAI, 2025, 7, 14
    )  # 40 days = Sun 13 July → Mon 14
    unapproved = ClockEvent.extension(sh(2025, 6, 10), level="complex", note="Needs records")
    with pytest.raises(DeadlineRuleError, match="head of complaints"):
        final(PBOC, received, [unapproved], sh(2025, 6, 10))
    too_long = ClockEvent.extension(
        sh(2025, 6, 10), level="complex", length=61, approved_by="complaints_head", note="x"
    )
    with pytest.raises(DeadlineRuleError, match="at most 60"):
        final(PBOC, received, [too_long], sh(2025, 6, 10))


# --- United Kingdom ---------------------------------------------------------------------------


def test_uk_summary_resolution_across_the_late_may_bank_holiday():
    # Fri 23 May 2025; Mon 26 May is a bank holiday: Tue 27, Wed 28, Thu 29.
    status = statuses(UK, ldn(2025, 5, 23, 15))["summary_resolution"]
    assert status.due.at == close_of(LONDON, 2025, 5, 29)


def test_uk_summary_resolution_across_the_october_clock_change():
    # Fri 24 Oct 2025 in BST; clocks go back on Sun 26 Oct: Mon 27, Tue 28, Wed 29 in GMT.
    received = ldn(2025, 10, 24, 10)
    status = statuses(UK, received)["summary_resolution"]
    assert received.utcoffset() == timedelta(hours=1)
    assert status.due.at == close_of(LONDON, 2025, 10, 29)
    assert status.due.at.astimezone(UTC) == datetime(2025, 10, 29, 23, 59, 59, 999999, tzinfo=UTC)


def test_uk_summary_resolution_counts_from_monday_when_received_at_the_weekend():
    status = statuses(UK, ldn(2025, 6, 7, 11))["summary_resolution"]  # Saturday
    assert status.due.at == close_of(LONDON, 2025, 6, 11)  # Mon, Tue, Wed


def test_uk_missing_the_summary_window_is_no_breach_but_the_final_response_is():
    received = ldn(2025, 6, 2, 9)
    found = statuses(UK, received, as_of=ldn(2025, 8, 1))
    assert found["summary_resolution"].state == ClockState.LAPSED
    assert found["final_response"].due.at == ldn(2025, 7, 28, 9)  # eight weeks
    assert found["final_response"].state == ClockState.BREACHED


def test_uk_payment_services_15_then_exceptionally_35_business_days():
    received = ldn(2025, 6, 2, 9)
    assert final(UK_PAYMENTS, received).due.at == close_of(LONDON, 2025, 6, 23)
    holding_reply = ClockEvent.extension(
        ldn(2025, 6, 20), level="exceptional", note="Waiting for the acquiring bank"
    )
    extended = final(UK_PAYMENTS, received, [holding_reply], as_of=ldn(2025, 6, 20))
    assert extended.due.at == close_of(LONDON, 2025, 7, 21)
    too_long = ClockEvent.extension(ldn(2025, 6, 20), level="exceptional", length=36, note="x")
    with pytest.raises(DeadlineRuleError, match="at most 35"):
        final(UK_PAYMENTS, received, [too_long], as_of=ldn(2025, 6, 20))


def test_uk_payment_services_skip_christmas_and_new_year():
    # Mon 15 Dec 2025: 25, 26 Dec and 1 Jan are bank holidays.
    status = final(UK_PAYMENTS, ldn(2025, 12, 15, 9))
    assert status.due.at == close_of(LONDON, 2026, 1, 8)


# --- United States ----------------------------------------------------------------------------


def test_us_15_and_60_calendar_days_across_the_march_clock_change():
    received = ny(2025, 3, 1, 12)  # EST; DST starts Sun 9 March
    found = statuses(US, received)
    assert found["response"].due.at == ny(2025, 3, 16, 12)
    assert found["response"].due.at.astimezone(UTC).hour == 16  # EDT
    assert found["final_response"].due.at == ny(2025, 4, 30, 12)
    assert found["response"].clock.unit == DayUnit.CALENDAR


def test_us_clocks_do_not_move_for_a_weekend_or_holiday():
    # 15 days after 20 Dec 2025 is Sun 4 Jan 2026: CFPB counts calendar days.
    assert statuses(US, ny(2025, 12, 20, 9))["response"].due.at == ny(2026, 1, 4, 9)


def test_us_has_no_extensions():
    event = ClockEvent.extension(ny(2025, 3, 2), clock="response", level="complex", note="x")
    with pytest.raises(DeadlineRuleError, match="cannot be extended"):
        statuses(US, ny(2025, 3, 1, 12), [event], as_of=ny(2025, 3, 3))


# --- years without official data --------------------------------------------------------------


def test_a_december_deadline_landing_in_2027_carries_the_coverage_warning():
    status = final(CN, sh(2026, 12, 20, 10))
    assert status.due.at == close_of(SHANGHAI, 2027, 1, 4)
    assert [warning.year for warning in status.due.warnings] == [2027]
    assert "2027" in status.due.warnings[0].message


def test_a_deadline_inside_covered_years_has_no_warning():
    assert final(CN, sh(2026, 11, 2, 10)).due.warnings == ()


@pytest.mark.django_db
def test_the_database_calendars_are_used_by_default():
    found = clock_statuses(profile=CN, received_at=sh(2025, 1, 20, 10), as_of=sh(2025, 1, 21))
    assert found[0].due.at == close_of(SHANGHAI, 2025, 2, 5)


# --- profiles as data ---------------------------------------------------------------------------


def test_shipped_profiles_have_labels_in_both_languages():
    assert set(PROFILES) == {
        "cn_banking_insurance",
        "cn_pboc_referral",
        "uk_fca_disp",
        "uk_fca_payment_services",
        "us_cfpb",
    }
    for profile in PROFILES.values():
        assert str(profile.label)
        assert all(str(clock.label) for clock in profile.clocks)


def test_unknown_profile_is_refused():
    with pytest.raises(ProfileError, match="no regulatory profile"):
        get_profile("mars")


WHISTLEBLOWING = {
    "key": "eu_whistleblowing",
    "label_en": "Whistleblowing",
    "label_zh": "举报",
    "clocks": [
        {
            "key": "acknowledge",
            "label_en": "Acknowledge",
            "length": 7,
            "calendar": "UK",
            "ends_at_close_of_day": True,
        },
        {
            "key": "feedback",
            "label_en": "Feedback",
            "label_zh": "反馈",
            "length": 10,
            "unit": "business_days",
            "calendar": "UK",
            "pause_reasons": ["awaiting_customer"],
            "extensions": [
                {"level": "complex", "length": 20, "approver": "complaints_head"},
            ],
        },
    ],
}


def test_a_custom_profile_from_a_dict():
    profile = profile_from_dict(WHISTLEBLOWING)
    with translation.override("zh-hans"):
        assert str(profile.label) == "举报"
        assert str(profile.clock("acknowledge").label) == "Acknowledge"
    assert str(profile.label) == "Whistleblowing"
    received = ldn(2025, 6, 2, 9)
    events = [
        ClockEvent.pause(ldn(2025, 6, 3, 10), reason=PauseReason.AWAITING_CUSTOMER),
        ClockEvent.resume(ldn(2025, 6, 10, 10)),  # Tue–Mon: 5 working days paused
        ClockEvent.extension(
            ldn(2025, 6, 11),
            level="complex",
            approved_by=Approver.SENIOR_MANAGER,
            note="Several witnesses",
        ),
    ]
    found = statuses(profile, received, events, as_of=ldn(2025, 6, 11))
    assert found["acknowledge"].due.at == close_of(LONDON, 2025, 6, 9)
    assert found["acknowledge"].state == ClockState.BREACHED  # nothing stops it
    assert found["feedback"].paused_days == 5
    assert found["feedback"].due.at == ldn(2025, 7, 7, 9)  # 20 + 5 business days


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"key": "Bad Key"}, "key must start"),
        ({"label_en": "", "label_zh": ""}, "label"),
        ({"clocks": []}, "at least one clock"),
        ({"clocks": ["x"]}, "mapping"),
        ({"clocks": [{**WHISTLEBLOWING["clocks"][0], "length": 0}]}, "from 1 to 366"),
        ({"clocks": [{**WHISTLEBLOWING["clocks"][0], "length": "7"}]}, "whole number"),
        ({"clocks": [{**WHISTLEBLOWING["clocks"][0], "unit": "weeks"}]}, "not a valid unit"),
        ({"clocks": [{**WHISTLEBLOWING["clocks"][0], "calendar": ""}]}, "calendar code"),
        ({"clocks": [{**WHISTLEBLOWING["clocks"][0], "pause_reasons": ["lunch"]}]}, "pause reason"),
        ({"clocks": [{**WHISTLEBLOWING["clocks"][0], "roll_forward": "yes"}]}, "true or false"),
        ({"clocks": [WHISTLEBLOWING["clocks"][0]] * 2}, "Two clocks"),
        (
            {
                "clocks": [
                    {**WHISTLEBLOWING["clocks"][0], "extensions": [{"level": "x", "length": 5}]}
                ]
            },
            "longer than 7",
        ),
        (
            {
                "clocks": [
                    {
                        **WHISTLEBLOWING["clocks"][0],
                        "extensions": [{"level": "x", "length": 9, "approver": "ceo"}],
                    }
                ]
            },
            "not a valid approver",
        ),
        (
            {
                "clocks": [
                    {
                        **WHISTLEBLOWING["clocks"][0],
                        "extensions": [{"level": "x", "length": 9, "requires": "y"}],
                    }
                ]
            },
            "not an earlier extension",
        ),
    ],
)
def test_a_bad_custom_profile_is_refused_with_a_clear_message(change, message):
    with pytest.raises(ProfileError, match=message):
        profile_from_dict({**WHISTLEBLOWING, **change})


def test_every_problem_of_a_custom_profile_is_reported_at_once():
    with pytest.raises(ProfileError) as refused:
        profile_from_dict({"key": "", "clocks": [{"key": "a", "label_en": "A", "length": -1}]})
    assert len(refused.value.messages) == 3  # key, label, length


def test_a_profile_must_be_a_mapping():
    with pytest.raises(ProfileError, match="mapping"):
        profile_from_dict(["not", "a", "dict"])
