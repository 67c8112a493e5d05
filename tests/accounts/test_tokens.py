"""API tokens: issue, authenticate, expire, revoke, scopes, service accounts, pages."""

import json
from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.utils import timezone

from servicecharter.accounts.choices import Role
from servicecharter.accounts.models import ApiToken
from servicecharter.accounts.tokens import token_create, token_revoke
from servicecharter.core.models import AuditEntry, Notification
from servicecharter.org.services import staff_create
from tests.conftest import make_user

ALL_SCOPES = ["org:read", "org:write", "customers:read", "customers:write", "pii:reveal"]


def issue(user, scopes=ALL_SCOPES, days=30, owner=None):
    return token_create(
        actor=user, owner=owner or user, name="script", scopes=scopes, lifetime_days=days
    )


def call(client, path, secret=None, method="get", **extra):
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    return getattr(client, method)(path, headers=headers, **extra)


@pytest.fixture
def service_account(tree):
    user = make_user("svc.crm", Role.SUPERVISOR, tree["bj"])
    user.set_unusable_password()
    user.save()
    return user


def test_a_personal_token_acts_as_its_user(client, bj_supervisor):
    issued = issue(bj_supervisor, scopes=["org:read"])
    response = call(client, "/api/me", issued.secret)
    assert response.status_code == 200
    assert response.json()["username"] == "bj.supervisor"
    assert response.json()["scopes"] == ["org:read"]


def test_only_a_digest_and_prefix_are_stored(bj_supervisor):
    issued = issue(bj_supervisor)
    stored = json.dumps(list(ApiToken.objects.values()), default=str)
    secret_part = issued.secret.rsplit("_", 1)[1]
    assert secret_part not in stored
    assert issued.token.prefix in issued.secret
    assert len(issued.token.digest) == 64


def test_no_credentials_get_401_json(client, tree):
    response = client.get("/api/staff")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"
    assert response.json()["fields"] == {}


def test_a_wrong_secret_with_a_real_prefix_is_refused(client, bj_supervisor):
    issued = issue(bj_supervisor)
    forged = issued.secret[:-4] + ("AAAA" if not issued.secret.endswith("AAAA") else "BBBB")
    response = call(client, "/api/me", forged)
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


def test_a_revoked_token_gets_401_json(client, bj_supervisor):
    issued = issue(bj_supervisor)
    token_revoke(actor=bj_supervisor, token=issued.token)
    response = call(client, "/api/me", issued.secret)
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_an_expired_token_gets_401_json(client, bj_supervisor):
    issued = issue(bj_supervisor, days=1)
    assert call(client, "/api/me", issued.secret).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(days=1, minutes=1)):
        response = call(client, "/api/me", issued.secret)
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


def test_a_deactivated_users_token_stops_at_once(client, bj_supervisor):
    issued = issue(bj_supervisor)
    bj_supervisor.is_active = False
    bj_supervisor.save()
    assert call(client, "/api/me", issued.secret).status_code == 401


def test_a_token_without_the_scope_gets_403_json(client, bj_supervisor):
    issued = issue(bj_supervisor, scopes=["org:read"])
    assert call(client, "/api/staff", issued.secret).status_code == 200
    response = call(client, "/api/customers", issued.secret)
    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_scope"


def test_last_used_is_written_at_most_every_few_minutes(client, bj_supervisor):
    issued = issue(bj_supervisor)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        call(client, "/api/me", issued.secret)
    with time_machine.travel(start + timedelta(minutes=1), tick=False):
        call(client, "/api/me", issued.secret)
    issued.token.refresh_from_db()
    assert issued.token.last_used_at == start
    with time_machine.travel(start + timedelta(minutes=10), tick=False):
        call(client, "/api/me", issued.secret)
    issued.token.refresh_from_db()
    assert issued.token.last_used_at == start + timedelta(minutes=10)


def test_issue_and_revoke_are_audited_without_the_secret(bj_supervisor):
    issued = issue(bj_supervisor)
    token_revoke(actor=bj_supervisor, token=issued.token)
    token_revoke(actor=bj_supervisor, token=issued.token)  # twice: one row only
    actions = list(
        AuditEntry.objects.filter(object_type="accounts.apitoken").values_list("action", flat=True)
    )
    assert sorted(actions) == ["api_token.create", "api_token.revoke"]
    assert issued.secret not in json.dumps(list(AuditEntry.objects.values("changes")))


def test_bad_input_is_refused_with_field_messages(bj_supervisor):
    with pytest.raises(ValidationError) as error:
        token_create(actor=bj_supervisor, owner=bj_supervisor, name=" ", scopes=[], lifetime_days=0)
    assert set(error.value.message_dict) == {"name", "scopes", "lifetime_days"}
    with pytest.raises(ValidationError):
        issue(bj_supervisor, scopes=["everything"])
    assert not ApiToken.objects.exists()


def test_an_administrator_issues_a_service_token_that_sees_only_its_scope(
    client, tree, admin_user, service_account
):
    staff_create(
        employee_number="B1",
        name="Li",
        department=tree["bj_team"],
        base_wage=1,
        hire_date="2024-01-01",
    )
    staff_create(
        employee_number="S1",
        name="Wang",
        department=tree["sh_team"],
        base_wage=1,
        hire_date="2024-01-01",
    )
    issued = issue(admin_user, scopes=["org:read"], owner=service_account)
    assert issued.token.is_service
    response = call(client, "/api/staff", issued.secret)
    assert [row["employee_number"] for row in response.json()["items"]] == ["B1"]


def test_only_a_manager_of_the_scope_issues_service_tokens(
    bj_supervisor, bj_agent, admin_user, service_account, tree
):
    with pytest.raises(PermissionDenied):
        issue(bj_supervisor, owner=service_account)  # no MANAGE_API_TOKENS
    with pytest.raises(PermissionDenied):
        issue(admin_user, owner=bj_agent)  # a person, not a service account
    branch_admin = make_user("sh.admin", Role.ADMIN, tree["sh"])
    with pytest.raises(PermissionDenied):
        issue(branch_admin, owner=service_account)  # the account's role lies in Beijing
    assert not ApiToken.objects.exists()


def test_a_service_token_stops_when_its_account_gets_a_password(
    client, admin_user, service_account
):
    issued = issue(admin_user, owner=service_account)
    assert call(client, "/api/me", issued.secret).status_code == 200
    service_account.set_password("a person now uses this")
    service_account.save()
    assert call(client, "/api/me", issued.secret).status_code == 401


def test_the_session_needs_csrf_for_writes(tree):
    hr = make_user("bj.hr", Role.HR, tree["bj"])
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(hr)
    body = {
        "code": "BJ-T9",
        "name_en": "T9",
        "name_zh": "九组",
        "kind": "team",
        "parent": tree["bj"].pk,
    }
    refused = browser.post("/api/departments", body, content_type="application/json")
    assert refused.status_code == 403
    assert refused.json()["code"] == "csrf_failed"
    browser.get("/accounts/tokens/")  # sets the CSRF cookie
    token = browser.cookies["csrftoken"].value
    accepted = browser.post(
        "/api/departments", body, content_type="application/json", headers={"X-CSRFToken": token}
    )
    assert accepted.status_code == 201, accepted.content


# Pages ----------------------------------------------------------------------------------------


def test_the_page_shows_a_new_secret_once(client, bj_supervisor):
    client.force_login(bj_supervisor)
    response = client.post(
        "/accounts/tokens/new/",
        {"name": "report script", "scopes": ["org:read"], "lifetime_days": 30},
    )
    assert response.status_code == 200
    token = ApiToken.objects.get()
    secret = response.context["issued"].secret
    assert secret.encode() in response.content
    assert response["Cache-Control"] == "no-store"
    assert token.user == bj_supervisor and not token.is_service
    again = client.get("/accounts/tokens/")
    assert secret.encode() not in again.content
    assert token.prefix.encode() in again.content


def test_the_page_reports_bad_input_and_issues_nothing(client, bj_supervisor):
    client.force_login(bj_supervisor)
    response = client.post("/accounts/tokens/new/", {"name": "", "lifetime_days": 999})
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"name", "scopes", "lifetime_days"}
    assert not ApiToken.objects.exists()


def test_the_page_revokes_my_token_but_not_someone_elses(client, bj_supervisor, bj_agent):
    mine = issue(bj_supervisor).token
    theirs = issue(bj_agent).token
    client.force_login(bj_supervisor)
    assert client.post(f"/accounts/tokens/{theirs.pk}/revoke/").status_code == 404
    assert client.post(f"/accounts/tokens/{mine.pk}/revoke/").status_code == 302
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.revoked_at is not None
    assert theirs.revoked_at is None


def test_an_administrator_sees_and_revokes_service_tokens(client, admin_user, service_account):
    token = issue(admin_user, owner=service_account).token
    client.force_login(admin_user)
    page = client.get("/accounts/tokens/")
    assert b"svc.crm" in page.content
    assert client.post(f"/accounts/tokens/{token.pk}/revoke/").status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_the_owner_is_told_about_a_new_token_in_their_language(bj_supervisor):
    bj_supervisor.language = "zh-hans"
    bj_supervisor.save()
    issued = issue(bj_supervisor, scopes=["org:read"])
    notification = Notification.objects.get(recipient=bj_supervisor, kind="api_token.created")
    assert issued.token.prefix in notification.body
    assert "org:read" in notification.body
    assert issued.secret not in notification.body
    assert notification.url == "/accounts/tokens/"
