"""Properties every calendar must keep, whatever the start, the count or the entered days."""

from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from servicecharter.core.calendars import BusinessCalendar

BUILTINS = [
    BusinessCalendar(code="CN", base="CN", time_zone="Asia/Shanghai"),
    BusinessCalendar(code="UK", base="UK", time_zone="Europe/London"),
    BusinessCalendar(code="US", base="US", time_zone="America/New_York"),
    BusinessCalendar(code="W", base="", time_zone="Asia/Shanghai"),
]


@st.composite
def custom_calendars(draw):
    """A CN-based calendar with random entered holidays and working days around 2026–2027."""
    days = draw(
        st.dictionaries(
            st.dates(min_value=date(2026, 10, 1), max_value=date(2027, 3, 31)),
            st.tuples(st.sampled_from(["holiday", "workday"]), st.just("")),
            max_size=15,
        )
    )
    years = draw(st.sets(st.sampled_from([2027]), max_size=1))
    return BusinessCalendar(
        code="C",
        base="CN",
        time_zone="Asia/Shanghai",
        entered=days,
        entered_years=frozenset(years),
    )


calendars = st.one_of(st.sampled_from(BUILTINS), custom_calendars())
# Around the data horizon (2026 → 2027) as well as deep inside covered years.
starts = st.datetimes(
    min_value=datetime(2024, 12, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)
counts = st.integers(min_value=0, max_value=60)
hypothesis_settings = settings(deadline=None, max_examples=100)


@hypothesis_settings
@given(calendars, starts, counts)
def test_adding_n_business_days_then_counting_gives_n(cal, start, n):
    due = cal.add_business_days(start, n)
    assert cal.business_days_between(start, due.at) == n


@hypothesis_settings
@given(calendars, starts, counts)
def test_results_never_land_on_a_non_working_day(cal, start, n):
    assert cal.is_working_day(cal.add_business_days(start, n).at)


@hypothesis_settings
@given(calendars, starts, counts, st.integers(min_value=1, max_value=30))
def test_more_days_never_give_an_earlier_date(cal, start, n, more):
    assert cal.add_business_days(start, n + more).at > cal.add_business_days(start, n).at


@hypothesis_settings
@given(st.sampled_from(BUILTINS), starts, st.integers(min_value=0, max_value=96 * 3600), counts)
def test_a_later_start_never_gives_an_earlier_deadline(cal, start, later_by, n):
    later = start + timedelta(seconds=later_by)
    assert cal.add_business_days(later, n).at >= cal.add_business_days(start, n).at


@hypothesis_settings
@given(calendars, starts, counts)
def test_results_are_aware_and_keep_the_working_start_wall_clock(cal, start, n):
    due = cal.add_business_days(start, n).at
    assert due.tzinfo is not None
    local_start = start.astimezone(cal.zone)
    if cal.is_working_day(local_start) and n > 0:
        # Same local time, unless that time did not exist that day (a DST gap).
        assert due.time() == local_start.time() or due.utcoffset() != local_start.utcoffset()


@hypothesis_settings
@given(calendars, starts, counts)
def test_a_warning_is_given_exactly_when_an_uncovered_year_is_touched(cal, start, n):
    due = cal.add_business_days(start, n)
    first = start.astimezone(cal.zone).date()
    touched = range(first.year, due.at.date().year + 1)
    assert {w.year for w in due.warnings} == {y for y in touched if not cal.covers(y)}


@hypothesis_settings
@given(calendars, starts, st.integers(min_value=0, max_value=90))
def test_rolled_calendar_days_land_on_a_working_day_no_earlier(cal, start, n):
    plain = cal.add_calendar_days(start, n)
    rolled = cal.add_calendar_days(start, n, roll_forward=True)
    assert cal.is_working_day(rolled.at)
    assert rolled.at >= plain.at
