"""Customer pages: scoped list with search and filters, detail, create, edit — and personal
data that is encrypted at rest, found only by exact value, masked on every page and revealed
only on an explicit, audited request by a role that needs it."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from servicecharter.accounts.choices import Role
from servicecharter.core import pii
from servicecharter.core.models import AuditEntry
from servicecharter.org.choices import CustomerSegment, CustomerTier
from servicecharter.org.forms import CN_ID_CHECK, CN_ID_WEIGHTS
from servicecharter.org.models import Customer
from servicecharter.org.services import customer_create
from tests.conftest import make_user


def _sign_in(client, user) -> None:
    """Sign in as ``user``; roles that need a second factor count as enrolled."""
    if user.totp_confirmed_at is None:
        user.totp_confirmed_at = timezone.now()
        user.save(update_fields=["totp_confirmed_at"])
    client.force_login(user)


def cn_id(first17: str) -> str:
    """A resident identity number with a correct check digit."""
    total = sum(int(d) * w for d, w in zip(first17, CN_ID_WEIGHTS, strict=True))
    return first17 + CN_ID_CHECK[total % 11]


BJ_ID = cn_id("11010119900307123")
SH_ID = cn_id("31010419851120456")
BJ_PHONE = "13812345678"


def _customer(department, number, name, **fields):
    fields.setdefault("segment", CustomerSegment.RETAIL)
    return customer_create(customer_number=number, name=name, home_department=department, **fields)


@pytest.fixture
def customers(tree):
    return {
        "bj": _customer(
            tree["bj_team"],
            "C001",
            "刘洋",
            id_number=BJ_ID,
            phone=BJ_PHONE,
            address="北京市东城区景山前街4号",
            tier=CustomerTier.GOLD,
        ),
        "bj_senior": _customer(
            tree["bj"],
            "C002",
            "周老先生",
            segment=CustomerSegment.SENIOR,
            is_vulnerable=True,
            vulnerability_note="Hearing impaired",
        ),
        "sh": _customer(tree["sh_team"], "C100", "孙丽", id_number=SH_ID, phone="13900001111"),
    }


@pytest.fixture
def bj_complaints_officer(tree):
    return make_user("bj.complaints", Role.COMPLAINTS_OFFICER, tree["bj"])


def _numbers(response) -> set[str]:
    return {customer.customer_number for customer, _ in response.context["rows"]}


# Scope ----------------------------------------------------------------------------------


def test_a_supervisor_lists_only_their_branchs_customers(client, customers, bj_supervisor):
    _sign_in(client, bj_supervisor)
    response = client.get(reverse("org:customer_list"))
    assert _numbers(response) == {"C001", "C002"}
    assert "孙丽" not in response.content.decode()


def test_another_branchs_customer_is_not_found_by_guessing_its_id(
    client, customers, bj_supervisor, sh_supervisor
):
    _sign_in(client, bj_supervisor)
    assert client.get(reverse("org:customer_detail", args=[customers["sh"].pk])).status_code == 404
    assert client.get(reverse("org:customer_edit", args=[customers["sh"].pk])).status_code == 404
    _sign_in(client, sh_supervisor)
    assert client.get(reverse("org:customer_detail", args=[customers["sh"].pk])).status_code == 200


def test_someone_without_customer_access_is_refused(client, customers, stranger):
    _sign_in(client, stranger)
    assert client.get(reverse("org:customer_list")).status_code == 403
    assert client.get(reverse("org:customer_detail", args=[customers["bj"].pk])).status_code == 403


def test_filters_by_segment_tier_and_vulnerability(client, customers, bj_supervisor):
    _sign_in(client, bj_supervisor)
    url = reverse("org:customer_list")
    assert _numbers(client.get(url, {"segment": CustomerSegment.SENIOR})) == {"C002"}
    assert _numbers(client.get(url, {"tier": CustomerTier.GOLD})) == {"C001"}
    assert _numbers(client.get(url, {"vulnerable": "yes"})) == {"C002"}
    assert _numbers(client.get(url, {"vulnerable": "no"})) == {"C001"}


# Search ---------------------------------------------------------------------------------


def test_exact_search_by_identity_number_finds_the_customer(client, customers, bj_supervisor):
    _sign_in(client, bj_supervisor)
    url = reverse("org:customer_list")
    assert _numbers(client.get(url, {"q": BJ_ID})) == {"C001"}
    spaced = f"{BJ_ID[:6]} {BJ_ID[6:14]} {BJ_ID[14:].lower()}"
    assert _numbers(client.get(url, {"q": spaced})) == {"C001"}


def test_exact_search_by_phone_finds_the_customer(client, customers, bj_supervisor):
    _sign_in(client, bj_supervisor)
    assert _numbers(client.get(reverse("org:customer_list"), {"q": "138-1234-5678"})) == {"C001"}


@pytest.mark.parametrize("partial", [BJ_ID[:6], BJ_ID[-4:], BJ_ID[:-1], "1381234", "5678"])
def test_part_of_a_number_matches_nobody(client, customers, bj_supervisor, partial):
    _sign_in(client, bj_supervisor)
    assert _numbers(client.get(reverse("org:customer_list"), {"q": partial})) == set()


def test_search_by_number_stays_inside_the_scope(client, customers, bj_supervisor):
    _sign_in(client, bj_supervisor)
    assert _numbers(client.get(reverse("org:customer_list"), {"q": SH_ID})) == set()


def test_search_by_name_and_customer_number(client, customers, bj_supervisor):
    _sign_in(client, bj_supervisor)
    url = reverse("org:customer_list")
    assert _numbers(client.get(url, {"q": "刘"})) == {"C001"}
    assert _numbers(client.get(url, {"q": "c002"})) == {"C002"}


def test_searching_never_decrypts_the_table(client, customers, bj_supervisor, monkeypatch):
    decrypted = []
    original = pii.decrypt
    monkeypatch.setattr(pii, "decrypt", lambda cipher: decrypted.append(cipher) or original(cipher))
    _sign_in(client, bj_supervisor)
    response = client.get(reverse("org:customer_list"), {"q": BJ_ID})
    # Only the rows shown are decrypted (to be masked): one match, three fields.
    assert _numbers(response) == {"C001"}
    assert len(decrypted) == 3


# Masking and reveal ---------------------------------------------------------------------


def test_personal_data_is_masked_by_default_everywhere(client, customers, compliance_officer):
    _sign_in(client, compliance_officer)
    detail = client.get(reverse("org:customer_detail", args=[customers["bj"].pk]))
    listing = client.get(reverse("org:customer_list"))
    for response in (detail, listing):
        html = response.content.decode()
        assert BJ_ID not in html
        assert BJ_PHONE not in html
        assert "景山前街" not in html
    assert "138****5678" in listing.content.decode()
    html = detail.content.decode()
    assert f"110***********{BJ_ID[-4:]}" in html
    assert "138****5678" in html
    assert not AuditEntry.objects.filter(action="pii.reveal").exists()


def test_the_database_holds_no_personal_data_in_clear(customers):
    row = Customer.objects.filter(pk=customers["bj"].pk).values().get()
    stored = " ".join(str(value) for value in row.values())
    assert BJ_ID not in stored and BJ_PHONE not in stored and "景山前街" not in stored
    assert row["id_number_digest"] == pii.digest(BJ_ID)


def test_a_reveal_shows_the_full_value_and_is_audited(client, customers, compliance_officer):
    _sign_in(client, compliance_officer)
    customer = customers["bj"]
    detail = client.get(reverse("org:customer_detail", args=[customer.pk])).content.decode()
    reveal_url = reverse("org:customer_reveal", args=[customer.pk, "id_number"])
    assert f'hx-post="{reveal_url}"' in detail
    response = client.post(reveal_url, headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = response.content.decode()
    assert BJ_ID in html and "<html" not in html
    assert BJ_PHONE not in html
    assert "no-store" in response["Cache-Control"]
    entry = AuditEntry.objects.get(action="pii.reveal")
    assert entry.object_id == str(customer.pk)
    assert entry.object_type == "org.customer"
    assert entry.changes == {"field": "id_number"}
    assert entry.actor_id == compliance_officer.pk
    assert BJ_ID not in str(entry.changes) + entry.object_repr


def test_a_reveal_without_javascript_shows_the_detail_page(client, customers, compliance_officer):
    _sign_in(client, compliance_officer)
    response = client.post(reverse("org:customer_reveal", args=[customers["bj"].pk, "phone"]))
    assert response.status_code == 200
    html = response.content.decode()
    assert BJ_PHONE in html and BJ_ID not in html
    assert AuditEntry.objects.filter(action="pii.reveal", changes__field="phone").count() == 1


def test_a_reveal_is_refused_without_the_capability(client, customers, bj_supervisor):
    _sign_in(client, bj_supervisor)
    detail = client.get(reverse("org:customer_detail", args=[customers["bj"].pk]))
    assert "/reveal/" not in detail.content.decode()
    response = client.post(
        reverse("org:customer_reveal", args=[customers["bj"].pk, "id_number"]),
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 403
    assert BJ_ID not in response.content.decode()
    assert not AuditEntry.objects.filter(action="pii.reveal").exists()


def test_a_reveal_outside_the_scope_is_not_found(client, customers, bj_complaints_officer):
    _sign_in(client, bj_complaints_officer)
    response = client.post(reverse("org:customer_reveal", args=[customers["sh"].pk, "id_number"]))
    assert response.status_code == 404
    assert not AuditEntry.objects.filter(action="pii.reveal").exists()


def test_a_reveal_needs_a_post_and_a_known_field(client, customers, compliance_officer):
    _sign_in(client, compliance_officer)
    pk = customers["bj"].pk
    assert client.get(reverse("org:customer_reveal", args=[pk, "id_number"])).status_code == 405
    assert client.post(reverse("org:customer_reveal", args=[pk, "password"])).status_code == 404
    assert not AuditEntry.objects.filter(action="pii.reveal").exists()


# Create and edit -----------------------------------------------------------------------


def _form_data(tree, **overrides):
    data = {
        "customer_number": "C300",
        "name": "何静",
        "home_department": tree["bj_team"].pk,
        "segment": CustomerSegment.AFFLUENT,
        "tier": CustomerTier.SILVER,
        "vulnerability_note": "",
        "preferred_language": "zh-hans",
        "preferred_channel": "phone",
        "email": "",
        "id_number": cn_id("11010819920101567"),
        "phone": "13700001234",
        "address": "北京市海淀区中关村大街1号",
    }
    data.update(overrides)
    return data


def test_the_agent_cannot_create_or_edit_customers(client, tree, customers, bj_agent):
    _sign_in(client, bj_agent)
    assert client.get(reverse("org:customer_create")).status_code == 403
    response = client.post(reverse("org:customer_create"), _form_data(tree))
    assert response.status_code == 403
    response = client.post(
        reverse("org:customer_edit", args=[customers["bj"].pk]), _form_data(tree, name="X")
    )
    assert response.status_code == 403
    assert not Customer.objects.filter(customer_number="C300").exists()
    customers["bj"].refresh_from_db()
    assert customers["bj"].name == "刘洋"


def test_a_supervisor_creates_a_customer_with_encrypted_personal_data(client, tree, bj_supervisor):
    _sign_in(client, bj_supervisor)
    data = _form_data(tree)
    response = client.post(reverse("org:customer_create"), data)
    assert response.status_code == 302
    customer = Customer.objects.get(customer_number="C300")
    assert pii.decrypt(customer.id_number_cipher) == data["id_number"]
    assert customer.phone_digest == pii.digest("13700001234")
    assert data["id_number"] not in customer.id_number_cipher
    entry = AuditEntry.objects.get(action="customer.create")
    assert data["id_number"] not in str(entry.changes)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id_number", cn_id("11010819920101567")[:-1] + "0"),  # wrong check digit
        ("id_number", "12#45"),
        ("phone", "call me"),
        ("customer_number", "C001"),
        ("segment", "royalty"),
        ("email", "not-an-address"),
    ],
)
def test_bad_input_is_shown_beside_the_field_and_nothing_is_created(
    client, tree, customers, bj_supervisor, field, value
):
    _sign_in(client, bj_supervisor)
    before = Customer.objects.count()
    response = client.post(reverse("org:customer_create"), _form_data(tree, **{field: value}))
    assert response.status_code == 200
    assert response.context["form"].errors[field]
    assert f'id="id_{field}_error"' in response.content.decode()
    assert Customer.objects.count() == before


def test_a_supervisor_cannot_place_a_customer_in_another_branch(client, tree, bj_supervisor):
    _sign_in(client, bj_supervisor)
    response = client.post(
        reverse("org:customer_create"), _form_data(tree, home_department=tree["sh"].pk)
    )
    assert response.status_code == 200
    assert response.context["form"].errors["home_department"]
    assert not Customer.objects.filter(customer_number="C300").exists()


def test_the_edit_form_never_shows_stored_personal_data(client, tree, customers, bj_supervisor):
    _sign_in(client, bj_supervisor)
    html = client.get(reverse("org:customer_edit", args=[customers["bj"].pk])).content.decode()
    assert BJ_ID not in html and BJ_PHONE not in html and "景山前街" not in html
    assert 'placeholder="138****5678"' in html


def test_editing_with_blank_personal_fields_keeps_them(client, tree, customers, bj_supervisor):
    _sign_in(client, bj_supervisor)
    customer = customers["bj"]
    response = client.post(
        reverse("org:customer_edit", args=[customer.pk]),
        _form_data(
            tree,
            customer_number="C001",
            name="刘洋洋",
            id_number="",
            phone="13811112222",
            address="",
        ),
    )
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.name == "刘洋洋"
    assert pii.decrypt(customer.id_number_cipher) == BJ_ID
    assert pii.decrypt(customer.phone_cipher) == "13811112222"
    assert customer.phone_digest == pii.digest("13811112222")
    assert "景山前街" in pii.decrypt(customer.address_cipher)


# Queries --------------------------------------------------------------------------------


def test_the_list_runs_a_fixed_number_of_queries(
    client, tree, compliance_officer, django_assert_num_queries
):
    for i in range(5):
        _customer(tree["bj_team"], f"Q{i:03d}", f"客户{i}", phone=f"1380000{i:04d}")
    _sign_in(client, compliance_officer)
    url = reverse("org:customer_list")
    with CaptureQueriesContext(connection) as few:
        assert client.get(url, {"segment": CustomerSegment.RETAIL}).status_code == 200
    for i in range(5, 50):
        _customer(tree["sh_team"], f"Q{i:03d}", f"客户{i}", phone=f"1380000{i:04d}")
    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get(url, {"segment": CustomerSegment.RETAIL})
    assert len(response.context["rows"]) == 25
