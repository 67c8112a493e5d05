"""Every write to business calendars. One transaction per use case, each audited.

A change to a calendar's days emits ``calendar.changed`` in the same transaction, naming every
calendar whose results may move (the calendar and the custom calendars built on it), so that
later modules recompute their open deadlines.
"""

import re
import zoneinfo
from dataclasses import dataclass
from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from servicecharter.core.audit import audit_record
from servicecharter.core.calendars import (
    BUILTIN_CALENDARS,
    NAME_MAX_LENGTH,
    CalendarBase,
    builtin_time_zone,
    forget_calendars,
    parse_schedule,
)
from servicecharter.core.choices import CalendarDayKind
from servicecharter.core.events import emit
from servicecharter.core.models import Calendar, CalendarDay

CODE_PATTERN = re.compile(r"[A-Z0-9][A-Z0-9_-]{0,19}")
CHANGED_EVENT = "calendar.changed"


@dataclass(frozen=True)
class ScheduleImported:
    calendar_code: str
    saved: int
    replaced: int
    years: tuple[int, ...]


@transaction.atomic
def calendar_create(
    *, code: str, name_en: str, name_zh: str, base: str, time_zone: str
) -> Calendar:
    """A custom calendar: a base (CN, UK, US or weekends only) to which days are added later."""
    code = (code or "").strip().upper()
    errors = {}
    if not CODE_PATTERN.fullmatch(code):
        errors["code"] = _(
            "Use 1–20 capital letters, digits, hyphens or underscores, starting with a letter or digit."
        )
    elif code in BUILTIN_CALENDARS or Calendar.objects.filter(code=code).exists():
        errors["code"] = _("A calendar with this code already exists.")
    if base not in CalendarBase.values:
        errors["base"] = _("Choose one of the listed base calendars.")
    if time_zone not in zoneinfo.available_timezones():
        errors["time_zone"] = _("“%(value)s” is not a known time zone.") % {"value": time_zone}
    if errors:
        raise ValidationError(errors)
    calendar = Calendar(
        code=code,
        name_en=name_en.strip(),
        name_zh=name_zh.strip(),
        base=base,
        time_zone=time_zone,
    )
    calendar.full_clean()
    calendar.save()
    audit_record(
        action="calendar.create",
        obj=calendar,
        changes={
            "code": [None, code],
            "base": [None, base],
            "time_zone": [None, time_zone],
            "name_en": [None, calendar.name_en],
            "name_zh": [None, calendar.name_zh],
        },
    )
    forget_calendars()
    return calendar


@transaction.atomic
def calendar_day_set(*, calendar_code: str, day: date, kind: str, name: str = "") -> CalendarDay:
    """Declare ``day`` a holiday or a working day on the calendar (replacing an earlier entry)."""
    if kind not in CalendarDayKind.values:
        raise ValidationError({"kind": _("Choose holiday or working day.")})
    name = (name or "").strip()
    if len(name) > NAME_MAX_LENGTH:
        raise ValidationError(
            {"name": _("At most %(count)s characters.") % {"count": NAME_MAX_LENGTH}}
        )
    calendar = _calendar_for_write(calendar_code)
    existing = CalendarDay.objects.filter(calendar=calendar, date=day).first()
    before = [existing.kind, existing.name] if existing else None
    entry, _created = CalendarDay.objects.update_or_create(
        calendar=calendar, date=day, defaults={"kind": kind, "name": name}
    )
    audit_record(
        action="calendar_day.set",
        obj=calendar,
        changes={str(day): [before, [kind, name]]},
    )
    _days_changed(calendar, [day])
    return entry


@transaction.atomic
def calendar_day_remove(*, calendar_code: str, day: date) -> None:
    """Take an entered day off the calendar; the base decides that date again."""
    calendar = _calendar_for_write(calendar_code)
    entry = CalendarDay.objects.filter(calendar=calendar, date=day).first()
    if entry is None:
        raise ValidationError(
            _("%(day)s has no entered day on calendar %(code)s.")
            % {"day": day, "code": calendar.code}
        )
    entry.delete()
    audit_record(
        action="calendar_day.remove",
        obj=calendar,
        changes={str(day): [[entry.kind, entry.name], None]},
    )
    _days_changed(calendar, [day])


@transaction.atomic
def calendar_schedule_import(
    *, calendar_code: str, text: str, replace_years: bool = False
) -> ScheduleImported:
    """Save a pasted schedule, all of it or — when any line is bad — none of it.

    ``replace_years`` first removes the entered days of every year the schedule mentions, so a
    corrected official schedule replaces the earlier one instead of being merged into it."""
    entries, errors = parse_schedule(text or "")
    if errors:
        raise ValidationError([str(error) for error in errors])
    calendar = _calendar_for_write(calendar_code)
    years = tuple(sorted({entry.day.year for entry in entries}))
    replaced = 0
    if replace_years:
        replaced, _detail = CalendarDay.objects.filter(
            calendar=calendar, date__year__in=years
        ).delete()
    dates = [entry.day for entry in entries]
    CalendarDay.objects.filter(calendar=calendar, date__in=dates).delete()
    CalendarDay.objects.bulk_create(
        CalendarDay(calendar=calendar, date=entry.day, kind=entry.kind, name=entry.name)
        for entry in entries
    )
    audit_record(
        action="calendar.schedule_import",
        obj=calendar,
        changes={
            "years": [None, list(years)],
            "replaced_days": [None, replaced],
            "days": [None, {str(e.day): [e.kind, e.name] for e in entries}],
        },
    )
    _days_changed(calendar, dates)
    return ScheduleImported(calendar.code, len(entries), replaced, years)


def _calendar_for_write(code: str) -> Calendar:
    """Lock the calendar's row; a built-in calendar gets its row on its first entered day."""
    calendar = Calendar.objects.select_for_update().filter(code=code).first()
    if calendar is not None:
        return calendar
    builtin = BUILTIN_CALENDARS.get(code)
    if builtin is None:
        raise ValidationError(_("There is no calendar %(code)s.") % {"code": code})
    calendar, created = Calendar.objects.get_or_create(
        code=code,
        defaults={
            "name_en": builtin.name_en,
            "name_zh": builtin.name_zh,
            "base": code,
            "time_zone": builtin_time_zone(code),
        },
    )
    if created:
        audit_record(
            action="calendar.create",
            obj=calendar,
            changes={"code": [None, code], "base": [None, code]},
        )
    return calendar


def _days_changed(calendar: Calendar, days: list[date]) -> None:
    # Touching updated_at is what tells other processes' caches to reload.
    calendar.save(update_fields=["updated_at"])
    affected = [calendar.code]
    if calendar.code in BUILTIN_CALENDARS:
        affected += list(
            Calendar.objects.filter(base=calendar.code)
            .exclude(code=calendar.code)
            .values_list("code", flat=True)
        )
    emit(
        name=CHANGED_EVENT,
        payload={
            "calendar": calendar.code,
            "affected_calendars": sorted(affected),
            "dates": sorted({str(day) for day in days}),
            "years": sorted({day.year for day in days}),
        },
    )
    forget_calendars()
    transaction.on_commit(forget_calendars)
