"""The customer's survey page: no sign-in, in the customer's language, single use, expiry,
a plain 404 for a bad token, limits per address; the answer attributed and rolled up."""

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from servicecharter.core.models import Event
from servicecharter.org.choices import Channel
from servicecharter.surveys.choices import InvitationState
from servicecharter.surveys.models import DailyRollup, Response
from servicecharter.surveys.views.public import ANSWER_LIMIT, BAD_TOKEN_LIMIT
from tests.surveys.conftest import make_customer

GOOD = {"csat": "5", "nps": "9", "effort": "2", "comment": "耐心细致，谢谢！"}


def url(token: str) -> str:
    return reverse("survey_public:answer", args=[token])


@pytest.fixture
def invited(invite, bj_staff, bj_customer):
    return invite(bj_staff, bj_customer)


def test_the_page_opens_without_signing_in_in_the_customers_language(client, invited):
    _invitation, token = invited

    response = client.get(url(token))

    assert response.status_code == 200
    assert response["Content-Language"] == "zh-hans"
    html = response.content.decode()
    assert '<html lang="zh-hans">' in html
    assert 'name="csat"' in html and 'name="nps"' in html and 'name="effort"' in html
    assert 'name="viewport"' in html  # laid out for a phone
    assert "李娜" not in html  # the customer is never told who served them


def test_lang_switches_the_page(client, invited):
    _invitation, token = invited
    response = client.get(url(token), {"lang": "en"})
    assert response["Content-Language"] == "en"
    assert "How did we do?" in response.content.decode()


def test_an_answer_is_stored_attributed_and_rolled_up(client, invited, bj_staff):
    invitation, token = invited

    response = client.post(url(token), GOOD)

    assert response.status_code == 200
    assert response.templates[0].name == "surveys/public/thanks.html"
    answer = Response.objects.get()
    assert (answer.csat, answer.nps, answer.effort, answer.comment) == (5, 9, 2, "耐心细致，谢谢！")
    assert (answer.staff, answer.department_id, answer.channel) == (
        bj_staff,
        bj_staff.department_id,
        Channel.PHONE,
    )
    assert answer.invitation.interaction_id == invitation.interaction_id
    invitation.refresh_from_db()
    assert invitation.state == InvitationState.ANSWERED
    rollup = DailyRollup.objects.get()
    assert (rollup.invited, rollup.answered, rollup.csat_n, rollup.csat_sum) == (1, 1, 1, 5)
    assert (rollup.csat_satisfied, rollup.nps_promoters, rollup.nps_detractors) == (1, 1, 0)
    assert (rollup.effort_n, rollup.effort_sum) == (1, 2)
    assert Event.objects.filter(name="survey.answered", payload__csat=5).exists()


def test_a_second_visit_says_it_was_answered_and_changes_nothing(client, invited):
    _invitation, token = invited
    client.post(url(token), GOOD)

    again = client.get(url(token))
    resent = client.post(url(token), {**GOOD, "csat": "1"})

    assert again.templates[0].name == "surveys/public/answered.html"
    assert resent.templates[0].name == "surveys/public/answered.html"
    assert Response.objects.get().csat == 5
    assert DailyRollup.objects.get().answered == 1


def test_an_expired_link_says_so(client, invited):
    invitation, token = invited
    with time_machine.travel(invitation.expires_at + timedelta(seconds=1)):
        page = client.get(url(token))
        sent = client.post(url(token), GOOD)
    assert page.status_code == sent.status_code == 410
    assert page.templates[0].name == "surveys/public/expired.html"
    assert not Response.objects.exists()


def test_a_bad_token_gets_a_plain_404_and_guesses_are_limited(client, invited):
    _scope, limit, _window = BAD_TOKEN_LIMIT
    for attempt in range(limit):
        response = client.get(url(f"not-a-token-{attempt}"))
        assert response.status_code == 404
        assert response.templates[0].name == "surveys/public/not_found.html"

    _invitation, token = invited
    assert client.get(url("one-more-guess")).status_code == 429
    assert client.get(url(token)).status_code == 429  # the address waits, whatever it asks
    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        assert client.get(url(token)).status_code == 200


def test_missing_answers_are_shown_beside_their_questions_and_nothing_is_saved(client, invited):
    _invitation, token = invited

    response = client.post(url(token), {"csat": "4", "nps": "11", "comment": "x"})

    form = response.context["form"]
    assert set(form.errors) == {"nps", "effort"}
    assert not Response.objects.exists()
    assert DailyRollup.objects.get().answered == 0


def test_only_the_questions_the_rule_asks_are_shown(
    client, make_rule, invite, bj_staff, bj_customer
):
    rule = make_rule(ask_nps=False, ask_effort=False, ask_comment=False, fatigue_days=0)
    _invitation, token = invite(bj_staff, bj_customer, rule=rule)

    html = client.get(url(token)).content.decode()
    response = client.post(url(token), {"csat": "2", "nps": "10", "comment": "ignored"})

    assert 'name="csat"' in html and 'name="nps"' not in html and 'name="comment"' not in html
    assert response.status_code == 200
    answer = Response.objects.get()
    assert (answer.csat, answer.nps, answer.effort, answer.comment) == (2, None, None, "")


def test_answers_sent_are_limited_per_address(client, invite, bj_staff, tree):
    _scope, limit, _window = ANSWER_LIMIT
    tokens = [
        invite(bj_staff, make_customer(f"L{n}", tree["bj"], email=f"l{n}@example.com"))[1]
        for n in range(limit + 1)
    ]
    for token in tokens[:limit]:
        assert client.post(url(token), {"csat": "x"}).status_code == 200  # invalid, counted

    assert client.post(url(tokens[limit]), GOOD).status_code == 429
    assert not Response.objects.exists()
