from django import template

from servicecharter.interactions.display import duration as duration_text

register = template.Library()


@register.filter
def duration(seconds):
    """Seconds as 45 s, 2 min 05 s, 1 h 02 min; blank for none."""
    if seconds is None or seconds == "":
        return ""
    return duration_text(seconds)


@register.filter
def share_of(value, scale):
    """``value`` as a whole percentage of ``scale`` (0–100), for a time line position."""
    try:
        return max(0, min(100, round(100 * int(value) / int(scale))))
    except (TypeError, ValueError, ZeroDivisionError):
        return 0
