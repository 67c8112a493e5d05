"""How quality figures read on a page: bilingual criterion texts, an estimate with its interval,
and the colour of an evaluation's state."""

from django import template
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from servicecharter.core.templatetags.formatting import number
from servicecharter.core.templatetags.formatting import percent as as_percent
from servicecharter.quality.choices import EvaluationState

register = template.Library()

STATE_BADGE = {
    EvaluationState.ASSIGNED: "badge-muted",
    EvaluationState.COMPLETED: "badge-info",
    EvaluationState.ACKNOWLEDGED: "ok",
    EvaluationState.DISPUTED: "warn",
    EvaluationState.UPHELD: "",
    EvaluationState.REVISED: "badge-info",
}


@register.filter
def bilingual(obj, stem: str = "text"):
    """``obj.<stem>_zh`` in Chinese, ``obj.<stem>_en`` otherwise, falling back to the other."""
    english, chinese = getattr(obj, f"{stem}_en", ""), getattr(obj, f"{stem}_zh", "")
    if (get_language() or "").startswith("zh"):
        return chinese or english
    return english or chinese


@register.filter
def state_badge(state) -> str:
    return STATE_BADGE.get(state, "")


@register.filter
def score_interval(interval) -> str:
    """A mean score with its interval: "82.4 (75.1–89.7)"; the reason when there is none."""
    if interval is None or interval.estimate is None:
        return _("—")
    text = number(interval.estimate, 1)
    if interval.low is None:
        return text
    return f"{text} ({number(interval.low, 1)}–{number(interval.high, 1)})"


@register.filter
def rate_interval(interval) -> str:
    """A proportion with its interval: "75% (41%–93%)"."""
    if interval is None or interval.estimate is None:
        return _("—")
    return (
        f"{as_percent(interval.estimate)} ({as_percent(interval.low)}–{as_percent(interval.high)})"
    )


@register.filter
def interval_range(interval, kind: str = "score") -> str:
    """Only the interval: "75.1–89.7" (``kind`` "rate": "41%–93%"); its reason when there is
    none (too few scores to estimate how much they vary)."""
    if interval is None or interval.low is None:
        return interval.reason if interval is not None else ""
    if kind == "rate":
        return f"{as_percent(interval.low)}–{as_percent(interval.high)}"
    return f"{number(interval.low, 1)}–{number(interval.high, 1)}"
