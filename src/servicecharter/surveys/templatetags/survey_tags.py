"""``{% load survey_tags %}{% survey_feedback_about_me request.user %}``: the card "survey
feedback about me" for an employee's own pages (e.g. the "my quality" page). It reads the
employee's rollups itself (two queries), so the including view needs to pass nothing."""

from django import template

from servicecharter.surveys.selectors import survey_feedback_for_user

register = template.Library()


@register.inclusion_tag("surveys/_feedback_about_me.html")
def survey_feedback_about_me(user):
    return {"feedback": survey_feedback_for_user(user=user)}
