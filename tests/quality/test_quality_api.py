"""Evaluations and scorecards over JSON: the scoped list walked by cursor (an employee sees only
their own, a Shanghai supervisor none of Beijing's), one evaluation with its answers and the
caller's actions, scoring with auto-fail, the employee's acknowledgement and dispute, another
auditor's decision (409 for the scorer), token scopes, and fixed query counts."""

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from servicecharter.accounts.tokens import token_create
from servicecharter.core.models import Event
from servicecharter.quality import services
from servicecharter.quality.choices import EvaluationState
from tests.quality.conftest import ALL_GOOD, IDENTITY_MISSED, T0, build_scorecard

SCOPES = ["quality:read", "quality:write"]
JSON = "application/json"
LIST = "/api/quality/evaluations"


def bearer(user, scopes=SCOPES) -> dict:
    issued = token_create(actor=user, owner=user, name="t", scopes=scopes, lifetime_days=30)
    return {"Authorization": f"Bearer {issued.secret}"}


def detail(evaluation) -> str:
    return f"{LIST}/{evaluation.pk}"


def answers(values: dict, **comments) -> list[dict]:
    return [
        {"criterion": code, "value": value, "comment": comments.get(code, "")}
        for code, value in values.items()
    ]


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["items"]]


# Reading ------------------------------------------------------------------------------------------


def test_a_shanghai_supervisor_gets_404_on_a_beijing_evaluation(
    client, scored, bj_staff, sh_supervisor, bj_supervisor
):
    evaluation = scored(bj_staff)

    refused = client.get(detail(evaluation), headers=bearer(sh_supervisor))
    allowed = client.get(detail(evaluation), headers=bearer(bj_supervisor))

    assert refused.status_code == 404 and refused.json()["code"] == "not_found"
    assert allowed.status_code == 200
    assert _ids(client.get(LIST, headers=bearer(sh_supervisor))) == []


def test_an_employee_sees_only_their_own_scored_evaluations(
    client, scored, assign, bj_staff, sh_staff, bj_employee
):
    mine = scored(bj_staff)
    waiting = assign(bj_staff)
    theirs = scored(sh_staff)
    headers = bearer(bj_employee)

    assert _ids(client.get(LIST, headers=headers)) == [mine.pk]
    assert client.get(detail(theirs), headers=headers).status_code == 404
    assert client.get(detail(waiting), headers=headers).status_code == 404


def test_an_evaluation_reads_with_its_answers_and_the_callers_actions(
    client, scored, bj_staff, bj_employee
):
    evaluation = scored(bj_staff, IDENTITY_MISSED, comments={"verify_identity": "No check."})

    body = client.get(detail(evaluation), headers=bearer(bj_employee)).json()

    assert body["state"] == "completed"
    assert (body["score"], body["auto_failed"], body["passed"]) == ("0.00", True, False)
    verify = next(a for a in body["answers"] if a["criterion"] == "verify_identity")
    assert (verify["value"], verify["comment"], verify["critical"]) == (0, "No check.", True)
    assert body["actions"] == ["acknowledge", "dispute"]
    assert body["dispute"] is None


def test_the_list_filters(client, scored, assign, auditor, second_auditor, bj_staff, sh_staff):
    done = scored(bj_staff)
    waiting = assign(sh_staff, to=second_auditor)
    headers = bearer(auditor)

    assert _ids(client.get(LIST, {"state": "assigned"}, headers=headers)) == [waiting.pk]
    assert _ids(client.get(LIST, {"staff": bj_staff.pk}, headers=headers)) == [done.pk]
    assert _ids(client.get(LIST, {"auditor": second_auditor.pk}, headers=headers)) == [waiting.pk]
    by_branch = client.get(LIST, {"department": sh_staff.department.parent_id}, headers=headers)
    assert _ids(by_branch) == [waiting.pk]
    bad = client.get(LIST, {"state": "nonsense"}, headers=headers)
    assert bad.status_code == 422


def test_walking_the_cursor_returns_every_evaluation_once(client, scored, auditor, bj_staff):
    made = [scored(bj_staff).pk for _ in range(5)]
    headers = bearer(auditor)
    seen, url = [], f"{LIST}?limit=2"

    while url:
        body = client.get(url, headers=headers).json()
        seen += [item["id"] for item in body["items"]]
        url = body["next"]

    assert seen == sorted(made, reverse=True)


def test_a_bad_cursor_is_a_field_error(client, auditor, phone_card):
    response = client.get(LIST, {"cursor": "!!"}, headers=bearer(auditor))

    assert response.status_code == 422
    assert "cursor" in response.json()["fields"]


def test_the_list_costs_the_same_queries_whatever_its_length(
    client, scored, auditor, bj_staff, sh_staff
):
    headers = bearer(auditor)
    scored(bj_staff)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(LIST, headers=headers).status_code == 200
        return len(captured)

    queries()  # the token's first use is recorded once
    few = queries()
    for staff in (bj_staff, sh_staff) * 3:
        scored(staff)

    assert queries() == few


# Acting ----------------------------------------------------------------------------------------


def test_the_assigned_auditor_scores_with_auto_fail(client, assign, auditor, bj_staff):
    evaluation = assign(bj_staff)

    response = client.post(
        f"{detail(evaluation)}/submit",
        {"answers": answers(IDENTITY_MISSED, verify_identity="Skipped the check.")},
        content_type=JSON,
        headers=bearer(auditor),
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["state"], body["score"], body["auto_failed"]) == ("completed", "0.00", True)
    assert Event.objects.filter(name="evaluation.auto_failed").count() == 1


def test_a_missing_answer_is_422_and_saves_nothing(client, assign, auditor, bj_staff):
    evaluation = assign(bj_staff)
    partial = {code: value for code, value in ALL_GOOD.items() if code != "courtesy"}

    response = client.post(
        f"{detail(evaluation)}/submit",
        {"answers": answers(partial)},
        content_type=JSON,
        headers=bearer(auditor),
    )

    assert response.status_code == 422
    evaluation.refresh_from_db()
    assert evaluation.state == EvaluationState.ASSIGNED


def test_a_criterion_answered_twice_is_refused(client, assign, auditor, bj_staff):
    evaluation = assign(bj_staff)
    body = {"answers": [*answers(ALL_GOOD), {"criterion": "greeting", "value": 0}]}

    response = client.post(
        f"{detail(evaluation)}/submit", body, content_type=JSON, headers=bearer(auditor)
    )

    assert response.status_code == 422
    assert "answers" in response.json()["fields"]


def test_scoring_twice_is_a_409(client, scored, auditor, bj_staff):
    evaluation = scored(bj_staff)

    response = client.post(
        f"{detail(evaluation)}/submit",
        {"answers": answers(ALL_GOOD)},
        content_type=JSON,
        headers=bearer(auditor),
    )

    assert response.status_code == 409
    assert response.json()["code"] == "evaluation_refused"


def test_someone_else_cannot_score(client, assign, second_auditor, bj_supervisor, bj_staff):
    evaluation = assign(bj_staff)
    body = {"answers": answers(ALL_GOOD)}

    for user in (second_auditor, bj_supervisor):
        response = client.post(
            f"{detail(evaluation)}/submit", body, content_type=JSON, headers=bearer(user)
        )
        assert response.status_code == 403


def test_the_employee_acknowledges_and_disputes(client, scored, bj_staff, bj_employee):
    evaluation = scored(bj_staff, IDENTITY_MISSED)
    headers = bearer(bj_employee)

    acknowledged = client.post(f"{detail(evaluation)}/acknowledge", headers=headers)
    disputed = client.post(
        f"{detail(evaluation)}/dispute",
        {"reason": "I checked the caller's ID by SMS."},
        content_type=JSON,
        headers=headers,
    )

    assert acknowledged.json()["state"] == "acknowledged"
    body = disputed.json()
    assert body["state"] == "disputed"
    assert body["dispute"]["reason"] == "I checked the caller's ID by SMS."


def test_a_late_dispute_is_a_409(client, scored, bj_staff, bj_employee):
    with time_machine.travel(T0, tick=False):
        evaluation = scored(bj_staff)

    with time_machine.travel(T0 + timedelta(days=30), tick=False):
        response = client.post(
            f"{detail(evaluation)}/dispute",
            {"reason": "Late"},
            content_type=JSON,
            headers=bearer(bj_employee),
        )

    assert response.status_code == 409
    assert "ended" in response.json()["message"]


def test_a_supervisor_cannot_dispute_for_the_employee(client, scored, bj_staff, bj_supervisor):
    evaluation = scored(bj_staff)

    response = client.post(
        f"{detail(evaluation)}/dispute",
        {"reason": "On their behalf"},
        content_type=JSON,
        headers=bearer(bj_supervisor),
    )

    assert response.status_code == 403


@pytest.fixture
def disputed(scored, bj_staff, bj_employee):
    evaluation = scored(bj_staff, IDENTITY_MISSED)
    services.evaluation_dispute(actor=bj_employee, evaluation=evaluation, reason="Checked.")
    return evaluation


def test_the_scorer_cannot_decide_the_dispute(client, disputed, auditor):
    response = client.post(
        f"{detail(disputed)}/decide",
        {"upheld": True, "note": "Mine stands."},
        content_type=JSON,
        headers=bearer(auditor),
    )

    assert response.status_code == 409
    assert "another auditor" in response.json()["message"]


def test_another_auditor_revises(client, disputed, second_auditor):
    headers = bearer(second_auditor)
    assert client.get(detail(disputed), headers=headers).json()["actions"] == ["decide"]

    response = client.post(
        f"{detail(disputed)}/decide",
        {"upheld": False, "note": "The SMS check is logged.", "answers": answers(ALL_GOOD)},
        content_type=JSON,
        headers=headers,
    )

    body = response.json()
    assert (body["state"], body["score"], body["auto_failed"]) == ("revised", "100.00", False)
    assert body["dispute"]["decided_by_id"] == second_auditor.pk
    assert body["dispute"]["upheld"] is False


def test_an_auditor_of_another_branch_cannot_decide(client, disputed, sh_auditor):
    response = client.post(
        f"{detail(disputed)}/decide",
        {"upheld": True, "note": "x"},
        content_type=JSON,
        headers=bearer(sh_auditor),
    )

    assert response.status_code == 404


def test_a_read_token_cannot_act(client, scored, bj_staff, bj_employee):
    evaluation = scored(bj_staff)

    response = client.post(
        f"{detail(evaluation)}/acknowledge", headers=bearer(bj_employee, ["quality:read"])
    )

    assert response.status_code == 403
    assert client.get(LIST, headers=bearer(bj_employee, ["cases:read"])).status_code == 403


# Scorecards ------------------------------------------------------------------------------------


def test_scorecards_read_with_their_versions(client, auditor, phone_card, bj_supervisor):
    build_scorecard(auditor, code="DRAFTY", activate=False)

    as_manager = client.get("/api/quality/scorecards", headers=bearer(auditor)).json()
    as_supervisor = client.get("/api/quality/scorecards", headers=bearer(bj_supervisor)).json()

    assert [s["code"] for s in as_manager] == ["DRAFTY", "PHONE"]
    assert as_manager[0]["versions"][0]["state"] == "draft"
    assert [s["versions"] for s in as_supervisor if s["code"] == "DRAFTY"] == [[]]


def test_a_scorecard_version_reads_with_its_criteria(client, phone_card, bj_supervisor):
    response = client.get(
        f"/api/quality/scorecards/versions/{phone_card.pk}", headers=bearer(bj_supervisor)
    )

    body = response.json()
    assert [section["name_en"] for section in body["sections"]] == ["Opening", "Handling"]
    verify = body["sections"][0]["criteria"][1]
    assert (verify["code"], verify["critical"], verify["scale"]) == (
        "verify_identity",
        True,
        "yes_no",
    )


def test_scorecards_are_not_for_those_without_a_quality_role(client, phone_card, bj_employee):
    response = client.get("/api/quality/scorecards", headers=bearer(bj_employee))

    assert response.status_code == 403
