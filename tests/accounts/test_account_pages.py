"""My account and the password change that everyone can use."""

from django.urls import reverse

from servicecharter.core.models import AuditEntry


def test_my_account_shows_roles_and_second_factor(client, bj_supervisor):
    client.force_login(bj_supervisor)
    response = client.get(reverse("accounts:account"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Supervisor" in html
    assert "Beijing Branch" in html
    assert reverse("accounts:totp_enrol") in html


def test_my_account_needs_a_signed_in_user(client, db):
    response = client.get(reverse("accounts:account"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))


def test_a_password_change_applies_the_rules_and_keeps_me_signed_in(client, bj_supervisor):
    client.force_login(bj_supervisor)
    url = reverse("accounts:password_change")
    wrong_old = client.post(
        url,
        {
            "old_password": "not it",
            "new_password1": "blue whale harbour",
            "new_password2": "blue whale harbour",
        },
    )
    assert wrong_old.context["form"].errors["old_password"]
    common = client.post(
        url,
        {
            "old_password": "correct horse battery",
            "new_password1": "password1",
            "new_password2": "password1",
        },
    )
    assert common.context["form"].errors["new_password2"]
    bj_supervisor.refresh_from_db()
    assert bj_supervisor.check_password("correct horse battery")

    done = client.post(
        url,
        {
            "old_password": "correct horse battery",
            "new_password1": "blue whale harbour",
            "new_password2": "blue whale harbour",
        },
    )
    assert done.url == reverse("accounts:account")
    bj_supervisor.refresh_from_db()
    assert bj_supervisor.check_password("blue whale harbour")
    assert client.get(reverse("accounts:account")).status_code == 200
    assert AuditEntry.objects.filter(action="user.set_password").count() == 1
