"""Settings read from the environment fail at start on a bad value, with a message naming it."""

import pytest
from django.core import mail
from django.core.exceptions import ImproperlyConfigured

from servicecharter.core.env import env_bool, env_url
from servicecharter.core.notifications import notify
from tests.conftest import make_user


def test_a_site_address_loses_its_trailing_slash(monkeypatch):
    monkeypatch.setenv("SITE_URL", "https://charter.example.com/")
    assert env_url("SITE_URL") == "https://charter.example.com"


def test_a_site_address_may_sit_under_a_path(monkeypatch):
    monkeypatch.setenv("SITE_URL", "https://bank.example.com/charter")
    assert env_url("SITE_URL") == "https://bank.example.com/charter"


@pytest.mark.parametrize(
    "value", ["charter.example.com", "ftp://charter.example.com", "https://", "https://x.cn/?a=1"]
)
def test_anything_but_an_absolute_web_address_is_refused(monkeypatch, value):
    monkeypatch.setenv("SITE_URL", value)
    with pytest.raises(ImproperlyConfigured, match="SITE_URL"):
        env_url("SITE_URL")


def test_a_missing_required_address_is_refused(monkeypatch):
    monkeypatch.delenv("SITE_URL", raising=False)
    with pytest.raises(ImproperlyConfigured, match="required"):
        env_url("SITE_URL")
    assert env_url("SITE_URL", "") == ""


def test_a_bad_boolean_is_refused(monkeypatch):
    monkeypatch.setenv("CHARTER_DEBUG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="CHARTER_DEBUG"):
        env_bool("CHARTER_DEBUG", False)


def test_mail_links_are_absolute_on_the_configured_site(
    settings, db, django_capture_on_commit_callbacks
):
    settings.SITE_URL = "https://charter.example.com"
    alice = make_user("alice", None, None, email="alice@example.com", language="en")
    with django_capture_on_commit_callbacks(execute=True):
        notify(recipient=alice, kind="system.message", subject="Hello", url="/cases/1/")
    assert "https://charter.example.com/cases/1/" in mail.outbox[-1].body
