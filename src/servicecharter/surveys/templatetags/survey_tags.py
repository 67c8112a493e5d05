"""Template tags of the surveys module.

``{% survey_feedback_about_me request.user %}``: the card "survey feedback about me" for an
employee's own pages. It reads the employee's rollups itself (two queries), so the including
view needs to pass nothing.

``{% tally_cells tally %}``: the cells of one line of a results table (answers, response
rate, CSAT with its interval, mean CSAT, NPS with its interval, effort, sample). A tag rather
than an included template: a results page has hundreds of such lines.
"""

from django import template
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from servicecharter.core.templatetags.formatting import number, percent
from servicecharter.surveys.selectors import survey_feedback_for_user

register = template.Library()
DASH = "—"


@register.inclusion_tag("surveys/_feedback_about_me.html")
def survey_feedback_about_me(user):
    return {"feedback": survey_feedback_for_user(user=user)}


def _with_interval(estimate: str, low: str, high: str, has_interval: bool) -> str:
    if not has_interval:
        return format_html('<td class="num">{}</td>', estimate or DASH)
    return format_html(
        '<td class="num">{} <span class="muted interval">[{}, {}]</span></td>',
        estimate or DASH,
        low,
        high,
    )


def _sample(tally) -> str:
    if not tally.answered:
        return "<td></td>"
    adequacy = tally.adequacy
    if adequacy.adequate:
        return format_html('<td><span class="badge ok">{}</span></td>', _("enough"))
    return format_html(
        '<td><span class="badge warn" title="{}">{}</span></td>', adequacy.message, _("too few")
    )


@register.simple_tag
def tally_cells(tally):
    csat, nps = tally.csat, tally.nps
    cells = [
        format_html('<td class="num">{}</td>', number(tally.answered)),
        format_html('<td class="num">{}</td>', percent(tally.response_rate) or DASH),
        _with_interval(
            percent(csat.estimate), percent(csat.low), percent(csat.high), csat.low is not None
        ),
        format_html('<td class="num">{}</td>', number(tally.csat_mean, 2) or DASH),
        _with_interval(
            number(nps.estimate), number(nps.low), number(nps.high), nps.low is not None
        ),
        format_html('<td class="num">{}</td>', number(tally.effort_mean, 2) or DASH),
        _sample(tally),
    ]
    # Each cell was escaped by format_html.
    return mark_safe("".join(cells))
