"""Survey responses and results over JSON: scoped, walked by cursor, token scope checked; a
department outside the scope answers 404."""

import pytest
from django.utils import timezone

from servicecharter.accounts.tokens import token_create
from servicecharter.org.choices import Channel
from servicecharter.surveys import services
from tests.surveys.conftest import make_customer

RESPONSES = "/api/surveys/responses"
RESULTS = "/api/surveys/results"


def bearer(user, scopes=("surveys:read",)) -> dict:
    issued = token_create(actor=user, owner=user, name="t", scopes=list(scopes), lifetime_days=30)
    return {"Authorization": f"Bearer {issued.secret}"}


@pytest.fixture
def answered(invite, tree, bj_staff, sh_staff):
    ids = {"bj": [], "sh": []}
    for number in range(5):
        customer = make_customer(f"B{number}", tree["bj"], email=f"b{number}@example.com")
        invitation, _token = invite(bj_staff, customer)
        response = services.survey_respond(invitation=invitation, csat=4, nps=9, effort=2)
        ids["bj"].append(response.pk)
    customer = make_customer("S1", tree["sh"], email="s1@example.com")
    invitation, _token = invite(sh_staff, customer, channel=Channel.CHAT)
    ids["sh"].append(services.survey_respond(invitation=invitation, csat=1, nps=2, effort=5).pk)
    return ids


def test_responses_are_listed_in_scope_and_walked_by_cursor(client, answered, bj_supervisor):
    headers = bearer(bj_supervisor)
    seen, url = [], f"{RESPONSES}?limit=2"
    while url:
        page = client.get(url, headers=headers).json()
        seen += [item["id"] for item in page["items"]]
        url = page["next"]

    assert seen == sorted(answered["bj"], reverse=True)
    first = client.get(RESPONSES, headers=headers).json()["items"][0]
    assert (first["csat"], first["employee_number"], first["channel"]) == (4, "E10001", "phone")
    assert first["interaction_id"] is not None and first["case_id"] is None


def test_a_shanghai_supervisor_gets_404_for_beijing_and_sees_only_shanghai(
    client, answered, sh_supervisor, tree
):
    headers = bearer(sh_supervisor)

    listed = client.get(RESPONSES, headers=headers).json()
    refused = client.get(RESPONSES, {"department": tree["bj"].pk}, headers=headers)
    results = client.get(RESULTS, {"department": tree["bj"].pk}, headers=headers)

    assert [item["id"] for item in listed["items"]] == answered["sh"]
    assert refused.status_code == 404 and results.status_code == 404


def test_results_summary(client, answered, compliance_officer, tree):
    body = client.get(
        RESULTS, {"department": tree["bj"].pk}, headers=bearer(compliance_officer)
    ).json()

    assert body["total"]["answered"] == 5
    assert body["total"]["csat"]["estimate"] == 1.0
    assert body["total"]["nps"]["estimate"] == 100.0
    assert body["total"]["adequate"] is False  # 5 answers
    assert len(body["by_month"]) == 12
    assert [row["channel"] for row in body["by_channel"]] == ["phone"]


def test_the_token_needs_the_survey_scope_and_the_user_the_capability(
    client, answered, bj_supervisor, bj_agent
):
    wrong_scope = client.get(RESPONSES, headers=bearer(bj_supervisor, ["cases:read"]))
    no_capability = client.get(RESULTS, headers=bearer(bj_agent))
    assert wrong_scope.status_code == 403 and no_capability.status_code == 403


def test_a_bad_cursor_is_refused_with_a_clear_message(client, answered, bj_supervisor):
    response = client.get(RESPONSES, {"cursor": "nonsense"}, headers=bearer(bj_supervisor))
    assert response.status_code == 422
    assert "cursor" in response.json()["fields"]


def test_results_over_chosen_months(client, answered, compliance_officer):
    this_month = timezone.localdate().strftime("%Y-%m")
    headers = bearer(compliance_officer)

    body = client.get(
        RESULTS, {"first_month": this_month, "last_month": this_month}, headers=headers
    ).json()
    bad = client.get(RESULTS, {"first_month": "2026-13"}, headers=headers)

    assert (body["first_month"], body["last_month"]) == (this_month, this_month)
    assert [row["month"] for row in body["by_month"]] == [this_month]
    assert body["total"]["answered"] == 6
    assert bad.status_code == 422
