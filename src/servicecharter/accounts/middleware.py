import time

from django.conf import settings
from django.contrib.auth import SESSION_KEY, logout
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from servicecharter.accounts import services
from servicecharter.accounts.selectors import totp_required_for
from servicecharter.core.context import Actor, current_actor, set_actor

SESSION_STARTED = "started_at"
SESSION_SEEN = "seen_at"
# Left in the fresh session after a forced sign-out, so the sign-in page can say why.
SESSION_ENDED = "session_ended"


class SessionLifetimeMiddleware:
    """Runs after authentication, for every request of a signed-in user:

    - ends the session after ``SESSION_IDLE_TIMEOUT_SECONDS`` without a request or
      ``SESSION_ABSOLUTE_TIMEOUT_SECONDS`` after sign-in, and at once when the user has been
      deactivated (Django then sees an anonymous user, but the session row would linger);
    - keeps a user whose role requires a second factor on the enrolment page until enrolled;
    - activates the user's own language and names the actor for the audit trail.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is None:
            return self.get_response(request)
        if not user.is_authenticated:
            if SESSION_KEY in request.session:
                self._end(request, request.session[SESSION_KEY], "", "inactive")
            return self.get_response(request)
        reason = self._expiry_reason(request.session)
        if reason:
            self._end(request, user.pk, user.get_username(), reason)
            return self.get_response(request)
        self._activate(request, user)
        if (
            user.totp_confirmed_at is None
            and not self._exempt(request.path)
            and totp_required_for(user)
        ):
            return self._to_enrolment(request)
        return self.get_response(request)

    @staticmethod
    def _expiry_reason(session) -> str:
        now = time.time()
        started = session.setdefault(SESSION_STARTED, now)
        seen = session.get(SESSION_SEEN, now)
        if now - started > settings.SESSION_ABSOLUTE_TIMEOUT_SECONDS:
            return "absolute_timeout"
        if now - seen > settings.SESSION_IDLE_TIMEOUT_SECONDS:
            return "idle_timeout"
        session[SESSION_SEEN] = now
        return ""

    @staticmethod
    def _end(request, user_id, username: str, reason: str) -> None:
        services.sign_out_record(user_id=user_id, username=username, reason=reason)
        logout(request)
        request.session[SESSION_ENDED] = reason

    @staticmethod
    def _activate(request, user) -> None:
        if user.language and not request.path.startswith("/i18n/"):
            translation.activate(user.language)
            request.LANGUAGE_CODE = user.language
        actor = current_actor()
        set_actor(Actor(user.pk, user.get_username(), actor.ip, actor.request_id))

    @staticmethod
    def _exempt(path: str) -> bool:
        """Pages an un-enrolled user may still reach: enrolment itself, sign-out, the language
        switch and static files."""
        allowed = (
            reverse("accounts:totp_enrol"),
            reverse("accounts:logout"),
            reverse("set_language"),
        )
        return path in allowed or path.startswith(settings.STATIC_URL)

    @staticmethod
    def _to_enrolment(request):
        message = _("Your role requires a second factor. Set it up before you continue.")
        if request.path.startswith("/api/"):
            return JsonResponse({"code": "totp_enrolment_required", "message": message}, status=403)
        url = reverse("accounts:totp_enrol")
        if request.headers.get("HX-Request"):
            response = HttpResponse(status=204)
            response["HX-Redirect"] = url
            return response
        return redirect(url)
