"""Which version judges an interaction: the most specific standard in force at its time."""

from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext

from servicecharter.org.choices import Channel
from servicecharter.standards import services
from servicecharter.standards.selectors import in_force, standard_version_in_force
from tests.standards.conftest import T0


def test_the_most_specific_standard_wins(publish_standard, business_types):
    phone = publish_standard(code="PHONE")
    cards_any_channel = publish_standard(
        code="CARDS", business_type=business_types["cards"], channel=""
    )
    cards_phone = publish_standard(code="CARDS-PHONE", business_type=business_types["cards"])
    later = T0 + timedelta(days=1)

    assert standard_version_in_force(business_types["cards"], Channel.PHONE, later) == cards_phone
    # Credit cards have no standard of their own: their parent's is used.
    assert standard_version_in_force(business_types["credit"], Channel.PHONE, later) == cards_phone
    assert standard_version_in_force(business_types["cards"], Channel.CHAT, later) == (
        cards_any_channel
    )
    assert standard_version_in_force(business_types["wealth"], Channel.PHONE, later) == phone
    assert standard_version_in_force(None, Channel.PHONE, later) == phone
    assert standard_version_in_force(None, Channel.EMAIL, later) is None


def test_nothing_is_in_force_before_the_first_version(publish_standard):
    publish_standard(code="PHONE")

    assert standard_version_in_force(None, Channel.PHONE, T0 - timedelta(seconds=1)) is None


def test_the_version_at_each_instant(publish_standard, compliance_officer):
    v1 = publish_standard(code="PHONE")
    draft = services.standard_version_draft(actor=compliance_officer, standard=v1.standard)
    switch = T0 + timedelta(days=10)
    v2 = services.standard_version_publish(
        actor=compliance_officer, version=draft, effective_from=switch
    )

    assert standard_version_in_force(None, Channel.PHONE, switch - timedelta(microseconds=1)) == v1
    assert standard_version_in_force(None, Channel.PHONE, switch) == v2


def test_a_less_specific_standard_fills_in_where_the_specific_one_is_not_yet_in_force(
    publish_standard, business_types
):
    phone = publish_standard(code="PHONE")
    cards = publish_standard(
        code="CARDS", business_type=business_types["cards"], effective_from=T0 + timedelta(days=5)
    )

    assert (
        standard_version_in_force(business_types["cards"], "phone", T0 + timedelta(days=1)) == phone
    )
    assert (
        standard_version_in_force(business_types["cards"], "phone", T0 + timedelta(days=6)) == cards
    )


def test_loaded_rules_answer_many_questions_without_queries(publish_standard, business_types):
    publish_standard(code="PHONE")
    publish_standard(code="CARDS", business_type=business_types["cards"])
    rules = in_force()

    with CaptureQueriesContext(connection) as queries:
        for day in range(200):
            rules.version(business_types["credit"].pk, "phone", T0 + timedelta(hours=day))
            rules.service_levels("phone", T0 + timedelta(hours=day))

    assert len(queries.captured_queries) == 0
