"""Session lifetime: idle and absolute timeouts, and deactivation ending sessions at once."""

from datetime import UTC, datetime, timedelta

import time_machine
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse

from servicecharter.accounts.models import User
from servicecharter.accounts.services import user_deactivate
from servicecharter.core.models import AuditEntry

PASSWORD = "correct horse battery"
START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def sign_in(client, username):
    response = client.post(reverse("accounts:login"), {"username": username, "password": PASSWORD})
    assert response.status_code == 302
    return response


def page(client):
    return client.get(reverse("accounts:account"))


def test_thirty_idle_minutes_end_the_session(client, bj_supervisor):
    with time_machine.travel(START, tick=False) as traveller:
        sign_in(client, "bj.supervisor")
        traveller.shift(timedelta(minutes=29))
        assert page(client).status_code == 200
        traveller.shift(timedelta(minutes=29))
        assert page(client).status_code == 200  # each request restarts the idle clock
        traveller.shift(timedelta(minutes=31))
        response = page(client)
        notice = client.get(reverse("accounts:login")).content.decode()
    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))
    assert "_auth_user_id" not in client.session
    assert AuditEntry.objects.filter(
        action="auth.sign_out", changes__reason="idle_timeout"
    ).exists()
    assert "Your session has ended" in notice


def test_twelve_hours_end_the_session_however_busy(client, bj_supervisor):
    with time_machine.travel(START, tick=False) as traveller:
        sign_in(client, "bj.supervisor")
        for _ in range(28):  # 28 × 25 min = 11 h 40 min, never idle
            traveller.shift(timedelta(minutes=25))
            assert page(client).status_code == 200
        traveller.shift(timedelta(minutes=25))  # 12 h 05 min
        response = page(client)
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session
    assert AuditEntry.objects.filter(
        action="auth.sign_out", changes__reason="absolute_timeout"
    ).exists()


def test_deactivation_ends_an_existing_session_at_once(tree, bj_supervisor, admin_user):
    desk, phone = Client(), Client()
    sign_in(desk, "bj.supervisor")
    sign_in(phone, "bj.supervisor")
    assert page(desk).status_code == 200
    sessions_before = Session.objects.count()

    user_deactivate(actor=admin_user, user=bj_supervisor)

    assert Session.objects.count() == sessions_before - 2
    for client in (desk, phone):
        assert page(client).status_code == 302
    entry = AuditEntry.objects.get(action="user.deactivate")
    assert entry.changes["sessions_ended"] == 2


def test_a_request_of_an_inactive_user_is_signed_out(client, bj_supervisor):
    client.force_login(bj_supervisor)
    assert page(client).status_code == 200
    User.objects.filter(pk=bj_supervisor.pk).update(is_active=False)  # bypassing the service
    assert page(client).status_code == 302
    assert "_auth_user_id" not in client.session
    assert AuditEntry.objects.filter(action="auth.sign_out", changes__reason="inactive").exists()


def test_an_administrator_deactivates_through_the_page(client, admin_user, bj_supervisor):
    victim = Client()
    sign_in(victim, "bj.supervisor")
    client.force_login(admin_user)
    response = client.post(reverse("accounts:user_deactivate", args=[bj_supervisor.pk]))
    assert response.status_code == 302
    bj_supervisor.refresh_from_db()
    assert not bj_supervisor.is_active
    assert page(victim).status_code == 302
    client.post(reverse("accounts:user_reactivate", args=[bj_supervisor.pk]))
    bj_supervisor.refresh_from_db()
    assert bj_supervisor.is_active
    sign_in(victim, "bj.supervisor")
    assert page(victim).status_code == 200
