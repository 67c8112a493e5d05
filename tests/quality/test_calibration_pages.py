"""Calibration pages: the list, the form, blind scoring (an auditor's screen shows only their own
answers, the manager sees counts, the results wait for the session to close), closing, the
results with their charts, fixed query counts, and scope refusals."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from servicecharter.accounts.choices import Role
from servicecharter.quality import calibration
from servicecharter.quality.models import CalibrationScore, CalibrationSession
from servicecharter.quality.selectors import version_criteria
from tests.conftest import make_user
from tests.quality.conftest import make_interaction

LIST = reverse("quality:calibration_list")
CREATE = reverse("quality:calibration_create")


@pytest.fixture
def calls(bj_staff):
    return [make_interaction(bj_staff, n) for n in (1, 2, 3)]


@pytest.fixture
def session(auditor, second_auditor, phone_card, calls):
    return calibration.calibration_session_create(
        actor=auditor,
        name="June calibration",
        scorecard_version=phone_card,
        interactions=calls,
        auditors=[auditor, second_auditor],
    )


def url(name, session, *more):
    return reverse(f"quality:{name}", args=[session.pk, *more])


def answers_form(criteria, values) -> dict:
    return {f"answer-{c.pk}": value for c, value in zip(criteria, values, strict=True)}


def score(session, user, interaction, values):
    criteria = version_criteria(session.scorecard_version)
    calibration.calibration_score_submit(
        actor=user,
        session=session,
        interaction=interaction,
        answers={c.pk: v for c, v in zip(criteria, values, strict=True)},
    )


# List and form ---------------------------------------------------------------------------------


def test_the_list_shows_the_sessions_one_scores_in_or_manages(
    client, session, second_auditor, sh_auditor
):
    client.force_login(second_auditor)
    assert [s.pk for s in client.get(LIST).context["page"]] == [session.pk]
    client.force_login(sh_auditor)
    assert list(client.get(LIST).context["page"]) == []


def test_the_list_runs_a_fixed_number_of_queries(
    client, auditor, second_auditor, phone_card, calls, session
):
    client.force_login(auditor)
    with CaptureQueriesContext(connection) as few:
        client.get(LIST)
    for n in range(4):
        calibration.calibration_session_create(
            actor=auditor,
            name=f"Session {n}",
            scorecard_version=phone_card,
            interactions=calls,
            auditors=[auditor, second_auditor],
        )
    with CaptureQueriesContext(connection) as many:
        response = client.get(LIST)

    assert len(response.context["page"]) == 5
    assert len(many) == len(few)


@pytest.mark.parametrize("persona", ["bj_agent", "bj_supervisor", "stranger"])
def test_people_who_do_not_evaluate_are_refused(client, request, persona, session):
    client.force_login(request.getfixturevalue(persona))

    assert client.get(LIST).status_code == 403
    assert client.get(CREATE).status_code == 403
    assert client.get(url("calibration_detail", session)).status_code == 403


def test_a_session_is_made_from_the_form(client, auditor, second_auditor, phone_card, calls):
    client.force_login(auditor)

    response = client.post(
        CREATE,
        {
            "name": "July calibration",
            "scorecard_version": phone_card.pk,
            "interactions": ", ".join(str(c.pk) for c in calls),
            "auditors": [auditor.pk, second_auditor.pk],
            "alpha_tolerance": "0.750",
            "bias_tolerance": "0.50",
        },
    )

    created = CalibrationSession.objects.get()
    assert response["Location"] == url("calibration_detail", created)
    assert sorted(created.interactions.values_list("pk", flat=True)) == [c.pk for c in calls]
    assert str(created.alpha_tolerance) == "0.750"


def test_interactions_outside_the_managers_departments_are_refused_beside_the_field(
    client, tree, phone_card, sh_staff, bj_staff
):
    manager = make_user("sh.auditor", Role.QUALITY_AUDITOR, tree["sh"])
    other = make_user("sh.auditor2", Role.QUALITY_AUDITOR, tree["sh"])
    mine = [make_interaction(sh_staff, n) for n in (1, 2)]
    beijing = make_interaction(bj_staff, 3)
    client.force_login(manager)

    response = client.post(
        CREATE,
        {
            "name": "Probe",
            "scorecard_version": phone_card.pk,
            "interactions": f"{mine[0].pk}, {mine[1].pk}, {beijing.pk}",
            "auditors": [manager.pk, other.pk],
            "alpha_tolerance": "0.8",
            "bias_tolerance": "0.5",
        },
    )
    unknown = client.post(
        CREATE,
        {
            "name": "Probe",
            "scorecard_version": phone_card.pk,
            "interactions": f"{mine[0].pk}, {mine[1].pk}, 999999",
            "auditors": [manager.pk, other.pk],
            "alpha_tolerance": "0.8",
            "bias_tolerance": "0.5",
        },
    )

    out_of_scope = str(response.context["form"].errors["interactions"])
    not_found = str(unknown.context["form"].errors["interactions"])
    assert "among those you manage" in out_of_scope and "among those you manage" in not_found
    assert not CalibrationSession.objects.exists()


# Blind scoring ---------------------------------------------------------------------------------


def test_an_auditor_scores_from_the_screen_and_sees_only_their_own_answers(
    client, session, auditor, second_auditor, calls
):
    criteria = version_criteria(session.scorecard_version)
    score(session, second_auditor, calls[0], [0, 0, 1, 1])  # the other auditor: no, no, 1, 1
    client.force_login(auditor)
    screen = url("calibration_score", session, calls[0].pk)

    before = client.get(screen)
    saved = client.post(screen, answers_form(criteria, ["1", "1", "4", "na"]))
    after = client.get(screen)

    assert before.status_code == 200
    assert "checked" not in before.content.decode()  # nothing of the other auditor's shows
    assert saved.status_code == 302
    own = CalibrationScore.objects.filter(session=session, auditor=auditor)
    assert sorted(own.values_list("value", flat=True), key=str) == [1, 1, 4, None]
    assert after.content.decode().count("checked") == 4


def test_a_missing_answer_is_shown_beside_its_criterion(client, session, auditor, calls):
    criteria = version_criteria(session.scorecard_version)
    client.force_login(auditor)

    response = client.post(
        url("calibration_score", session, calls[0].pk),
        answers_form(criteria[:3], ["1", "1", "4"]),
    )

    assert response.context["form"].errors[f"answer-{criteria[3].pk}"]
    assert not CalibrationScore.objects.exists()


def test_the_manager_sees_counts_and_the_results_wait_for_the_close(
    client, tree, session, auditor, second_auditor, calls
):
    score(session, second_auditor, calls[0], [0, 0, 2, 2])
    manager = make_user("bj.auditor", Role.QUALITY_AUDITOR, tree["bj"])
    client.force_login(manager)

    page = client.get(url("calibration_detail", session))
    results = client.get(url("calibration_results", session))

    assert page.status_code == 200
    assert dict((a.pk, n) for a, n in page.context["progress"]) == {
        auditor.pk: 0,
        second_auditor.pk: 1,
    }
    assert results.status_code == 302 and results["Location"] == url("calibration_detail", session)


def test_someone_who_only_manages_cannot_open_the_scoring_screen(client, tree, session, calls):
    manager = make_user("bj.auditor", Role.QUALITY_AUDITOR, tree["bj"])
    client.force_login(manager)

    assert client.get(url("calibration_score", session, calls[0].pk)).status_code == 404


def test_an_interaction_not_in_the_session_is_not_found(client, session, auditor, bj_staff):
    other = make_interaction(bj_staff, 9)
    client.force_login(auditor)

    assert client.get(url("calibration_score", session, other.pk)).status_code == 404


def test_a_shanghai_auditor_gets_404_on_a_beijing_session(client, session, sh_auditor, calls):
    client.force_login(sh_auditor)

    assert client.get(url("calibration_detail", session)).status_code == 404
    assert client.get(url("calibration_score", session, calls[0].pk)).status_code == 404
    assert client.get(url("calibration_results", session)).status_code == 404
    assert client.post(url("calibration_close", session)).status_code == 404
    assert CalibrationSession.objects.get().closed_at is None


# Closing and the results ---------------------------------------------------------------------


@pytest.fixture
def scored(session, auditor, second_auditor, calls):
    for index, call in enumerate(calls):
        score(session, auditor, call, [1, 1, 4 + index % 2, 4])
        score(session, second_auditor, call, [1, 1, 3 + index % 2, 3])
    return session


def test_closing_shows_the_results_with_both_charts(client, scored, auditor):
    client.force_login(auditor)

    response = client.post(url("calibration_close", scored), follow=True)

    html = response.content.decode()
    assert response.redirect_chain[-1][0] == url("calibration_results", scored)
    assert 'id="bias-chart-data"' in html and 'id="agreement-chart-data"' in html
    assert "echarts" in html
    bias = response.context["bias_chart"]
    assert bias["labels"] == ["auditor", "auditor2"] and bias["values"] == [1.0, -1.0]
    assert json.loads(json.dumps(response.context["agreement_chart"]))["labels"] == [
        "greeting",
        "verify_identity",
        "accuracy",
        "courtesy",
    ]
    assert "Outside tolerance" in html


def test_after_the_close_an_auditor_sees_everyones_answers(client, scored, auditor, second_auditor):
    calibration.calibration_session_close(actor=auditor, session=scored)
    client.force_login(second_auditor)

    response = client.get(url("calibration_results", scored))

    rows = response.context["side_by_side"]
    assert len(rows) == 12
    accuracy_first = next(r for r in rows if r["criterion"].code == "accuracy")
    assert accuracy_first["answers"] == ["4", "3"] and not accuracy_first["agree"]


def test_closing_before_two_auditors_have_scored_is_refused_on_the_page(client, session, auditor):
    client.force_login(auditor)

    response = client.post(url("calibration_close", session), follow=True)

    assert "two auditors" in response.content.decode()
    assert CalibrationSession.objects.get().closed_at is None


def test_the_results_page_runs_a_fixed_number_of_queries(
    client, scored, auditor, second_auditor, phone_card, bj_staff, tree
):
    calibration.calibration_session_close(actor=auditor, session=scored)
    third = make_user("auditor3", Role.QUALITY_AUDITOR, tree["head"])
    calls = [make_interaction(bj_staff, n) for n in range(10, 15)]
    larger = calibration.calibration_session_create(
        actor=auditor,
        name="Larger",
        scorecard_version=phone_card,
        interactions=calls,
        auditors=[auditor, second_auditor, third],
    )
    for user in (auditor, second_auditor, third):
        for call in calls:
            score(larger, user, call, [1, 0, 3, 5])
    calibration.calibration_session_close(actor=auditor, session=larger)
    client.force_login(auditor)

    with CaptureQueriesContext(connection) as few:
        client.get(url("calibration_results", scored))
    with CaptureQueriesContext(connection) as many:
        response = client.get(url("calibration_results", larger))

    assert len(response.context["side_by_side"]) == 20
    assert len(many) == len(few)
