"""The interaction list (filters, scope, fixed queries) and the interaction page (steps on a
time line beside the judging version, deviations with the version and step that judged them)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from servicecharter.interactions.services import interaction_ingest_many
from tests.interactions.conftest import row

LIST = reverse("interactions:list")


@pytest.fixture
def stored(ingester, bj_staff, sh_staff, card_version, business_types):
    cards = business_types["cards"].pk
    result = interaction_ingest_many(
        [
            row(bj_staff, 1, business_type_id=cards),
            row(bj_staff, 2, business_type_id=cards, steps=[{"step": "greeting", "at": 15}]),
            row(bj_staff, 3, outcome="abandoned", steps=[], wait_seconds=50, channel="phone"),
            row(sh_staff, 4, business_type_id=cards),
        ],
        actor=ingester,
    )
    return result.ids


def _ids(response) -> list[int]:
    return [interaction.pk for interaction in response.context["page"]]


def test_the_list_shows_the_interactions_in_scope_newest_first(client, bj_supervisor, stored):
    client.force_login(bj_supervisor)

    response = client.get(LIST)

    assert response.status_code == 200
    assert _ids(response) == [stored[2], stored[1], stored[0]]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"deviations": "yes"}, [2, 1]),
        ({"deviations": "no"}, [0]),
        ({"outcome": "abandoned"}, [2]),
        ({"staff": "E10001", "outcome": "served"}, [1, 0]),
        ({"channel": "chat"}, []),
        ({"started_from": "2025-06-03"}, []),
        ({"started_from": "2025-06-02", "started_to": "2025-06-02"}, [2, 1, 0]),
    ],
)
def test_the_list_filters(client, bj_supervisor, stored, params, expected):
    client.force_login(bj_supervisor)

    response = client.get(LIST, params)

    assert _ids(response) == [stored[i] for i in expected]


def test_an_unknown_employee_number_is_shown_beside_its_field(client, bj_supervisor, stored):
    client.force_login(bj_supervisor)

    response = client.get(LIST, {"staff": "NOBODY"})

    assert response.context["form"].errors["staff"]


def test_htmx_filtering_returns_only_the_results(client, bj_supervisor, stored):
    client.force_login(bj_supervisor)

    response = client.get(LIST, {"deviations": "yes"}, headers={"HX-Request": "true"})

    html = response.content.decode()
    assert "<table" in html and "<h1>" not in html


def test_the_list_runs_a_fixed_number_of_queries(
    client, bj_supervisor, ingester, bj_staff, stored, django_assert_num_queries
):
    client.force_login(bj_supervisor)
    with CaptureQueriesContext(connection) as few:
        client.get(LIST, {"deviations": "yes"})
    interaction_ingest_many(
        [row(bj_staff, n, wait_seconds=60) for n in range(10, 40)], actor=ingester
    )
    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get(LIST, {"deviations": "yes"})
    assert len(response.context["page"]) == 25
    assert not any("COUNT(" in q["sql"] for q in few.captured_queries if "interaction" in q["sql"])


def test_the_list_needs_the_view_capability(client, bj_agent, stranger):
    for user in (bj_agent, stranger):
        client.force_login(user)
        assert client.get(LIST).status_code == 403


def test_the_page_shows_the_steps_and_deviations_with_what_judged_them(
    client, bj_supervisor, stored, card_version
):
    client.force_login(bj_supervisor)

    response = client.get(reverse("interactions:detail", args=[stored[1]]))

    assert response.status_code == 200
    statuses = {row["code"]: row["status"] for row in response.context["timeline"]}
    assert statuses == {
        "greeting": "late",
        "identify": "missed",
        "fee_disclosure": "missed",
        "survey_invite": "skipped",
    }
    deviations = {d["deviation"].kind: d for d in response.context["deviations"]}
    assert deviations["step_late"]["what"] == "Greeting"
    assert deviations["step_late"]["expected"] == "by 10 s"
    assert deviations["step_late"]["actual"] == "at 15 s"
    html = response.content.decode()
    assert "CARD-PHONE v1" in html
    assert reverse("standards:version_detail", args=[card_version.pk]) in html


def test_an_abandoned_call_shows_only_its_wait_judged(client, bj_supervisor, stored):
    client.force_login(bj_supervisor)

    response = client.get(reverse("interactions:detail", args=[stored[2]]))

    assert [d["deviation"].kind for d in response.context["deviations"]] == ["service_level"]
    assert response.context["deviations"][0]["actual"] == "waited 50 s"


def test_a_shanghai_supervisor_gets_404_for_a_beijing_interaction(client, sh_supervisor, stored):
    client.force_login(sh_supervisor)

    assert client.get(reverse("interactions:detail", args=[stored[0]])).status_code == 404
    assert client.get(reverse("interactions:detail", args=[stored[3]])).status_code == 200


def test_the_page_reads_in_chinese(client, bj_supervisor, stored):
    bj_supervisor.language = "zh-hans"
    bj_supervisor.save(update_fields=["language"])
    client.force_login(bj_supervisor)

    response = client.get(
        reverse("interactions:detail", args=[stored[1]]), headers={"Accept-Language": "zh-hans"}
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "greeting（中文）" in html  # the step's Chinese name
