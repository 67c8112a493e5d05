"""The case-rules pages: who may read and change them, each form's refusals shown beside the
field with nothing saved, reordering, the custom-profile editor, letters with their preview,
settings, and the taxonomy browser."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from servicecharter.accounts.choices import Role
from servicecharter.accounts.navigation import menu_for
from servicecharter.cases import rules_services
from servicecharter.cases.models import (
    CaseSettings,
    CustomProfile,
    ProfileRule,
    ResponseTemplate,
    RoutingRule,
)
from servicecharter.core.models import AuditEntry
from servicecharter.org.choices import Channel
from tests.conftest import make_user


def _sign_in(client, user) -> None:
    if user.totp_confirmed_at is None:
        user.totp_confirmed_at = timezone.now()
        user.save(update_fields=["totp_confirmed_at"])
    client.force_login(user)


@pytest.fixture
def officer(client, complaints_officer):
    """A complaints officer for the whole institution, signed in."""
    _sign_in(client, complaints_officer)
    return complaints_officer


@pytest.fixture
def branch_officer(tree):
    return make_user("bj.complaints", Role.COMPLAINTS_OFFICER, tree["bj"])


def _rule(tree, name, **fields):
    return rules_services.routing_rule_create(
        name=name, department=fields.pop("department", tree["bj_team"]), **fields
    )


def _html(response) -> str:
    return response.content.decode()


# --- who may use the pages ----------------------------------------------------------------------

PAGES = ["cases:rules", "cases:rules_profiles", "cases:rules_letters", "cases:rules_settings"]


@pytest.mark.parametrize("page", PAGES)
def test_a_supervisor_and_someone_without_a_role_are_refused(client, bj_supervisor, stranger, page):
    for user in (bj_supervisor, stranger):
        _sign_in(client, user)
        assert client.get(reverse(page)).status_code == 403


def test_anonymous_visitors_are_sent_to_sign_in(client, tree):
    response = client.get(reverse("cases:rules"))
    assert response.status_code == 302
    assert reverse("accounts:login") in response["Location"]


@pytest.mark.parametrize("page", PAGES)
def test_an_administrator_manages_the_rules(client, admin_user, page):
    _sign_in(client, admin_user)
    response = client.get(reverse(page))
    assert response.status_code == 200
    assert response.context["can_change"] is True


def test_a_branch_complaints_officer_reads_the_rules_but_cannot_change_them(
    client, tree, branch_officer
):
    rule = _rule(tree, "Cards to Beijing")
    _sign_in(client, branch_officer)
    response = client.get(reverse("cases:rules"))
    assert response.status_code == 200 and "Cards to Beijing" in _html(response)
    assert reverse("cases:routing_rule_create") not in _html(response)
    assert client.get(reverse("cases:routing_rule_create")).status_code == 403
    assert client.post(reverse("cases:routing_rule_delete", args=[rule.pk])).status_code == 403
    response = client.post(reverse("cases:rules_settings"), {"warn_share": 50})
    assert response.status_code == 403
    assert RoutingRule.objects.filter(pk=rule.pk).exists()
    assert CaseSettings.current().warn_share == 75


def test_the_menu_offers_case_rules_to_those_who_manage_them(complaints_officer, bj_agent):
    assert "cases:rules" in [item.url_name for item in menu_for(complaints_officer)]
    assert "cases:rules" not in [item.url_name for item in menu_for(bj_agent)]


# --- routing rules ---------------------------------------------------------------------------------


def test_the_routing_list_costs_the_same_queries_for_3_or_12_rules(client, tree, officer):
    conditions = [
        {"channel": channel, "kind": kind, "department": department}
        for channel in Channel.values
        for kind, department in (("", tree["bj_team"]), ("complaint", tree["sh_team"]))
    ]
    for number, fields in enumerate(conditions[:3]):
        _rule(tree, f"Rule {number}", **fields)
    url = reverse("cases:rules")
    client.get(url)  # warm the session
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    for number, fields in enumerate(conditions[3:12], start=3):
        _rule(tree, f"Rule {number}", **fields)
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    assert len(response.context["rules"]) == 12
    assert len(many) == len(few)


def test_an_officer_creates_a_routing_rule(client, tree, officer):
    response = client.post(
        reverse("cases:routing_rule_create"),
        {
            "name": "Social media to Beijing",
            "channel": "social",
            "department": tree["bj"].pk,
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    rule = RoutingRule.objects.get(name="Social media to Beijing")
    assert (rule.channel, rule.department, rule.priority) == ("social", tree["bj"], 10)
    assert AuditEntry.objects.filter(action="routing_rule.create", object_id=str(rule.pk)).exists()


def test_a_rule_that_could_never_apply_is_refused_beside_its_priority(client, tree, officer):
    _rule(tree, "Phone to Beijing", channel="phone", priority=10)
    response = client.post(
        reverse("cases:routing_rule_create"),
        {
            "name": "Phone to Shanghai",
            "priority": 20,
            "channel": "phone",
            "department": tree["sh"].pk,
            "is_active": "on",
        },
    )
    assert response.status_code == 200
    assert "would never apply" in str(response.context["form"].errors["priority"])
    assert not RoutingRule.objects.filter(name="Phone to Shanghai").exists()


def test_a_missing_name_and_queue_are_shown_beside_their_fields(client, officer, tree):
    response = client.post(reverse("cases:routing_rule_create"), {"name": "", "department": ""})
    errors = response.context["form"].errors
    assert {"name", "department"} <= set(errors)
    assert RoutingRule.objects.count() == 0


def test_moving_a_rule_up_reorders_the_table_in_place(client, tree, officer):
    first = _rule(tree, "First", channel="phone")
    second = _rule(tree, "Second", channel="email")
    response = client.post(
        reverse("cases:routing_rule_move", args=[second.pk]),
        {"direction": "up"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    html = _html(response)
    assert "<h1>" not in html and html.index("Second") < html.index("First")
    assert [rule.name for rule in RoutingRule.objects.order_by("priority")] == ["Second", "First"]
    first.refresh_from_db()
    assert first.priority == 20


def test_an_officer_edits_and_deletes_a_rule(client, tree, officer):
    rule = _rule(tree, "Cards", channel="phone")
    response = client.post(
        reverse("cases:routing_rule_edit", args=[rule.pk]),
        {"name": "Cards and app", "channel": "app", "department": tree["sh"].pk, "is_active": ""},
    )
    assert response.status_code == 302
    rule.refresh_from_db()
    assert (rule.name, rule.channel, rule.department, rule.is_active, rule.priority) == (
        "Cards and app",
        "app",
        tree["sh"],
        False,
        10,
    )
    response = client.post(
        reverse("cases:routing_rule_delete", args=[rule.pk]), headers={"HX-Request": "true"}
    )
    assert response.headers["HX-Redirect"] == reverse("cases:rules")
    assert not RoutingRule.objects.exists()
    assert AuditEntry.objects.filter(action="routing_rule.delete").exists()


# --- profile rules and custom profiles -----------------------------------------------------------


def test_an_officer_adds_a_profile_rule(client, officer):
    response = client.post(
        reverse("cases:profile_rule_create"),
        {"channel": "regulator", "jurisdiction": "CN", "profile_key": "cn_pboc_referral"},
    )
    assert response.status_code == 302
    rule = ProfileRule.objects.get()
    assert (rule.channel, rule.profile_key) == ("regulator", "cn_pboc_referral")
    page = client.get(reverse("cases:rules_profiles"))
    assert "People&#x27;s Bank of China" in _html(page) or "People's Bank of China" in _html(page)


def test_a_profile_rule_needs_a_known_profile(client, officer):
    response = client.post(reverse("cases:profile_rule_create"), {"profile_key": "nowhere"})
    assert "profile_key" in response.context["form"].errors
    assert not ProfileRule.objects.exists()


WHISTLE = {
    "label_en": "Whistleblowing (EU)",
    "label_zh": "举报（欧盟）",
    "source": "Directive 2019/1937 art. 9",
    "clocks": [
        {"key": "acknowledge", "label_en": "Acknowledge", "length": 7, "calendar": "UK"},
        {
            "key": "feedback",
            "label_en": "Feedback",
            "length": 90,
            "calendar": "UK",
            "extensions": [{"level": "complex", "length": 180, "approver": "complaints_head"}],
            "pause_reasons": ["awaiting_customer"],
        },
    ],
}


def _profile_post(client, key, definition, url=None, is_active="on"):
    return client.post(
        url or reverse("cases:custom_profile_create"),
        {"key": key, "definition": json.dumps(definition), "is_active": is_active},
    )


def test_an_officer_defines_a_custom_profile_and_sees_what_its_clocks_give(client, officer):
    response = _profile_post(client, "eu_whistle", WHISTLE)
    assert response.status_code == 302
    profile = CustomProfile.objects.get(key="eu_whistle")
    assert profile.definition["clocks"][1]["extensions"][0]["approver"] == "complaints_head"
    page = client.get(response["Location"])
    assert page.status_code == 200
    preview = page.context["preview"]
    assert [row["length"] for row in preview] == [7, 90]
    assert all(row["due"] is not None for row in preview)
    assert "eu_whistle" in dict(rules_services.profile_choices())


def test_every_problem_of_a_profile_is_shown_and_nothing_is_saved(client, officer):
    bad = {
        "label_en": "Broken",
        "clocks": [
            {"key": "Reply", "label_en": "Reply", "length": 0, "unit": "fortnights"},
            {"key": "x", "label_en": "X", "length": 5, "calendar": "NOWHERE"},
        ],
    }
    response = _profile_post(client, "broken", bad)
    assert response.status_code == 200
    errors = response.context["form"].errors["definition"]
    assert len(errors) >= 3  # the key, the length and the unit of clock 1
    assert any("fortnights" in error for error in errors)
    assert not CustomProfile.objects.exists()
    response = _profile_post(client, "broken", {**WHISTLE, "clocks": [bad["clocks"][1]]})
    assert "NOWHERE" in str(response.context["form"].errors["definition"])


def test_json_that_does_not_parse_is_refused_with_its_line(client, officer):
    response = client.post(
        reverse("cases:custom_profile_create"),
        {"key": "typo", "definition": '{"label_en": "Typo",\n "clocks": [}', "is_active": "on"},
    )
    assert "line 2" in str(response.context["form"].errors["definition"])


def test_a_shipped_key_cannot_be_reused(client, officer):
    response = _profile_post(client, "us_cfpb", WHISTLE)
    assert "shipped profile" in str(response.context["form"].errors["key"])


def test_a_new_profile_can_start_from_a_shipped_one(client, officer):
    response = client.get(reverse("cases:custom_profile_create"), {"start_from": "uk_fca_disp"})
    definition = json.loads(response.context["form"].initial["definition"])
    assert [clock["key"] for clock in definition["clocks"]] == [
        "summary_resolution",
        "final_response",
    ]
    assert definition["clocks"][0]["unit"] == "business_days"
    assert definition["label_zh"]  # both languages written out
    assert _profile_post(client, "uk_copy", definition).status_code == 302


def test_a_profile_in_use_can_neither_be_switched_off_nor_deleted(client, officer):
    profile = rules_services.custom_profile_save(key="eu_whistle", definition=WHISTLE)
    rules_services.profile_rule_create(channel="email", profile_key="eu_whistle")
    url = reverse("cases:custom_profile_edit", args=[profile.pk])
    response = _profile_post(client, "eu_whistle", WHISTLE, url=url, is_active="")
    assert "is_active" in response.context["form"].errors
    response = client.post(reverse("cases:custom_profile_delete", args=[profile.pk]))
    assert response.status_code == 302
    profile.refresh_from_db()
    assert profile.is_active


def test_only_an_institution_wide_officer_opens_the_profile_editor(client, tree, branch_officer):
    profile = rules_services.custom_profile_save(key="eu_whistle", definition=WHISTLE)
    _sign_in(client, branch_officer)
    assert client.get(reverse("cases:custom_profile_edit", args=[profile.pk])).status_code == 403
    assert client.get(reverse("cases:rules_profiles")).status_code == 200


# --- response letters --------------------------------------------------------------------------------


def test_the_default_letters_are_there_in_both_languages(client, officer):
    response = client.get(reverse("cases:rules_letters"))
    assert response.status_code == 200
    shipped = set(ResponseTemplate.objects.values_list("language", "outcome"))
    for language in ("en", "zh-hans"):
        for outcome in ("upheld", "partly_upheld", "not_upheld", "answered"):
            assert (language, outcome) in shipped
    assert "投诉成立" in _html(response)


def test_an_officer_writes_a_letter_and_a_wrong_placeholder_is_shown(client, officer):
    data = {"name": "Short", "language": "en", "outcome": "upheld", "body": "Dear {name},"}
    response = client.post(reverse("cases:letter_create"), data)
    assert "{name}" in str(response.context["form"].errors["body"])
    data["body"] = "Dear {customer_name}, about {reference}: sorry."
    assert client.post(reverse("cases:letter_create"), data).status_code == 302
    assert ResponseTemplate.objects.filter(name="Short", language="en").exists()


def test_the_preview_fills_in_made_up_case_details(client, officer):
    response = client.post(
        reverse("cases:letter_preview"),
        {
            "body": "尊敬的{customer_name}：编号{reference}，补偿{redress_amount}。",
            "language": "zh-hans",
        },
        headers={"HX-Request": "true"},
    )
    html = _html(response)
    assert "李雷" in html and "C2611-0000042" in html and "200.00" in html
    response = client.post(reverse("cases:letter_preview"), {"body": "Dear {customer"})
    assert "brace" in _html(response)


# --- settings ----------------------------------------------------------------------------------------


def test_an_officer_changes_the_warning_share(client, officer):
    data = {
        "warn_share": 60,
        "duplicate_window_days": 14,
        "reopen_window_days": 30,
        "repeat_window_days": 90,
    }
    assert client.post(reverse("cases:rules_settings"), data).status_code == 302
    assert (CaseSettings.current().warn_share, CaseSettings.current().duplicate_window_days) == (
        60,
        14,
    )
    response = client.post(reverse("cases:rules_settings"), {**data, "warn_share": 100})
    assert "warn_share" in response.context["form"].errors
    assert CaseSettings.current().warn_share == 60


# --- the taxonomy ------------------------------------------------------------------------------------


def test_everyone_who_sees_cases_browses_the_taxonomy(client, bj_agent, admin_user, stranger):
    _sign_in(client, bj_agent)
    response = client.get(reverse("cases:taxonomy"))
    assert response.status_code == 200
    html = _html(response)
    assert "服务态度及服务质量" in html and "B0302" in html
    _sign_in(client, admin_user)  # manages the rules without seeing cases
    assert client.get(reverse("cases:taxonomy")).status_code == 200
    _sign_in(client, stranger)
    assert client.get(reverse("cases:taxonomy")).status_code == 403


def test_the_cfpb_tree_is_searched_with_issues_under_their_products(client, bj_agent):
    _sign_in(client, bj_agent)
    response = client.get(reverse("cases:taxonomy"), {"scheme": "cfpb", "q": "信用报告信息有误"})
    (tree,) = response.context["trees"]
    products = {node["category"].code for node in tree["nodes"]}
    assert "credit_reporting" in products and "debt_collection" not in products
    issues = [child.name_en for node in tree["nodes"] for child in node["children"]]
    assert set(issues) == {"Incorrect information on your report"}


def test_a_shipped_letter_renders_for_a_real_case_in_its_language(new_case, bj_agent):
    case = new_case(language="zh-hans", contact_name="李雷")
    case.outcome, case.redress_amount = "upheld", 200
    (letter,) = rules_services.response_templates_for(outcome="upheld", language="zh-hans")
    text = rules_services.letter_render(
        letter.body, rules_services.letter_values(case, case.language)
    )
    assert text.startswith("尊敬的李雷：")
    assert case.reference in text and "¥200.00" in text and "{" not in text
    english = rules_services.response_templates_for(outcome="answered", language="en")
    assert [letter.outcome for letter in english] == ["answered"]
