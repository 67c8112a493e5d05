"""Calendar administration: list, create a custom calendar, a year's month grid, entered days and
a pasted official schedule. Only holders of MANAGE_CALENDARS; anyone else gets 403."""

import zoneinfo
from datetime import date
from functools import wraps

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dates import MONTHS, WEEKDAYS_ABBR
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from servicecharter.accounts.permissions import MANAGE_CALENDARS
from servicecharter.accounts.scoping import has_capability
from servicecharter.core.calendars import (
    NAME_MAX_LENGTH,
    CalendarBase,
    DaySource,
    UnknownCalendar,
    calendar_summaries,
    calendar_summary,
    entered_days,
    get_calendar,
    holiday_name,
    parse_day,
    year_grid,
)
from servicecharter.core.choices import CalendarDayKind
from servicecharter.core.services.calendars import (
    calendar_create,
    calendar_day_remove,
    calendar_day_set,
    calendar_schedule_import,
)


def calendar_manager_required(view):
    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not has_capability(request.user, MANAGE_CALENDARS):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


class CalendarForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("Code"),
        max_length=20,
        help_text=gettext_lazy("Capital letters, digits and hyphens, e.g. CN-SZ."),
    )
    name_en = forms.CharField(label=gettext_lazy("Name (English)"), max_length=100)
    name_zh = forms.CharField(label=gettext_lazy("Name (Chinese)"), max_length=100)
    # "" (weekends only) is a real choice, so the field may be empty.
    base = forms.ChoiceField(
        label=gettext_lazy("Base calendar"), choices=CalendarBase.choices, required=False
    )
    time_zone = forms.CharField(
        label=gettext_lazy("Time zone"),
        max_length=64,
        help_text=gettext_lazy("An IANA time zone, e.g. Asia/Shanghai or Europe/London."),
    )


class DayForm(forms.Form):
    date = forms.DateField(
        label=gettext_lazy("Date"), widget=forms.DateInput(attrs={"type": "date"})
    )
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), choices=CalendarDayKind.choices)
    name = forms.CharField(label=gettext_lazy("Name"), max_length=NAME_MAX_LENGTH, required=False)


class ScheduleForm(forms.Form):
    text = forms.CharField(
        label=gettext_lazy("Schedule"),
        widget=forms.Textarea(attrs={"rows": 16, "cols": 60, "spellcheck": "false"}),
        help_text=gettext_lazy(
            "One day per line: date, holiday or workday, and an optional name — "
            "e.g. “2027-01-01 holiday 元旦” or “2027-02-07 workday 春节调休”."
        ),
    )
    replace_years = forms.BooleanField(
        label=gettext_lazy("Replace the entered days of the years in this schedule"),
        required=False,
    )


@calendar_manager_required
def calendar_list(request):
    summaries = calendar_summaries(timezone.localdate())
    return render(request, "core/calendars/list.html", {"summaries": summaries})


@calendar_manager_required
@require_http_methods(["GET", "POST"])
def calendar_new(request):
    form = CalendarForm(
        request.POST or None, initial={"time_zone": timezone.get_default_timezone_name()}
    )
    if request.method == "POST" and form.is_valid():
        try:
            calendar = calendar_create(**form.cleaned_data)
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("Calendar %(code)s created.") % {"code": calendar.code})
            return redirect("core:calendar_detail", code=calendar.code)
    context = {"form": form, "time_zones": sorted(zoneinfo.available_timezones())}
    return render(request, "core/calendars/new.html", context)


@calendar_manager_required
def calendar_detail(request, code):
    return _render_detail(request, code, _year_param(request), DayForm())


@calendar_manager_required
@require_POST
def calendar_day_add(request, code):
    form = DayForm(request.POST)
    year = _year_param(request)
    if form.is_valid():
        try:
            calendar_day_set(
                calendar_code=code,
                day=form.cleaned_data["date"],
                kind=form.cleaned_data["kind"],
                name=form.cleaned_data["name"],
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            day = form.cleaned_data["date"]
            messages.success(request, _("%(day)s saved.") % {"day": day})
            return redirect(_detail_url(code, day.year))
    return _render_detail(request, code, year, form, status=400)


@calendar_manager_required
@require_POST
def calendar_day_delete(request, code, day):
    parsed = parse_day(day)
    if parsed is None:
        raise Http404
    try:
        calendar_day_remove(calendar_code=code, day=parsed)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("%(day)s removed.") % {"day": parsed})
    return redirect(_detail_url(code, parsed.year))


@calendar_manager_required
@require_http_methods(["GET", "POST"])
def calendar_schedule(request, code):
    summary = _summary_or_404(code)
    form = ScheduleForm(request.POST or None)
    line_errors: list[str] = []
    if request.method == "POST" and form.is_valid():
        try:
            result = calendar_schedule_import(calendar_code=code, **form.cleaned_data)
        except ValidationError as exc:
            line_errors = exc.messages
        else:
            messages.success(
                request,
                _("%(count)s days saved for %(years)s.")
                % {"count": result.saved, "years": ", ".join(map(str, result.years))},
            )
            return redirect(_detail_url(code, result.years[0]))
    context = {"summary": summary, "form": form, "line_errors": line_errors}
    return render(
        request, "core/calendars/schedule.html", context, status=400 if line_errors else 200
    )


def _render_detail(request, code, year, day_form, status=200):
    summary = _summary_or_404(code)
    cal = get_calendar(code)
    months = [
        {
            "name": MONTHS[month.month],
            "weeks": [[_cell(info) for info in week] for week in month.weeks],
        }
        for month in year_grid(cal, year)
    ]
    context = {
        "summary": summary,
        "year": year,
        "months": months,
        "weekdays": [WEEKDAYS_ABBR[i] for i in range(7)],
        "entered": entered_days(code, year),
        "warnings": cal.coverage_warnings(date(year, 1, 1), date(year, 12, 31)),
        "day_form": day_form,
    }
    return render(request, "core/calendars/detail.html", context, status=status)


def _cell(info):
    if info is None:
        return None
    classes = ["day"]
    if not info.working:
        classes.append("off")
    if info.kind == CalendarDayKind.HOLIDAY:
        classes.append("holiday")
    elif info.kind == CalendarDayKind.WORKDAY and info.is_weekend:
        classes.append("makeup")
    if info.source == DaySource.ENTERED:
        classes.append("entered")
    if info.source == DaySource.FALLBACK:
        classes.append("estimate")
    return {"day": info.day, "classes": " ".join(classes), "title": holiday_name(info)}


def _summary_or_404(code):
    try:
        return calendar_summary(code, timezone.localdate())
    except UnknownCalendar as exc:
        raise Http404 from exc


def _year_param(request) -> int:
    value = request.GET.get("year") or request.POST.get("year") or ""
    if value.isdigit() and 1900 <= int(value) <= 2200:
        return int(value)
    return timezone.localdate().year


def _detail_url(code, year):
    return f"{reverse('core:calendar_detail', kwargs={'code': code})}?year={year}"


def _add_errors(form, exc: ValidationError):
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)
