"""Properties of the deadline rules, whatever the profile, the receipt and the history: events the
rules allow never move a deadline earlier (except a restart on new facts), pauses never take
time away, and business-day clocks never fall due on a non-working day."""

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from servicecharter.cases.deadlines import (
    ClockEvent,
    ClockEventKind,
    DeadlineRuleError,
    clock_statuses,
)
from servicecharter.cases.profiles import (
    PROFILES,
    Approver,
    DayUnit,
    PauseReason,
    profile_from_dict,
)
from servicecharter.core.calendars import BusinessCalendar

CALENDARS = {
    "CN": BusinessCalendar(code="CN", base="CN", time_zone="Asia/Shanghai"),
    "UK": BusinessCalendar(code="UK", base="UK", time_zone="Europe/London"),
    "US": BusinessCalendar(code="US", base="US", time_zone="America/New_York"),
}
CUSTOM = profile_from_dict(
    {
        "key": "custom",
        "label_en": "Custom",
        "clocks": [
            {
                "key": "acknowledge",
                "label_en": "Acknowledge",
                "length": 2,
                "unit": "business_days",
                "calendar": "CN",
            },
            {
                "key": "final_response",
                "label_en": "Final response",
                "length": 10,
                "unit": "business_days",
                "calendar": "CN",
                "ends_at_close_of_day": True,
                "restarts_on_new_facts": True,
                "pause_reasons": ["awaiting_customer", "external_appraisal"],
                "extensions": [
                    {"level": "complex", "length": 20, "approver": "supervisor"},
                    {"level": "more", "length": 30, "requires": "complex"},
                ],
            },
        ],
    }
)
ALL_PROFILES = [*PROFILES.values(), CUSTOM]

receipts = st.datetimes(
    min_value=datetime(2024, 12, 1), max_value=datetime(2027, 6, 1), timezones=st.just(UTC)
)
gaps = st.integers(min_value=0, max_value=20 * 24 * 60).map(lambda m: timedelta(minutes=m))
# Between a case's events: mostly hours or a few days, so extensions come before the deadline.
steps_apart = st.integers(min_value=0, max_value=4 * 24 * 60).map(lambda m: timedelta(minutes=m))
# Weighted so that extensions and pauses are tried often and withdrawal (which ends it all) less.
KINDS = [
    *[ClockEventKind.EXTENSION] * 4,
    *[ClockEventKind.PAUSE, ClockEventKind.RESUME] * 2,
    ClockEventKind.NEW_FACTS,
    ClockEventKind.DONE,
    ClockEventKind.WITHDRAWAL,
]
hypothesis_settings = settings(deadline=None, max_examples=80)


def statuses(profile, received_at, events, as_of):
    found = clock_statuses(
        profile=profile,
        received_at=received_at,
        events=events,
        as_of=as_of,
        calendars=CALENDARS.__getitem__,
    )
    return {status.clock.key: status for status in found}


@st.composite
def candidate_events(draw, profile, at):
    """Any event at all, allowed or not: the rules decide."""
    kind = draw(st.sampled_from(KINDS))
    clock_keys = [clock.key for clock in profile.clocks]
    levels = [ext.level for clock in profile.clocks for ext in clock.extensions] or ["complex"]
    if kind == ClockEventKind.EXTENSION:
        return ClockEvent.extension(
            at,
            clock=draw(st.sampled_from(["", *clock_keys])),
            level=draw(st.sampled_from(levels)),
            length=draw(st.sampled_from([None, None, 1, 20, 30, 35, 45, 60, 61, 70])),
            approved_by=draw(st.sampled_from([*Approver.values, Approver.SENIOR_MANAGER])),
            note=draw(st.sampled_from(["", "complex case", "complex case"])),
        )
    if kind == ClockEventKind.PAUSE:
        return ClockEvent.pause(at, reason=draw(st.sampled_from(PauseReason.values)))
    if kind == ClockEventKind.DONE:
        return ClockEvent.done(at, clock=draw(st.sampled_from(clock_keys)))
    return ClockEvent(kind, at)


@st.composite
def histories(draw):
    """A profile, a receipt, and a history built one allowed event at a time, with the
    statuses seen just before and just after each event (at the event's time)."""
    profile = draw(st.sampled_from(ALL_PROFILES))
    received = draw(receipts)
    history: list[ClockEvent] = []
    steps = []
    at = received
    for _step in range(draw(st.integers(min_value=1, max_value=10))):
        at = at + draw(steps_apart)
        event = draw(candidate_events(profile, at))
        before = statuses(profile, received, history, at)
        try:
            after = statuses(profile, received, [*history, event], at)
        except DeadlineRuleError:
            continue
        history.append(event)
        steps.append((event, before, after))
    return profile, received, history, steps


@hypothesis_settings
@given(histories())
def test_an_allowed_event_never_moves_a_deadline_earlier_except_a_restart(story):
    _profile, _received, _history, steps = story
    for event, before, after in steps:
        for key, status in after.items():
            if event.kind == ClockEventKind.NEW_FACTS and status.clock.restarts_on_new_facts:
                continue
            assert status.due.at >= before[key].due.at, (event, key)


@hypothesis_settings
@given(histories(), gaps)
def test_time_passing_never_moves_a_deadline_earlier(story, later):
    profile, received, history, _steps = story
    now = history[-1].at if history else received
    earlier = statuses(profile, received, history, now)
    for key, status in statuses(profile, received, history, now + later).items():
        assert status.due.at >= earlier[key].due.at


@hypothesis_settings
@given(histories())
def test_business_day_clocks_never_fall_due_on_a_non_working_day(story):
    profile, received, history, _steps = story
    now = history[-1].at if history else received
    for status in statuses(profile, received, history, now).values():
        if status.clock.unit == DayUnit.BUSINESS:
            assert CALENDARS[status.clock.calendar].is_working_day(status.due.at)


def _whole_days_inside(cal, clock, start, end):
    """Clock days that lie entirely inside [start, end): the least a pause must give back."""
    day = start.astimezone(cal.zone).date() + timedelta(days=1)
    count = 0
    while datetime.combine(day + timedelta(days=1), datetime.min.time(), cal.zone) <= end:
        if clock.unit == DayUnit.CALENDAR or cal.is_working_day(day):
            count += 1
        day += timedelta(days=1)
    return count


@hypothesis_settings
@given(
    st.sampled_from(["cn_banking_insurance", "custom"]),
    receipts,
    gaps,
    gaps,
    st.sampled_from(PauseReason.values),
)
def test_a_pause_never_takes_time_away(profile_key, received, until_pause, duration, reason):
    profile = CUSTOM if profile_key == "custom" else PROFILES[profile_key]
    clock = profile.clock("final_response")
    start, end = received + until_pause, received + until_pause + duration
    pause = [ClockEvent.pause(start, reason=reason), ClockEvent.resume(end)]
    try:
        paused = statuses(profile, received, pause, end)["final_response"]
    except DeadlineRuleError:
        return  # a reason this profile does not allow, or a pause after the deadline
    plain = statuses(profile, received, [], end)["final_response"]
    cal = CALENDARS[clock.calendar]
    assert paused.due.at >= plain.due.at
    assert paused.paused_days >= _whole_days_inside(cal, clock, start, end)
