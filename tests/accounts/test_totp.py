"""The second factor: sign-in step, enrolment, replay refusal, forced enrolment, reset."""

import re
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
import time_machine
from django.urls import reverse

from servicecharter.accounts.choices import Role
from servicecharter.accounts.models import User
from servicecharter.accounts.services import totp_accept
from servicecharter.core import pii
from servicecharter.core.models import AuditEntry
from tests.conftest import TOTP_SECRET, make_user

PASSWORD = "correct horse battery"
START = datetime(2026, 11, 2, 9, 0, 10, tzinfo=UTC)


def code_at(moment: datetime, secret: str = TOTP_SECRET) -> str:
    return pyotp.TOTP(secret).at(moment)


def other_code(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def password_step(client, username):
    return client.post(reverse("accounts:login"), {"username": username, "password": PASSWORD})


def code_step(client, code):
    return client.post(reverse("accounts:login_totp"), {"code": code})


def signed_in_as(client) -> str | None:
    return client.session.get("_auth_user_id")


@pytest.fixture
def unenrolled_admin(tree):
    user = make_user("new.admin", Role.ADMIN, tree["head"])
    User.objects.filter(pk=user.pk).update(totp_secret_cipher="", totp_confirmed_at=None)
    user.refresh_from_db()
    return user


def test_an_enrolled_user_needs_the_code_after_the_password(client, admin_user):
    with time_machine.travel(START, tick=False):
        response = password_step(client, "admin")
        assert response.url == reverse("accounts:login_totp")
        assert signed_in_as(client) is None
        assert client.get(reverse("home")).status_code == 302

        response = code_step(client, code_at(START))
        assert response.status_code == 302
        assert signed_in_as(client) == str(admin_user.pk)
    entry = AuditEntry.objects.get(action="auth.sign_in")
    assert entry.changes == {"second_factor": True}


def test_a_wrong_code_is_refused(client, admin_user):
    with time_machine.travel(START, tick=False):
        password_step(client, "admin")
        response = code_step(client, other_code(code_at(START)))
        assert signed_in_as(client) is None
    assert response.status_code == 200
    assert response.context["form"].errors["code"]
    assert AuditEntry.objects.filter(
        action="auth.sign_in_failed", changes__reason="bad_code"
    ).exists()


def test_a_used_code_cannot_be_replayed(client, admin_user):
    with time_machine.travel(START, tick=False) as traveller:
        code = code_at(START)
        password_step(client, "admin")
        code_step(client, code)
        assert signed_in_as(client) == str(admin_user.pk)
        client.post(reverse("accounts:logout"))

        password_step(client, "admin")
        code_step(client, code)
        assert signed_in_as(client) is None

        traveller.shift(timedelta(seconds=30))
        code_step(client, code_at(START + timedelta(seconds=30)))
        assert signed_in_as(client) == str(admin_user.pk)


def test_an_older_code_is_refused_after_a_newer_one(admin_user):
    with time_machine.travel(START, tick=False):
        assert totp_accept(user=admin_user, code=code_at(START + timedelta(seconds=30)))
        # Still inside the drift window, but older than the step already used.
        assert not totp_accept(user=admin_user, code=code_at(START))


def test_wrong_codes_count_towards_the_lockout(client, admin_user, settings):
    with time_machine.travel(START, tick=False):
        password_step(client, "admin")
        responses = [
            code_step(client, other_code(code_at(START)))
            for _ in range(settings.LOGIN_FAILURE_LIMIT)
        ]
        assert responses[-1].url == reverse("accounts:login")
        admin_user.refresh_from_db()
        assert admin_user.locked_until is not None
        password_step(client, "admin")
        assert client.get(reverse("accounts:login_totp")).url == reverse("accounts:login")
        assert signed_in_as(client) is None


def test_the_code_step_expires(client, admin_user):
    with time_machine.travel(START, tick=False) as traveller:
        password_step(client, "admin")
        traveller.shift(timedelta(minutes=6))
        response = code_step(client, code_at(START + timedelta(minutes=6)))
        assert signed_in_as(client) is None
    assert response.url == reverse("accounts:login")


def test_the_code_step_cannot_be_reached_without_the_password(client, admin_user):
    response = code_step(client, code_at(datetime.now(UTC)))
    assert response.url == reverse("accounts:login")
    assert signed_in_as(client) is None


def test_demo_mode_shows_the_current_code_and_says_so(client, admin_user, settings):
    settings.DEMO_MODE = True
    with time_machine.travel(START, tick=False):
        password_step(client, "admin")
        html = client.get(reverse("accounts:login_totp")).content.decode()
    assert code_at(START) in html
    assert "Demo only" in html


def test_outside_demo_mode_the_code_is_not_shown(client, admin_user, settings):
    settings.DEMO_MODE = False
    with time_machine.travel(START, tick=False):
        password_step(client, "admin")
        html = client.get(reverse("accounts:login_totp")).content.decode()
    assert code_at(START) not in html
    assert 'id="demo-code"' not in html


def test_a_role_that_requires_totp_is_sent_to_enrolment_and_kept_there(client, unenrolled_admin):
    response = password_step(client, "new.admin")
    assert response.url == reverse("accounts:totp_enrol")
    assert signed_in_as(client) == str(unenrolled_admin.pk)
    for url in (reverse("home"), reverse("accounts:user_list"), reverse("accounts:account")):
        assert client.get(url).url == reverse("accounts:totp_enrol")
    api = client.get("/api/docs")
    assert api.status_code == 403
    assert api.json()["code"] == "totp_enrolment_required"
    htmx = client.get(reverse("home"), headers={"HX-Request": "true"})
    assert htmx["HX-Redirect"] == reverse("accounts:totp_enrol")
    # Signing out and the language switch stay possible.
    assert client.post(reverse("accounts:logout")).status_code == 302


def test_a_role_without_the_requirement_is_not_forced(client, bj_supervisor):
    password_step(client, "bj.supervisor")
    assert client.get(reverse("accounts:account")).status_code == 200


def _secret_on_page(html: str) -> str:
    return re.search(r'id="totp-secret"[^>]*>([A-Z2-7 ]+)<', html).group(1).replace(" ", "")


def test_enrolment_shows_key_and_qr_and_confirms_with_a_code(client, unenrolled_admin):
    client.force_login(unenrolled_admin)
    html = client.get(reverse("accounts:totp_enrol")).content.decode()
    secret = _secret_on_page(html)
    assert "<svg" in html
    unenrolled_admin.refresh_from_db()
    # Stored encrypted, never as the key itself.
    assert secret not in unenrolled_admin.totp_secret_cipher
    assert pii.decrypt(unenrolled_admin.totp_secret_cipher) == secret
    # Reloading the page shows the same key until it is confirmed.
    assert _secret_on_page(client.get(reverse("accounts:totp_enrol")).content.decode()) == secret

    with time_machine.travel(START, tick=False):
        wrong = client.post(
            reverse("accounts:totp_enrol"), {"code": other_code(code_at(START, secret))}
        )
        assert wrong.status_code == 200
        unenrolled_admin.refresh_from_db()
        assert unenrolled_admin.totp_confirmed_at is None

        done = client.post(reverse("accounts:totp_enrol"), {"code": code_at(START, secret)})
        assert done.url == reverse("accounts:account")
        unenrolled_admin.refresh_from_db()
        assert unenrolled_admin.totp_confirmed_at is not None
        assert client.get(reverse("accounts:account")).status_code == 200
    assert AuditEntry.objects.filter(action="auth.totp_enrolled").count() == 1


def test_an_administrator_resets_a_second_factor_and_the_user_must_enrol_again(
    client, admin_user, tree
):
    hr = make_user("bj.hr", Role.HR, tree["bj"])
    assert hr.totp_confirmed_at is not None
    client.force_login(admin_user)
    response = client.post(reverse("accounts:user_totp_reset", args=[hr.pk]))
    assert response.status_code == 302
    hr.refresh_from_db()
    assert hr.totp_confirmed_at is None
    assert hr.totp_secret_cipher == ""
    entry = AuditEntry.objects.get(action="user.totp_reset")
    assert entry.object_id == str(hr.pk)
    assert entry.actor_id == admin_user.pk

    client.force_login(hr)
    assert client.get(reverse("home")).url == reverse("accounts:totp_enrol")


def test_another_branchs_administrator_cannot_reset_it(client, tree):
    sh_admin = make_user("sh.admin", Role.ADMIN, tree["sh"])
    bj_hr = make_user("bj.hr", Role.HR, tree["bj"])
    client.force_login(sh_admin)
    response = client.post(reverse("accounts:user_totp_reset", args=[bj_hr.pk]))
    assert response.status_code == 404
    bj_hr.refresh_from_db()
    assert bj_hr.totp_confirmed_at is not None
