"""Violations and the rulebook over JSON: scoped lists and reads (404 outside the scope, an
employee only their own), raising, confirming and dismissing with the capability and the
write scope, 409 for a process refusal, and the rulebook versions."""

from datetime import timedelta

import pytest
from django.utils import timezone

from servicecharter.accounts.tokens import token_create
from servicecharter.discipline.choices import ViolationState
from servicecharter.discipline.models import Violation, ViolationType
from tests.discipline.conftest import make_violation

SCOPES = ["discipline:read", "discipline:write"]
JSON = "application/json"
LIST = "/api/discipline/violations"


def bearer(user, scopes=SCOPES) -> dict:
    issued = token_create(actor=user, owner=user, name="t", scopes=scopes, lifetime_days=30)
    return {"Authorization": f"Bearer {issued.secret}"}


@pytest.fixture
def late(db):
    return ViolationType.objects.get(code="late_handling")


@pytest.fixture
def bj_violation(bj_staff, late):
    return make_violation(bj_staff, late, summary="C-1")


@pytest.fixture
def sh_violation(sh_staff, late):
    return make_violation(sh_staff, late, summary="C-2")


def ids(response):
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["items"]]


def test_scoped_list_and_read(client, bj_supervisor, sh_supervisor, bj_violation, sh_violation):
    assert ids(client.get(LIST, headers=bearer(bj_supervisor))) == [bj_violation.pk]
    refused = client.get(f"{LIST}/{bj_violation.pk}", headers=bearer(sh_supervisor))
    assert refused.status_code == 404
    detail = client.get(f"{LIST}/{bj_violation.pk}", headers=bearer(bj_supervisor)).json()
    assert detail["type"] == "late_handling"
    assert detail["recommendation"]["rule"] == "FIRST"
    assert detail["recommendation"]["steps"][0]["code"] == "facts"


def test_employee_reads_only_their_own(client, bj_employee, bj_violation, sh_violation):
    assert ids(client.get(LIST, headers=bearer(bj_employee))) == [bj_violation.pk]
    assert client.get(f"{LIST}/{sh_violation.pk}", headers=bearer(bj_employee)).status_code == 404


def test_cursor_walks_all_pages(client, compliance_officer, bj_staff, late):
    made = [make_violation(bj_staff, late, at=timezone.now() - timedelta(days=n)) for n in range(5)]
    seen, url = [], f"{LIST}?limit=2"
    while url:
        body = client.get(url, headers=bearer(compliance_officer)).json()
        seen += [item["id"] for item in body["items"]]
        url = body["next"]
    assert sorted(seen) == sorted(v.pk for v in made)


def test_read_scope_cannot_write(client, compliance_officer, bj_violation):
    response = client.post(
        f"{LIST}/{bj_violation.pk}/confirm",
        data={"note": ""},
        content_type=JSON,
        headers=bearer(compliance_officer, ["discipline:read"]),
    )
    assert response.status_code == 403
    bj_violation.refresh_from_db()
    assert bj_violation.state == ViolationState.OPEN


def test_confirm_dismiss_and_refusals(
    client, compliance_officer, bj_supervisor, bj_violation, sh_violation
):
    response = client.post(
        f"{LIST}/{bj_violation.pk}/confirm",
        data={"note": "ok"},
        content_type=JSON,
        headers=bearer(bj_supervisor),
    )
    assert response.status_code == 403  # no REVIEW_VIOLATIONS
    response = client.post(
        f"{LIST}/{bj_violation.pk}/confirm",
        data={"note": "ok"},
        content_type=JSON,
        headers=bearer(compliance_officer),
    )
    assert response.status_code == 200 and response.json()["state"] == "confirmed"
    again = client.post(
        f"{LIST}/{bj_violation.pk}/confirm",
        data={},
        content_type=JSON,
        headers=bearer(compliance_officer),
    )
    assert again.status_code == 409 and again.json()["code"] == "violation_refused"
    empty = client.post(
        f"{LIST}/{sh_violation.pk}/dismiss",
        data={"note": ""},
        content_type=JSON,
        headers=bearer(compliance_officer),
    )
    assert empty.status_code == 422
    done = client.post(
        f"{LIST}/{sh_violation.pk}/dismiss",
        data={"note": "Not them"},
        content_type=JSON,
        headers=bearer(compliance_officer),
    )
    assert done.json()["state"] == "dismissed"


def test_raise_in_scope_only(client, bj_supervisor, bj_staff, sh_staff):
    body = {
        "staff_id": sh_staff.pk,
        "type": "rude_conduct",
        "occurred_at": (timezone.now() - timedelta(hours=1)).isoformat(),
        "summary": "Shouted",
        "details": "Seen at the counter",
    }
    refused = client.post(LIST, data=body, content_type=JSON, headers=bearer(bj_supervisor))
    assert refused.status_code == 403
    created = client.post(
        LIST,
        data={**body, "staff_id": bj_staff.pk},
        content_type=JSON,
        headers=bearer(bj_supervisor),
    )
    assert created.status_code == 201, created.content
    assert Violation.objects.get().staff == bj_staff
    bad = client.post(
        LIST,
        data={**body, "staff_id": bj_staff.pk, "type": "nope"},
        content_type=JSON,
        headers=bearer(bj_supervisor),
    )
    assert bad.status_code == 422


def test_rulebook_versions(client, bj_employee, compliance_officer):
    from servicecharter.discipline import rulebook_services as rs
    from servicecharter.discipline.models import Rulebook

    draft = rs.rulebook_version_draft(
        actor=compliance_officer, rulebook=Rulebook.objects.get(code="CN-DEFAULT")
    )
    employee_sees = client.get(
        "/api/discipline/rulebook/versions", headers=bearer(bj_employee)
    ).json()
    assert [v["number"] for v in employee_sees] == [1]
    assert (
        client.get(
            f"/api/discipline/rulebook/versions/{draft.pk}", headers=bearer(bj_employee)
        ).status_code
        == 404
    )
    manager = client.get(
        f"/api/discipline/rulebook/versions/{draft.pk}", headers=bearer(compliance_officer)
    ).json()
    assert manager["state"] == "draft" and manager["rules"][0]["code"] == "MISCONDUCT_SEVERE"


def test_list_costs_the_same_queries_for_many(client, compliance_officer, bj_staff, late):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    headers = bearer(compliance_officer)
    make_violation(bj_staff, late)
    client.get(LIST, headers=headers)  # the token's first use is recorded once
    with CaptureQueriesContext(connection) as few:
        client.get(LIST, headers=headers)
    for n in range(20):
        make_violation(bj_staff, late, at=timezone.now() - timedelta(days=n + 1))
    with CaptureQueriesContext(connection) as many:
        body = client.get(LIST, headers=headers).json()
    assert len(body["items"]) == 21
    assert len(many) == len(few)
