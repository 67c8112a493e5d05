"""The case page: what it shows (deadlines with their calendar warnings, severity reasons,
masked contacts, the possible duplicate), who may see it, and its actions — each through its
service, refreshed in place with HTMX, refused with a message beside the form."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from servicecharter.cases import services
from servicecharter.cases.choices import (
    CaseKind,
    CaseState,
    CategoryAxis,
    MessageDirection,
    Outcome,
)
from servicecharter.cases.models import Attachment, Category, ResponseTemplate
from servicecharter.core.audit import REFUSED
from servicecharter.core.models import AuditEntry, Event
from servicecharter.org.services import (
    business_type_create,
    customer_create,
    product_create,
    staff_create,
)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def case(new_case):
    return new_case(contact_phone="13812345678", contact_email="li.lei@example.com")


def _page(client, case, **params):
    return client.get(reverse("cases:case_detail", args=[case.pk]), params)


def _act(client, case, action, htmx=False, **data):
    headers = {"HX-Request": "true"} if htmx else {}
    fields = {f"{action}-{name}": value for name, value in data.items()}
    return client.post(
        reverse("cases:case_action", args=[case.pk, action]), fields, headers=headers
    )


# Who sees it -------------------------------------------------------------------------------


def test_the_branch_supervisor_sees_the_case(client, bj_supervisor, case):
    client.force_login(bj_supervisor)
    response = _page(client, case)
    assert response.status_code == 200
    html = response.content.decode()
    assert case.reference in html and "Card fee charged twice" in html
    assert "Beijing Team 1" in html and "Received" in html


def test_a_shanghai_supervisor_gets_404_on_a_beijing_case(client, sh_supervisor, case):
    client.force_login(sh_supervisor)
    assert _page(client, case).status_code == 404
    assert _act(client, case, "acknowledge").status_code == 404
    assert AuditEntry.objects.filter(action=REFUSED, object_id=str(case.pk)).exists()
    case.refresh_from_db()
    assert case.state == CaseState.RECEIVED


def test_someone_without_a_case_role_is_refused(client, stranger, case):
    client.force_login(stranger)
    assert _page(client, case).status_code == 403


def test_a_reader_sees_the_case_but_no_actions(client, compliance_officer, case):
    client.force_login(compliance_officer)
    html = _page(client, case).content.decode()
    assert case.reference in html
    assert reverse("cases:case_action", args=[case.pk, "acknowledge"]) not in html
    assert _act(client, case, "acknowledge").status_code == 404


# What it shows -----------------------------------------------------------------------------


def test_contacts_are_masked(client, bj_supervisor, case):
    client.force_login(bj_supervisor)
    html = _page(client, case).content.decode()
    assert "138****5678" in html and "13812345678" not in html
    assert "l*****@example.com" in html and "li.lei@example.com" not in html


def test_the_customer_links_to_their_page_for_those_who_may_see_it(
    client, bj_supervisor, new_case, tree
):
    customer = customer_create(
        customer_number="C-100", name="Li Lei", home_department=tree["bj_team"], segment="retail"
    )
    case = new_case(customer=customer)
    client.force_login(bj_supervisor)
    html = _page(client, case).content.decode()
    assert reverse("org:customer_detail", args=[customer.pk]) in html


def test_severity_shows_its_reasons(client, bj_supervisor, new_case):
    case = new_case(money_at_stake=Decimal("50000"))
    client.force_login(bj_supervisor)
    html = _page(client, case).content.decode()
    assert "Money at stake: 50000 CNY" in html
    assert case.get_severity_display() in html


def test_the_deadline_panel_shows_each_clock_with_its_countdown(client, bj_supervisor, case):
    client.force_login(bj_supervisor)
    response = _page(client, case)
    clocks = response.context["clocks"]
    assert len(clocks) == 1
    assert str(clocks[0]["label"]) == "Decision and reply to the complainant"
    assert clocks[0]["due"] == case.due_at and clocks[0]["state"] == "Running"
    assert "left" in clocks[0]["countdown"]
    html = response.content.decode()
    assert "times in Asia/Shanghai" in html and "Running" in html


def test_a_deadline_in_a_year_without_an_official_schedule_warns(client, bj_supervisor, new_case):
    with time_machine.travel(datetime(2026, 12, 24, 2, 0, tzinfo=UTC), tick=False):
        case = new_case()
        client.force_login(bj_supervisor)
        response = _page(client, case)
    warnings = response.context["clocks"][0]["warnings"]
    assert warnings and "2027" in warnings[0]
    assert "No official holiday schedule for 2027" in response.content.decode()


def test_a_suggestion_has_no_regulatory_deadline(client, bj_supervisor, new_case):
    case = new_case(kind=CaseKind.SUGGESTION)
    client.force_login(bj_supervisor)
    html = _page(client, case).content.decode()
    assert "Only complaints have regulatory deadlines." in html


def test_a_possible_duplicate_is_flagged_and_merged(client, bj_supervisor, new_case, tree):
    customer = customer_create(
        customer_number="C-200", name="Wang Fang", home_department=tree["bj_team"], segment="retail"
    )
    cards = business_type_create(code="B01", name_en="Cards", name_zh="银行卡")
    card = product_create(code="P1", name_en="Card", name_zh="卡", business_type=cards)
    first = new_case(customer=customer, product=card)
    repeat = new_case(customer=customer, product=card)
    assert repeat.possible_duplicate_of == first
    client.force_login(bj_supervisor)
    response = _page(client, repeat)
    html = response.content.decode()
    assert "Possible duplicate" in html and first.reference in html
    merge_form = next(a["form"] for a in response.context["actions"] if a["name"] == "merge")
    assert merge_form.initial["into"] == first.reference
    _act(client, repeat, "merge", into=first.reference, note="Same fee, no new facts")
    repeat.refresh_from_db()
    assert repeat.state == CaseState.CLOSED and repeat.merged_into == first


def test_the_timeline_lists_what_happened(client, bj_supervisor, bj_agent, case):
    services.case_acknowledge(actor=bj_agent, case=case, note="Called back")
    client.force_login(bj_supervisor)
    html = _page(client, case).content.decode()
    assert "Received → Acknowledged" in html and "Called back" in html


# Actions ------------------------------------------------------------------------------------


def test_an_action_runs_its_service_and_returns_to_the_page(client, bj_supervisor, case):
    client.force_login(bj_supervisor)
    response = _act(client, case, "acknowledge", note="Called the customer")
    assert response.status_code == 302
    assert response.url == reverse("cases:case_detail", args=[case.pk])
    case.refresh_from_db()
    assert case.state == CaseState.ACKNOWLEDGED
    assert case.timeline.filter(note="Called the customer").exists()


def test_with_htmx_an_action_answers_with_the_refreshed_panel(client, bj_supervisor, case):
    client.force_login(bj_supervisor)
    response = _act(client, case, "start", htmx=True)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html and "In progress" in html
    assert "Work on the case has started." in html
    case.refresh_from_db()
    assert case.state == CaseState.IN_PROGRESS


def test_an_action_the_state_refuses_shows_the_message_and_saves_nothing(
    client, bj_supervisor, case
):
    client.force_login(bj_supervisor)
    for htmx in (False, True):
        response = _act(client, case, "close", htmx=htmx)
        assert response.status_code == 200
        html = response.content.decode()
        assert "cannot be given the action" in html
        assert 'id="action-close" open' in html
    case.refresh_from_db()
    assert case.state == CaseState.RECEIVED
    assert not case.timeline.filter(to_state=CaseState.CLOSED).exists()


def test_a_missing_field_is_shown_beside_it(client, bj_supervisor, case):
    client.force_login(bj_supervisor)
    html = _act(client, case, "escalate", target="regulator", note="").content.decode()
    assert "This field is required." in html
    case.refresh_from_db()
    assert case.state == CaseState.RECEIVED


def test_an_extension_beyond_the_actors_approval_is_refused(client, bj_supervisor, bj_agent, case):
    services.case_extend(actor=bj_agent, case=case, level="complex", note="Many accounts")
    client.force_login(bj_supervisor)
    html = _act(
        client,
        case,
        "extend",
        extension="final_response:especially_complex",
        note="Forensic audit",
    ).content.decode()
    assert "needs the approval of a senior manager" in html
    case.refresh_from_db()
    assert case.extension_level == "complex"


def test_an_extension_moves_the_deadline(client, bj_supervisor, case):
    before = case.due_at
    client.force_login(bj_supervisor)
    _act(client, case, "extend", extension="final_response:complex", note="Many accounts")
    case.refresh_from_db()
    assert case.extension_level == "complex" and case.due_at > before


def test_the_clock_is_paused_for_an_appraisal_and_resumed(client, bj_supervisor, case):
    client.force_login(bj_supervisor)
    page = _page(client, case)
    names = [action["name"] for action in page.context["actions"]]
    assert "pause" in names and "resume" not in names and "new_facts" in names
    _act(client, case, "pause", reason="external_appraisal", note="Sent to the card scheme")
    page = _page(client, case)
    assert page.context["clocks"][0]["state"] == "Paused"
    assert "resume" in [action["name"] for action in page.context["actions"]]
    _act(client, case, "resume", note="Report received")
    assert _page(client, case).context["clocks"][0]["state"] == "Running"


def test_new_facts_restart_the_clock(client, bj_supervisor, case):
    client.force_login(bj_supervisor)
    html = _act(client, case, "new_facts", htmx=True, note="").content.decode()
    assert "This field is required." in html
    _act(client, case, "new_facts", note="A second charge appeared")
    assert case.timeline.filter(kind="new_facts", note="A second charge appeared").exists()


def test_a_regulators_decision_against_us_is_recorded(client, bj_supervisor, bj_agent, case):
    services.case_start(actor=bj_agent, case=case)
    client.force_login(bj_supervisor)
    assert "external_decision" not in [a["name"] for a in _page(client, case).context["actions"]]
    _act(client, case, "escalate", target="regulator", note="Referred by the customer")
    assert "external_decision" in [a["name"] for a in _page(client, case).context["actions"]]
    _act(client, case, "external_decision", found_against_us="yes", note="Refund ordered")
    assert Event.objects.filter(name="case.overturned", payload__case_id=case.pk).exists()
    assert "Found against us" in _page(client, case).content.decode()


def test_an_unknown_action_is_404(client, bj_supervisor, case):
    client.force_login(bj_supervisor)
    response = client.post(reverse("cases:case_action", args=[case.pk, "explode"]))
    assert response.status_code == 404


def test_an_agent_cannot_assign_or_route(client, bj_agent, case, bj_supervisor):
    client.force_login(bj_agent)
    assert _act(client, case, "assign", handler=bj_supervisor.pk).status_code == 404


def test_a_supervisor_assigns_only_someone_who_handles_the_queue(
    client, bj_supervisor, sh_supervisor, case
):
    client.force_login(bj_supervisor)
    html = _act(client, case, "assign", handler=sh_supervisor.pk).content.decode()
    assert "Select a valid choice" in html
    _act(client, case, "assign", handler=bj_supervisor.pk)
    case.refresh_from_db()
    assert case.handler == bj_supervisor


def test_a_long_list_of_handlers_is_typed_by_user_name(client, bj_supervisor, case, monkeypatch):
    from servicecharter.cases import staff_forms

    monkeypatch.setattr(staff_forms, "HANDLER_LIST_LIMIT", 1)
    client.force_login(bj_supervisor)
    form = next(a["form"] for a in _page(client, case).context["actions"] if a["name"] == "assign")
    assert form["handler"].widget_type == "text" and form["handler"].value() == "bj.agent"
    _act(client, case, "assign", handler="bj.supervisor")
    case.refresh_from_db()
    assert case.handler == bj_supervisor


def test_a_supervisor_routes_a_case_within_their_scope(client, bj_supervisor, case, tree):
    client.force_login(bj_supervisor)
    html = _act(client, case, "route", department=tree["sh"].pk).content.decode()
    assert "Select a valid choice" in html
    _act(client, case, "route", department=tree["bj"].pk, note="Branch level")
    case.refresh_from_db()
    assert case.department == tree["bj"] and case.handler is None


def test_messages_to_the_customer_and_internal_notes(client, bj_supervisor, case):
    client.force_login(bj_supervisor)
    _act(client, case, "message", direction=MessageDirection.INTERNAL, body="Check the ledger")
    _act(client, case, "message", direction=MessageDirection.TO_CUSTOMER, body="We are on it")
    directions = list(case.messages.values_list("direction", flat=True))
    assert directions == [MessageDirection.INTERNAL, MessageDirection.TO_CUSTOMER]
    html = _page(client, case).content.decode()
    assert "Check the ledger" in html and "We are on it" in html


# Attachments --------------------------------------------------------------------------------


def _attach(client, case, name="statement.txt", content=b"fee 120.00 charged twice"):
    upload = SimpleUploadedFile(name, content, content_type="text/plain")
    return client.post(
        reverse("cases:case_action", args=[case.pk, "attach"]), {"attach-file": upload}
    )


def test_an_attachment_is_downloaded_only_through_the_case(
    client, bj_supervisor, sh_supervisor, case, new_case
):
    client.force_login(bj_supervisor)
    assert _attach(client, case).status_code == 302
    attachment = Attachment.objects.get(case=case)
    url = reverse("cases:attachment_download", args=[case.pk, attachment.pk])
    response = client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"fee 120.00 charged twice"
    assert "attachment" in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert AuditEntry.objects.filter(action="case.attachment_download").exists()
    other = new_case()
    wrong_case = reverse("cases:attachment_download", args=[other.pk, attachment.pk])
    assert client.get(wrong_case).status_code == 404
    client.force_login(sh_supervisor)
    assert client.get(url).status_code == 404


def test_a_file_of_the_wrong_type_is_refused_beside_the_field(client, bj_supervisor, case):
    client.force_login(bj_supervisor)
    response = _attach(client, case, name="virus.exe", content=b"MZ\x90\x00\x03\x00\xff\xfe")
    assert response.status_code == 200
    assert "is not a PDF, JPEG, PNG or plain-text file" in response.content.decode()
    assert not Attachment.objects.exists()


# The final response ---------------------------------------------------------------------------


@pytest.fixture
def letters(db):
    """Letters of our own beside the shipped ones, so that the test knows every word."""
    ResponseTemplate.objects.all().delete()
    ResponseTemplate.objects.create(
        name="Upheld (English)",
        language="en",
        outcome=Outcome.UPHELD,
        body="Dear {customer_name}, your complaint {reference} of {received_date} is "
        "{outcome}; we pay {redress_amount}. {today}",
    )
    ResponseTemplate.objects.create(
        name="Any (English)", language="en", outcome="", body="Dear {customer_name}, {reference}."
    )
    ResponseTemplate.objects.create(
        name="维持",
        language="zh-hans",
        outcome=Outcome.UPHELD,
        body="{customer_name}您好：{outcome}",
    )


def _respond_form(response):
    return next(a["form"] for a in response.context["actions"] if a["name"] == "respond")


def test_the_respond_form_is_prefilled_from_the_letter_in_the_case_language(
    client, bj_supervisor, bj_agent, new_case, letters
):
    case = services.case_start(actor=bj_agent, case=new_case(language="en"))
    client.force_login(bj_supervisor)
    form = _respond_form(_page(client, case))
    assert form.initial["response_text"] == f"Dear Li Lei, {case.reference}."
    assert [t.name for t in form.fields["template"].queryset] == [
        "Any (English)",
        "Upheld (English)",
    ]


def test_the_letter_is_refilled_for_the_outcome_and_redress_chosen(
    client, bj_supervisor, bj_agent, new_case, letters
):
    with time_machine.travel(datetime(2026, 11, 20, 4, 0, tzinfo=UTC), tick=False):
        case = services.case_start(actor=bj_agent, case=new_case(language="en"))
        client.force_login(bj_supervisor)
        response = client.get(
            reverse("cases:response_letter", args=[case.pk]),
            {"respond-outcome": Outcome.UPHELD, "respond-redress_amount": "120"},
            headers={"HX-Request": "true"},
        )
        html = response.content.decode()
        assert 'id="respond-letter"' in html and "<html" not in html
        assert (
            f"Dear Li Lei, your complaint {case.reference} of Nov. 20, 2026 is Upheld; "
            "we pay CN¥120.00. Nov. 20, 2026" in html
        )
        # Without JavaScript the same comes through the page itself.
        page = _page(client, case, letter="1", **{"respond-outcome": Outcome.UPHELD})
    assert _respond_form(page).initial["response_text"].startswith("Dear Li Lei, your complaint")


def test_a_template_can_be_picked_by_hand(client, bj_supervisor, bj_agent, new_case, letters):
    case = services.case_start(actor=bj_agent, case=new_case(language="en"))
    any_outcome = ResponseTemplate.objects.get(name="Any (English)")
    client.force_login(bj_supervisor)
    response = client.get(
        reverse("cases:response_letter", args=[case.pk]),
        {"respond-outcome": Outcome.UPHELD, "respond-template": any_outcome.pk},
    )
    assert f"Dear Li Lei, {case.reference}." in response.content.decode()


def test_a_chinese_case_gets_the_chinese_letter(client, bj_supervisor, bj_agent, new_case, letters):
    case = services.case_start(actor=bj_agent, case=new_case(language="zh-hans"))
    client.force_login(bj_supervisor)
    response = client.get(
        reverse("cases:response_letter", args=[case.pk]), {"respond-outcome": Outcome.UPHELD}
    )
    assert "Li Lei您好：维持" in response.content.decode() or "Li Lei您好：" in (
        response.content.decode()
    )


def test_the_shipped_letters_fill_in_for_a_praise(client, bj_supervisor, bj_agent, new_case):
    case = services.case_start(actor=bj_agent, case=new_case(kind=CaseKind.PRAISE, language="en"))
    client.force_login(bj_supervisor)
    letter = _respond_form(_page(client, case)).initial["response_text"]
    assert letter.startswith("Dear Li Lei,") and case.reference in letter


def test_responding_records_the_resolution(client, bj_supervisor, bj_agent, case, tree):
    staff = staff_create(
        employee_number="E1",
        name="Wang",
        department=tree["bj_team"],
        base_wage=Decimal("8000"),
        hire_date=date(2020, 1, 1),
    )
    cause = Category.objects.filter(axis=CategoryAxis.CAUSE, is_active=True).first()
    assert cause is not None  # the shipped taxonomies have causes
    services.case_start(actor=bj_agent, case=case)
    client.force_login(bj_supervisor)
    response = client.post(
        reverse("cases:case_action", args=[case.pk, "respond"]),
        {
            "respond-outcome": Outcome.UPHELD,
            "respond-root_cause": cause.pk,
            "respond-redress_amount": "120.00",
            "respond-staff_involved": [staff.pk],
            "respond-concerns_attitude": "on",
            "respond-response_text": "We refunded the second fee.",
        },
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.state == CaseState.RESPONDED and case.outcome == Outcome.UPHELD
    assert case.root_cause == cause and case.redress_amount == Decimal("120.00")
    assert case.concerns_attitude and list(case.staff_involved.all()) == [staff]
    assert Event.objects.filter(
        name="case.upheld_against_staff", payload__staff_id=staff.pk
    ).exists()


def test_only_staff_of_the_queue_can_be_named(client, bj_supervisor, bj_agent, case, tree):
    outsider = staff_create(
        employee_number="S9",
        name="Zhao",
        department=tree["sh_team"],
        base_wage=Decimal("8000"),
        hire_date=date(2020, 1, 1),
    )
    services.case_start(actor=bj_agent, case=case)
    client.force_login(bj_supervisor)
    response = client.post(
        reverse("cases:case_action", args=[case.pk, "respond"]),
        {
            "respond-outcome": Outcome.UPHELD,
            "respond-staff_involved": [outsider.pk],
            "respond-response_text": "Refunded.",
        },
    )
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    case.refresh_from_db()
    assert case.state == CaseState.IN_PROGRESS


def test_a_big_queue_names_staff_by_employee_number(
    client, bj_supervisor, bj_agent, case, tree, monkeypatch
):
    from servicecharter.cases import staff_forms

    monkeypatch.setattr(staff_forms, "STAFF_LIST_LIMIT", 0)
    staff = staff_create(
        employee_number="E7",
        name="Wang",
        department=tree["bj_team"],
        base_wage=Decimal("8000"),
        hire_date=date(2020, 1, 1),
    )
    services.case_start(actor=bj_agent, case=case)
    client.force_login(bj_supervisor)
    url = reverse("cases:case_action", args=[case.pk, "respond"])
    data = {"respond-outcome": Outcome.UPHELD, "respond-response_text": "Refunded."}
    html = client.post(url, {**data, "respond-staff_involved": "E7, X9"}).content.decode()
    assert "No active employee of this queue has the number X9." in html
    client.post(url, {**data, "respond-staff_involved": "E7"})
    case.refresh_from_db()
    assert list(case.staff_involved.all()) == [staff]


def test_answering_a_praise_with_an_upheld_outcome_is_refused(
    client, bj_supervisor, bj_agent, new_case
):
    case = services.case_start(actor=bj_agent, case=new_case(kind=CaseKind.PRAISE))
    client.force_login(bj_supervisor)
    response = _act(client, case, "respond", outcome=Outcome.UPHELD, response_text="Thanks!")
    assert "Select a valid choice" in response.content.decode()
    response = _act(client, case, "respond", outcome=Outcome.ANSWERED, response_text="Thanks!")
    case.refresh_from_db()
    assert case.state == CaseState.RESPONDED and case.outcome == Outcome.ANSWERED


def test_a_message_to_the_customer_carries_a_file_they_can_download(client, bj_supervisor, case):
    client.force_login(bj_supervisor)
    upload = SimpleUploadedFile("letter.txt", b"our answer", content_type="text/plain")
    response = client.post(
        reverse("cases:case_action", args=[case.pk, "message"]),
        {"message-direction": "to_customer", "message-body": "Our letter.", "message-file": upload},
    )
    assert response.status_code == 302
    attachment = Attachment.objects.get(case=case)
    assert attachment.message.body == "Our letter." and not attachment.from_customer


def test_a_bad_file_keeps_the_message_unsaved(client, bj_supervisor, case):
    client.force_login(bj_supervisor)
    before = case.messages.count()
    fake = SimpleUploadedFile("x.pdf", b"\x00\x01binary", content_type="application/pdf")
    response = client.post(
        reverse("cases:case_action", args=[case.pk, "message"]),
        {
            "message-direction": "to_customer",
            "message-body": "With a bad file.",
            "message-file": fake,
        },
    )
    assert response.status_code == 200
    assert case.messages.count() == before and not Attachment.objects.filter(case=case).exists()
