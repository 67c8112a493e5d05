"""The customer's survey page, no sign-in: ``/survey/<token>/`` from the invitation's link.

- In the customer's language (the invitation's); ``?lang=en`` / ``?lang=zh-hans`` switches.
- Single use: once answered, the link says so; an expired link says so (410); a token that
  matches no invitation gets a plain 404 page, and such guesses are limited per address, as
  are the answers sent (429 beyond either limit).
- Nothing about the institution's staff is shown: the customer sees what the survey is about
  (the channel and the day), never who served them.
"""

from datetime import timedelta
from functools import wraps

from django.conf import settings
from django.core.exceptions import ValidationError
from django.shortcuts import render
from django.urls import path
from django.utils import timezone, translation
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from servicecharter.core.middleware import client_ip
from servicecharter.core.throttle import throttle_exceeded, throttle_hit
from servicecharter.org.forms import apply_service_errors
from servicecharter.surveys import services
from servicecharter.surveys.choices import InvitationState
from servicecharter.surveys.forms import SurveyAnswerForm

# Per address: unknown tokens per 15 minutes, answers sent per hour.
BAD_TOKEN_LIMIT = ("surveys.bad_token", 20, timedelta(minutes=15))
ANSWER_LIMIT = ("surveys.answer", 20, timedelta(hours=1))
LANGUAGES = {code for code, _name in settings.LANGUAGES}


def _limited(request, limit: tuple) -> bool:
    scope, count, window = limit
    return throttle_exceeded(scope=scope, key=client_ip(request), limit=count, window=window)


def _count(request, limit: tuple) -> None:
    throttle_hit(scope=limit[0], key=client_ip(request))


def _language(request, invitation_language: str) -> str:
    """The page's language: ``?lang=`` when given, else the invitation's."""
    asked = request.GET.get("lang", "")
    return asked if asked in LANGUAGES else invitation_language


def survey_page(view):
    @wraps(view)
    @never_cache
    @require_http_methods(["GET", "POST"])
    def wrapped(request, token: str):
        if _limited(request, BAD_TOKEN_LIMIT):
            return render(request, "surveys/public/limited.html", status=429)
        invitation = services.invitation_for_token(token)
        if invitation is None:
            _count(request, BAD_TOKEN_LIMIT)
            return render(request, "surveys/public/not_found.html", status=404)
        language = _language(request, invitation.language)
        with translation.override(language):
            request.LANGUAGE_CODE = language
            response = view(request, invitation)
        response.headers["Content-Language"] = language
        return response

    return wrapped


def _closed(request, invitation, reason: str):
    if reason == "answered":
        return render(request, "surveys/public/answered.html", {"invitation": invitation})
    return render(request, "surveys/public/expired.html", {"invitation": invitation}, status=410)


@survey_page
def answer(request, invitation):
    if invitation.state == InvitationState.ANSWERED:
        return _closed(request, invitation, "answered")
    if invitation.expires_at <= timezone.now():
        return _closed(request, invitation, "expired")
    form = SurveyAnswerForm(request.POST or None, rule=invitation.rule)
    context = {"form": form, "invitation": invitation}
    if request.method == "POST":
        if _limited(request, ANSWER_LIMIT):
            return render(request, "surveys/public/answer.html", {**context, "limited": True},
                          status=429)  # fmt: skip
        _count(request, ANSWER_LIMIT)
        if form.is_valid():
            try:
                services.survey_respond(invitation=invitation, **form.answers())
            except services.InvitationClosed as closed:
                return _closed(request, invitation, closed.reason)
            except ValidationError as error:
                apply_service_errors(form, error)
            else:
                return render(request, "surveys/public/thanks.html", {"invitation": invitation})
    return render(request, "surveys/public/answer.html", context)


urlpatterns = [path("<str:token>/", answer, name="answer")]
