"""The language switch is remembered per user, across sign-out and sign-in."""

from django.test import Client
from django.urls import reverse

from servicecharter.core.models import AuditEntry

PASSWORD = "correct horse battery"


def sign_in(client, username):
    client.post(reverse("accounts:login"), {"username": username, "password": PASSWORD})


def test_a_switch_to_chinese_survives_signing_out_and_in(bj_supervisor):
    first = Client()
    sign_in(first, "bj.supervisor")
    response = first.post(
        reverse("set_language"), {"language": "zh-hans", "next": reverse("accounts:account")}
    )
    assert response.url == reverse("accounts:account")
    bj_supervisor.refresh_from_db()
    assert bj_supervisor.language == "zh-hans"
    first.post(reverse("accounts:logout"))

    # A fresh browser: no language cookie, only what the user chose before.
    second = Client()
    sign_in(second, "bj.supervisor")
    response = second.get(reverse("accounts:account"))
    assert response["Content-Language"] == "zh-hans"
    assert '<html lang="zh-hans">' in response.content.decode()
    assert AuditEntry.objects.filter(action="user.set_language").count() == 1


def test_the_users_language_wins_over_a_stale_cookie(bj_supervisor):
    bj_supervisor.language = "zh-hans"
    bj_supervisor.save(update_fields=["language"])
    client = Client()
    client.cookies["django_language"] = "en"
    sign_in(client, "bj.supervisor")
    assert client.get(reverse("accounts:account"))["Content-Language"] == "zh-hans"


def test_next_stays_inside_the_site(client, bj_supervisor):
    sign_in(client, "bj.supervisor")
    response = client.post(
        reverse("set_language"), {"language": "zh-hans", "next": "https://evil.example/"}
    )
    assert "evil.example" not in response.url


def test_an_unknown_language_changes_nothing(client, bj_supervisor):
    sign_in(client, "bj.supervisor")
    client.post(reverse("set_language"), {"language": "xx", "next": "/"})
    bj_supervisor.refresh_from_db()
    assert bj_supervisor.language == "en"


def test_a_visitor_can_switch_before_signing_in(client, db):
    response = client.post(
        reverse("set_language"), {"language": "zh-hans", "next": "/accounts/login/"}
    )
    assert response.status_code == 302
    page = client.get(reverse("accounts:login"))
    assert page["Content-Language"] == "zh-hans"
