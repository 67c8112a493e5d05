"""The staff's fast intake form: find the customer, record the case in the right queue, and
refuse people and queues outside the user's scope."""

import pytest
from django.contrib.messages import get_messages
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from servicecharter.accounts.choices import Role
from servicecharter.cases.choices import CaseKind
from servicecharter.cases.models import Attachment, Case, RoutingRule
from servicecharter.core import pii
from servicecharter.org.choices import Channel, CustomerSegment
from servicecharter.org.services import business_type_create, customer_create, product_create
from tests.conftest import make_user

INTAKE = reverse("cases:intake")
SEARCH = reverse("cases:customer_search")
PDF = b"%PDF-1.4\n1 0 obj << >> endobj\n"


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


@pytest.fixture
def li_lei(tree):
    return customer_create(
        customer_number="C0001",
        name="Li Lei",
        home_department=tree["bj_team"],
        segment=CustomerSegment.RETAIL,
        phone="13812345678",
        id_number="110101199003077578",
        email="li.lei@example.com",
    )


@pytest.fixture
def shanghai_customer(tree):
    return customer_create(
        customer_number="C0900",
        name="Han Meimei",
        home_department=tree["sh_team"],
        segment=CustomerSegment.RETAIL,
        phone="13900000000",
    )


def _form(**overrides) -> dict:
    data = {
        "kind": CaseKind.COMPLAINT,
        "channel": Channel.PHONE,
        "customer": "",
        "contact_name": "",
        "contact_phone": "",
        "contact_email": "",
        "language": "zh-hans",
        "product": "",
        "money_at_stake": "",
        "subject": "Card fee charged twice",
        "description": "The annual fee was charged twice this month.",
        "queue": "",
        "jurisdiction": "CN",
    }
    data.update(overrides)
    return data


# --- finding the customer ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "q", ["Li L", "C0001", "13812345678", "138 1234 5678", "110101199003077578"]
)
def test_the_search_finds_the_customer_by_name_number_phone_or_id(client, bj_agent, li_lei, q):
    client.force_login(bj_agent)
    response = client.get(SEARCH, {"customer_q": q})
    assert response.status_code == 200
    assert f'value="{li_lei.pk}"' in response.text


def test_search_results_are_masked(client, bj_agent, li_lei):
    client.force_login(bj_agent)
    text = client.get(SEARCH, {"customer_q": "13812345678"}).text
    assert "138****5678" in text and "110***********7578" in text
    assert "13812345678" not in text.replace('value="13812345678"', "")
    assert "110101199003077578" not in text


def test_part_of_a_phone_number_finds_nobody(client, bj_agent, li_lei):
    client.force_login(bj_agent)
    response = client.get(SEARCH, {"customer_q": "1381234"})
    assert f'value="{li_lei.pk}"' not in response.text


def test_the_search_waits_for_two_characters(client, bj_agent, li_lei):
    client.force_login(bj_agent)
    response = client.get(SEARCH, {"customer_q": "L"})
    assert f'value="{li_lei.pk}"' not in response.text


def test_the_search_never_shows_a_customer_outside_the_scope(
    client, sh_supervisor, li_lei, shanghai_customer
):
    client.force_login(sh_supervisor)
    assert f'value="{li_lei.pk}"' not in client.get(SEARCH, {"customer_q": "Li Lei"}).text
    assert f'value="{li_lei.pk}"' not in client.get(SEARCH, {"customer_q": "13812345678"}).text
    found = client.get(SEARCH, {"customer_q": "Han"}).text
    assert f'value="{shanghai_customer.pk}"' in found


def test_the_search_costs_the_same_queries_for_one_match_or_many(client, bj_agent, tree):
    from django.db import connection

    client.force_login(bj_agent)

    def customers(count: int, prefix: str):
        for n in range(count):
            customer_create(
                customer_number=f"{prefix}{n:03d}",
                name=f"{prefix} Wang {n}",
                home_department=tree["bj_team"],
                segment=CustomerSegment.RETAIL,
                phone=f"1380000{n:04d}",
            )

    customers(1, "Few")
    customers(14, "Many")
    counts = []
    for q in ("Few", "Many"):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(SEARCH, {"customer_q": q})
        assert response.status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]
    # Session, user, grants, customers; then the session's save (savepoint, update, release).
    assert counts[0] <= 7
    assert response.text.count('name="customer" value="') == 10 + 1  # ten shown, and "none"


def test_the_search_works_without_javascript(client, bj_agent, li_lei):
    client.force_login(bj_agent)
    response = client.get(INTAKE, {"customer_q": "Li Lei", "subject": "Fee"})
    assert f'value="{li_lei.pk}"' in response.text
    assert 'value="Fee"' in response.text  # what was typed comes back


# --- recording -----------------------------------------------------------------------------------


def test_an_agent_records_a_phone_complaint_for_a_known_customer(
    client, bj_agent, li_lei, card, tree, django_capture_on_commit_callbacks
):
    client.force_login(bj_agent)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            INTAKE,
            _form(
                customer=li_lei.pk,
                product=card.pk,
                money_at_stake="1200.50",
                queue=tree["bj_team"].pk,
            ),
        )
    case = Case.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("cases:case_detail", args=[case.pk])
    assert case.customer == li_lei and case.contact_name == "Li Lei"
    assert case.channel == Channel.PHONE and case.kind == CaseKind.COMPLAINT
    assert case.department == tree["bj_team"]
    assert case.business_type == card.business_type
    assert str(case.money_at_stake) == "1200.50"
    notice = [str(message) for message in get_messages(response.wsgi_request)]
    assert any(case.reference in text for text in notice)
    # The customer is told by mail, with a link that opens the case.
    assert [message.to for message in mail.outbox] == [["li.lei@example.com"]]
    assert case.reference in mail.outbox[0].body


def test_the_tracking_code_is_shown_to_the_agent_once_and_opens_the_case(
    client, bj_agent, li_lei, tree
):
    from servicecharter.cases.selectors import case_for_tracking

    client.force_login(bj_agent)
    response = client.post(INTAKE, _form(customer=li_lei.pk, queue=tree["bj_team"].pk))
    case = Case.objects.get()
    notice = " ".join(str(message) for message in get_messages(response.wsgi_request))
    code = notice.split("tracking code ")[1].split(" ")[0]
    assert case_for_tracking(reference=case.reference, code=code) == case


def test_an_unknown_person_is_recorded_by_name_and_contacts(client, bj_agent, tree):
    client.force_login(bj_agent)
    response = client.post(
        INTAKE,
        _form(
            channel=Channel.BRANCH,
            contact_name="Zhang Wei",
            contact_phone="139-0000-1111",
            queue=tree["bj_team"].pk,
        ),
    )
    assert response.status_code == 302
    case = Case.objects.get()
    assert case.customer is None and case.contact_name == "Zhang Wei"
    assert pii.decrypt(case.contact_phone_cipher) == "13900001111"
    assert "13900001111" not in case.contact_phone_cipher


def test_it_asks_for_a_customer_or_a_name_and_saves_nothing(client, bj_agent, tree):
    client.force_login(bj_agent)
    response = client.post(INTAKE, _form(queue=tree["bj_team"].pk))
    assert response.status_code == 200
    assert "Choose the customer, or type the name of the person." in response.text
    assert not Case.objects.exists()


def test_the_queue_defaults_to_the_users_own_department(client, bj_agent, tree):
    client.force_login(bj_agent)
    form = client.get(INTAKE).context["form"]
    assert form["queue"].value() == tree["bj_team"].pk
    assert {d.code for d in form.fields["queue"].queryset} == {"BJ-T1"}


def test_routing_rules_send_the_case_to_their_queue(client, bj_agent, tree):
    RoutingRule.objects.create(
        name="Complaints go to Shanghai", kind=CaseKind.COMPLAINT, department=tree["sh"]
    )
    client.force_login(bj_agent)
    response = client.post(INTAKE, _form(contact_name="Zhang Wei", queue=tree["bj_team"].pk))
    case = Case.objects.get()
    assert case.department == tree["sh"]
    # The agent cannot see that queue: the page says where it went instead of a 404.
    assert response["Location"] == INTAKE
    notice = " ".join(str(message) for message in get_messages(response.wsgi_request))
    assert case.reference in notice and "Shanghai Branch" in notice


def test_in_chinese_the_case_language_defaults_to_chinese(client, tree):
    agent = make_user("zh.agent", Role.AGENT, tree["bj_team"], language="zh-hans")
    client.force_login(agent)
    page = client.get(INTAKE)
    assert page.context["form"]["language"].value() == "zh-hans"
    assert 'lang="zh-hans"' in page.text
    response = client.post(INTAKE, _form(contact_name="王伟", subject="", queue=tree["bj_team"].pk))
    assert "此项为必填项。" in response.text  # Django's own message, in Chinese
    client.post(INTAKE, _form(contact_name="王伟", queue=tree["bj_team"].pk))
    assert Case.objects.get().language == "zh-hans"


def test_an_english_case_is_recorded_in_english(client, bj_agent, tree):
    client.force_login(bj_agent)
    client.post(INTAKE, _form(contact_name="John", language="en", queue=tree["bj_team"].pk))
    assert Case.objects.get().language == "en"


# --- attachments ---------------------------------------------------------------------------------


def test_attachments_are_stored_with_the_case(client, bj_agent, tree):
    client.force_login(bj_agent)
    upload = SimpleUploadedFile("statement.pdf", PDF, content_type="application/pdf")
    client.post(
        INTAKE, {**_form(contact_name="Zhang Wei", queue=tree["bj_team"].pk), "attachments": upload}
    )
    attachment = Attachment.objects.get()
    assert attachment.case == Case.objects.get()
    assert attachment.content_type == "application/pdf" and not attachment.from_customer


def test_a_file_that_is_not_what_it_claims_is_refused_and_nothing_is_saved(
    client, bj_agent, tree, media
):
    client.force_login(bj_agent)
    fake = SimpleUploadedFile("invoice.pdf", b"MZ\x90\x00\x03\x00", content_type="application/pdf")
    response = client.post(
        INTAKE, {**_form(contact_name="Zhang Wei", queue=tree["bj_team"].pk), "attachments": fake}
    )
    assert response.status_code == 200
    assert "is not a PDF, JPEG, PNG or plain-text file" in response.text
    assert not Case.objects.exists() and not Attachment.objects.exists()
    assert not media.exists() or not any(media.rglob("*.*"))


# --- who may use it --------------------------------------------------------------------------------


def test_a_supervisor_of_another_branch_cannot_record_into_a_queue_outside_their_scope(
    client, sh_supervisor, tree
):
    client.force_login(sh_supervisor)
    response = client.post(INTAKE, _form(contact_name="Zhang Wei", queue=tree["bj_team"].pk))
    assert response.status_code == 200
    assert response.context["form"].errors["queue"]
    assert not Case.objects.exists()


def test_a_customer_outside_the_scope_cannot_be_chosen(client, sh_supervisor, li_lei, tree):
    client.force_login(sh_supervisor)
    response = client.post(INTAKE, _form(customer=li_lei.pk, queue=tree["sh"].pk))
    assert response.context["form"].errors["customer"]
    assert not Case.objects.exists()


def test_a_user_without_a_role_is_refused(client, stranger, li_lei, tree):
    client.force_login(stranger)
    assert client.get(INTAKE).status_code == 403
    assert client.get(SEARCH, {"customer_q": "Li Lei"}).status_code == 403
    response = client.post(INTAKE, _form(contact_name="Zhang Wei", queue=tree["bj_team"].pk))
    assert response.status_code == 403
    assert not Case.objects.exists()


def test_an_auditor_who_may_only_view_cases_is_refused(client, tree):
    auditor = make_user("auditor", Role.QUALITY_AUDITOR, tree["head"])
    client.force_login(auditor)
    assert client.get(INTAKE).status_code == 403


def test_a_visitor_who_is_not_signed_in_is_sent_to_sign_in(client, tree):
    response = client.get(INTAKE)
    assert response.status_code == 302 and reverse("accounts:login") in response["Location"]


def test_a_single_match_is_chosen_at_once(client, bj_agent, li_lei):
    client.force_login(bj_agent)
    text = client.get(SEARCH, {"customer_q": "13812345678"}).text
    assert f'value="{li_lei.pk}" id="customer-{li_lei.pk}" checked' in text


def test_the_menu_offers_the_form_only_to_those_who_handle_cases(bj_agent, stranger, admin_user):
    from servicecharter.accounts.navigation import menu_for

    assert "cases:intake" in {item.url_name for item in menu_for(bj_agent)}
    assert "cases:intake" not in {item.url_name for item in menu_for(stranger)}
    assert "cases:intake" not in {item.url_name for item in menu_for(admin_user)}
