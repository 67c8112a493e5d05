"""Template context every page needs from core."""

from django.utils.functional import SimpleLazyObject

from servicecharter.core.notifications import unread_count


def notifications(request):
    """The unread count for the top bar: one COUNT on a partial index, and only when a
    template actually shows it."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notification_count": SimpleLazyObject(lambda: unread_count(user))}
