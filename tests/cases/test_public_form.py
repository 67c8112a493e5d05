"""The customer's feedback form, without an account: both languages, a receipt shown once, a
mail with the tracking link, and what it refuses (robots, floods, files that are not allowed)."""

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from servicecharter.cases.choices import CaseKind
from servicecharter.cases.models import Attachment, Case, RoutingRule
from servicecharter.cases.selectors import case_for_tracking
from servicecharter.core.models import ThrottleHit
from servicecharter.org.services import business_type_create, product_create, product_update

FORM = reverse("public:form")
THANKS = reverse("public:thanks")
PDF = b"%PDF-1.4\n1 0 obj << >> endobj\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def card(db):
    cards = business_type_create(code="B01", name_en="Bank cards", name_zh="银行卡")
    return product_create(
        code="CC-GOLD", name_en="Gold credit card", name_zh="金卡", business_type=cards
    )


def _form(**overrides) -> dict:
    data = {
        "kind": CaseKind.COMPLAINT,
        "product": "",
        "contact_name": "Li Lei",
        "contact_email": "",
        "contact_phone": "",
        "subject": "Card fee charged twice",
        "description": "The annual fee was charged twice this month.",
        "website": "",
    }
    data.update(overrides)
    return data


def _receipt(client) -> dict:
    return client.get(THANKS).context["receipt"]


# --- the happy path, in both languages ---------------------------------------------------------


def test_a_customer_files_in_english_and_gets_a_reference_and_a_code(client, tree, card):
    page = client.get(FORM, {"lang": "en"})
    assert page.status_code == 200 and 'lang="en"' in page.text
    assert "Gold credit card" in page.text
    response = client.post(FORM, _form(product=card.pk, contact_phone="138 1234 5678"))
    assert response.status_code == 302 and response["Location"] == THANKS
    case = Case.objects.get()
    receipt = _receipt(client)
    assert receipt["reference"] == case.reference
    assert case_for_tracking(reference=case.reference, code=receipt["code"]) == case
    assert case.language == "en" and case.customer is None and case.contact_name == "Li Lei"
    assert case.business_type == card.business_type
    assert case.department == tree["head"]  # no routing rule: the head office
    assert case.timeline.get().actor is None


def test_the_code_is_shown_only_once(client, tree):
    client.post(FORM, _form())
    first = client.get(THANKS)
    assert first.context["receipt"]["code"] in first.text
    again = client.get(THANKS)
    assert again.context["receipt"] is None
    assert first.context["receipt"]["code"] not in again.text


def test_a_customer_files_in_chinese_and_the_case_is_in_chinese(client, tree):
    page = client.get(FORM, {"lang": "zh-hans"})
    assert 'lang="zh-hans"' in page.text and "主题" in page.text  # "Subject"
    # The choice sticks for the next request (a cookie), without an account.
    client.post(
        FORM, _form(contact_name="李雷", subject="年费重复扣取", description="本月年费扣了两次。")
    )
    case = Case.objects.get()
    assert case.language == "zh-hans"
    assert 'lang="zh-hans"' in client.get(THANKS).text


def test_the_language_switch_works_without_an_account(client, tree):
    page = client.get(FORM)
    assert f'href="{FORM}?lang=zh-hans"' in page.text
    assert f'href="{FORM}?lang=en"' in page.text


def test_routing_rules_choose_the_queue(client, tree):
    RoutingRule.objects.create(name="Web to Beijing", department=tree["bj"])
    client.post(FORM, _form())
    assert Case.objects.get().department == tree["bj"]


def test_only_active_products_are_offered(client, tree, card):
    retired = product_create(
        code="OLD", name_en="Retired card", name_zh="旧卡", business_type=card.business_type
    )
    product_update(product=retired, is_active=False)
    text = client.get(FORM).text
    assert "Gold credit card" in text and "Retired card" not in text


# --- mail ----------------------------------------------------------------------------------------


def test_the_customer_is_mailed_the_reference_and_a_link_in_their_language(
    client, tree, django_capture_on_commit_callbacks
):
    client.get(FORM, {"lang": "zh-hans"})
    with django_capture_on_commit_callbacks(execute=True):
        client.post(FORM, _form(contact_email="li.lei@example.com"))
    case = Case.objects.get()
    code = _receipt(client)["code"]
    [message] = mail.outbox
    assert message.to == ["li.lei@example.com"] and case.reference in message.subject
    link = next(line for line in message.body.splitlines() if "/feedback/track/" in line)
    query = parse_qs(urlsplit(link).query)
    assert query == {"reference": [case.reference], "code": [code], "lang": ["zh-hans"]}
    # The link opens the case in a browser that never saw the form.
    from django.test import Client

    stranger_browser = Client()
    response = stranger_browser.get(link, follow=True)
    assert response.status_code == 200 and case.subject in response.text


def test_no_email_no_mail(client, tree, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(FORM, _form())
    assert mail.outbox == []


# --- refusals ------------------------------------------------------------------------------------


def test_a_robot_filling_the_honeypot_sees_success_and_nothing_is_stored(
    client, tree, django_capture_on_commit_callbacks
):
    upload = SimpleUploadedFile("a.pdf", PDF, content_type="application/pdf")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            FORM,
            {
                **_form(website="http://spam.example", contact_email="x@example.com"),
                "attachments": upload,
            },
        )
    assert response.status_code == 302 and response["Location"] == THANKS
    receipt = _receipt(client)
    assert receipt["reference"].startswith("C") and len(receipt["code"]) == 12
    assert not Case.objects.exists() and not Attachment.objects.exists()
    assert mail.outbox == []


def test_the_honeypot_is_hidden_from_people(client, tree):
    text = client.get(FORM).text
    assert 'class="hp-field" aria-hidden="true"' in text
    assert 'name="website"' in text and 'tabindex="-1"' in text


def test_a_sixth_form_within_an_hour_from_one_address_is_refused(client, tree):
    with time_machine.travel("2026-03-02 09:00:00+08:00", tick=False) as clock:
        for _ in range(5):
            assert client.post(FORM, _form()).status_code == 302
        refused = client.post(FORM, _form())
        assert refused.status_code == 429
        assert "Several forms have already been sent from your connection" in refused.text
        assert Case.objects.count() == 5
        # Another address is not affected; the same one may send again an hour later.
        assert client.post(FORM, _form(), REMOTE_ADDR="198.51.100.20").status_code == 302
        clock.shift(timedelta(hours=1, seconds=1))
        assert client.post(FORM, _form()).status_code == 302
    assert "127.0.0.1" not in {hit.key for hit in ThrottleHit.objects.all()}


def test_a_file_that_is_not_an_allowed_type_is_refused_and_nothing_is_saved(client, tree, media):
    fake = SimpleUploadedFile("photo.png", b"MZ\x90\x00\x03\x00\x00", content_type="image/png")
    response = client.post(FORM, {**_form(), "attachments": fake})
    assert response.status_code == 200
    assert "“photo.png” is not a PDF, JPEG, PNG or plain-text file." in response.text
    assert not Case.objects.exists() and not Attachment.objects.exists()
    assert not media.exists() or not any(media.rglob("*.*"))


def test_a_file_too_large_is_refused_and_nothing_is_saved(client, tree):
    big = SimpleUploadedFile("notes.txt", b"a" * (5 * 1024 * 1024 + 1), content_type="text/plain")
    response = client.post(FORM, {**_form(), "attachments": big})
    assert "“notes.txt” is larger than 5 MB." in response.text
    assert not Case.objects.exists() and not Attachment.objects.exists()


def test_more_than_three_files_are_refused(client, tree):
    files = [SimpleUploadedFile(f"p{n}.pdf", PDF, content_type="application/pdf") for n in range(4)]
    response = client.post(FORM, {**_form(), "attachments": files})
    assert "Attach at most 3 files." in response.text
    assert not Case.objects.exists()


def test_up_to_three_allowed_files_are_kept_as_the_customers(client, tree):
    files = [
        SimpleUploadedFile("statement.pdf", PDF, content_type="application/pdf"),
        SimpleUploadedFile("screen.png", PNG, content_type="image/png"),
        SimpleUploadedFile("notes.txt", "年费 twice".encode(), content_type="text/plain"),
    ]
    client.post(FORM, {**_form(), "attachments": files})
    case = Case.objects.get()
    kept = {(a.name, a.content_type, a.from_customer) for a in case.attachments.all()}
    assert kept == {
        ("statement.pdf", "application/pdf", True),
        ("screen.png", "image/png", True),
        ("notes.txt", "text/plain", True),
    }


def test_missing_fields_are_named_beside_them_and_nothing_is_saved(client, tree):
    response = client.post(FORM, _form(contact_name="", subject="", contact_email="not-an-email"))
    errors = response.context["form"].errors
    assert set(errors) == {"contact_name", "subject", "contact_email"}
    assert not Case.objects.exists()
