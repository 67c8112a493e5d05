"""Signing in and out: one generic refusal, lockout per user name, throttling per address."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from servicecharter.core.models import AuditEntry

PASSWORD = "correct horse battery"
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def post_sign_in(client, username, password=PASSWORD, **extra):
    return client.post(
        reverse("accounts:login"), {"username": username, "password": password}, **extra
    )


def signed_in_as(client) -> str | None:
    return client.session.get("_auth_user_id")


def refusal_text(response) -> list[str]:
    return list(response.context["form"].non_field_errors())


def test_the_right_password_signs_in_and_is_audited(client, bj_supervisor):
    response = post_sign_in(client, "bj.supervisor")
    assert response.status_code == 302
    assert response.url == reverse("home")
    assert signed_in_as(client) == str(bj_supervisor.pk)
    entry = AuditEntry.objects.get(action="auth.sign_in")
    assert entry.object_id == str(bj_supervisor.pk)
    assert entry.actor_id == bj_supervisor.pk


def test_a_wrong_password_and_an_unknown_name_get_the_same_answer(client, bj_supervisor):
    wrong = post_sign_in(client, "bj.supervisor", "not the password")
    unknown = post_sign_in(client, "nobody.at.all", "not the password")
    assert wrong.status_code == unknown.status_code == 200
    assert refusal_text(wrong) == refusal_text(unknown)
    assert refusal_text(wrong)
    assert signed_in_as(client) is None
    failed = AuditEntry.objects.filter(action="auth.sign_in_failed")
    assert sorted(failed.values_list("object_repr", flat=True)) == [
        "bj.supervisor",
        "nobody.at.all",
    ]


def test_a_deactivated_user_is_refused_with_the_same_answer(client, bj_supervisor):
    bj_supervisor.is_active = False
    bj_supervisor.save(update_fields=["is_active"])
    response = post_sign_in(client, "bj.supervisor")
    assert signed_in_as(client) is None
    assert refusal_text(response) == refusal_text(post_sign_in(client, "ghost", "x" * 10))


def test_repeated_failures_lock_the_account_and_the_right_password_is_refused(
    client, bj_supervisor, settings
):
    with time_machine.travel(START, tick=False) as traveller:
        for _ in range(settings.LOGIN_FAILURE_LIMIT):
            post_sign_in(client, "bj.supervisor", "guess guess guess")
        bj_supervisor.refresh_from_db()
        assert bj_supervisor.locked_until == START + timedelta(
            minutes=settings.LOGIN_LOCKOUT_MINUTES
        )
        assert AuditEntry.objects.filter(action="auth.locked").count() == 1

        response = post_sign_in(client, "bj.supervisor")
        assert signed_in_as(client) is None
        assert refusal_text(response) == refusal_text(post_sign_in(client, "ghost", "x" * 10))

        traveller.shift(timedelta(minutes=settings.LOGIN_LOCKOUT_MINUTES - 1))
        post_sign_in(client, "bj.supervisor")
        assert signed_in_as(client) is None

        traveller.shift(timedelta(minutes=2))
        post_sign_in(client, "bj.supervisor")
        assert signed_in_as(client) == str(bj_supervisor.pk)


def test_failures_spread_beyond_the_window_do_not_lock(client, bj_supervisor, settings):
    below = settings.LOGIN_FAILURE_LIMIT - 1
    with time_machine.travel(START, tick=False) as traveller:
        for _ in range(below):
            post_sign_in(client, "bj.supervisor", "guess guess guess")
        traveller.shift(timedelta(minutes=settings.LOGIN_FAILURE_WINDOW_MINUTES + 1))
        for _ in range(below):
            post_sign_in(client, "bj.supervisor", "guess guess guess")
        post_sign_in(client, "bj.supervisor")
        assert signed_in_as(client) == str(bj_supervisor.pk)


def test_a_successful_sign_in_restarts_the_count(client, bj_supervisor, settings):
    below = settings.LOGIN_FAILURE_LIMIT - 1
    with time_machine.travel(START, tick=False):
        for _ in range(below):
            post_sign_in(client, "bj.supervisor", "guess guess guess")
        post_sign_in(client, "bj.supervisor")
        client.post(reverse("accounts:logout"))
        for _ in range(below):
            post_sign_in(client, "bj.supervisor", "guess guess guess")
    bj_supervisor.refresh_from_db()
    assert bj_supervisor.locked_until is None


def test_case_variants_of_a_name_share_one_failure_budget(client, bj_supervisor, settings):
    names = ["bj.supervisor", "BJ.supervisor", "Bj.Supervisor", "bj.SUPERVISOR", "BJ.SUPERVISOR"]
    for name in names[: settings.LOGIN_FAILURE_LIMIT]:
        post_sign_in(client, name, "guess guess guess")
    bj_supervisor.refresh_from_db()
    assert bj_supervisor.locked_until is not None


def test_one_address_cannot_spray_many_names(client, bj_supervisor, settings):
    settings.LOGIN_IP_FAILURE_LIMIT = 6
    for number in range(6):
        post_sign_in(client, f"someone.{number}", "Winter2026!", REMOTE_ADDR="203.0.113.7")
    post_sign_in(client, "bj.supervisor", REMOTE_ADDR="203.0.113.7")
    assert signed_in_as(client) is None
    assert AuditEntry.objects.filter(
        action="auth.sign_in_failed",
        object_repr="bj.supervisor",
        changes__reason="address_throttled",
    ).exists()
    # The name itself is not locked: the same person from their own desk gets in.
    post_sign_in(client, "bj.supervisor", REMOTE_ADDR="198.51.100.20")
    assert signed_in_as(client) == str(bj_supervisor.pk)


def test_sign_out_needs_a_post_and_is_audited(client, bj_supervisor):
    post_sign_in(client, "bj.supervisor")
    assert client.get(reverse("accounts:logout")).status_code == 405
    assert signed_in_as(client) == str(bj_supervisor.pk)
    response = client.post(reverse("accounts:logout"))
    assert response.status_code == 302
    assert response.url == reverse("accounts:login")
    assert signed_in_as(client) is None
    entry = AuditEntry.objects.get(action="auth.sign_out")
    assert entry.changes == {"reason": "requested"}


@pytest.mark.parametrize(
    ("next_url", "expected"),
    [("/accounts/me/", "/accounts/me/"), ("https://evil.example/steal", "/")],
)
def test_next_is_followed_only_inside_the_site(client, bj_supervisor, next_url, expected):
    response = client.post(
        reverse("accounts:login"),
        {"username": "bj.supervisor", "password": PASSWORD, "next": next_url},
    )
    assert response.url == expected


def test_the_sign_in_page_uses_the_simple_field_names(client, db):
    html = client.get(reverse("accounts:login")).content.decode()
    assert 'name="username"' in html
    assert 'name="password"' in html
