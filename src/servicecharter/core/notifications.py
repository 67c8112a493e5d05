"""The one notification service: an in-app inbox and email, in the recipient's language.

Sending
    ``notify(recipient=user, kind="cases.assigned", subject=..., body=..., url="/cases/42/")``
    inside the service that records the fact. It stores the inbox row in the same
    transaction, and sends the email only after that transaction commits — a fact that is
    rolled back sends nothing. ``subject`` and ``body`` may be lazy translation strings
    (``gettext_lazy``) or callables returning text; both are rendered under the recipient's
    language, so write them as you would any user-visible string::

        notify(
            recipient=agent.user,
            kind="cases.assigned",
            subject=gettext_lazy("A complaint was assigned to you"),
            body=lambda: gettext("Complaint %(code)s is due on %(due)s.") % {...},
            url=reverse("cases:detail", args=[case.pk]),
        )

Registering a kind
    Every kind must be registered once, at import time of the module that sends it (for
    example at the top of ``cases/services.py`` or in the app's ``AppConfig.ready``)::

        from servicecharter.core.notifications import register_kind
        register_kind("cases.assigned", gettext_lazy("A complaint is assigned to me"))
        register_kind("discipline.sanction_decided", gettext_lazy("A sanction about me is decided"),
                      mandatory=True)

    The label is what people see on their preferences page. A ``mandatory`` kind (a notice
    the institution must deliver, such as a sanction decision) cannot be switched off.

Preferences
    Per user, per kind and channel (in the system / email), on by default. A kind switched off
    for the inbox still leaves a row there, already marked read: the history stays complete
    but raises no badge. Email goes only to users with an address.
"""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import transaction
from django.http import Http404
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from servicecharter.core.audit import audit_record
from servicecharter.core.choices import NotificationChannel
from servicecharter.core.models import Notification, NotificationPreference

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class NotificationKind:
    code: str
    label: Promise | str
    mandatory: bool = False


KINDS: dict[str, NotificationKind] = {}


def register_kind(code: str, label, *, mandatory: bool = False) -> NotificationKind:
    """Declare a kind of notification (idempotent: re-registering replaces the label)."""
    kind = NotificationKind(code=code, label=label, mandatory=mandatory)
    KINDS[code] = kind
    return kind


register_kind("system.message", gettext_lazy("Messages from the administrators"))
register_kind("api_token.created", gettext_lazy("An API token was issued for my account"))


# Sending ----------------------------------------------------------------------------------


def _render(value) -> str:
    if value is None:
        return ""
    if not isinstance(value, (str, Promise)) and callable(value):
        value = value()
    return str(value)


def _safe_url(url: str) -> str:
    """Only links inside this site: a notification must never carry someone off-site."""
    if url and not (
        url.startswith("/") and url_has_allowed_host_and_scheme(url, allowed_hosts=set())
    ):
        raise ValueError(f"A notification link must be a local path, not {url!r}.")
    return url


def _disabled_channels(recipient, kind: NotificationKind) -> set[str]:
    if kind.mandatory:
        return set()
    return set(
        NotificationPreference.objects.filter(
            user=recipient, kind=kind.code, enabled=False
        ).values_list("channel", flat=True)
    )


def notify(*, recipient, kind: str, subject, body="", url: str = "") -> Notification:
    """Tell ``recipient`` about something, in their language. Call it inside the transaction
    that records the fact; the email leaves only after that transaction commits."""
    if kind not in KINDS:
        raise ValueError(f"Unknown notification kind {kind!r}: register it with register_kind().")
    url = _safe_url(url)
    language = recipient.language or settings.LANGUAGE_CODE
    with translation.override(language):
        subject_text = _render(subject)[:300]
        body_text = _render(body)
    disabled = _disabled_channels(recipient, KINDS[kind])
    now = timezone.now()
    notification = Notification.objects.create(
        recipient=recipient,
        kind=kind,
        subject=subject_text,
        body=body_text,
        url=url,
        read_at=now if NotificationChannel.IN_APP in disabled else None,
    )
    if recipient.email and NotificationChannel.EMAIL not in disabled:
        transaction.on_commit(lambda: _send_email(notification.pk, language), robust=True)
    return notification


def mail_kept_in_memory():
    """A block whose mail goes to Django's in-memory outbox, not to the configured backend:
    for made-up history (the demo's seed) and for benchmarks, whose notices are for no one."""
    from django.test.utils import override_settings  # only these commands need it

    return override_settings(
        MAILERS={"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    )


def _send_email(notification_id: int, language: str) -> None:
    notification = Notification.objects.select_related("recipient").get(pk=notification_id)
    recipient = notification.recipient
    site = settings.SITE_URL  # absolute links in mail, when configured
    with translation.override(language):
        text = render_to_string(
            "core/notifications/email.txt",
            {
                "notification": notification,
                "recipient": recipient,
                "link": f"{site}{notification.url}" if notification.url else "",
                "preferences_link": site + reverse("core:notification_preferences"),
            },
        )
        subject = f"[{_('Service Charter')}] {notification.subject}"
    EmailMessage(subject, text, settings.DEFAULT_FROM_EMAIL, [recipient.email]).send()
    Notification.objects.filter(pk=notification_id, emailed_at=None).update(
        emailed_at=timezone.now()
    )


# Reading -----------------------------------------------------------------------------------


def inbox_for(user, *, unread_only: bool = False):
    notifications = Notification.objects.filter(recipient=user)
    if unread_only:
        notifications = notifications.filter(read_at=None)
    return notifications.order_by("-created_at", "-id")


def unread_count(user) -> int:
    return Notification.objects.filter(recipient=user, read_at=None).count()


def notification_get_for_user(*, user, notification_id: int) -> Notification:
    """Only the recipient may see a notification; anyone else gets 404."""
    notification = Notification.objects.filter(pk=notification_id, recipient=user).first()
    if notification is None:
        raise Http404
    return notification


def preferences_of(user) -> dict[tuple[str, str], bool]:
    """{(kind, channel): enabled} for every registered kind and channel (default: on)."""
    stored = {
        (kind, channel): enabled
        for kind, channel, enabled in NotificationPreference.objects.filter(user=user).values_list(
            "kind", "channel", "enabled"
        )
    }
    return {
        (code, channel): KINDS[code].mandatory or stored.get((code, channel), True)
        for code in KINDS
        for channel in NotificationChannel.values
    }


# Writes (personal state: reading is not audited, preference changes are) -------------------


def notification_mark_read(*, user, notification_id: int) -> Notification:
    notification = notification_get_for_user(user=user, notification_id=notification_id)
    if notification.read_at is None:
        notification.read_at = timezone.now()
        Notification.objects.filter(pk=notification.pk, read_at=None).update(
            read_at=notification.read_at
        )
    return notification


def notifications_mark_all_read(*, user) -> int:
    return Notification.objects.filter(recipient=user, read_at=None).update(read_at=timezone.now())


@transaction.atomic
def notification_preferences_set(*, user, enabled: dict[tuple[str, str], bool]) -> None:
    """Store the user's choices; a mandatory kind stays on whatever is asked."""
    unknown = [
        key for key in enabled if key[0] not in KINDS or key[1] not in NotificationChannel.values
    ]
    if unknown:
        raise ValidationError(_("Unknown notification kind or channel."))
    before = preferences_of(user)
    changes = {}
    for (kind, channel), on in enabled.items():
        on = on or KINDS[kind].mandatory
        if before[(kind, channel)] != on:
            changes[f"{kind}/{channel}"] = [before[(kind, channel)], on]
        NotificationPreference.objects.update_or_create(
            user=user, kind=kind, channel=channel, defaults={"enabled": on}
        )
    if changes:
        audit_record(action="notification_preferences.update", obj=user, changes=changes)
