"""Complaint deadlines: a profile + when the complaint arrived + what happened since → each
clock's due instant and state. Pure functions; nothing is read from or written to the database
except the calendars (through ``get_calendar``, or a resolver the caller passes).

    statuses = clock_statuses(
        profile=PROFILES["cn_banking_insurance"],
        received_at=case.received_at,
        events=[ClockEvent.extension(at, clock="final_response", level="complex", note="…")],
        as_of=now,
    )
    for status in statuses:
        show(status.clock.label, status.due.at, status.due.warnings, status.state)

The rules (each refusal is a ``DeadlineRuleError`` with a translated message):

- **Length.** A clock runs ``length`` days in its unit from its start (the receipt, or the last
  new facts). An extension sets the length to the level's length or less — never beyond the
  level, never beyond the clock's maximum, never shorter than now; only with the approver the
  level requires, a reason when it needs one, the level it builds on, and before the clock is due.
- **Pauses.** A pause adds to the length the clock's days on which it was paused at the close of
  the day: from the pause's start date up to (not including) the date it ended. Counted in the
  clock's unit, so a business-day clock paused over a weekend gains only the working days. A pause
  shorter than a day that does not span a close adds nothing; a pause never takes time away. The
  pause reason must be one the clock allows (clocks that do not allow it keep running), and a
  pause that starts after a clock is due does not pause that clock: a breach stays a breach.
  While a pause is open the due instant is shown as if it ended now, so it only moves later.
- **New facts** restart the clocks that restart on new facts, from the event, with the
  standard length: the one rule that may move a deadline earlier.
- **Done** (the reply was sent, the complaint resolved) stops a clock: met if on time, else
  breached. A window clock (UK summary resolution) lapses instead of breaching.
- **Withdrawal** stops every clock; nothing may follow it.
- A repeat complaint merged without new facts is not a clock event: the clocks run on.

Hence, apart from a restart, adding an event the rules allow never moves a due instant earlier.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from servicecharter.cases.profiles import (
    Approver,
    Clock,
    DayUnit,
    PauseReason,
    RegulatoryProfile,
    approver_suffices,
)
from servicecharter.core.calendars import BusinessCalendar, Deadline, get_calendar

CLOSE_OF_DAY = time(23, 59, 59, 999999)


class ClockEventKind(models.TextChoices):
    EXTENSION = "extension", gettext_lazy("Extension granted")
    PAUSE = "pause", gettext_lazy("Clock paused")
    RESUME = "resume", gettext_lazy("Clock resumed")
    NEW_FACTS = "new_facts", gettext_lazy("New facts: clock restarted")
    DONE = "done", gettext_lazy("Done")
    WITHDRAWAL = "withdrawal", gettext_lazy("Complaint withdrawn")


class ClockState(models.TextChoices):
    RUNNING = "running", gettext_lazy("Running")
    PAUSED = "paused", gettext_lazy("Paused")
    MET = "met", gettext_lazy("Met")
    BREACHED = "breached", gettext_lazy("Breached")
    LAPSED = "lapsed", gettext_lazy("Window passed")
    WITHDRAWN = "withdrawn", gettext_lazy("Withdrawn")


class DeadlineRuleError(ValueError):
    """An event the profile's rules do not allow; the message is translated."""


@dataclass(frozen=True)
class ClockEvent:
    """One thing that happened to a case's clocks. Build with the class methods."""

    kind: str
    at: datetime
    clock: str = ""  # extension and done: which clock ("" = the profile's only candidate)
    level: str = ""  # extension level
    length: int | None = None  # extension: the total length asked for (default: the level's)
    approved_by: str = Approver.NONE  # the role of whoever approved the extension
    note: str = ""  # why (an extension's reason)
    reason: str = ""  # a pause's PauseReason

    @classmethod
    def extension(
        cls,
        at: datetime,
        *,
        clock: str = "",
        level: str,
        length: int | None = None,
        approved_by: str = Approver.NONE,
        note: str = "",
    ) -> ClockEvent:
        return cls(ClockEventKind.EXTENSION, at, clock, level, length, approved_by, note)

    @classmethod
    def pause(cls, at: datetime, *, reason: str) -> ClockEvent:
        return cls(ClockEventKind.PAUSE, at, reason=reason)

    @classmethod
    def resume(cls, at: datetime) -> ClockEvent:
        return cls(ClockEventKind.RESUME, at)

    @classmethod
    def new_facts(cls, at: datetime) -> ClockEvent:
        return cls(ClockEventKind.NEW_FACTS, at)

    @classmethod
    def done(cls, at: datetime, *, clock: str = "") -> ClockEvent:
        return cls(ClockEventKind.DONE, at, clock)

    @classmethod
    def withdrawal(cls, at: datetime) -> ClockEvent:
        return cls(ClockEventKind.WITHDRAWAL, at)


@dataclass(frozen=True)
class ClockStatus:
    clock: Clock
    due: Deadline  # .at and the calendar's coverage .warnings
    state: str
    started_at: datetime
    length: int  # with extensions, without pauses
    paused_days: int
    levels: tuple[str, ...] = ()
    stopped_at: datetime | None = None  # done or withdrawn


@dataclass
class _Run:
    """A clock's state while the history is folded."""

    clock: Clock
    calendar: BusinessCalendar
    started_at: datetime
    length: int
    paused_days: int = 0
    levels: list[str] = field(default_factory=list)
    paused_since: datetime | None = None
    done_at: datetime | None = None

    def due(self, extra_days: int = 0) -> Deadline:
        return due_after(
            self.calendar, self.clock, self.started_at, self.length + self.paused_days + extra_days
        )

    def pause_days_until(self, moment: datetime) -> int:
        if self.paused_since is None:
            return 0
        return paused_days(self.calendar, self.clock, self.paused_since, moment)

    def close_pause(self, moment: datetime) -> None:
        self.paused_days += self.pause_days_until(moment)
        self.paused_since = None


# --- the arithmetic ---------------------------------------------------------------------------


def due_after(cal: BusinessCalendar, clock: Clock, start: datetime, days: int) -> Deadline:
    """The instant ``days`` of the clock's unit after ``start`` (the start day not counted)."""
    if clock.unit == DayUnit.BUSINESS:
        if not clock.ends_at_close_of_day:
            return cal.add_business_days(start, days)
        # "By close of the n-th business day following the day of receipt" (DISP).
        day = start.astimezone(cal.zone).date()
        for _step in range(days):
            day = cal.next_working_day(day)
        return Deadline(_close_of(cal, day), cal.coverage_warnings(start, day))
    due = cal.add_calendar_days(start, days, roll_forward=clock.roll_forward)
    warnings = cal.coverage_warnings(start, due.at)
    at = _close_of(cal, due.at.date()) if clock.ends_at_close_of_day else due.at
    return Deadline(at, warnings)


def paused_days(cal: BusinessCalendar, clock: Clock, start: datetime, end: datetime) -> int:
    """The clock's days whose close fell inside the pause: start date up to, not including, the
    end date; only working days for a business-day clock."""
    first, last = start.astimezone(cal.zone).date(), end.astimezone(cal.zone).date()
    count, day = 0, first
    while day < last:
        if clock.unit == DayUnit.CALENDAR or cal.is_working_day(day):
            count += 1
        day += timedelta(days=1)
    return count


def _close_of(cal: BusinessCalendar, day: date) -> datetime:
    return datetime.combine(day, CLOSE_OF_DAY, tzinfo=cal.zone)


# --- folding the history ----------------------------------------------------------------------


def clock_statuses(
    *,
    profile: RegulatoryProfile,
    received_at: datetime,
    events: Iterable[ClockEvent] = (),
    as_of: datetime | None = None,
    calendars: Callable[[str], BusinessCalendar] = get_calendar,
) -> tuple[ClockStatus, ...]:
    """Every clock of ``profile`` for a complaint received at ``received_at``, after ``events``
    (applied in time order; ties keep the given order), as seen at ``as_of`` (default now)."""
    as_of = as_of or timezone.now()
    _require_aware(received_at, as_of)
    runs = {
        clock.key: _Run(clock, calendars(clock.calendar), received_at, clock.length)
        for clock in profile.clocks
    }
    withdrawn_at: datetime | None = None
    for event in sorted(events, key=lambda event: event.at):
        _require_aware(event.at)
        if withdrawn_at is not None:
            raise DeadlineRuleError(_("The complaint was withdrawn: its clocks cannot change."))
        if event.at < received_at or event.at > as_of:
            raise DeadlineRuleError(
                _("A clock event must happen between the receipt of the complaint and now.")
            )
        if event.kind == ClockEventKind.WITHDRAWAL:
            withdrawn_at = event.at
            for run in _running(runs):
                run.close_pause(event.at)
        elif event.kind in _APPLY:
            _APPLY[event.kind](profile, runs, event)
        else:
            raise DeadlineRuleError(_("Unknown clock event “%(kind)s”.") % {"kind": event.kind})
    return tuple(_status(run, as_of, withdrawn_at) for run in runs.values())


def _status(run: _Run, as_of: datetime, withdrawn_at: datetime | None) -> ClockStatus:
    open_pause = run.pause_days_until(as_of)
    due = run.due(open_pause)
    stopped_at = run.done_at or withdrawn_at
    late = ClockState.LAPSED if run.clock.is_window else ClockState.BREACHED
    if run.done_at is not None:
        state = ClockState.MET if run.done_at <= due.at else late
    elif withdrawn_at is not None:
        state = ClockState.WITHDRAWN
    elif run.paused_since is not None:
        state = ClockState.PAUSED
    else:
        state = ClockState.RUNNING if as_of <= due.at else late
    return ClockStatus(
        clock=run.clock,
        due=due,
        state=state,
        started_at=run.started_at,
        length=run.length,
        paused_days=run.paused_days + open_pause,
        levels=tuple(run.levels),
        stopped_at=stopped_at,
    )


def _running(runs: dict[str, _Run]) -> list[_Run]:
    return [run for run in runs.values() if run.done_at is None]


def _pick(profile: RegulatoryProfile, runs: dict[str, _Run], key: str, fits) -> _Run:
    if not key:
        candidates = [run for run in runs.values() if fits(run.clock)]
        if len(candidates) != 1:
            raise DeadlineRuleError(_("Say which clock this event is for."))
        return candidates[0]
    if key not in runs:
        raise DeadlineRuleError(
            _("The profile “%(profile)s” has no clock “%(clock)s”.")
            % {"profile": profile.label, "clock": key}
        )
    return runs[key]


def _apply_extension(profile: RegulatoryProfile, runs: dict[str, _Run], event: ClockEvent) -> None:
    run = _pick(profile, runs, event.clock, lambda clock: bool(clock.extensions))
    clock = run.clock
    level = clock.extension(event.level)
    if level is None:
        raise DeadlineRuleError(
            _("The clock “%(clock)s” cannot be extended as “%(level)s”.")
            % {"clock": clock.label, "level": event.level}
        )
    if run.done_at is not None:
        raise DeadlineRuleError(_("The clock “%(clock)s” has stopped.") % {"clock": clock.label})
    if event.level in run.levels:
        raise DeadlineRuleError(
            _("The extension “%(level)s” was already granted.") % {"level": level.label}
        )
    if level.requires and level.requires not in run.levels:
        raise DeadlineRuleError(
            _("The extension “%(level)s” can only follow “%(required)s”.")
            % {"level": level.label, "required": clock.extension(level.requires).label}
        )
    if not approver_suffices(event.approved_by, level.approver):
        raise DeadlineRuleError(
            _("The extension “%(level)s” needs the approval of %(approver)s.")
            % {"level": level.label, "approver": Approver(level.approver).label}
        )
    if level.reason_required and not event.note.strip():
        raise DeadlineRuleError(
            _("Give the reason for the extension “%(level)s”.") % {"level": level.label}
        )
    length = level.length if event.length is None else event.length
    _check_length(run, level.length, length)
    if event.at > run.due(run.pause_days_until(event.at)).at:
        raise DeadlineRuleError(
            _("The deadline has passed: an extension must be granted before it.")
        )
    run.length = length
    run.levels.append(event.level)


def _check_length(run: _Run, level_max: int, length: int) -> None:
    limit = min(level_max, run.clock.max_length)
    if length > limit:
        raise DeadlineRuleError(
            _("This extension allows at most %(max)s days in all, not %(days)s.")
            % {"max": limit, "days": length}
        )
    if length <= run.length:
        raise DeadlineRuleError(
            _("An extension must make the clock longer than its %(days)s days.")
            % {"days": run.length}
        )


def _apply_pause(profile: RegulatoryProfile, runs: dict[str, _Run], event: ClockEvent) -> None:
    if event.reason not in PauseReason.values:
        raise DeadlineRuleError(_("Give a valid reason for the pause."))
    allowed = [run for run in _running(runs) if event.reason in run.clock.pause_reasons]
    if not allowed:
        raise DeadlineRuleError(
            _("This profile does not stop the clock for %(reason)s.")
            % {"reason": PauseReason(event.reason).label}
        )
    if any(run.paused_since is not None for run in allowed):
        raise DeadlineRuleError(_("The clock is already paused."))
    # A clock already past its deadline is not paused: the breach has happened.
    in_time = [run for run in allowed if event.at <= run.due().at]
    if not in_time:
        raise DeadlineRuleError(_("The deadline has passed: the clock can no longer be paused."))
    for run in in_time:
        run.paused_since = event.at


def _apply_resume(profile: RegulatoryProfile, runs: dict[str, _Run], event: ClockEvent) -> None:
    paused = [run for run in runs.values() if run.paused_since is not None]
    if not paused:
        raise DeadlineRuleError(_("The clock is not paused."))
    for run in paused:
        run.close_pause(event.at)


def _apply_new_facts(profile: RegulatoryProfile, runs: dict[str, _Run], event: ClockEvent) -> None:
    restarting = [run for run in runs.values() if run.clock.restarts_on_new_facts]
    if not restarting:
        raise DeadlineRuleError(_("Under this profile new facts do not restart the clock."))
    for run in restarting:
        runs[run.clock.key] = _Run(run.clock, run.calendar, event.at, run.clock.length)


def _apply_done(profile: RegulatoryProfile, runs: dict[str, _Run], event: ClockEvent) -> None:
    run = _pick(profile, runs, event.clock, lambda clock: True)
    if run.done_at is not None:
        raise DeadlineRuleError(
            _("The clock “%(clock)s” has already stopped.") % {"clock": run.clock.label}
        )
    run.close_pause(event.at)
    run.done_at = event.at


_APPLY = {
    ClockEventKind.EXTENSION: _apply_extension,
    ClockEventKind.PAUSE: _apply_pause,
    ClockEventKind.RESUME: _apply_resume,
    ClockEventKind.NEW_FACTS: _apply_new_facts,
    ClockEventKind.DONE: _apply_done,
}


def _require_aware(*moments: datetime) -> None:
    for moment in moments:
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise DeadlineRuleError(_("Deadlines need aware datetimes."))


__all__ = [
    "ClockEvent",
    "ClockEventKind",
    "ClockState",
    "ClockStatus",
    "DeadlineRuleError",
    "clock_statuses",
    "due_after",
    "paused_days",
]
