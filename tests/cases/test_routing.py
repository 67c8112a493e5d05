"""Triage at intake: routing rules send a case to a queue (the first match by priority), profile
rules pick its regulatory profile, and a possible duplicate (same customer, same product, inside
the window) is flagged for merging."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from servicecharter.cases import rules_services, services
from servicecharter.cases.choices import CaseKind, CaseState, Outcome, Severity, TimelineKind
from servicecharter.org.catalogue import load_catalogue
from servicecharter.org.choices import Channel, CustomerSegment
from servicecharter.org.models import BusinessType, Product
from servicecharter.org.services import customer_create


@pytest.fixture
def catalogue(db):
    load_catalogue()
    return {product.code: product for product in Product.objects.all()}


@pytest.fixture
def customer(tree):
    return customer_create(
        customer_number="C0042",
        name="Wang Fang",
        home_department=tree["sh_team"],
        segment=CustomerSegment.RETAIL,
    )


def _route(tree, name, department, **conditions):
    return rules_services.routing_rule_create(name=name, department=department, **conditions)


# --- routing rules -------------------------------------------------------------------------------


def test_the_first_matching_rule_by_priority_decides_the_queue(tree, new_case):
    _route(tree, "Phone to Shanghai", tree["sh_team"], channel=Channel.PHONE, priority=20)
    _route(tree, "Complaints to head office", tree["head"], kind=CaseKind.COMPLAINT, priority=10)
    assert new_case().department == tree["head"]  # a phone complaint: both match, 10 first
    assert new_case(kind=CaseKind.ENQUIRY).department == tree["sh_team"]
    assert new_case(kind=CaseKind.ENQUIRY, channel=Channel.EMAIL).department == tree["bj_team"]


def test_moving_a_rule_changes_where_new_cases_go(tree, new_case):
    _route(tree, "Phone to Shanghai", tree["sh_team"], channel=Channel.PHONE)
    head = _route(tree, "Complaints to head office", tree["head"], kind=CaseKind.COMPLAINT)
    assert new_case().department == tree["sh_team"]
    rules_services.routing_rule_move(rule=head, up=True)
    assert new_case().department == tree["head"]


def test_an_inactive_rule_is_skipped(tree, new_case):
    _route(tree, "Off", tree["sh_team"], channel=Channel.PHONE, is_active=False)
    assert new_case().department == tree["bj_team"]


def test_a_rule_on_a_business_type_covers_its_subtypes(tree, new_case, catalogue):
    cards = BusinessType.objects.get(code="B03")
    _route(tree, "Cards to Shanghai", tree["sh"], business_type=cards)
    assert new_case(product=catalogue["CARD-CRD"]).department == tree["sh"]  # B0302
    assert new_case(product=catalogue["LN-MORT"]).department == tree["bj_team"]  # B0201


def test_a_severity_floor_routes_only_serious_cases(tree, new_case):
    _route(tree, "Serious to head office", tree["head"], min_severity=Severity.HIGH)
    assert new_case(channel=Channel.SOCIAL).department == tree["bj_team"]  # medium
    serious = new_case(channel=Channel.REGULATOR, money_at_stake=20_000)  # 30 + 20: high
    assert serious.severity == Severity.HIGH and serious.department == tree["head"]


def test_without_a_rule_the_case_goes_to_the_given_queue_else_the_customers_branch(
    tree, new_case, customer
):
    assert new_case(department=None, handler=None, customer=customer).department == tree["sh_team"]
    assert new_case(department=None, handler=None).department == tree["head"]


# --- profile rules --------------------------------------------------------------------------------


def test_the_profile_follows_jurisdiction_and_channel_by_default(new_case):
    assert new_case().profile_key == "cn_banking_insurance"
    assert new_case(channel=Channel.REGULATOR).profile_key == "cn_pboc_referral"
    assert new_case(jurisdiction="UK", currency="GBP").profile_key == "uk_fca_disp"
    assert new_case(jurisdiction="US", currency="USD").profile_key == "us_cfpb"


def test_a_profile_rule_picks_the_profile_of_matching_cases(new_case, catalogue):
    payments = BusinessType.objects.get(code="B04")
    rules_services.profile_rule_create(
        business_type=payments, jurisdiction="UK", profile_key="uk_fca_payment_services"
    )
    mobile = new_case(jurisdiction="UK", product=catalogue["PAY-MOB"])  # B0403
    assert mobile.profile_key == "uk_fca_payment_services"
    assert new_case(jurisdiction="UK", product=catalogue["CARD-DEB"]).profile_key == "uk_fca_disp"


def test_a_case_on_a_custom_profile_gets_its_deadline(new_case):
    rules_services.custom_profile_save(
        key="hk_ten_days",
        definition={
            "label_en": "Ten calendar days",
            "clocks": [{"key": "reply", "label_en": "Reply", "length": 10, "calendar": "CN"}],
        },
    )
    rules_services.profile_rule_create(channel=Channel.EMAIL, profile_key="hk_ten_days")
    case = new_case(channel=Channel.EMAIL)
    assert case.profile_key == "hk_ten_days"
    assert case.due_at - case.received_at == timedelta(days=10)


def test_editing_a_custom_profile_moves_the_deadlines_of_its_open_cases(new_case):
    definition = {
        "label_en": "Ten calendar days",
        "clocks": [{"key": "reply", "label_en": "Reply", "length": 10, "calendar": "CN"}],
    }
    profile = rules_services.custom_profile_save(key="hk_ten_days", definition=definition)
    rules_services.profile_rule_create(channel=Channel.EMAIL, profile_key="hk_ten_days")
    case = new_case(channel=Channel.EMAIL)
    definition["clocks"][0]["length"] = 20
    rules_services.custom_profile_save(key="hk_ten_days", definition=definition, profile=profile)
    case.refresh_from_db()
    assert case.due_at - case.received_at == timedelta(days=20)


def test_an_edit_the_open_cases_could_not_follow_is_refused(new_case, bj_agent):
    definition = {
        "label_en": "Extendable",
        "clocks": [
            {
                "key": "reply",
                "label_en": "Reply",
                "length": 10,
                "calendar": "CN",
                "extensions": [{"level": "complex", "length": 20, "reason_required": False}],
            }
        ],
    }
    profile = rules_services.custom_profile_save(key="ext", definition=definition)
    rules_services.profile_rule_create(channel=Channel.EMAIL, profile_key="ext")
    case = new_case(channel=Channel.EMAIL)
    services.case_extend(actor=bj_agent, case=case, level="complex", note="Many accounts")
    definition["clocks"][0]["extensions"] = []
    with pytest.raises(ValidationError, match=case.reference):
        rules_services.custom_profile_save(key="ext", definition=definition, profile=profile)
    profile.refresh_from_db()
    assert profile.definition["clocks"][0]["extensions"]


# --- possible duplicates --------------------------------------------------------------------------


def test_the_same_customer_and_product_inside_the_window_is_a_possible_duplicate(
    new_case, customer, catalogue
):
    card = catalogue["CARD-CRD"]
    first = new_case(
        customer=customer, product=card, received_at=timezone.now() - timedelta(days=5)
    )
    second = new_case(customer=customer, product=card)
    assert second.possible_duplicate_of == first
    flagged = second.timeline.get(kind=TimelineKind.DUPLICATE)
    assert flagged.data == {"of": first.reference}


def test_another_product_another_customer_or_an_old_case_is_no_duplicate(
    tree, new_case, customer, catalogue
):
    card, loan = catalogue["CARD-CRD"], catalogue["LN-CONS"]
    now = timezone.now()
    new_case(customer=customer, product=card, received_at=now - timedelta(days=31))
    other = customer_create(
        customer_number="C0043",
        name="Li Lei",
        home_department=tree["bj_team"],
        segment=CustomerSegment.RETAIL,
    )
    new_case(customer=other, product=loan, received_at=now - timedelta(days=2))
    assert new_case(customer=customer, product=loan).possible_duplicate_of is None
    assert new_case(customer=customer, product=card).possible_duplicate_of is None  # 31 days


def test_a_closed_case_is_no_duplicate_but_an_answered_one_is(
    new_case, customer, catalogue, bj_agent
):
    card = catalogue["CARD-CRD"]
    earlier = services.case_start(actor=bj_agent, case=new_case(customer=customer, product=card))
    earlier = services.case_respond(
        actor=bj_agent, case=earlier, outcome=Outcome.NOT_UPHELD, response_text="No error."
    )
    assert new_case(customer=customer, product=card).possible_duplicate_of == earlier
    services.case_close(actor=bj_agent, case=earlier)
    later = new_case(customer=customer, product=card)
    assert later.possible_duplicate_of is not None and later.possible_duplicate_of != earlier


def test_the_duplicate_window_is_a_setting(new_case, customer, catalogue):
    rules_services.case_settings_save(
        warn_share=75, duplicate_window_days=60, reopen_window_days=30, repeat_window_days=90
    )
    card = catalogue["CARD-CRD"]
    first = new_case(
        customer=customer, product=card, received_at=timezone.now() - timedelta(days=45)
    )
    assert new_case(customer=customer, product=card).possible_duplicate_of == first


def test_a_flagged_duplicate_is_merged_into_the_earlier_case(
    new_case, customer, catalogue, bj_agent
):
    card = catalogue["CARD-CRD"]
    first = new_case(customer=customer, product=card)
    second = new_case(customer=customer, product=card)
    merged = services.case_merge(actor=bj_agent, case=second, into=second.possible_duplicate_of)
    assert merged.state == CaseState.CLOSED and merged.outcome == Outcome.MERGED
    assert first.timeline.filter(kind=TimelineKind.MERGED).exists()
