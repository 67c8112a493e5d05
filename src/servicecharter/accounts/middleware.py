import time

from django.conf import settings
from django.contrib.auth import logout
from django.utils import translation

from servicecharter.core.context import Actor, current_actor, set_actor


class SessionLifetimeMiddleware:
    """Ends a session after 30 minutes idle or 12 hours in all, and names the actor for the audit trail."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = time.time()
            session = request.session
            started = session.setdefault("started_at", now)
            seen = session.get("seen_at", now)
            if (
                now - seen > settings.SESSION_IDLE_TIMEOUT_SECONDS
                or now - started > settings.SESSION_ABSOLUTE_TIMEOUT_SECONDS
            ):
                logout(request)
            else:
                session["seen_at"] = now
                if user.language and not request.path.startswith("/i18n/"):
                    translation.activate(user.language)
                    request.LANGUAGE_CODE = user.language
                actor = current_actor()
                set_actor(Actor(user.pk, user.get_username(), actor.ip, actor.request_id))
        return self.get_response(request)
