"""The customer follows a case with its reference and tracking code: sees the status and the
institution's messages (never a staff name, never an internal note), adds information, and
accepts or rejects the final response. A wrong code and an unknown reference look the same."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from servicecharter.cases import services
from servicecharter.cases.choices import CaseState, MessageDirection, Outcome
from servicecharter.cases.models import Attachment, Message
from servicecharter.core.models import Event

TRACK = reverse("public:track")
PDF = b"%PDF-1.4\n1 0 obj << >> endobj\n"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def filed(tree, bj_agent):
    """A complaint filed on the web form: (case, tracking code)."""
    bj_agent.first_name, bj_agent.last_name = "Wang", "Fang"
    bj_agent.save(update_fields=["first_name", "last_name"])
    intake = services.case_create(
        actor=None,
        kind="complaint",
        channel="app",
        subject="Card fee charged twice",
        description="The annual fee was charged twice this month.",
        contact_name="Li Lei",
        language="en",
        department=tree["bj_team"],
        handler=bj_agent,
    )
    return intake.case, intake.tracking_code


def _case_url(case, name="public:case"):
    return reverse(name, args=[case.reference])


def _signed_in(client, case, code):
    response = client.post(TRACK, {"reference": case.reference, "code": code})
    assert response.status_code == 302 and response["Location"] == _case_url(case)
    return client


def _responded(case, agent, text="We refunded the second fee."):
    case = services.case_start(actor=agent, case=case)
    return services.case_respond(actor=agent, case=case, outcome=Outcome.UPHELD, response_text=text)


def _without_tokens(html: str) -> str:
    """The page with its per-response CSRF tokens blanked out."""
    return re.sub(r"[A-Za-z0-9]{64}", "TOKEN", html)


# --- finding the case ------------------------------------------------------------------------------


def test_reference_and_code_open_the_case(client, filed):
    case, code = filed
    _signed_in(client, case, code)
    page = client.get(_case_url(case))
    assert page.status_code == 200
    assert case.subject in page.text and "Received" in page.text


def test_the_code_is_accepted_in_lower_case_with_spaces(client, filed):
    case, code = filed
    _signed_in(client, case, f" {code[:6].lower()} {code[6:].lower()} ")


def test_the_mailed_link_opens_the_case_and_later_pages_need_no_code(client, filed):
    case, code = filed
    response = client.get(TRACK, {"reference": case.reference, "code": code})
    assert response.status_code == 302 and response["Location"] == _case_url(case)
    assert client.get(_case_url(case)).status_code == 200


def test_without_the_code_the_case_page_sends_to_the_tracking_form(client, filed):
    case, _code = filed
    response = client.get(_case_url(case))
    assert response.status_code == 302 and response["Location"].startswith(TRACK)
    assert client.post(_case_url(case, "public:case_message"), {"body": "hi"}).status_code == 302
    assert not Message.objects.exists()


def test_a_wrong_code_gets_exactly_the_answer_an_unknown_reference_gets(client, filed):
    case, _code = filed
    wrong_code = client.post(TRACK, {"reference": case.reference, "code": "ABCDEFGHJKMN"})
    unknown = client.post(TRACK, {"reference": "C2601-9999999", "code": "ABCDEFGHJKMN"})
    assert wrong_code.status_code == unknown.status_code == 200
    assert _without_tokens(wrong_code.text) == _without_tokens(unknown.text)
    assert "We found no case with this reference and tracking code." in unknown.text
    assert case.reference not in wrong_code.text


def test_the_same_holds_for_the_link(client, filed):
    case, _code = filed
    wrong_code = client.get(TRACK, {"reference": case.reference, "code": "ABCDEFGHJKMN"})
    unknown = client.get(TRACK, {"reference": "C2601-9999999", "code": "ABCDEFGHJKMN"})
    assert wrong_code.status_code == unknown.status_code
    assert _without_tokens(wrong_code.text) == _without_tokens(unknown.text)


def test_guessing_is_throttled_per_address_even_for_the_right_code(client, filed):
    case, code = filed
    with time_machine.travel("2026-03-02 09:00:00+08:00", tick=False) as clock:
        for n in range(10):
            client.post(TRACK, {"reference": f"C2601-{n:07d}", "code": "ABCDEFGHJKMN"})
        refused = client.post(TRACK, {"reference": case.reference, "code": code})
        assert refused.status_code == 429
        assert "Too many attempts from your connection." in refused.text
        # Another address is not affected; this one may try again after the window.
        _signed_in(client.__class__(REMOTE_ADDR="198.51.100.20"), case, code)
        clock.shift(timedelta(minutes=15, seconds=1))
        _signed_in(client, case, code)


def test_a_good_check_does_not_count_as_a_failure(client, filed):
    case, code = filed
    for _ in range(12):
        _signed_in(client, case, code)


def test_an_empty_form_is_not_counted_and_names_the_missing_fields(client, filed):
    response = client.post(TRACK, {"reference": "", "code": ""})
    assert set(response.context["form"].errors) == {"reference", "code"}


# --- what the customer sees ----------------------------------------------------------------------


def test_the_customer_sees_messages_but_never_internal_notes_nor_staff_names(
    client, filed, bj_agent
):
    case, code = filed
    services.case_add_message(
        actor=bj_agent, case=case, body="Checking with the card centre.", direction="to_customer"
    )
    services.case_add_message(
        actor=bj_agent, case=case, body="Customer sounds upset; VIP.", direction="internal"
    )
    _signed_in(client, case, code)
    text = client.get(_case_url(case)).text
    assert "Checking with the card centre." in text and "Customer service" in text
    assert "VIP" not in text
    assert "Wang" not in text and "Fang" not in text and "bj.agent" not in text


def test_the_status_uses_words_for_customers(client, filed, bj_agent):
    case, code = filed
    services.case_start(actor=bj_agent, case=case)
    services.case_await_customer(actor=bj_agent, case=case, note="Need the statement")
    _signed_in(client, case, code)
    text = client.get(_case_url(case)).text
    assert "Waiting for you" in text and "Awaiting customer" not in text


def test_the_case_page_in_chinese(client, filed):
    case, code = filed
    _signed_in(client, case, code)
    text = client.get(_case_url(case), {"lang": "zh-hans"}).text
    assert 'lang="zh-hans"' in text and "主题" in text


def test_the_case_page_costs_the_same_queries_with_many_messages(
    client, filed, bj_agent, django_assert_max_num_queries
):
    case, code = filed
    _signed_in(client, case, code)
    for n in range(15):
        services.case_add_message(
            actor=bj_agent, case=case, body=f"Update {n}", direction="to_customer"
        )
    with django_assert_max_num_queries(6):
        client.get(_case_url(case))


# --- adding information ----------------------------------------------------------------------------


def test_the_customer_adds_a_message_and_a_file(client, filed):
    case, code = filed
    _signed_in(client, case, code)
    upload = SimpleUploadedFile("statement.pdf", PDF, content_type="application/pdf")
    response = client.post(
        _case_url(case, "public:case_message"),
        {"body": "Here is my statement.", "attachments": upload},
    )
    assert response.status_code == 302
    message = Message.objects.get(direction=MessageDirection.FROM_CUSTOMER)
    assert message.author is None and message.body == "Here is my statement."
    attachment = Attachment.objects.get()
    assert attachment.from_customer and attachment.message == message
    page = client.get(_case_url(case)).text
    assert "Here is my statement." in page and "statement.pdf" in page


def test_information_from_the_customer_resumes_a_case_waiting_for_them(client, filed, bj_agent):
    case, code = filed
    services.case_start(actor=bj_agent, case=case)
    services.case_await_customer(actor=bj_agent, case=case, note="Need the statement")
    _signed_in(client, case, code)
    client.post(_case_url(case, "public:case_message"), {"body": "Attached."})
    case.refresh_from_db()
    assert case.state == CaseState.IN_PROGRESS


def test_a_bad_file_refuses_the_whole_message(client, filed):
    case, code = filed
    _signed_in(client, case, code)
    fake = SimpleUploadedFile("s.pdf", b"\x00\x01\x02binary", content_type="application/pdf")
    response = client.post(
        _case_url(case, "public:case_message"), {"body": "Here.", "attachments": fake}
    )
    assert response.status_code == 200
    assert "is not a PDF, JPEG, PNG or plain-text file" in response.text
    assert not Message.objects.exists() and not Attachment.objects.exists()


# --- answering the final response ----------------------------------------------------------------


def test_accepting_the_response_closes_the_case(client, filed, bj_agent):
    case, code = filed
    _responded(case, bj_agent)
    _signed_in(client, case, code)
    page = client.get(_case_url(case)).text
    assert "We refunded the second fee." in page and "Do you accept our response?" in page
    client.post(_case_url(case, "public:case_answer"), {"accepted": "yes"})
    case.refresh_from_db()
    assert case.state == CaseState.CLOSED and case.customer_accepted is True
    page = client.get(_case_url(case)).text
    assert "Closed" in page and "Do you accept our response?" not in page


def test_rejecting_needs_a_reason(client, filed, bj_agent):
    case, code = filed
    _responded(case, bj_agent)
    _signed_in(client, case, code)
    response = client.post(_case_url(case, "public:case_answer"), {"accepted": "no"})
    assert "Tell us why you do not accept the response." in response.text
    case.refresh_from_db()
    assert case.state == CaseState.RESPONDED


def test_rejecting_the_response_reopens_the_case(client, filed, bj_agent):
    case, code = filed
    _responded(case, bj_agent)
    _signed_in(client, case, code)
    client.post(
        _case_url(case, "public:case_answer"),
        {"accepted": "no", "comment": "Only half of the fee came back."},
    )
    case.refresh_from_db()
    assert case.state == CaseState.REOPENED and case.customer_accepted is False
    assert Event.objects.filter(name="case.reopened", payload__case_id=case.pk).exists()
    assert Message.objects.filter(
        direction=MessageDirection.FROM_CUSTOMER, body="Only half of the fee came back."
    ).exists()
    page = client.get(_case_url(case)).text
    assert "Being handled again" in page and "Do you accept our response?" not in page


def test_there_is_nothing_to_answer_before_a_response(client, filed):
    case, code = filed
    _signed_in(client, case, code)
    client.post(_case_url(case, "public:case_answer"), {"accepted": "yes"}, follow=True)
    case.refresh_from_db()
    assert case.state == CaseState.RECEIVED


def test_a_closed_case_takes_no_more_information(client, filed, bj_agent):
    case, code = filed
    case = _responded(case, bj_agent)
    services.case_customer_answer(case=case, accepted=True)
    _signed_in(client, case, code)
    response = client.post(
        _case_url(case, "public:case_message"), {"body": "One more thing"}, follow=True
    )
    assert "This case is closed." in response.text
    assert not Message.objects.filter(body="One more thing").exists()


def test_forgetting_the_case_on_this_device(client, filed):
    case, code = filed
    _signed_in(client, case, code)
    client.post(_case_url(case, "public:case_leave"))
    assert client.get(_case_url(case)).status_code == 302


# The customer's files ------------------------------------------------------------------------


def _file_url(case, attachment):
    return reverse("public:case_file", args=[case.reference, attachment.pk])


def _staff_file(case, agent, *, direction, name):
    message = services.case_add_message(
        actor=agent, case=case, body="See the attached letter.", direction=direction
    )
    upload = SimpleUploadedFile(name, PDF, content_type="application/pdf")
    return services.case_add_attachment(actor=agent, case=case, upload=upload, message=message)


def test_the_customer_downloads_the_files_they_sent(client, filed):
    case, code = filed
    _signed_in(client, case, code)
    upload = SimpleUploadedFile("statement.pdf", PDF, content_type="application/pdf")
    client.post(_case_url(case, "public:case_message"), {"body": "Mine.", "attachments": upload})
    attachment = Attachment.objects.get()
    assert _file_url(case, attachment) in client.get(_case_url(case)).text
    response = client.get(_file_url(case, attachment))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert "statement.pdf" in response["Content-Disposition"]
    assert "no-store" in response["Cache-Control"]


def test_the_customer_downloads_a_file_sent_to_them_but_never_an_internal_one(
    client, filed, bj_agent
):
    case, code = filed
    sent = _staff_file(case, bj_agent, direction=MessageDirection.TO_CUSTOMER, name="letter.pdf")
    internal = _staff_file(case, bj_agent, direction=MessageDirection.INTERNAL, name="memo.pdf")
    _signed_in(client, case, code)
    page = client.get(_case_url(case)).text
    assert "Files we sent you" in page and "letter.pdf" in page and "memo.pdf" not in page
    assert client.get(_file_url(case, sent)).status_code == 200
    assert client.get(_file_url(case, internal)).status_code == 404


def test_a_browser_that_does_not_follow_the_case_gets_no_file(client, filed, bj_agent):
    case, _code = filed
    sent = _staff_file(case, bj_agent, direction=MessageDirection.TO_CUSTOMER, name="letter.pdf")
    response = client.get(_file_url(case, sent))
    assert response.status_code == 302 and response["Location"].startswith(TRACK)


def test_a_file_of_another_case_is_not_found_through_this_one(client, filed, bj_agent, tree):
    case, code = filed
    other = services.case_create(
        actor=None,
        kind="complaint",
        channel="app",
        subject="Another",
        description="Another complaint.",
        contact_name="Han Mei",
        language="en",
        department=tree["bj_team"],
    ).case
    theirs = _staff_file(other, bj_agent, direction=MessageDirection.TO_CUSTOMER, name="x.pdf")
    _signed_in(client, case, code)
    assert client.get(_file_url(case, theirs)).status_code == 404
