"""Periodic jobs and event subscribers of the cases module."""

from datetime import timedelta

from servicecharter.cases.services import case_deadlines_recompute, sweep_deadlines
from servicecharter.core.events import subscriber
from servicecharter.core.worker import periodic


@periodic("cases.sweep_deadlines", every=timedelta(minutes=1))
def sweep_case_deadlines() -> None:
    sweep_deadlines()


@subscriber("calendar.changed")
def recompute_deadlines_after_calendar_change(event) -> None:
    """An administrator entered a year's holidays: open deadlines on that calendar move.
    Idempotent: a second run finds nothing left to move."""
    codes = {event.payload["calendar"], *event.payload.get("affected_calendars", [])}
    case_deadlines_recompute(calendar_codes=codes)
