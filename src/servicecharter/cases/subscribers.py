"""Periodic jobs and event subscribers of the cases module."""

from datetime import timedelta

from servicecharter.cases.services import (
    case_deadlines_recompute,
    case_deadlines_recompute_for_profiles,
    sweep_deadlines,
)
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


@subscriber("cases.settings_changed")
def recompute_warnings_after_settings_change(event) -> None:
    """A new warn share moves the warning time of every open complaint. Idempotent."""
    if "warn_share" in event.payload.get("changes", {}):
        case_deadlines_recompute_for_profiles(profile_keys=None)
