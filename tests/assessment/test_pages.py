"""The pages: an employee sees only their own scorecard, a supervisor only their scope, a
stranger nothing; HR computes and closes; the scheme editor refuses bad input and versions a
used scheme; every number opens its facts; the executive summary draws its charts."""

import pytest
from django.urls import reverse

from servicecharter.assessment.choices import Kpi, PeriodState
from servicecharter.assessment.models import Scheme, SchemeVersion, StaffScorecard
from tests.conftest import make_user


def card_of(period, staff) -> StaffScorecard:
    return StaffScorecard.objects.get(period=period, staff=staff)


def test_the_employee_sees_their_own_latest_closed_scorecard(
    client, closed_june, bj_employee, bj_staff
):
    client.force_login(bj_employee)
    page = client.get(reverse("assessment:mine"))

    assert page.status_code == 200
    body = page.content.decode()
    assert "Needs improvement" in body and "25.00" in body
    assert "rank 2 of 2 in the peer group “teller”" in body
    assert reverse("assessment:facts", args=[card_of(closed_june, bj_staff).pk, "csat"]) in body
    assert "<svg" in body  # the trend


def test_an_employee_gets_404_for_a_colleagues_scorecard(
    client, closed_june, bj_employee, bj_staff, sh_staff
):
    client.force_login(bj_employee)
    theirs = card_of(closed_june, sh_staff)

    assert client.get(reverse("assessment:scorecard", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("assessment:facts", args=[theirs.pk, Kpi.CSAT])).status_code == 404
    own = card_of(closed_june, bj_staff)
    assert client.get(reverse("assessment:scorecard", args=[own.pk])).status_code == 200
    assert client.get(reverse("assessment:periods")).status_code == 403


def test_a_supervisor_sees_only_their_scope(client, closed_june, bj_supervisor, bj_staff, sh_staff):
    client.force_login(bj_supervisor)

    listing = client.get(reverse("assessment:period_staff", args=[closed_june.pk]))
    assert listing.status_code == 200
    assert "李娜" in listing.content.decode() and "张伟" not in listing.content.decode()
    sh_card = card_of(closed_june, sh_staff)
    assert client.get(reverse("assessment:scorecard", args=[sh_card.pk])).status_code == 404
    departments = client.get(reverse("assessment:period_departments", args=[closed_june.pk]))
    assert "BJ-T1" in departments.content.decode()
    assert "SH-T1" not in departments.content.decode()


def test_a_stranger_is_refused(client, closed_june, stranger, bj_staff):
    client.force_login(stranger)
    card = card_of(closed_june, bj_staff)

    assert client.get(reverse("assessment:periods")).status_code == 403
    assert client.get(reverse("assessment:period", args=[closed_june.pk])).status_code == 403
    assert client.get(reverse("assessment:scorecard", args=[card.pk])).status_code == 404
    mine = client.get(reverse("assessment:mine"))
    assert mine.status_code == 200 and "not linked to a staff record" in mine.content.decode()


def test_a_period_under_review_is_for_hr_alone(client, crafted, june, hr, bj_supervisor, bj_staff):
    client.force_login(hr)
    client.post(reverse("assessment:period_compute", args=[june.pk]))
    june.refresh_from_db()
    assert june.state == PeriodState.COMPUTED

    client.force_login(bj_supervisor)
    assert client.get(reverse("assessment:period", args=[june.pk])).status_code == 404
    card = card_of(june, bj_staff)
    assert client.get(reverse("assessment:scorecard", args=[card.pk])).status_code == 404
    assert client.post(reverse("assessment:period_close", args=[june.pk])).status_code == 403

    client.force_login(hr)
    client.post(reverse("assessment:period_close", args=[june.pk]))
    june.refresh_from_db()
    assert june.state == PeriodState.CLOSED
    client.force_login(bj_supervisor)
    assert client.get(reverse("assessment:scorecard", args=[card.pk])).status_code == 200


def test_hr_opens_a_period_and_bad_input_is_explained(client, hr, scheme, after_june):
    client.force_login(hr)
    bad = client.post(
        reverse("assessment:periods"), {"kind": "month", "start": "2025-06-15", "scheme": scheme.pk}
    )
    assert bad.status_code == 422
    assert "first day of a month" in bad.content.decode()

    good = client.post(
        reverse("assessment:periods"), {"kind": "month", "start": "2025-06-01", "scheme": scheme.pk}
    )
    assert good.status_code == 302


def test_every_number_opens_its_facts(client, closed_june, bj_employee, bj_staff):
    client.force_login(bj_employee)
    card = card_of(closed_june, bj_staff)

    timeliness = client.get(reverse("assessment:facts", args=[card.pk, "complaint_timeliness"]))
    body = timeliness.content.decode()
    assert timeliness.status_code == 200
    assert body.count("/cases/") >= 3 and "on time" in body and "late" in body
    qa = client.get(reverse("assessment:facts", args=[card.pk, "qa_score"])).content.decode()
    assert qa.count("/quality/evaluations/") == 2
    assert client.get(reverse("assessment:facts", args=[card.pk, "nonsense"])).status_code == 404


def test_the_scheme_editor_refuses_bad_thresholds_and_saves_nothing(client, hr, scheme):
    client.force_login(hr)
    form = {
        "excellent_from": "60",
        "good_from": "70",
        "meets_from": "35",
        "needs_improvement_from": "15",
        "min_kpis": "1",
        "min_peers": "1",
        "weight_csat": "1",
        "min_sample_csat": "",
    }
    page = client.post(reverse("assessment:scheme", args=[scheme.pk]), form)

    assert page.status_code == 422
    body = page.content.decode()
    assert "needs its minimum sample" in body
    version = scheme.latest_version()
    assert version.number == 1 and version.kpis.count() == 8


def test_editing_a_used_version_makes_a_new_one(client, hr, scheme, closed_june):
    client.force_login(hr)
    form = {
        "excellent_from": "90",
        "good_from": "70",
        "meets_from": "40",
        "needs_improvement_from": "20",
        "min_kpis": "2",
        "min_peers": "3",
        "weight_csat": "2",
        "min_sample_csat": "5",
        "weight_qa_score": "1",
        "min_sample_qa_score": "3",
    }
    page = client.post(reverse("assessment:scheme", args=[scheme.pk]), form)

    assert page.status_code == 302
    versions = SchemeVersion.objects.filter(scheme=scheme).order_by("number")
    assert [v.number for v in versions] == [1, 2]
    assert versions[0].kpis.count() == 8  # what June was computed with is kept
    assert {k.kpi: k.weight for k in versions[1].kpis.all()} == {"csat": 2, "qa_score": 1}
    closed_june.refresh_from_db()
    assert closed_june.scheme_version == versions[0]


def test_the_scheme_editor_is_for_hr(client, bj_supervisor, scheme):
    client.force_login(bj_supervisor)
    assert client.get(reverse("assessment:scheme", args=[scheme.pk])).status_code == 403


def test_the_executive_summary_draws_its_charts(client, closed_june, executive):
    client.force_login(executive)
    page = client.get(reverse("assessment:period_summary", args=[closed_june.pk]))

    body = page.content.decode()
    assert page.status_code == 200
    assert body.count("<svg") >= 3  # tiers, departments, trend
    assert "Beijing Branch" in body and "Shanghai Branch" in body


@pytest.mark.parametrize("name", ["period", "period_staff", "period_departments"])
def test_hr_pages_render(client, closed_june, hr, name):
    client.force_login(hr)
    assert client.get(reverse(f"assessment:{name}", args=[closed_june.pk])).status_code == 200


def test_a_background_computation_shows_its_progress(client, crafted, june, hr):
    june.computing, june.progress, june.progress_note = True, 41, "Reading evaluations"
    june.save()
    client.force_login(hr)

    page = client.get(
        reverse("assessment:period", args=[june.pk]) + "?progress=1", headers={"HX-Request": "true"}
    )

    assert 'aria-valuenow="41"' in page.content.decode()
    assert "Reading evaluations" in page.content.decode()


def test_the_menu_shows_the_entries_to_those_who_may_use_them(client, tree, hr):
    agent = make_user("plain.agent", "agent", tree["bj_team"])
    client.force_login(agent)
    body = client.get(reverse("assessment:mine")).content.decode()
    periods = f'href="{reverse("assessment:periods")}"'
    assert f'href="{reverse("assessment:mine")}"' in body and periods not in body
    client.force_login(hr)
    assert periods in client.get(reverse("assessment:mine")).content.decode()


def test_the_staff_list_shows_the_change_since_the_previous_period(
    client, crafted, hr, scheme, bj_staff, sh_staff, after_june
):
    from datetime import date

    from servicecharter.assessment import services
    from tests.assessment.conftest import at

    # May: the Beijing teller's one interaction has a deviation and a complaint came in
    # (May 28); Shanghai's is clean. Adherence 0 vs 100, complaints 0 vs 100, upheld 50 each:
    # Beijing (0 + 0 + 50) / 3 = 16.67; June 25.00 → +8.33.
    crafted.interaction(bj_staff, at(20, month=5), deviations=1)
    crafted.interaction(sh_staff, at(20, month=5))
    may, june = (
        services.period_create(actor=hr, kind="month", start=start, scheme=scheme)
        for start in (date(2025, 5, 1), date(2025, 6, 1))
    )
    for period in (may, june):
        services.period_compute(actor=hr, period=period)
        services.period_close(actor=hr, period=period)
    client.force_login(hr)

    page = client.get(reverse("assessment:period_staff", args=[june.pk]))

    assert str(card_of(may, bj_staff).score) == "16.67"
    assert "+8.33" in page.content.decode()


NEW_SCHEME = {
    "code": "branch-2027",
    "name_en": "Branch scheme 2027",
    "name_zh": "2027年网点考核方案",
    "excellent_from": "90",
    "good_from": "75",
    "meets_from": "60",
    "needs_improvement_from": "40",
    "min_kpis": "2",
    "min_peers": "3",
    "weight_csat": "3",
    "min_sample_csat": "10",
    "weight_qa_score": "2",
    "min_sample_qa_score": "3",
}


def test_hr_creates_a_scheme_with_its_first_version(client, hr):
    client.force_login(hr)
    assert reverse("assessment:scheme_new") in client.get(reverse("assessment:schemes")).text
    page = client.post(reverse("assessment:scheme_new"), NEW_SCHEME)

    scheme = Scheme.objects.get(code="branch-2027")
    assert page.status_code == 302 and page["Location"] == reverse(
        "assessment:scheme", args=[scheme.pk]
    )
    version = scheme.latest_version()
    assert version.number == 1 and {k.kpi: k.weight for k in version.kpis.all()} == {
        "csat": 3,
        "qa_score": 2,
    }


def test_a_new_scheme_with_bad_input_or_a_taken_code_saves_nothing(client, hr, scheme):
    client.force_login(hr)
    before = Scheme.objects.count()
    page = client.post(reverse("assessment:scheme_new"), NEW_SCHEME | {"min_sample_csat": ""})
    assert page.status_code == 422 and "needs its minimum sample" in page.text
    page = client.post(reverse("assessment:scheme_new"), NEW_SCHEME | {"code": scheme.code})
    assert page.status_code == 422 and "exists already" in page.text
    assert Scheme.objects.count() == before


def test_only_those_who_manage_assessment_create_schemes(client, bj_supervisor):
    client.force_login(bj_supervisor)
    assert client.get(reverse("assessment:scheme_new")).status_code == 403
    assert client.post(reverse("assessment:scheme_new"), NEW_SCHEME).status_code == 403
    assert not Scheme.objects.filter(code="branch-2027").exists()
