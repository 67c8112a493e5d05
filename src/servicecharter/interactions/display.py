"""How a deviation reads: what was judged, what was expected and what happened, in the reader's
language. Deviations store plain numbers (seconds, or business days) so they read in any."""

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from servicecharter.interactions.choices import DeviationKind
from servicecharter.standards.choices import ServiceLevelMetric


def duration(seconds) -> str:
    """45 s, 2 min 05 s, 1 h 02 min, 3 d 4 h."""
    try:
        seconds = int(seconds)
    except (TypeError, ValueError):
        return str(seconds or "")
    if seconds < 60:
        return _("%(s)d s") % {"s": seconds}
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return _("%(m)d min %(s)02d s") % {"m": minutes, "s": secs}
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return _("%(h)d h %(m)02d min") % {"h": hours, "m": minutes}
    days, hours = divmod(hours, 24)
    return _("%(d)d d %(h)d h") % {"d": days, "h": hours}


def business_days(count) -> str:
    count = int(count)
    return ngettext("%(n)d business day", "%(n)d business days", count) % {"n": count}


def deviation_text(deviation, step_names: dict[str, str]) -> dict:
    """{"what", "expected", "actual"} of one deviation."""
    kind = deviation.kind
    if kind == DeviationKind.SERVICE_LEVEL:
        metric = deviation.step_code
        label = dict(ServiceLevelMetric.choices).get(metric, metric)
        if metric == ServiceLevelMetric.REPLY_WITHIN_BUSINESS_DAYS:
            expected = _("within %(time)s") % {"time": business_days(deviation.expected)}
            actual = _("replied after %(time)s") % {"time": duration(deviation.actual)}
        else:
            expected = _("within %(time)s") % {"time": duration(deviation.expected)}
            actual = _("waited %(time)s") % {"time": duration(deviation.actual)}
        return {"what": label, "expected": expected, "actual": actual}
    name = step_names.get(deviation.step_code, deviation.step_code)
    if kind == DeviationKind.STEP_LATE:
        return {
            "what": name,
            "expected": _("by %(time)s") % {"time": duration(deviation.expected)},
            "actual": _("at %(time)s") % {"time": duration(deviation.actual)},
        }
    return {"what": name, "expected": _("done"), "actual": _("not done")}
