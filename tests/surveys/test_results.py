"""Survey results from the rollups: the figures with their intervals and sample flag, by
month, channel, department and employee; scoped (a Shanghai supervisor sees nothing of
Beijing), with a fixed number of queries; the department's page; an employee's own feedback."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from servicecharter.org.choices import Channel
from servicecharter.quality import stats
from servicecharter.surveys import selectors, services
from tests.conftest import make_user
from tests.surveys.conftest import make_customer

RESULTS = reverse("surveys:results")


@pytest.fixture
def answered(invite, tree, bj_staff, sh_staff):
    """Beijing: 10 answers about 李娜 (CSAT 5,5,5,5,5,4,4,3,2,1; NPS 10×3, 9, 8, 7, 6×4) and
    two invitations unanswered; Shanghai: 3 answers about 张伟 by chat, all CSAT 1."""
    csat = [5, 5, 5, 5, 5, 4, 4, 3, 2, 1]
    nps = [10, 10, 10, 9, 8, 7, 6, 6, 6, 6]
    for number, (c, n) in enumerate(zip(csat, nps, strict=True)):
        customer = make_customer(f"B{number}", tree["bj"], email=f"b{number}@example.com")
        invitation, _token = invite(bj_staff, customer)
        services.survey_respond(invitation=invitation, csat=c, nps=n, effort=2, comment=f"b{c}")
    for number in range(2):
        customer = make_customer(f"U{number}", tree["bj"], email=f"u{number}@example.com")
        invite(bj_staff, customer)
    for number in range(3):
        customer = make_customer(f"S{number}", tree["sh"], email=f"s{number}@example.com")
        invitation, _token = invite(sh_staff, customer, channel=Channel.CHAT)
        services.survey_respond(invitation=invitation, csat=1, nps=0, effort=5, comment="上海")


def test_the_figures_of_a_department(answered, bj_supervisor, tree):
    results = selectors.survey_results_for_user(user=bj_supervisor, department=tree["bj"])

    total = results.total
    assert (total.invited, total.answered) == (12, 10)
    assert total.response_rate == pytest.approx(10 / 12)
    assert total.csat == stats.wilson_interval(7, 10)  # 4s and 5s
    assert total.csat_mean == pytest.approx(3.9)
    assert total.nps == stats.nps_interval(stats.NpsTally(4, 2, 4))
    assert total.nps.estimate == pytest.approx(0.0)
    assert total.effort_mean == pytest.approx(2.0)
    assert total.adequacy.adequate  # 10 answers ≥ the minimum of 8
    this_month = timezone.localdate().strftime("%Y-%m")
    assert [row.label for row in results.by_month][-1] == this_month
    assert len(results.by_month) == 12
    assert results.by_month[-1].tally.answered == 10
    assert [(row.key, row.tally.answered) for row in results.by_channel] == [("phone", 10)]
    assert [(row.extra, row.tally.answered) for row in results.by_department] == [
        (tree["bj_team"], 10)
    ]
    [employee] = results.by_staff
    assert employee.label == "李娜 (E10001)" and employee.tally.answered == 10


def test_a_thin_result_is_marked_as_too_few_to_act_on(answered, sh_supervisor):
    results = selectors.survey_results_for_user(user=sh_supervisor)
    assert results.total.answered == 3
    assert not results.total.adequacy.adequate
    assert results.total.csat.estimate == 0


def test_a_shanghai_supervisor_sees_nothing_of_beijing(answered, client, sh_supervisor, tree):
    results = selectors.survey_results_for_user(user=sh_supervisor)
    assert results.total.answered == 3
    assert [row.extra for row in results.by_department] == [tree["sh"]]
    with pytest.raises(Exception) as refused:
        selectors.survey_results_for_user(user=sh_supervisor, department=tree["bj"])
    assert refused.typename == "Http404"

    client.force_login(sh_supervisor)
    page = client.get(reverse("surveys:department", args=[tree["bj"].pk]))
    filtered = client.get(RESULTS, {"department": tree["bj"].pk})

    assert page.status_code == 404
    assert filtered.status_code == 200
    assert "department" in filtered.context["form"].errors
    assert filtered.context["results"].total.answered == 3
    html = filtered.content.decode()
    assert "李娜" not in html and "北京" not in html


def test_head_office_sees_both_branches(answered, client, compliance_officer, tree):
    results = selectors.survey_results_for_user(user=compliance_officer)
    assert results.total.answered == 13
    assert [row.extra for row in results.by_department] == [tree["head"]]
    by_branch = selectors.survey_results_for_user(user=compliance_officer, department=tree["head"])
    assert {row.extra.code: row.tally.answered for row in by_branch.by_department} == {
        "BJ": 10,
        "SH": 3,
    }


def test_the_results_page_filters_and_draws_its_charts(answered, client, bj_supervisor):
    client.force_login(bj_supervisor)

    page = client.get(RESULTS)
    chat = client.get(RESULTS, {"channel": "chat"}, headers={"HX-Request": "true"})

    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-survey-chart="trend"' in html and "echarts" in html
    assert 'id="survey-chart-data"' in html
    assert page.context["results"].total.answered == 10
    assert chat.context["results"].total.answered == 0
    assert "<h1>" not in chat.content.decode()


def test_the_results_page_runs_a_fixed_number_of_queries(
    answered, client, compliance_officer, invite, tree, sh_staff
):
    client.force_login(compliance_officer)
    client.get(RESULTS)
    with CaptureQueriesContext(connection) as before:
        client.get(RESULTS, {"department": tree["head"].pk})
    for number in range(5):
        other = make_customer(f"X{number}", tree["sh"], email=f"x{number}@example.com")
        invitation, _token = invite(sh_staff, other, channel=Channel.EMAIL)
        services.survey_respond(invitation=invitation, csat=4, nps=9, effort=1)
    with CaptureQueriesContext(connection) as after:
        client.get(RESULTS, {"department": tree["head"].pk})
    assert len(after) == len(before)


def test_the_departments_page_shows_its_results_and_comments(answered, client, bj_supervisor, tree):
    client.force_login(bj_supervisor)

    response = client.get(reverse("surveys:department", args=[tree["bj"].pk]))

    assert response.status_code == 200
    assert response.context["results"].total.answered == 10
    assert [c.comment for c in response.context["comments"]][:2] == ["b1", "b2"]
    assert "上海" not in response.content.decode()


def test_pages_need_the_capability(answered, client, stranger, bj_agent, tree):
    for user in (stranger, bj_agent):
        client.force_login(user)
        assert client.get(RESULTS).status_code == 403
        assert client.get(reverse("surveys:department", args=[tree["bj"].pk])).status_code == 403


def test_an_employee_sees_the_feedback_about_them(answered, client, bj_staff, tree):
    user = make_user("li.na", None, None, staff=bj_staff)
    client.force_login(user)

    response = client.get(reverse("surveys:mine"))

    feedback = response.context["feedback"]
    assert feedback.total.answered == 10
    assert feedback.comments[0].comment == "b1"
    html = response.content.decode()
    assert "上海" not in html


def test_a_user_without_a_staff_record_is_told_so(client, stranger):
    client.force_login(stranger)
    response = client.get(reverse("surveys:mine"))
    assert response.status_code == 200 and response.context["feedback"] is None


def test_the_feedback_card_can_be_included_anywhere(answered, bj_staff):
    from django.template import Context, Template

    user = make_user("li.na", None, None, staff=bj_staff)
    html = Template("{% load survey_tags %}{% survey_feedback_about_me user %}").render(
        Context({"user": user})
    )
    assert "survey-feedback" in html and "b1" in html


def test_my_quality_shows_the_survey_feedback_panel(answered, client, bj_staff):
    user = make_user("li.na", None, None, staff=bj_staff)
    client.force_login(user)

    response = client.get(reverse("quality:mine"))

    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="panel-surveys"' in html and "b1" in html


def test_the_period_is_chosen_in_months(answered, client, bj_supervisor):
    client.force_login(bj_supervisor)
    last_year = timezone.localdate().replace(day=1) - timedelta(days=300)

    earlier = client.get(RESULTS, {"last_month": last_year.strftime("%Y-%m")})
    backwards = client.get(RESULTS, {"first_month": "2026-05", "last_month": "2026-01"})

    assert earlier.context["results"].total.answered == 0
    assert "last_month" in backwards.context["form"].errors
