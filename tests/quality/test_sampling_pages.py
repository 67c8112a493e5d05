"""Sampling plan pages: the list, the form (errors beside their fields, nothing half-saved), a
plan's page with its draw and picks, "check the draw", fixed query counts, and scope: a
Shanghai auditor gets 404 on a Beijing plan, people without MANAGE_QUALITY get 403."""

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from servicecharter.quality import sampling
from servicecharter.quality.models import Evaluation, SamplingPlan
from tests.quality.conftest import make_interaction
from tests.standards.conftest import make_staff

LIST = reverse("quality:sampling_list")
CREATE = reverse("quality:sampling_create")


@pytest.fixture
def calls(tree, bj_staff):
    other = make_staff(tree["bj_team"], "E10002", "王强")
    numbers = iter(range(1, 1000))
    return [make_interaction(staff, next(numbers)) for staff in (bj_staff, other) for _ in range(6)]


@pytest.fixture
def make_plan(tree, auditor, second_auditor, phone_card):
    def make(department=None, name="June spot check", **overrides):
        fields = {
            "actor": auditor,
            "name": name,
            "department": department or tree["bj"],
            "period_start": date(2025, 6, 1),
            "period_end": date(2025, 6, 30),
            "scorecard_version": phone_card,
            "auditors": [auditor, second_auditor],
            "per_agent": 2,
            "seed": 7,
        }
        return sampling.sampling_plan_create(**(fields | overrides))

    return make


def detail(plan) -> str:
    return reverse("quality:sampling_detail", args=[plan.pk])


# The list ------------------------------------------------------------------------------------


def test_the_list_shows_the_plans_of_the_departments_managed(client, make_plan, tree, sh_auditor):
    beijing = make_plan()
    shanghai = make_plan(department=tree["sh"], name="Shanghai June", auditors=[sh_auditor])

    client.force_login(sh_auditor)
    response = client.get(LIST)

    assert response.status_code == 200
    assert [plan.pk for plan in response.context["page"]] == [shanghai.pk]
    assert beijing.name not in response.content.decode()


def test_the_list_runs_a_fixed_number_of_queries(client, auditor, make_plan):
    make_plan()
    client.force_login(auditor)
    with CaptureQueriesContext(connection) as few:
        client.get(LIST)
    for n in range(5):
        make_plan(name=f"Plan {n}")
    with CaptureQueriesContext(connection) as many:
        response = client.get(LIST)

    assert len(response.context["page"]) == 6
    assert len(many) == len(few)


@pytest.mark.parametrize("persona", ["bj_agent", "bj_supervisor", "stranger"])
def test_people_who_do_not_manage_quality_are_refused(client, request, persona, make_plan):
    plan = make_plan()
    client.force_login(request.getfixturevalue(persona))

    assert client.get(LIST).status_code == 403
    assert client.get(CREATE).status_code == 403
    assert client.get(detail(plan)).status_code == 403


def test_the_menu_offers_sampling_plans_to_auditors_only(client, auditor, bj_agent):
    client.force_login(auditor)
    assert LIST in client.get(reverse("home")).content.decode()
    client.force_login(bj_agent)
    assert LIST not in client.get(reverse("home")).content.decode()


# The form ------------------------------------------------------------------------------------


def _form(tree, phone_card, people, **overrides):
    data = {
        "name": "July spot check",
        "department": tree["bj"].pk,
        "period_start": "2025-06-01",
        "period_end": "2025-06-30",
        "scorecard_version": phone_card.pk,
        "method": "per_agent",
        "per_agent": "4",
        "auditors": [a.pk for a in people],
        "target_complaint": "on",
        "target_abandoned": "on",
        "limit_abandoned": "1",
        "seed": "",
    }
    data.update(overrides)
    return data


def test_a_plan_is_made_from_the_form(client, tree, auditor, second_auditor, phone_card):
    client.force_login(auditor)

    response = client.post(CREATE, _form(tree, phone_card, [auditor, second_auditor]))

    plan = SamplingPlan.objects.get()
    assert response.status_code == 302 and response["Location"] == detail(plan)
    assert plan.per_agent == 4
    assert plan.targeted == {"complaint": None, "abandoned": 1}
    assert set(plan.auditors.all()) == {auditor, second_auditor}
    assert plan.seed is not None


def test_a_share_per_channel_is_kept_in_percent(client, tree, auditor, phone_card):
    client.force_login(auditor)

    client.post(
        CREATE,
        _form(tree, phone_card, [auditor], method="share", per_agent="", share_phone="2.5"),
    )

    plan = SamplingPlan.objects.get()
    assert plan.per_agent is None
    assert plan.share_per_channel == {"phone": 2.5}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"per_agent": ""}, "per_agent"),
        ({"period_end": "2025-05-01"}, "period_end"),
        ({"method": "share", "per_agent": ""}, None),
        ({"auditors": []}, "auditors"),
    ],
)
def test_a_bad_plan_is_shown_again_with_the_error_beside_its_field(
    client, tree, auditor, phone_card, overrides, field
):
    client.force_login(auditor)

    response = client.post(CREATE, _form(tree, phone_card, [auditor], **overrides))

    assert response.status_code == 200
    assert response.context["form"].errors[field or "__all__"]
    assert not SamplingPlan.objects.exists()


def test_an_auditor_who_cannot_evaluate_the_department_is_refused_beside_the_field(
    client, tree, auditor, sh_auditor, phone_card
):
    client.force_login(auditor)

    response = client.post(CREATE, _form(tree, phone_card, [auditor, sh_auditor]))

    assert "sh.auditor" in str(response.context["form"].errors["auditors"])
    assert not SamplingPlan.objects.exists()


def test_the_form_offers_only_the_departments_managed(client, sh_auditor, tree, phone_card):
    client.force_login(sh_auditor)

    response = client.post(CREATE, _form(tree, phone_card, [sh_auditor]))

    assert response.context["form"].errors["department"]
    assert not SamplingPlan.objects.exists()


# A plan's page, the draw and the check ---------------------------------------------------------


def test_drawing_from_the_page_creates_the_evaluations_once(client, auditor, make_plan, calls):
    plan = make_plan()
    client.force_login(auditor)
    draw = reverse("quality:sampling_draw", args=[plan.pk])

    first = client.post(draw, follow=True)
    second = client.post(draw, follow=True)

    assert "Drawn: 4 interactions of 12" in first.content.decode()
    assert "drawn only once" in second.content.decode()
    assert Evaluation.objects.filter(plan=plan).count() == 4


def test_the_page_shows_the_picks_per_auditor_and_per_agent(client, auditor, make_plan, calls):
    plan = make_plan()
    sampling.sampling_plan_draw(actor=auditor, plan=plan)
    client.force_login(auditor)

    response = client.get(detail(plan))

    assert response.status_code == 200
    assert [row["total"] for row in response.context["by_auditor"]] == [2, 2]
    assert [row["total"] for row in response.context["agents"]] == [2, 2]
    assert str(plan.seed) in response.content.decode()


def test_htmx_shows_the_picks_of_one_agent(client, auditor, make_plan, calls, bj_staff):
    plan = make_plan()
    sampling.sampling_plan_draw(actor=auditor, plan=plan)
    client.force_login(auditor)

    response = client.get(detail(plan), {"staff": bj_staff.pk}, headers={"HX-Request": "true"})

    picks = response.context["picks"]
    assert len(picks) == 2 and {pick.staff_id for pick in picks} == {bj_staff.pk}
    assert "<h1>" not in response.content.decode()


def test_the_plan_page_runs_a_fixed_number_of_queries(client, auditor, make_plan, tree, calls):
    small = make_plan(per_agent=1)
    sampling.sampling_plan_draw(actor=auditor, plan=small)
    for number in range(100, 130):
        make_interaction(make_staff(tree["bj_team"], f"E3{number}", "新人"), number)
    large = make_plan(per_agent=3, name="Larger")
    sampling.sampling_plan_draw(actor=auditor, plan=large)
    client.force_login(auditor)

    with CaptureQueriesContext(connection) as few:
        client.get(detail(small))
    with CaptureQueriesContext(connection) as many:
        response = client.get(detail(large))

    assert len(response.context["agents"]) > 2
    assert len(many) == len(few)


def test_the_check_shows_the_draw_is_identical(client, auditor, make_plan, calls):
    plan = make_plan()
    sampling.sampling_plan_draw(actor=auditor, plan=plan)
    client.force_login(auditor)

    response = client.get(reverse("quality:sampling_check", args=[plan.pk]))

    assert response.status_code == 200
    assert response.context["check"].identical
    assert "Identical" in response.content.decode()


def test_the_check_of_a_plan_not_drawn_sends_back_to_the_plan(client, auditor, make_plan):
    plan = make_plan()
    client.force_login(auditor)

    response = client.get(reverse("quality:sampling_check", args=[plan.pk]))

    assert response.status_code == 302 and response["Location"] == detail(plan)


def test_a_shanghai_auditor_gets_404_on_a_beijing_plan(client, sh_auditor, make_plan, calls):
    plan = make_plan()
    client.force_login(sh_auditor)

    assert client.get(detail(plan)).status_code == 404
    assert client.post(reverse("quality:sampling_draw", args=[plan.pk])).status_code == 404
    assert client.get(reverse("quality:sampling_check", args=[plan.pk])).status_code == 404
    assert not Evaluation.objects.exists()


def test_without_htmx_the_picks_of_one_agent_show_on_the_whole_page(
    client, auditor, make_plan, calls, bj_staff
):
    plan = make_plan()
    sampling.sampling_plan_draw(actor=auditor, plan=plan)
    client.force_login(auditor)

    response = client.get(detail(plan), {"staff": bj_staff.pk})
    nonsense = client.get(detail(plan), {"staff": "x"})

    assert "<h1>" in response.content.decode()
    assert {pick.staff_id for pick in response.context["picks"]} == {bj_staff.pk}
    assert nonsense.context["picks"] == []
