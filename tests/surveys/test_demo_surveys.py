"""The demo surveys: rules, and answers for a share of the demo's interactions and closed
cases chosen as dispatch would (seeded sampling, fatigue), rolled up as the pages read them."""

from datetime import date, timedelta
from itertools import pairwise

import pytest
from django.urls import reverse

from servicecharter.demo import interactions as demo_interactions
from servicecharter.demo.cases import cases_seed
from servicecharter.demo.services import institution_seed
from servicecharter.demo.standards import standards_seed
from servicecharter.demo.surveys import surveys_seed
from servicecharter.org.models import Department
from servicecharter.surveys import services
from servicecharter.surveys.models import Invitation, Response, SurveyRule
from tests.conftest import make_user
from tests.surveys.test_rollups import direct_rollups, monthly_of, stored_monthly, stored_rollups

TODAY = date(2026, 3, 15)


@pytest.fixture
def seeded(db):
    institution_seed(seed=3, customers=300)
    standards_seed(today=TODAY)
    cases_seed(seed=3, today=TODAY, limit=150)
    demo_interactions.interactions_seed(seed=3, today=TODAY, limit=3000)
    return surveys_seed(seed=3)


def test_the_demo_answers_a_share_of_interactions_and_closed_cases(seeded):
    assert seeded.rules == SurveyRule.objects.count() == 2
    assert seeded.invitations == Invitation.objects.count() > 50
    assert seeded.answers == Response.objects.count() > 20
    assert Invitation.objects.filter(case__isnull=False).exists()
    rule = SurveyRule.objects.get(trigger="interaction")
    for interaction_id in Invitation.objects.filter(interaction__isnull=False).values_list(
        "interaction_id", flat=True
    ):
        assert services.sampled("interaction", interaction_id, rule.sampling_rate)


def test_no_customer_is_asked_twice_within_the_fatigue_limit(seeded):
    by_customer: dict[int, list] = {}
    for customer, created in Invitation.objects.values_list("customer_id", "created_at"):
        by_customer.setdefault(customer, []).append(created)
    for times in by_customer.values():
        times.sort()
        assert all(b - a >= timedelta(days=30) for a, b in pairwise(times))


def test_the_rollups_are_those_of_the_answers(seeded):
    expected = direct_rollups()
    assert stored_rollups() == expected
    assert stored_monthly() == monthly_of(expected)


def test_a_department_page_shows_the_demo_results(seeded, client):
    head = Department.objects.get(code="HO")
    viewer = make_user("demo.viewer", "executive", head)
    client.force_login(viewer)

    months = {"first_month": "2025-03", "last_month": "2026-05"}  # the demo's year, and after
    page = client.get(reverse("surveys:department", args=[head.pk]), months)

    assert page.status_code == 200
    results = page.context["results"]
    assert results.total.answered == seeded.answers
    assert {row.extra.code for row in results.by_department} >= {"BJ", "SH"}
