"""Business-day calendars: the one API every deadline in the system is computed with.

    cal = get_calendar(department.calendar_code)
    due = cal.add_business_days(received_at, 15)   # a Deadline: .at and .warnings
    show(due.at, due.warnings)                       # a warning is never silently dropped

A calendar is a *base* plus administrator-entered days:

- ``CN``: the official State Council schedule shipped in the ``chinesecalendar`` package — holidays
  *and* the make-up working days (调休) that turn a Saturday or Sunday into a working day.
- ``UK``: bank holidays of England and Wales (``holidays`` package); ``US``: federal holidays.
- ``""``: weekends only.

Administrator-entered days (``CalendarDay`` rows) override the base: on the CN calendar they are
how next year's official schedule is entered; on a custom calendar they add local holidays or
working days. A custom calendar based on CN also inherits the days entered on the CN calendar.

Years without data. The package covers only the years it ships (2004–2026 for chinesecalendar
1.11). A CN date in a year that neither the package nor an administrator-entered schedule covers
is computed from weekends plus the fixed-date holidays (1 Jan, 1 May, 1–3 Oct) and the result
carries a ``CoverageWarning``; entering any day of that year on the CN calendar marks the year
as covered by an official schedule.

This module writes nothing. Writes (with audit and the ``calendar.changed`` event) are in
``core.services.calendars``; the permission check for the pages is in ``core.views.calendars``.
"""

from __future__ import annotations

import calendar as stdlib_calendar
import re
import threading
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache

import holidays as holidays_lib
from chinese_calendar import constants as cn_data
from django.conf import settings
from django.db import models
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from servicecharter.core.choices import CalendarDayKind
from servicecharter.core.rowsql import column, select_objects


class CalendarBase(models.TextChoices):
    CN = "CN", gettext_lazy("Mainland China (official holidays and make-up working days)")
    UK = "UK", gettext_lazy("United Kingdom (England and Wales bank holidays)")
    US = "US", gettext_lazy("United States (federal holidays)")
    NONE = "", gettext_lazy("Weekends only")


@dataclass(frozen=True)
class BuiltinCalendar:
    code: str
    name_en: str
    name_zh: str
    time_zone: str | None  # None: the institution's settings.TIME_ZONE


# Always available, with or without a database row; a row only adds entered days (and may
# change the time zone).
BUILTIN_CALENDARS: dict[str, BuiltinCalendar] = {
    "CN": BuiltinCalendar("CN", "Mainland China", "中国内地", None),
    "UK": BuiltinCalendar(
        "UK", "United Kingdom (England and Wales)", "英国（英格兰及威尔士）", "Europe/London"
    ),
    "US": BuiltinCalendar("US", "United States (federal)", "美国（联邦）", "America/New_York"),
}

CN_DATA_YEARS: frozenset[int] = frozenset(day.year for day in cn_data.holidays)
# The fallback for CN years nobody has data for: holidays that never move.
CN_FIXED_HOLIDAYS: dict[tuple[int, int], str] = {
    (1, 1): "New Year's Day",
    (5, 1): "Labour Day",
    (10, 1): "National Day",
    (10, 2): "National Day",
    (10, 3): "National Day",
}
_CN_CHINESE_NAMES = {holiday.value: holiday.chinese for holiday in cn_data.Holiday}
_CN_CHINESE_NAMES["Labour Day"] = "劳动节"
# A calendar with more consecutive non-working days than this is a data-entry mistake.
MAX_NON_WORKING_RUN = 370


class UnknownCalendar(LookupError):
    pass


class CalendarError(ValueError):
    pass


class DaySource(models.TextChoices):
    OFFICIAL = "official", gettext_lazy("official data")
    ENTERED = "entered", gettext_lazy("entered by an administrator")
    FALLBACK = "fallback", gettext_lazy("estimate: no official schedule")
    RULE = "rule", gettext_lazy("weekday rule")


@dataclass(frozen=True)
class DayInfo:
    """What one local date is on a calendar, and why."""

    day: date
    working: bool
    kind: str  # "holiday", "workday" (a working day that would normally be off), or "" (ordinary)
    name: str
    source: str

    @property
    def is_weekend(self) -> bool:
        return self.day.weekday() >= 5


@dataclass(frozen=True)
class CoverageWarning:
    """A result computed for a year that no official schedule covers."""

    calendar_code: str
    year: int

    @property
    def message(self) -> str:
        return _(
            "No official holiday schedule for %(year)s on calendar %(code)s: this date assumes "
            "weekends and fixed-date holidays only, until an administrator enters the schedule."
        ) % {"year": self.year, "code": self.calendar_code}

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Deadline:
    """An instant computed on a calendar, with the warnings that qualify it."""

    at: datetime
    warnings: tuple[CoverageWarning, ...] = ()

    @property
    def is_estimate(self) -> bool:
        return bool(self.warnings)


class BusinessCalendar:
    """Working-day arithmetic on aware datetimes, in the calendar's own time zone.

    Definitions (the contract every deadline relies on):

    - A *working day* is a local date that is not a holiday, and is Monday–Friday unless declared
      a working day (a make-up day). Entered days override the base.
    - ``add_business_days(start, n)``: take ``start``'s local date and wall-clock time in the
      calendar's zone. If that date is not a working day, the start moves to 00:00 of the next
      working day (a complaint received on Saturday counts from the very start of Monday). The
      result is the same local wall-clock time on the n-th following working day; ``n = 0`` gives
      the (moved) start. So a start on a working day at 15:00 plus 1 is 15:00 on the next working
      day, whatever DST did in between. A wall-clock time that does not exist that day (DST
      spring-forward gap) moves forward by the gap; an ambiguous one takes its first occurrence.
    - ``business_days_between(a, b)`` is its inverse: the largest ``n >= 0`` with
      ``add_business_days(a, n).at <= b`` (negative when ``b`` is before ``a``). Hence
      ``business_days_between(a, add_business_days(a, n).at) == n``. It returns a plain int;
      ``coverage_warnings(a, b)`` gives the warnings for that span.
    - ``add_calendar_days(start, n)``: same wall-clock time ``n`` local dates later; with
      ``roll_forward=True`` a result on a non-working day moves to the next working day.
    """

    def __init__(
        self,
        *,
        code: str,
        base: str,
        time_zone: str,
        entered: Mapping[date, tuple[str, str]] | None = None,
        entered_years: frozenset[int] = frozenset(),
    ):
        self.code = code
        self.base = base
        self.zone = zoneinfo.ZoneInfo(time_zone)
        self.time_zone = time_zone
        self._entered = dict(entered or {})
        # Years covered by an administrator-entered official schedule (CN-based calendars).
        self.entered_years = frozenset(entered_years)
        self._working: dict[date, bool] = {}  # memo: deadlines ask about the same days often

    def __repr__(self) -> str:
        return f"<BusinessCalendar {self.code} base={self.base!r} tz={self.time_zone}>"

    # --- days -----------------------------------------------------------------------------

    def day_info(self, day: date | datetime) -> DayInfo:
        day = self._local_date(day)
        if day in self._entered:
            kind, name = self._entered[day]
            return DayInfo(day, kind == CalendarDayKind.WORKDAY, kind, name, DaySource.ENTERED)
        return self._base_day(day)

    def is_working_day(self, day: date | datetime) -> bool:
        day = self._local_date(day)
        working = self._working.get(day)
        if working is None:
            working = self._working[day] = self.day_info(day).working
        return working

    def next_working_day(self, day: date | datetime) -> date:
        """The first working date strictly after ``day`` (a local date, or an aware instant's)."""
        current = self._local_date(day)
        for _step in range(MAX_NON_WORKING_RUN):
            current += timedelta(days=1)
            if self.is_working_day(current):
                return current
        raise CalendarError(
            _("Calendar %(code)s has no working day in a year after %(day)s.")
            % {"code": self.code, "day": day}
        )

    def covers(self, year: int) -> bool:
        """Whether dates of ``year`` come from real data rather than the fallback."""
        return self.base != CalendarBase.CN or year in CN_DATA_YEARS or year in self.entered_years

    def coverage_warnings(
        self, start: date | datetime, end: date | datetime
    ) -> tuple[CoverageWarning, ...]:
        first, last = sorted((self._local_date(start), self._local_date(end)))
        return tuple(
            CoverageWarning(self.code, year)
            for year in range(first.year, last.year + 1)
            if not self.covers(year)
        )

    # --- instants -------------------------------------------------------------------------

    def add_business_days(self, start: datetime, n: int) -> Deadline:
        if n < 0:
            raise CalendarError(_("The number of business days cannot be negative."))
        origin = self._working_start(start)
        day = origin.date()
        for _step in range(n):
            day = self.next_working_day(day)
        at = origin if n == 0 else self._at(day, origin.time())
        return Deadline(at, self.coverage_warnings(self._local(start), day))

    def business_days_between(self, a: datetime, b: datetime) -> int:
        if b < a:
            return -self.business_days_between(b, a)
        origin = self._working_start(a)
        if b < origin:
            return 0
        count, day, end = 0, origin.date(), self._local(b).date()
        while True:
            day = self.next_working_day(day)
            if day > end:
                break
            count += 1
        if count and self.add_business_days(a, count).at > b:
            count -= 1
        return count

    def add_calendar_days(self, start: datetime, n: int, *, roll_forward: bool = False) -> Deadline:
        local = self._local(start)
        day = local.date() + timedelta(days=n)
        warnings: tuple[CoverageWarning, ...] = ()
        if roll_forward:
            rolled = day if self.is_working_day(day) else self.next_working_day(day)
            warnings = self.coverage_warnings(day, rolled)
            day = rolled
        return Deadline(self._at(day, local.time()), warnings)

    # --- helpers --------------------------------------------------------------------------

    def _base_day(self, day: date) -> DayInfo:
        if self.base == CalendarBase.CN:
            return self._cn_day(day)
        if self.base in (CalendarBase.UK, CalendarBase.US):
            name = _package_holidays(self.base, day.year).get(day)
            if name:
                return DayInfo(day, False, CalendarDayKind.HOLIDAY, name, DaySource.OFFICIAL)
        return _weekday_rule(day)

    def _cn_day(self, day: date) -> DayInfo:
        if day.year in CN_DATA_YEARS:
            if day in cn_data.holidays:
                return DayInfo(
                    day, False, CalendarDayKind.HOLIDAY, cn_data.holidays[day], DaySource.OFFICIAL
                )
            if day in cn_data.workdays:
                return DayInfo(
                    day, True, CalendarDayKind.WORKDAY, cn_data.workdays[day], DaySource.OFFICIAL
                )
            return _weekday_rule(day)
        if day.year in self.entered_years:
            return _weekday_rule(day)
        fixed = CN_FIXED_HOLIDAYS.get((day.month, day.day))
        if fixed:
            return DayInfo(day, False, CalendarDayKind.HOLIDAY, fixed, DaySource.FALLBACK)
        info = _weekday_rule(day)
        return DayInfo(day, info.working, info.kind, info.name, DaySource.FALLBACK)

    def _local(self, moment: datetime) -> datetime:
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise CalendarError(_("Calendar arithmetic needs an aware datetime."))
        return moment.astimezone(self.zone)

    def _local_date(self, value: date | datetime) -> date:
        return self._local(value).date() if isinstance(value, datetime) else value

    def _working_start(self, start: datetime) -> datetime:
        local = self._local(start)
        if self.is_working_day(local.date()):
            return local
        return self._at(self.next_working_day(local.date()), time(0))

    def _at(self, day: date, wall: time) -> datetime:
        # fold=0 picks the first of two ambiguous times; the UTC round trip moves a time that
        # falls in a spring-forward gap past the gap.
        naive = datetime.combine(day, wall.replace(tzinfo=None, fold=0))
        return naive.replace(tzinfo=self.zone).astimezone(UTC).astimezone(self.zone)


def _weekday_rule(day: date) -> DayInfo:
    return DayInfo(day, day.weekday() < 5, "", "", DaySource.RULE)


@lru_cache(maxsize=256)
def _package_holidays(base: str, year: int) -> dict[date, str]:
    if base == CalendarBase.UK:
        found = holidays_lib.country_holidays("GB", subdiv="ENG", years=year)
    else:
        found = holidays_lib.country_holidays("US", years=year)
    return dict(found.items())


def holiday_name(info: DayInfo, language: str | None = None) -> str:
    """The day's name in the current language where the data has one."""
    language = language or get_language() or ""
    if language.startswith("zh") and info.source != DaySource.ENTERED:
        return _CN_CHINESE_NAMES.get(info.name, info.name)
    return info.name


# --- loading from the database, cached ------------------------------------------------------

_cache: dict[str, tuple[tuple, BusinessCalendar]] = {}
_cache_lock = threading.Lock()


def forget_calendars() -> None:
    """Drop loaded calendars (called by the services whenever days change)."""
    with _cache_lock:
        _cache.clear()


def calendar_codes() -> list[str]:
    from servicecharter.core.models import Calendar

    return sorted(set(BUILTIN_CALENDARS) | set(Calendar.objects.values_list("code", flat=True)))


def get_calendar(code: str | None = None) -> BusinessCalendar:
    """The calendar ``code`` (default ``settings.DEFAULT_CALENDAR``), cached per process.

    One small query checks the rows' ``updated_at`` so a change made by another process is seen
    on the next call."""
    code = code or settings.DEFAULT_CALENDAR
    rows = _calendar_rows(code)
    stamp = tuple(sorted((row["code"], row["updated_at"]) for row in rows.values()))
    with _cache_lock:
        hit = _cache.get(code)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    loaded = _build(code, rows)
    with _cache_lock:
        _cache[code] = (stamp, loaded)
    return loaded


def calendar_for_department(department) -> BusinessCalendar:
    return get_calendar(department.calendar_code)


_ROW_COLUMNS = ("id", "code", "base", "time_zone", "updated_at")


def _calendar_rows(code: str) -> dict[str, dict]:
    # Runs for every deadline computed (every read of a complaint): written as SQL once.
    from servicecharter.core.models import Calendar

    codes = sorted({code, *BUILTIN_CALENDARS})
    where = f"m.{column(Calendar, 'code')} IN ({', '.join(['%s'] * len(codes))})"
    fetched = select_objects(Calendar, where, codes)
    rows = {row.code: {name: getattr(row, name) for name in _ROW_COLUMNS} for row in fetched}
    if code not in rows and code not in BUILTIN_CALENDARS:
        raise UnknownCalendar(code)
    # Keep only the calendar and the built-in it stands on.
    base = _base_of(code, rows)
    return {key: row for key, row in rows.items() if key in {code, base}}


def _base_of(code: str, rows: dict[str, dict]) -> str:
    if code in BUILTIN_CALENDARS:
        return code
    base = rows[code]["base"]
    return base if base in CalendarBase.values else ""


def _time_zone_of(code: str, rows: dict[str, dict]) -> str:
    if code in rows and rows[code]["time_zone"]:
        return rows[code]["time_zone"]
    return builtin_time_zone(code)


def builtin_time_zone(code: str) -> str:
    """A built-in calendar's zone; CN follows the institution's settings.TIME_ZONE."""
    return BUILTIN_CALENDARS[code].time_zone or settings.TIME_ZONE


def _build(code: str, rows: dict[str, dict]) -> BusinessCalendar:
    from servicecharter.core.models import CalendarDay

    base = _base_of(code, rows)
    entered: dict[date, tuple[str, str]] = {}
    base_years: set[int] = set()
    # Base days first, then the calendar's own days on top.
    order = [key for key in (base, code) if key in rows]
    days = CalendarDay.objects.filter(calendar_id__in=[rows[key]["id"] for key in order])
    by_calendar: dict[int, list] = {}
    for day in days.values("calendar_id", "date", "kind", "name"):
        by_calendar.setdefault(day["calendar_id"], []).append(day)
    for key in dict.fromkeys(order):
        for day in by_calendar.get(rows[key]["id"], []):
            entered[day["date"]] = (day["kind"], day["name"])
            if key == base:
                base_years.add(day["date"].year)
    return BusinessCalendar(
        code=code,
        base=base,
        time_zone=_time_zone_of(code, rows),
        entered=entered,
        entered_years=frozenset(base_years) if base == CalendarBase.CN else frozenset(),
    )


# --- reads for the administrator pages --------------------------------------------------------


@dataclass(frozen=True)
class CalendarSummary:
    code: str
    name_en: str
    name_zh: str
    base: str
    time_zone: str
    builtin: bool
    entered_days: int
    entered_years: tuple[int, ...]
    data_years: tuple[int, int] | None  # first and last year the shipped data covers
    warnings: tuple[CoverageWarning, ...] = field(default=())

    @property
    def name(self) -> str:
        return self.name_zh if (get_language() or "").startswith("zh") else self.name_en

    @property
    def base_label(self) -> str:
        return CalendarBase(self.base).label if self.base in CalendarBase.values else self.base


def calendar_summaries(today: date) -> list[CalendarSummary]:
    """Every calendar with its coverage and warnings for this year and next, in two queries."""
    from django.db.models import Count
    from django.db.models.functions import ExtractYear

    from servicecharter.core.models import Calendar, CalendarDay

    rows = {row.code: row for row in Calendar.objects.annotate(entered_count=Count("days"))}
    years: dict[str, set[int]] = {}
    entered = (
        CalendarDay.objects.order_by()
        .annotate(year=ExtractYear("date"))
        .values_list("calendar__code", "year")
        .distinct()
    )
    for code, year in entered:
        years.setdefault(code, set()).add(year)
    codes = sorted(set(BUILTIN_CALENDARS) | set(rows))
    return [_summary(code, rows.get(code), years, today) for code in codes]


def calendar_summary(code: str, today: date) -> CalendarSummary:
    for summary in calendar_summaries(today):
        if summary.code == code:
            return summary
    raise UnknownCalendar(code)


def _summary(code: str, row, years: dict[str, set[int]], today: date) -> CalendarSummary:
    builtin = BUILTIN_CALENDARS.get(code)
    base = code if builtin else (row.base if row.base in CalendarBase.values else "")
    # Coverage only: the days themselves are not needed to know which years have data.
    cal = BusinessCalendar(
        code=code,
        base=base,
        time_zone=(row.time_zone if row else "") or builtin_time_zone(code),
        entered_years=frozenset(years.get(base, ())) if base == CalendarBase.CN else frozenset(),
    )
    data_years = (min(CN_DATA_YEARS), max(CN_DATA_YEARS)) if base == CalendarBase.CN else None
    return CalendarSummary(
        code=code,
        name_en=row.name_en if row else builtin.name_en,
        name_zh=row.name_zh if row else builtin.name_zh,
        base=base,
        time_zone=cal.time_zone,
        builtin=builtin is not None,
        entered_days=row.entered_count if row else 0,
        entered_years=tuple(sorted(years.get(code, ()))),
        data_years=data_years,
        warnings=cal.coverage_warnings(today, date(today.year + 1, 12, 31)),
    )


def entered_days(code: str, year: int) -> list:
    from servicecharter.core.models import CalendarDay

    return list(CalendarDay.objects.filter(calendar__code=code, date__year=year).order_by("date"))


@dataclass(frozen=True)
class MonthGrid:
    year: int
    month: int
    weeks: list[list[DayInfo | None]]  # Monday first; None pads days of other months


def year_grid(cal: BusinessCalendar, year: int) -> list[MonthGrid]:
    """Twelve month grids of ``year`` for the calendar page."""
    months = []
    for month in range(1, 13):
        weeks = [
            [cal.day_info(date(year, month, d)) if d else None for d in week]
            for week in stdlib_calendar.Calendar(firstweekday=0).monthdayscalendar(year, month)
        ]
        months.append(MonthGrid(year, month, weeks))
    return months


# --- pasted official schedules ----------------------------------------------------------------

_KIND_WORDS = {
    "holiday": CalendarDayKind.HOLIDAY,
    "休": CalendarDayKind.HOLIDAY,
    "假": CalendarDayKind.HOLIDAY,
    "workday": CalendarDayKind.WORKDAY,
    "班": CalendarDayKind.WORKDAY,
}
_SEPARATORS = re.compile(r"[\s,，\t]+")
MAX_SCHEDULE_LINES = 1000
NAME_MAX_LENGTH = 100


@dataclass(frozen=True)
class ScheduleLine:
    line_no: int
    day: date
    kind: str
    name: str


@dataclass(frozen=True)
class LineError:
    line_no: int
    message: str

    def __str__(self) -> str:
        return _("Line %(line)s: %(message)s") % {"line": self.line_no, "message": self.message}


def parse_schedule(text: str) -> tuple[list[ScheduleLine], list[LineError]]:
    """Lines of ``YYYY-MM-DD holiday|workday [name]``; blank lines and ``#`` comments skipped.
    Every bad line is reported with its number; callers save nothing if any line is bad."""
    entries: list[ScheduleLine] = []
    errors: list[LineError] = []
    seen: dict[date, int] = {}
    lines = text.splitlines()
    if len(lines) > MAX_SCHEDULE_LINES:
        return [], [
            LineError(
                MAX_SCHEDULE_LINES + 1,
                _("A schedule has at most %(count)s lines.") % {"count": MAX_SCHEDULE_LINES},
            )
        ]
    for line_no, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parsed = _parse_line(line_no, line, seen)
        if isinstance(parsed, LineError):
            errors.append(parsed)
        else:
            seen[parsed.day] = line_no
            entries.append(parsed)
    if not entries and not errors:
        errors.append(LineError(1, _("The schedule is empty.")))
    return entries, errors


def _parse_line(line_no: int, line: str, seen: dict[date, int]) -> ScheduleLine | LineError:
    parts = _SEPARATORS.split(line, maxsplit=2)
    if len(parts) < 2:
        return LineError(line_no, _("expected a date and a kind, e.g. “2027-01-01 holiday 元旦”."))
    day = parse_day(parts[0])
    if day is None:
        return LineError(
            line_no, _("“%(value)s” is not a date (YYYY-MM-DD).") % {"value": parts[0]}
        )
    kind = _KIND_WORDS.get(parts[1].lower())
    if kind is None:
        return LineError(
            line_no,
            _("“%(value)s” is not a kind: use holiday or workday.") % {"value": parts[1]},
        )
    name = parts[2].strip() if len(parts) > 2 else ""
    if len(name) > NAME_MAX_LENGTH:
        return LineError(
            line_no, _("the name is longer than %(count)s characters.") % {"count": NAME_MAX_LENGTH}
        )
    if day in seen:
        return LineError(
            line_no, _("%(day)s is already on line %(other)s.") % {"day": day, "other": seen[day]}
        )
    return ScheduleLine(line_no, day, kind, name)


def parse_day(value: str) -> date | None:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        return None
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        return None
    return day if 1900 <= day.year <= 2200 else None
