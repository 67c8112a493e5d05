"""Scorecards over JSON, scoped like the pages: an employee reads their own, a supervisor their
scope, out of scope answers 404, a token needs assessment:read."""

from servicecharter.accounts.tokens import token_create
from servicecharter.assessment import services
from servicecharter.assessment.models import StaffScorecard

BASE = "/api/assessment"


def bearer(user, scopes=("assessment:read",)) -> dict:
    issued = token_create(actor=user, owner=user, name="t", scopes=list(scopes), lifetime_days=30)
    return {"Authorization": f"Bearer {issued.secret}"}


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [item["staff_id"] for item in response.json()["items"]]


def test_an_employee_reads_only_their_own(client, closed_june, bj_employee, bj_staff, sh_staff):
    headers = bearer(bj_employee)

    assert _ids(client.get(f"{BASE}/periods/{closed_june.pk}/scorecards", headers=headers)) == [
        bj_staff.pk
    ]
    theirs = StaffScorecard.objects.get(period=closed_june, staff=sh_staff)
    assert client.get(f"{BASE}/scorecards/{theirs.pk}", headers=headers).status_code == 404
    assert client.get(f"{BASE}/staff/{sh_staff.pk}/history", headers=headers).status_code == 404
    own = client.get(f"{BASE}/staff/{bj_staff.pk}/history", headers=headers).json()
    assert [item["score"] for item in own["items"]] == ["25.00"]
    assert own["items"][0]["kpis"]["csat"]["n"] == 3


def test_a_supervisor_reads_their_scope_and_gets_404_outside(
    client, closed_june, sh_supervisor, bj_staff, sh_staff
):
    headers = bearer(sh_supervisor)
    bj_card = StaffScorecard.objects.get(period=closed_june, staff=bj_staff)

    assert _ids(client.get(f"{BASE}/periods/{closed_june.pk}/scorecards", headers=headers)) == [
        sh_staff.pk
    ]
    refused = client.get(f"{BASE}/scorecards/{bj_card.pk}", headers=headers)
    assert refused.status_code == 404
    departments = client.get(f"{BASE}/periods/{closed_june.pk}/departments", headers=headers)
    assert {d["department_code"] for d in departments.json()} == {"SH", "SH-T1"}


def test_a_period_under_review_is_404_except_for_hr(client, crafted, june, hr, bj_supervisor):
    services.period_compute(actor=hr, period=june)

    refused = client.get(f"{BASE}/periods/{june.pk}/scorecards", headers=bearer(bj_supervisor))
    allowed = client.get(f"{BASE}/periods/{june.pk}/scorecards", headers=bearer(hr))

    assert refused.status_code == 404
    assert len(_ids(allowed)) == 2


def test_the_cursor_walks_every_scorecard_once(client, closed_june, hr):
    first = client.get(f"{BASE}/periods/{closed_june.pk}/scorecards?limit=1", headers=bearer(hr))
    second = client.get(first.json()["next"], headers=bearer(hr))

    assert len(_ids(first)) == 1 and len(_ids(second)) == 1
    assert _ids(first) != _ids(second) and second.json()["next"] is None


def test_a_token_without_the_scope_is_refused(client, closed_june, hr):
    response = client.get(f"{BASE}/periods", headers=bearer(hr, scopes=("quality:read",)))
    assert response.status_code == 403


def test_a_stranger_sees_no_scorecard(client, closed_june, stranger):
    headers = bearer(stranger)

    scorecards = client.get(f"{BASE}/periods/{closed_june.pk}/scorecards", headers=headers)
    departments = client.get(f"{BASE}/periods/{closed_june.pk}/departments", headers=headers)

    assert _ids(scorecards) == []
    assert departments.status_code == 200 and departments.json() == []
