"""How decisions read on a page: the rulebook's reasoning step by step in the reader's
language, and horizontal bar charts drawn as inline SVG on the server (no script, no CDN)."""

from django import template
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from servicecharter.core.templatetags.formatting import money, number
from servicecharter.discipline.choices import Measure

register = template.Library()

BAR_HEIGHT = 22
BAR_GAP = 6
LABEL_WIDTH = 220
BAR_AREA = 320
CHART_ROWS = 30  # more bars are unreadable; the table beside the chart lists everything


def _measure(value) -> str:
    try:
        return str(Measure(value).label)
    except ValueError:
        return str(value or "")


def _rulebook_text(step: dict) -> str | None:
    """The rulebook module's own wording, when it offers one."""
    try:
        from servicecharter.discipline.rulebook import explain_step
    except ImportError:
        return None
    try:
        return str(explain_step(step))
    except Exception:
        return None


@register.filter
def explain_step(step) -> str:
    """One step of ``Decision.explanation["steps"]`` as a sentence."""
    if not isinstance(step, dict):
        return str(step)
    code = step.get("code")
    if code == "fine_as_pay_reduction":
        return _("Fines are replaced by a reduction of performance pay in this jurisdiction.")
    if code == "fines_disabled":
        return _("Fines are not allowed in this jurisdiction: another measure must be chosen.")
    text = _rulebook_text(step)
    if text:
        return text
    if code == "facts":
        return _("Facts: severity %(severity)s, impact %(impact)s, %(priors)s prior(s).") % {
            "severity": step.get("severity"),
            "impact": step.get("impact_scope"),
            "priors": step.get("priors"),
        }
    if code == "priors":
        return _("%(count)s confirmed prior violation(s) in the last %(days)s days.") % {
            "count": step.get("count"),
            "days": step.get("lookback_days"),
        }
    if code == "rule_matched":
        chinese = (get_language() or "").startswith("zh")
        note = step.get("explanation_zh") if chinese else step.get("explanation_en")
        text = _("Rule %(rule)s applies: %(measure)s.") % {
            "rule": step.get("rule"),
            "measure": _measure(step.get("measure")),
        }
        return f"{text} {note}" if note else text
    if code == "no_rule":
        return _("No rule of the rulebook applies: no measure is recommended.")
    if code == "factor":
        return _("Factor %(factor)s (%(effect)s, %(steps)s step(s)).") % {
            "factor": step.get("factor"),
            "effect": step.get("effect"),
            "steps": step.get("steps"),
        }
    if code == "moved":
        return _("The factors move the measure from %(from)s to %(to)s.") % {
            "from": _measure(step.get("from")),
            "to": _measure(step.get("to")),
        }
    if code == "amount":
        return _("Amount: %(amount)s.") % {"amount": money(step.get("amount"))}
    if code == "amount_by_decider":
        return _("The rule sets no amount: the decider sets it.")
    if code == "demotion":
        return _("Demotion by %(grades)s grade(s).") % {"grades": step.get("grades")}
    if code == "training":
        return _("Remedial training: %(training)s.") % {"training": step.get("training")}
    if code == "result":
        return _("Recommended: %(measure)s, counting as a prior for %(months)s months.") % {
            "measure": _measure(step.get("measure")),
            "months": step.get("in_force_months"),
        }
    return str(code or "")


@register.inclusion_tag("discipline/_bar_chart.html")
def bar_chart(rows, label: str, places: int = 0, unit: str = ""):
    """``rows``: (label, value) pairs. Bars scale to the largest value."""
    # Zero bars only crowd the chart: the table beside it lists every row.
    rows = [(str(name), float(value or 0)) for name, value in rows if value][:CHART_ROWS]
    largest = max((value for _name, value in rows), default=0) or 1
    bars = []
    for position, (name, value) in enumerate(rows):
        top = position * (BAR_HEIGHT + BAR_GAP)
        width = BAR_AREA * value / largest
        # Coordinates as text: a localised number ("1,234.5") would break the SVG.
        bars.append(
            {
                "label": name,
                "text": f"{number(value, places)}{unit}",
                "y": f"{top:.1f}",
                "text_y": f"{top + BAR_HEIGHT * 0.7:.1f}",
                "width": f"{width:.1f}",
                "value_x": f"{LABEL_WIDTH + width + 6:.1f}",
            }
        )
    return {
        "bars": bars,
        "label": label,
        "height": str(max(1, len(bars)) * (BAR_HEIGHT + BAR_GAP)),
        "width": str(LABEL_WIDTH + BAR_AREA + 80),
        "label_x": str(LABEL_WIDTH - 8),
        "label_width": str(LABEL_WIDTH),
        "bar_height": str(BAR_HEIGHT),
    }


@register.filter
def local_url(url) -> str:
    """Only a link inside this site (evidence is data; it must never carry a script)."""
    url = str(url or "")
    return url if url.startswith("/") and not url.startswith("//") else ""


@register.filter
def measure_label(value) -> str:
    return _measure(value)
