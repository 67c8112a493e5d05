"""The notification service: inbox row now, email after commit, in the recipient's language."""

import pytest
from django.core import mail
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils.translation import gettext, gettext_lazy

from servicecharter.core.models import AuditEntry, Notification, NotificationPreference
from servicecharter.core.notifications import notify, register_kind
from tests.conftest import make_user

register_kind("tests.hello", gettext_lazy("A test greeting"))
register_kind("tests.notice", gettext_lazy("A notice that must be delivered"), mandatory=True)


@pytest.fixture
def alice(tree):
    return make_user("alice", None, None, email="alice@example.com", language="en")


@pytest.fixture
def zhang(tree):
    return make_user("zhang", None, None, email="zhang@example.com", language="zh-hans")


def say_hello(recipient, **extra):
    return notify(
        recipient=recipient,
        kind=extra.pop("kind", "tests.hello"),
        subject=gettext_lazy("January"),
        body=lambda: gettext("Monday"),
        url="/core/notifications/",
        **extra,
    )


def test_the_email_leaves_only_after_commit(alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        notification = say_hello(alice)
    assert Notification.objects.filter(pk=notification.pk, recipient=alice).exists()
    assert mail.outbox == []
    for callback in callbacks:
        callback()
    assert [message.to for message in mail.outbox] == [["alice@example.com"]]
    notification.refresh_from_db()
    assert notification.emailed_at is not None


def test_a_rolled_back_fact_sends_nothing(alice, django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        say_hello(alice)
        raise RuntimeError("the fact failed")
    assert mail.outbox == []
    assert not Notification.objects.exists()


def test_it_speaks_the_recipients_language(alice, zhang, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        english = say_hello(alice)
        chinese = say_hello(zhang)
    assert (english.subject, english.body) == ("January", "Monday")
    assert (chinese.subject, chinese.body) == ("一月", "星期一")
    by_address = {message.to[0]: message for message in mail.outbox}
    assert "一月" in by_address["zhang@example.com"].subject
    assert "星期一" in by_address["zhang@example.com"].body
    assert "January" in by_address["alice@example.com"].subject


def test_preferences_switch_off_email_and_the_badge(alice, django_capture_on_commit_callbacks):
    NotificationPreference.objects.create(
        user=alice, kind="tests.hello", channel="email", enabled=False
    )
    NotificationPreference.objects.create(
        user=alice, kind="tests.hello", channel="in_app", enabled=False
    )
    with django_capture_on_commit_callbacks(execute=True):
        notification = say_hello(alice)
    assert mail.outbox == []
    assert notification.read_at is not None  # kept in the history, raises no badge


def test_a_mandatory_kind_ignores_preferences(alice, django_capture_on_commit_callbacks):
    NotificationPreference.objects.create(
        user=alice, kind="tests.notice", channel="email", enabled=False
    )
    with django_capture_on_commit_callbacks(execute=True):
        notification = say_hello(alice, kind="tests.notice")
    assert len(mail.outbox) == 1
    assert notification.read_at is None


def test_no_address_no_email(tree, django_capture_on_commit_callbacks):
    bob = make_user("bob", None, None)
    with django_capture_on_commit_callbacks(execute=True):
        say_hello(bob)
    assert mail.outbox == []
    assert Notification.objects.filter(recipient=bob).count() == 1


def test_unknown_kinds_and_foreign_links_are_refused(alice):
    with pytest.raises(ValueError):
        notify(recipient=alice, kind="nobody.registered", subject="x")
    for url in ("https://evil.example/", "//evil.example/", "javascript:alert(1)"):
        with pytest.raises(ValueError):
            notify(recipient=alice, kind="tests.hello", subject="x", url=url)
    assert not Notification.objects.exists()


# Pages --------------------------------------------------------------------------------------


def test_the_inbox_shows_my_notifications_only(client, alice, zhang):
    say_hello(alice)
    notify(recipient=zhang, kind="tests.hello", subject="for zhang only")
    client.force_login(alice)
    page = client.get("/core/notifications/")
    assert page.status_code == 200
    assert b"January" in page.content
    assert b"for zhang only" not in page.content


def test_another_users_notification_is_not_found(client, alice, zhang):
    theirs = notify(recipient=zhang, kind="tests.hello", subject="private")
    client.force_login(alice)
    assert client.get(f"/core/notifications/{theirs.pk}/").status_code == 404
    assert client.post(f"/core/notifications/{theirs.pk}/read/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_opening_and_marking_read(client, alice):
    first = say_hello(alice)
    second = say_hello(alice)
    third = say_hello(alice)
    client.force_login(alice)
    assert client.get(f"/core/notifications/{first.pk}/").status_code == 200
    row = client.post(f"/core/notifications/{second.pk}/read/", headers={"HX-Request": "true"})
    assert row.status_code == 200
    assert row.content.strip().startswith(b"<tr")
    assert Notification.objects.filter(recipient=alice, read_at=None).get() == third
    client.post("/core/notifications/read-all/")
    assert not Notification.objects.filter(recipient=alice, read_at=None).exists()


def test_the_top_bar_shows_the_unread_count_for_one_query(client, alice):
    say_hello(alice)
    say_hello(alice)
    client.force_login(alice)
    with CaptureQueriesContext(connection) as captured:
        page = client.get("/accounts/tokens/")
    assert b'class="badge warn"' in page.content
    assert b">2</span>" in page.content
    touching = [q["sql"] for q in captured if "core_notification" in q["sql"]]
    assert len(touching) == 1


def test_preferences_are_saved_per_kind_and_channel(client, alice):
    client.force_login(alice)
    page = client.get("/core/notifications/preferences/")
    assert b"A test greeting" in page.content
    response = client.post("/core/notifications/preferences/", {"on": ["tests.hello|in_app"]})
    assert response.status_code == 302
    stored = {
        (p.kind, p.channel): p.enabled for p in NotificationPreference.objects.filter(user=alice)
    }
    assert stored[("tests.hello", "in_app")] is True
    assert stored[("tests.hello", "email")] is False
    assert stored[("tests.notice", "email")] is True  # mandatory stays on
    assert AuditEntry.objects.filter(action="notification_preferences.update").exists()
