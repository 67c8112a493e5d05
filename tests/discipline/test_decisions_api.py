"""Decisions and appeals over JSON: scoped reads (an employee sees only their own in force, a
Shanghai supervisor none of Beijing's, 404 outside the scope), the four eyes and the lawful
limits as 409 with the reason, the employee's acknowledgement and appeal, the independent
decider, token scopes, and errors in the shared shape."""

from datetime import timedelta

import pytest
import time_machine

from servicecharter.accounts.tokens import token_create
from servicecharter.discipline import decisions as services
from servicecharter.discipline.choices import DecisionState, ViolationState
from servicecharter.discipline.models import Decision
from tests.discipline.conftest import confirmed_priors, make_violation

pytestmark = pytest.mark.django_db

SCOPES = ["discipline:read", "discipline:write"]
JSON = "application/json"
LIST = "/api/discipline/decisions"


def bearer(user, scopes=SCOPES) -> dict:
    issued = token_create(actor=user, owner=user, name="t", scopes=scopes, lifetime_days=30)
    return {"Authorization": f"Bearer {issued.secret}"}


def post(client, user, url, body=None, scopes=SCOPES):
    return client.post(url, body or {}, content_type=JSON, headers=bearer(user, scopes))


def get(client, user, url, scopes=SCOPES):
    return client.get(url, headers=bearer(user, scopes))


@pytest.fixture
def proposed(bj_supervisor, bj_confirmed):
    return services.decision_propose(actor=bj_supervisor, violation=bj_confirmed)


@pytest.fixture
def approved(proposed, compliance_officer):
    return services.decision_approve(actor=compliance_officer, decision=proposed)


def test_propose_through_the_api_with_the_recommendation(client, bj_supervisor, bj_confirmed):
    response = post(client, bj_supervisor, LIST, {"violation_id": bj_confirmed.pk})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["measure"] == body["recommended_measure"] == "verbal_warning"
    assert body["recommended_rule"] == "FIRST"
    assert body["explanation"]["steps"][0]["code"] == "facts"


def test_a_deviation_without_a_reason_is_a_validation_error(client, bj_supervisor, bj_confirmed):
    response = post(
        client, bj_supervisor, LIST, {"violation_id": bj_confirmed.pk, "measure": "demotion"}
    )
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error" and "deviation_reason" in body["fields"]
    assert not Decision.objects.exists()


def test_proposing_outside_the_scope_is_404_and_without_capability_403(
    client, sh_supervisor, bj_confirmed, compliance_officer, executive
):
    assert post(client, sh_supervisor, LIST, {"violation_id": bj_confirmed.pk}).status_code == 404
    # An executive reads discipline everywhere but does not propose.
    assert post(client, executive, LIST, {"violation_id": bj_confirmed.pk}).status_code == 403


def test_the_proposer_approving_is_409(client, compliance_officer, bj_confirmed):
    decision = services.decision_propose(actor=compliance_officer, violation=bj_confirmed)
    response = post(client, compliance_officer, f"{LIST}/{decision.pk}/approve")
    assert response.status_code == 409
    assert response.json()["code"] == "decision_refused"
    assert "proposer" in response.json()["message"]


def test_approve_then_it_is_in_force(client, proposed, compliance_officer):
    response = post(client, compliance_officer, f"{LIST}/{proposed.pk}/approve", {"note": "ok"})
    assert response.status_code == 200
    body = response.json()
    assert body["state"] == "approved" and body["appeal_until"] is not None
    assert body["approvals"][0]["role"] == "compliance"


def test_a_breach_of_the_cap_is_409_with_the_limit_and_excess(
    client, bj_supervisor, compliance_officer, bj_staff, attitude_type, test_version
):
    confirmed_priors(bj_staff, attitude_type, 2)
    first = services.decision_propose(
        actor=bj_supervisor,
        violation=make_violation(bj_staff, attitude_type, state=ViolationState.CONFIRMED),
    )
    second = services.decision_propose(
        actor=bj_supervisor,
        violation=make_violation(bj_staff, attitude_type, state=ViolationState.CONFIRMED),
        measure="pay_reduction",
        amount="1000",
        deviation_reason="Bigger loss.",
    )
    assert post(client, compliance_officer, f"{LIST}/{first.pk}/approve").status_code == 200
    response = post(client, compliance_officer, f"{LIST}/{second.pk}/approve")
    assert response.status_code == 409
    message = response.json()["message"]
    assert "CN¥1,600.00" in message and "CN¥200.00" in message


def test_reads_are_scoped_and_an_employee_sees_only_their_own_in_force(
    client, proposed, compliance_officer, bj_employee, sh_supervisor, sh_employee, bj_supervisor
):
    # A proposal is not the employee's to see yet.
    assert get(client, bj_employee, LIST).json()["items"] == []
    assert get(client, bj_employee, f"{LIST}/{proposed.pk}").status_code == 404
    services.decision_approve(actor=compliance_officer, decision=proposed)
    assert [row["id"] for row in get(client, bj_employee, LIST).json()["items"]] == [proposed.pk]
    assert get(client, bj_employee, f"{LIST}/{proposed.pk}").status_code == 200
    assert get(client, bj_supervisor, f"{LIST}/{proposed.pk}").status_code == 200
    for outsider in (sh_supervisor, sh_employee):
        assert get(client, outsider, LIST).json()["items"] == []
        response = get(client, outsider, f"{LIST}/{proposed.pk}")
        assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_the_approval_queue_leaves_out_my_own(client, proposed, compliance_officer, bj_supervisor):
    mine = get(client, bj_supervisor, f"{LIST}?awaiting_my_approval=true").json()["items"]
    theirs = get(client, compliance_officer, f"{LIST}?awaiting_my_approval=true").json()["items"]
    assert mine == [] and [row["id"] for row in theirs] == [proposed.pk]


def test_only_the_employee_acknowledges_and_appeals(
    client, approved, bj_employee, bj_supervisor, hr_user, compliance_officer
):
    assert post(client, bj_supervisor, f"{LIST}/{approved.pk}/acknowledge").status_code == 403
    response = post(client, bj_employee, f"{LIST}/{approved.pk}/acknowledge")
    assert response.status_code == 200 and response.json()["acknowledged_at"]
    grounds = {"grounds": "Unfair."}
    assert post(client, bj_supervisor, f"{LIST}/{approved.pk}/appeal", grounds).status_code == 403
    response = post(client, bj_employee, f"{LIST}/{approved.pk}/appeal", grounds)
    assert response.status_code == 201
    appeal_id = response.json()["id"]
    decide = {"outcome": "overturned", "reason": "No evidence."}
    # The approver took part: 409. HR took no part: decides.
    response = post(
        client, compliance_officer, f"/api/discipline/appeals/{appeal_id}/decide", decide
    )
    assert response.status_code == 409
    queue = get(client, hr_user, "/api/discipline/appeals").json()
    assert [row["id"] for row in queue] == [appeal_id]
    response = post(client, hr_user, f"/api/discipline/appeals/{appeal_id}/decide", decide)
    assert response.status_code == 200 and response.json()["state"] == "overturned"


def test_an_appeal_after_the_window_is_409(client, approved, bj_employee):
    with time_machine.travel(approved.appeal_until + timedelta(minutes=1)):
        response = post(client, bj_employee, f"{LIST}/{approved.pk}/appeal", {"grounds": "Late."})
    assert response.status_code == 409


def test_token_scopes(client, approved, compliance_officer, bj_employee):
    response = get(client, compliance_officer, LIST, scopes=["quality:read"])
    assert response.status_code == 403 and response.json()["code"] == "insufficient_scope"
    response = post(
        client, bj_employee, f"{LIST}/{approved.pk}/acknowledge", scopes=["discipline:read"]
    )
    assert response.status_code == 403
    approved.refresh_from_db()
    assert approved.acknowledged_at is None


def test_a_reward_for_a_department_through_the_api(client, bj_supervisor, compliance_officer, tree):
    response = post(
        client,
        bj_supervisor,
        "/api/discipline/direct-decisions",
        {
            "kind": "reward",
            "measure": "commendation",
            "department_id": tree["bj_team"].pk,
            "reason": "Top quarter.",
        },
    )
    assert response.status_code == 201
    decision_id = response.json()["id"]
    response = post(
        client,
        bj_supervisor,
        "/api/discipline/direct-decisions",
        {
            "kind": "reward",
            "measure": "commendation",
            "department_id": tree["sh_team"].pk,
            "reason": "x",
        },
    )
    assert response.status_code == 404
    response = post(client, compliance_officer, f"{LIST}/{decision_id}/approve")
    assert response.json()["state"] == DecisionState.APPROVED


def test_reject_withdraw_and_appeals_refused_to_the_wrong_people(
    client, proposed, sh_supervisor, bj_agent, compliance_officer
):
    for action in ("reject", "withdraw", "approve"):
        response = post(client, sh_supervisor, f"{LIST}/{proposed.pk}/{action}", {"note": "x"})
        assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert post(client, compliance_officer, f"{LIST}/{proposed.pk}/withdraw").status_code == 403
    assert get(client, bj_agent, "/api/discipline/appeals").json() == []
    proposed.refresh_from_db()
    assert proposed.state == DecisionState.PROPOSED and not proposed.approvals.exists()
