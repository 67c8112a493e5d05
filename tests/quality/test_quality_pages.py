"""The quality pages: the auditor's workspace and scoring screen (with the live total), an
evaluation's page where the employee acknowledges or disputes, deciding a dispute, "my quality",
the team view, and the scorecard editor — each refusing the wrong person and each list page
with a fixed number of queries."""

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from servicecharter.core.models import Event
from servicecharter.quality import services
from servicecharter.quality.choices import EvaluationState, ScorecardState
from servicecharter.quality.forms import answer_field_name, comment_field_name
from servicecharter.quality.models import Criterion, Scorecard, ScorecardVersion
from servicecharter.quality.views.mine import _PANELS, register_my_quality_panel
from tests.quality.conftest import ALL_GOOD, IDENTITY_MISSED, T0, build_scorecard

WORKSPACE = reverse("quality:workspace")
MINE = reverse("quality:mine")
TEAM = reverse("quality:team")
SCORECARDS = reverse("quality:scorecards")


def _form_data(evaluation, answers, prefix="") -> dict:
    """The scoring form's fields for ``answers`` by criterion code (None: N/A)."""
    data = {}
    for criterion in Criterion.objects.filter(section__version=evaluation.scorecard_version):
        if criterion.code in answers:
            value = answers[criterion.code]
            data[f"{prefix}{answer_field_name(criterion)}"] = "na" if value is None else str(value)
        data[f"{prefix}{comment_field_name(criterion)}"] = ""
    return data


def _queries(client, url, **params) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params)
    assert response.status_code == 200
    return len(queries)


# The workspace -----------------------------------------------------------------------------------


def test_the_queue_shows_my_assigned_evaluations_oldest_first(
    client, assign, auditor, second_auditor, bj_staff, sh_staff
):
    first = assign(bj_staff)
    second = assign(sh_staff)
    assign(bj_staff, to=second_auditor)
    client.force_login(auditor)

    response = client.get(WORKSPACE)

    assert [evaluation.pk for evaluation in response.context["page"]] == [first.pk, second.pk]


def test_disputes_wait_for_an_auditor_who_did_not_score_them(
    client, scored, auditor, second_auditor, bj_staff, bj_employee
):
    evaluation = scored(bj_staff, IDENTITY_MISSED)
    services.evaluation_dispute(actor=bj_employee, evaluation=evaluation, reason="Unfair")

    client.force_login(auditor)
    assert list(client.get(WORKSPACE).context["disputes"]) == []
    client.force_login(second_auditor)
    assert [e.pk for e in client.get(WORKSPACE).context["disputes"]] == [evaluation.pk]


def test_the_workspace_is_for_auditors(client, bj_supervisor, bj_employee):
    for user in (bj_supervisor, bj_employee):
        client.force_login(user)
        assert client.get(WORKSPACE).status_code == 403


def test_the_workspace_runs_a_fixed_number_of_queries(
    client, assign, scored, auditor, second_auditor, bj_staff, bj_employee
):
    def dispute_one():
        evaluation = scored(bj_staff, to=second_auditor)
        services.evaluation_dispute(actor=bj_employee, evaluation=evaluation, reason="x")

    assign(bj_staff)
    dispute_one()
    scored(bj_staff)
    client.force_login(auditor)
    few = _queries(client, WORKSPACE)

    for _ in range(5):
        assign(bj_staff)
        dispute_one()
        scored(bj_staff)

    assert _queries(client, WORKSPACE) == few


# Scoring ---------------------------------------------------------------------------------------------


def test_the_scoring_screen_shows_the_interaction_beside_the_scorecard(
    client, assign, auditor, bj_staff
):
    evaluation = assign(bj_staff)
    client.force_login(auditor)

    response = client.get(reverse("quality:score", args=[evaluation.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Customer asked about a card fee." in html
    assert "Verify identity" in html and "Critical" in html


def test_scoring_through_the_page_completes_the_evaluation(client, assign, auditor, bj_staff):
    evaluation = assign(bj_staff)
    client.force_login(auditor)

    response = client.post(
        reverse("quality:score", args=[evaluation.pk]), _form_data(evaluation, IDENTITY_MISSED)
    )

    assert response.status_code == 302
    evaluation.refresh_from_db()
    assert evaluation.state == EvaluationState.COMPLETED and evaluation.auto_failed
    assert Event.objects.filter(name="evaluation.auto_failed").count() == 1


def test_an_unanswered_criterion_is_shown_beside_it_and_nothing_saved(
    client, assign, auditor, bj_staff
):
    evaluation = assign(bj_staff)
    client.force_login(auditor)
    answers = {code: value for code, value in ALL_GOOD.items() if code != "courtesy"}

    response = client.post(
        reverse("quality:score", args=[evaluation.pk]), _form_data(evaluation, answers)
    )

    assert response.status_code == 422
    courtesy = Criterion.objects.get(section__version=evaluation.scorecard_version, code="courtesy")
    assert response.context["form"].errors[answer_field_name(courtesy)]
    evaluation.refresh_from_db()
    assert evaluation.state == EvaluationState.ASSIGNED


def test_the_live_total_appears_as_the_auditor_answers(client, assign, auditor, bj_staff):
    evaluation = assign(bj_staff)
    client.force_login(auditor)
    url = reverse("quality:live_total", args=[evaluation.pk])

    partly = client.post(url, _form_data(evaluation, {"verify_identity": 0}))
    whole = client.post(url, _form_data(evaluation, {**ALL_GOOD, "courtesy": 3}))

    assert "Auto-fail" in partly.content.decode() and "1 of 4 answered" in partly.content.decode()
    assert "90.00%" in whole.content.decode()
    evaluation.refresh_from_db()
    assert evaluation.state == EvaluationState.ASSIGNED


def test_another_auditor_cannot_score_what_is_not_theirs(client, assign, second_auditor, bj_staff):
    evaluation = assign(bj_staff)
    client.force_login(second_auditor)

    assert client.get(reverse("quality:score", args=[evaluation.pk])).status_code == 403
    response = client.post(
        reverse("quality:score", args=[evaluation.pk]), _form_data(evaluation, ALL_GOOD)
    )
    assert response.status_code == 403


# The evaluation's page ------------------------------------------------------------------------------


def test_a_shanghai_supervisor_gets_404_on_a_beijing_evaluation(
    client, scored, bj_staff, sh_supervisor, bj_supervisor
):
    evaluation = scored(bj_staff)
    url = reverse("quality:evaluation", args=[evaluation.pk])

    client.force_login(sh_supervisor)
    assert client.get(url).status_code == 404
    client.force_login(bj_supervisor)
    assert client.get(url).status_code == 200


def test_an_employee_sees_their_own_evaluation_and_no_one_elses(
    client, scored, assign, bj_staff, sh_staff, bj_employee
):
    mine = scored(bj_staff)
    waiting = assign(bj_staff)
    theirs = scored(sh_staff)
    client.force_login(bj_employee)

    assert client.get(reverse("quality:evaluation", args=[mine.pk])).status_code == 200
    assert client.get(reverse("quality:evaluation", args=[theirs.pk])).status_code == 404
    # An employee does not learn which of their interactions wait to be scored.
    assert client.get(reverse("quality:evaluation", args=[waiting.pk])).status_code == 404


def test_the_employee_acknowledges_on_the_page(client, scored, bj_staff, bj_employee):
    evaluation = scored(bj_staff)
    client.force_login(bj_employee)

    response = client.post(reverse("quality:acknowledge", args=[evaluation.pk]))

    assert response.status_code == 302
    evaluation.refresh_from_db()
    assert evaluation.state == EvaluationState.ACKNOWLEDGED


def test_a_supervisor_cannot_acknowledge_for_the_employee(client, scored, bj_staff, bj_supervisor):
    evaluation = scored(bj_staff)
    client.force_login(bj_supervisor)

    assert client.post(reverse("quality:acknowledge", args=[evaluation.pk])).status_code == 403


def test_a_late_dispute_is_refused_beside_the_form(client, scored, bj_staff, bj_employee):
    with time_machine.travel(T0, tick=False):
        evaluation = scored(bj_staff)
    client.force_login(bj_employee)

    with time_machine.travel(T0 + timedelta(days=8), tick=False):
        response = client.post(
            reverse("quality:dispute", args=[evaluation.pk]), {"reason": "Too harsh"}
        )

    assert response.status_code == 422
    assert response.context["dispute_form"].non_field_errors()
    evaluation.refresh_from_db()
    assert evaluation.state == EvaluationState.COMPLETED


def test_the_employee_disputes_and_another_auditor_upholds_on_the_pages(
    client, scored, bj_staff, bj_employee, auditor, second_auditor
):
    evaluation = scored(bj_staff, IDENTITY_MISSED)
    client.force_login(bj_employee)
    client.post(reverse("quality:dispute", args=[evaluation.pk]), {"reason": "I checked ID."})
    decide = reverse("quality:decide", args=[evaluation.pk])

    client.force_login(auditor)
    refused = client.get(decide)
    assert "another auditor must decide" in refused.content.decode()
    assert client.post(decide, {"decision": "uphold", "note": "x"}).status_code == 422

    client.force_login(second_auditor)
    data = {"decision": "uphold", "note": "No check on the recording."}
    response = client.post(decide, {**data, **_form_data(evaluation, ALL_GOOD, "rescore-")})

    assert response.status_code == 302
    evaluation.refresh_from_db()
    assert evaluation.state == EvaluationState.UPHELD


def test_a_second_auditor_revises_on_the_page(
    client, scored, bj_staff, bj_employee, second_auditor
):
    evaluation = scored(bj_staff, IDENTITY_MISSED)
    services.evaluation_dispute(actor=bj_employee, evaluation=evaluation, reason="Checked.")
    client.force_login(second_auditor)

    response = client.post(
        reverse("quality:decide", args=[evaluation.pk]),
        {
            "decision": "revise",
            "note": "The check is in the log.",
            **_form_data(evaluation, ALL_GOOD, "rescore-"),
        },
    )

    assert response.status_code == 302
    evaluation.refresh_from_db()
    assert (evaluation.state, str(evaluation.score)) == (EvaluationState.REVISED, "100.00")


# My quality -------------------------------------------------------------------------------------------


def test_my_quality_shows_my_result_marked_insufficient(client, scored, bj_staff, bj_employee):
    scored(bj_staff)
    scored(bj_staff, IDENTITY_MISSED)
    client.force_login(bj_employee)

    response = client.get(MINE)

    html = response.content.decode()
    assert response.context["result"].count == 2
    assert "Insufficient sample" in html
    assert len(response.context["page"]) == 2


def test_my_quality_shows_only_mine(client, scored, bj_staff, sh_staff, sh_employee):
    scored(bj_staff)
    client.force_login(sh_employee)

    response = client.get(MINE)

    assert response.context["result"].count == 0
    assert len(response.context["page"]) == 0


def test_my_quality_without_a_staff_record(client, stranger):
    client.force_login(stranger)

    response = client.get(MINE)

    assert response.status_code == 200
    assert "not linked to a staff record" in response.content.decode()


def test_other_modules_add_panels_to_my_quality(client, bj_employee, bj_staff, settings, tmp_path):
    (tmp_path / "test_panel.html").write_text("<p>{{ panel.note }}</p>")
    engine = settings.TEMPLATES[0]
    settings.TEMPLATES = [{**engine, "DIRS": [*engine["DIRS"], tmp_path]}]
    seen = []

    def panel(request, staff, since, until):
        seen.append(staff)
        return {"note": "Survey feedback about me"}

    register_my_quality_panel("test-panel", "test_panel.html", panel)
    try:
        client.force_login(bj_employee)
        response = client.get(MINE)
    finally:
        _PANELS.pop("test-panel")

    assert seen == [bj_staff]
    (added,) = [panel for panel in response.context["panels"] if panel["key"] == "test-panel"]
    assert added["context"] == {"note": "Survey feedback about me"}
    assert "<p>Survey feedback about me</p>" in response.content.decode()


def test_my_quality_runs_a_fixed_number_of_queries(
    client, scored, bj_staff, bj_employee, second_auditor
):
    def dispute_one():
        evaluation = scored(bj_staff)
        services.evaluation_dispute(actor=bj_employee, evaluation=evaluation, reason="x")

    scored(bj_staff)
    dispute_one()
    client.force_login(bj_employee)
    few = _queries(client, MINE)

    for _ in range(5):
        scored(bj_staff, IDENTITY_MISSED)
        dispute_one()

    assert _queries(client, MINE) == few


# The team view -------------------------------------------------------------------------------------


def test_the_team_view_shows_results_in_scope_with_intervals(
    client, scored, bj_staff, sh_staff, bj_supervisor
):
    scored(bj_staff)
    scored(bj_staff, IDENTITY_MISSED)
    scored(sh_staff)
    client.force_login(bj_supervisor)

    response = client.get(TEAM)

    (result,) = response.context["results"]
    assert result.staff == bj_staff
    assert result.count == 2 and result.auto_fails == 1
    html = response.content.decode()
    assert "Insufficient sample" in html
    assert "team-chart-data" in html and bj_staff.name in html
    assert sh_staff.name not in html


def test_the_team_view_refuses_a_department_out_of_scope(
    client, scored, bj_staff, sh_supervisor, tree
):
    scored(bj_staff)
    client.force_login(sh_supervisor)

    response = client.get(TEAM, {"department": tree["bj"].pk})

    assert response.context["form"].errors["department"]
    assert response.context["results"] == []


def test_the_team_view_is_for_those_who_view_quality(client, bj_employee):
    client.force_login(bj_employee)

    assert client.get(TEAM).status_code == 403


def test_the_team_view_runs_a_fixed_number_of_queries(
    client, scored, bj_staff, bj_supervisor, tree
):
    from tests.standards.conftest import make_staff

    scored(bj_staff)
    client.force_login(bj_supervisor)
    few = _queries(client, TEAM)

    for number in range(5):
        scored(make_staff(tree["bj_team"], f"E1010{number}", f"员工{number}"))

    assert _queries(client, TEAM) == few


# Scorecards ---------------------------------------------------------------------------------------


def test_the_scorecard_pages_are_for_quality_managers(client, phone_card, bj_supervisor):
    client.force_login(bj_supervisor)

    assert client.get(SCORECARDS).status_code == 403
    assert client.get(reverse("quality:scorecard_version", args=[phone_card.pk])).status_code == 403


def test_a_scorecard_is_created_and_edited_on_the_pages(client, auditor):
    client.force_login(auditor)

    response = client.post(
        reverse("quality:scorecard_create"),
        {"code": "COUNTER", "name_en": "Counter", "name_zh": "柜面", "pass_mark": 85},
    )
    version = ScorecardVersion.objects.get(scorecard__code="COUNTER")
    assert response.status_code == 302 and version.pass_mark == 85

    client.post(
        reverse("quality:section_add", args=[version.pk]),
        {"name_en": "Compliance", "name_zh": "合规", "weight": "1"},
    )
    section = version.sections.get()
    refused = client.post(
        reverse("quality:criterion_add", args=[section.pk]),
        {
            f"s{section.pk}-code": "risk_disclosure",
            f"s{section.pk}-text_en": "Risk disclosed",
            f"s{section.pk}-text_zh": "风险揭示",
            f"s{section.pk}-weight": "1",
            f"s{section.pk}-scale": "one_to_five",
            f"s{section.pk}-category": "compliance",
            f"s{section.pk}-critical": "on",
        },
    )
    assert refused.status_code == 422
    assert "yes/no" in refused.content.decode()
    assert not Criterion.objects.exists()

    client.post(
        reverse("quality:criterion_add", args=[section.pk]),
        {
            f"s{section.pk}-code": "risk_disclosure",
            f"s{section.pk}-text_en": "Risk disclosed",
            f"s{section.pk}-text_zh": "风险揭示",
            f"s{section.pk}-weight": "1",
            f"s{section.pk}-scale": "yes_no",
            f"s{section.pk}-category": "compliance",
            f"s{section.pk}-critical": "on",
        },
    )
    response = client.post(reverse("quality:activate", args=[version.pk]))

    assert response.status_code == 302
    version.refresh_from_db()
    assert version.state == ScorecardState.ACTIVE


def test_activating_an_empty_version_shows_why(client, auditor):
    version = build_scorecard(auditor, sections=(), activate=False)
    client.force_login(auditor)

    response = client.post(reverse("quality:activate", args=[version.pk]))

    assert response.status_code == 422
    assert "at least one section" in response.content.decode()


def test_editing_a_version_in_use_opens_a_new_draft(client, auditor, phone_card):
    client.force_login(auditor)

    response = client.post(reverse("quality:scorecard_version_edit", args=[phone_card.pk]))

    draft = ScorecardVersion.objects.get(state=ScorecardState.DRAFT)
    assert response.url == reverse("quality:scorecard_version", args=[draft.pk])
    assert draft.number == 2


def test_the_version_history_lists_every_version(client, auditor, phone_card, scored, bj_staff):
    scored(bj_staff)
    services.scorecard_version_edit(actor=auditor, version=phone_card)
    client.force_login(auditor)

    response = client.get(reverse("quality:scorecard", args=[phone_card.scorecard_id]))

    rows = response.context["rows"]
    assert [(row["version"].number, row["evaluations"]) for row in rows] == [(2, 0), (1, 1)]


def test_the_scorecard_list_runs_a_fixed_number_of_queries(client, auditor):
    build_scorecard(auditor, code="A")
    client.force_login(auditor)
    few = _queries(client, SCORECARDS)

    for code in ("B", "C", "D"):
        build_scorecard(auditor, code=code)

    assert _queries(client, SCORECARDS) == few
    assert Scorecard.objects.count() == 4


@pytest.mark.parametrize("url_name", ["quality:workspace", "quality:team", "quality:mine"])
def test_pages_render_in_chinese(client, auditor, url_name, scored, bj_staff):
    scored(bj_staff)
    auditor.language = "zh-hans"
    auditor.save(update_fields=["language"])
    client.force_login(auditor)

    response = client.get(reverse(url_name), headers={"accept-language": "zh-hans"})

    assert response.status_code == 200


def test_a_supervisor_reads_one_employee_of_the_team(
    client, scored, bj_staff, sh_staff, bj_supervisor
):
    scored(bj_staff)
    scored(bj_staff, IDENTITY_MISSED)
    client.force_login(bj_supervisor)

    response = client.get(reverse("quality:team_member", args=[bj_staff.pk]))

    assert response.status_code == 200
    assert (response.context["result"].count, response.context["result"].auto_fails) == (2, 1)
    assert len(response.context["page"]) == 2
    assert client.get(reverse("quality:team_member", args=[sh_staff.pk])).status_code == 404


def test_one_employee_of_the_team_runs_a_fixed_number_of_queries(
    client, scored, bj_staff, bj_supervisor
):
    scored(bj_staff)
    client.force_login(bj_supervisor)
    url = reverse("quality:team_member", args=[bj_staff.pk])
    few = _queries(client, url)

    for _ in range(5):
        scored(bj_staff, IDENTITY_MISSED)

    assert _queries(client, url) == few
