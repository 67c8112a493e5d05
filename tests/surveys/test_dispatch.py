"""Dispatch: which interactions and closed cases get a survey (rules, sampling seeded by the
id, fatigue), what is written (invitation, outbox message, rollup), and that the events of
ingest and of a closed case start it."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from servicecharter.cases import services as case_services
from servicecharter.cases.choices import Outcome
from servicecharter.core.models import Event
from servicecharter.core.services.events import deliver_due
from servicecharter.interactions.services import interaction_ingest_many
from servicecharter.org.choices import Channel, Language
from servicecharter.org.models import BusinessType
from servicecharter.surveys import services
from servicecharter.surveys.choices import InvitationState, OutboxState, SurveyTrigger
from servicecharter.surveys.models import DailyRollup, Invitation, OutboxMessage
from tests.interactions.conftest import row
from tests.surveys.conftest import dispatch, make_customer


def test_a_matching_interaction_gets_an_invitation_a_message_and_a_rollup_count(
    make_rule, make_interaction, bj_staff, bj_customer
):
    rule = make_rule()
    interaction = make_interaction(bj_staff, bj_customer)

    assert dispatch(interaction) == 1

    invitation = Invitation.objects.get()
    assert (invitation.rule, invitation.interaction, invitation.customer) == (
        rule,
        interaction,
        bj_customer,
    )
    assert (invitation.staff, invitation.department_id, invitation.channel) == (
        bj_staff,
        bj_staff.department_id,
        Channel.PHONE,
    )
    assert invitation.language == Language.ZH_HANS
    assert invitation.state == InvitationState.QUEUED
    assert invitation.expires_at - invitation.created_at == timedelta(days=14)
    message = OutboxMessage.objects.get()
    assert (message.to, message.invitation, message.state) == (
        "wang.fang@example.com",
        invitation,
        OutboxState.PENDING,
    )
    # The token is never stored: the body holds a placeholder the worker fills when sending.
    token = services.invitation_token(invitation)
    assert services.LINK_PLACEHOLDER in message.body and token not in message.body
    assert invitation.token_digest == services.token_digest(token) != token
    rollup = DailyRollup.objects.get()
    assert (rollup.invited, rollup.answered, rollup.staff_key) == (1, 0, bj_staff.pk)


def test_dispatching_the_same_interactions_again_invites_nobody_twice(
    make_rule, make_interaction, bj_staff, bj_customer
):
    make_rule(fatigue_days=0)
    interaction = make_interaction(bj_staff, bj_customer)
    dispatch(interaction)

    assert dispatch(interaction) == 0
    assert Invitation.objects.count() == 1
    assert DailyRollup.objects.get().invited == 1


def test_sampling_is_a_pure_function_of_the_id(make_rule, make_interaction, bj_staff, tree):
    make_rule(sampling_rate=30, fatigue_days=0)
    interactions = [
        make_interaction(bj_staff, make_customer(f"S{n}", tree["bj"], email=f"s{n}@example.com"))
        for n in range(200)
    ]

    dispatch(*interactions)

    invited = set(Invitation.objects.values_list("interaction_id", flat=True))
    expected = {i.pk for i in interactions if services.sampled("interaction", i.pk, 30)}
    assert invited == expected
    assert 30 <= len(invited) <= 90  # about 30% of 200
    assert services.sampled("interaction", 12345, 30) == services.sampled("interaction", 12345, 30)
    assert services.sampled("case", 7, 100) and not services.sampled("case", 7, 0)


def test_a_customer_is_asked_at_most_once_within_the_fatigue_limit(
    make_rule, make_interaction, bj_staff, sh_staff, bj_customer
):
    make_rule(fatigue_days=30)
    first = make_interaction(bj_staff, bj_customer)
    same_batch = make_interaction(sh_staff, bj_customer)
    assert dispatch(first, same_batch) == 1
    assert Invitation.objects.get().interaction == first  # the earlier service is asked about

    with time_machine.travel(timezone.now() + timedelta(days=29)):
        assert dispatch(make_interaction(bj_staff, bj_customer)) == 0
    with time_machine.travel(timezone.now() + timedelta(days=31)):
        assert dispatch(make_interaction(bj_staff, bj_customer)) == 1


def test_the_most_specific_rule_decides(make_rule, make_interaction, bj_staff, bj_customer, tree):
    cards = BusinessType.objects.create(code="B03", name_en="Cards", name_zh="银行卡")
    credit = BusinessType.objects.create(
        code="B0302", name_en="Credit cards", name_zh="信用卡", parent=cards
    )
    make_rule(name="Everything, never", sampling_rate=0)
    cards_by_phone = make_rule(
        name="Cards by phone", channel=Channel.PHONE, business_type=cards, fatigue_days=0
    )
    make_rule(name="Chat", channel=Channel.CHAT, sampling_rate=0)
    other = make_customer("C9", tree["bj"], email="c9@example.com")

    by_phone = make_interaction(bj_staff, bj_customer, business_type=credit)
    by_chat = make_interaction(bj_staff, other, business_type=credit, channel=Channel.CHAT)

    assert dispatch(by_phone, by_chat) == 1
    invitation = Invitation.objects.get()
    assert (invitation.interaction, invitation.rule) == (by_phone, cards_by_phone)


@pytest.mark.parametrize(
    "case",
    ["abandoned", "no_email", "no_customer", "long_ago", "inactive_rule", "case_rule_only"],
)
def test_interactions_not_to_survey(make_rule, make_interaction, bj_staff, bj_customer, tree, case):
    trigger = SurveyTrigger.CASE_CLOSED if case == "case_rule_only" else SurveyTrigger.INTERACTION
    make_rule(is_active=case != "inactive_rule", trigger=trigger)
    customer = bj_customer
    fields = {}
    if case == "abandoned":
        fields["outcome"] = "abandoned"
    elif case == "no_email":
        customer = make_customer("C8", tree["bj"])
    elif case == "no_customer":
        customer = None
    elif case == "long_ago":
        fields["started_at"] = timezone.now() - services.INTERACTION_MAX_AGE - timedelta(hours=1)
    interaction = make_interaction(bj_staff, customer, **fields)

    assert dispatch(interaction) == 0
    assert not Invitation.objects.exists() and not OutboxMessage.objects.exists()


def test_an_ingest_batch_is_surveyed_by_the_worker_from_its_event(
    make_rule, bj_staff, bj_customer, admin_user
):
    make_rule()
    started = timezone.now() - timedelta(minutes=30)
    result = interaction_ingest_many(
        [row(bj_staff, 1, customer_id=bj_customer.pk, started_at=started)], actor=admin_user
    )
    assert not Invitation.objects.exists()  # ingest itself does no survey work

    deliver_due(worker_id="test")

    assert Invitation.objects.get().interaction_id == result.ids[0]


@pytest.fixture
def responded_case(new_case, bj_agent, bj_staff, bj_customer):
    bj_agent.staff = bj_staff
    bj_agent.save(update_fields=["staff"])
    case = new_case(customer=bj_customer, language=Language.EN)
    case = case_services.case_start(actor=bj_agent, case=case)
    case = case_services.case_respond(
        actor=bj_agent, case=case, outcome=Outcome.UPHELD, response_text="Refunded."
    )
    return case


def test_closing_a_case_emits_case_closed_and_the_customer_is_asked(
    make_rule, responded_case, bj_agent, bj_staff, bj_customer
):
    rule = make_rule(name="After a case", trigger=SurveyTrigger.CASE_CLOSED)
    case_services.case_close(actor=bj_agent, case=responded_case)
    assert Event.objects.filter(name="case.closed", payload__case_id=responded_case.pk).exists()

    deliver_due(worker_id="test")

    invitation = Invitation.objects.get()
    assert (invitation.case, invitation.rule, invitation.customer) == (
        responded_case,
        rule,
        bj_customer,
    )
    assert invitation.staff == bj_staff  # the handler's staff record
    assert invitation.language == Language.EN  # the case's language
    assert "case" in OutboxMessage.objects.get().body
    assert services.survey_dispatch_case(case_id=responded_case.pk) == 0  # once per case
