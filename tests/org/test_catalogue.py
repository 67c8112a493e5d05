"""The JR/T 0169-2018 business-type catalogue and the default products, and their pages."""

import pytest
from django.urls import reverse
from django.utils import timezone

from servicecharter.accounts.choices import Role
from servicecharter.core.models import AuditEntry
from servicecharter.org.catalogue import BUSINESS_TYPES, PRODUCTS, load_catalogue
from servicecharter.org.models import BusinessType, Product
from tests.conftest import make_user


def _sign_in(client, user) -> None:
    """Sign in as ``user``; roles that need a second factor count as enrolled."""
    if user.totp_confirmed_at is None:
        user.totp_confirmed_at = timezone.now()
        user.save(update_fields=["totp_confirmed_at"])
    client.force_login(user)


@pytest.fixture
def catalogue(db):
    load_catalogue()


def test_loading_creates_the_catalogue_through_audited_services(db):
    counts = load_catalogue()
    assert counts == {"business_types": len(BUSINESS_TYPES), "products": len(PRODUCTS)}
    loans = BusinessType.objects.get(code="B02")
    assert (loans.name_en, loans.name_zh) == ("Loans", "贷款")
    assert BusinessType.objects.get(code="B0302").parent.code == "B03"
    assert Product.objects.get(code="CARD-CRD").business_type.code == "B0302"
    assert AuditEntry.objects.filter(action="business_type.create").count() == len(BUSINESS_TYPES)


def test_loading_twice_changes_nothing(db):
    load_catalogue()
    Product.objects.filter(code="LN-MORT").update(name_en="Renamed by the bank")
    assert load_catalogue() == {"business_types": 0, "products": 0}
    assert Product.objects.get(code="LN-MORT").name_en == "Renamed by the bank"
    assert Product.objects.count() == len(PRODUCTS)


def test_every_entry_names_a_known_parent_listed_before_it():
    seen = set()
    for entry in BUSINESS_TYPES:
        assert entry.parent is None or entry.parent in seen
        assert entry.name_en and entry.name_zh
        seen.add(entry.code)
    assert {business_type for *_, business_type in PRODUCTS} <= seen
    for required in ("B01", "B02", "B03", "B04", "B06", "B07", "B09", "B10", "B0801"):
        assert required in seen


def test_everyone_with_a_role_sees_the_catalogue_in_their_language(client, catalogue, bj_agent):
    _sign_in(client, bj_agent)
    response = client.get(reverse("org:product_list"), {"q": "credit"})
    assert [p.code for p in response.context["page"]] == ["CARD-CRD"]
    assert "Credit card" in response.content.decode()
    assert not response.context["can_change"]
    bj_agent.language = "zh-hans"
    bj_agent.save(update_fields=["language"])
    html = client.get(reverse("org:business_type_list"), {"q": "B07"}).content.decode()
    assert "个人金融信息" in html and "Personal financial information" not in html


def test_the_catalogue_is_refused_to_someone_without_a_role(client, catalogue, stranger):
    _sign_in(client, stranger)
    assert client.get(reverse("org:product_list")).status_code == 403
    product = Product.objects.get(code="CARD-CRD")
    assert client.get(reverse("org:product_detail", args=[product.pk])).status_code == 403


def test_a_branch_hr_cannot_change_the_institutions_catalogue(client, tree, catalogue):
    _sign_in(client, make_user("bj.hr", Role.HR, tree["bj"]))
    product = Product.objects.get(code="CARD-CRD")
    assert client.get(reverse("org:product_create")).status_code == 403
    response = client.post(reverse("org:product_edit", args=[product.pk]), {"name_en": "X"})
    assert response.status_code == 403
    assert client.get(reverse("org:business_type_create")).status_code == 403


def test_an_administrator_adds_and_edits_a_product(client, catalogue, admin_user):
    _sign_in(client, admin_user)
    cards = BusinessType.objects.get(code="B0302")
    response = client.post(
        reverse("org:product_create"),
        {
            "code": "CARD-PLAT",
            "name_en": "Platinum card",
            "name_zh": "白金卡",
            "business_type": cards.pk,
        },
    )
    assert response.status_code == 302
    product = Product.objects.get(code="CARD-PLAT")
    response = client.post(
        reverse("org:product_edit", args=[product.pk]),
        {
            "code": "CARD-PLAT",
            "name_en": "Platinum credit card",
            "name_zh": "白金信用卡",
            "business_type": cards.pk,
            "is_active": "",
        },
    )
    assert response.status_code == 302
    product.refresh_from_db()
    assert (product.name_en, product.is_active) == ("Platinum credit card", False)
    assert AuditEntry.objects.filter(action="product.update", object_id=str(product.pk)).exists()


def test_a_bad_product_is_refused_beside_the_field(client, catalogue, admin_user):
    _sign_in(client, admin_user)
    before = Product.objects.count()
    response = client.post(
        reverse("org:product_create"),
        {"code": "CARD-CRD", "name_en": "", "name_zh": "重复", "business_type": 999999},
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert {"code", "name_en", "business_type"} <= set(errors)
    assert Product.objects.count() == before


def test_a_business_type_cannot_be_placed_under_its_own_subtype(client, catalogue, admin_user):
    _sign_in(client, admin_user)
    loans = BusinessType.objects.get(code="B02")
    mortgages = BusinessType.objects.get(code="B0201")
    response = client.post(
        reverse("org:business_type_edit", args=[loans.pk]),
        {"code": "B02", "name_en": "Loans", "name_zh": "贷款", "parent": mortgages.pk},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["parent"]
    loans.refresh_from_db()
    assert loans.parent is None


def test_an_administrator_adds_a_business_type(client, catalogue, admin_user):
    _sign_in(client, admin_user)
    agency = BusinessType.objects.get(code="B08")
    response = client.post(
        reverse("org:business_type_create"),
        {"code": "B0804", "name_en": "Trust agency", "name_zh": "代理信托", "parent": agency.pk},
    )
    assert response.status_code == 302
    created = BusinessType.objects.get(code="B0804")
    detail = client.get(reverse("org:business_type_detail", args=[created.pk]))
    assert "Trust agency" in detail.content.decode()


@pytest.mark.parametrize("url_name", ["org:product_list", "org:business_type_list"])
def test_catalogue_lists_run_a_fixed_number_of_queries(
    client, db, bj_agent, django_assert_num_queries, url_name
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from servicecharter.org.services import business_type_create, product_create

    parent = business_type_create(code="Z", name_en="Z", name_zh="Z")
    _sign_in(client, bj_agent)

    def add(start, stop):
        for i in range(start, stop):
            child = business_type_create(
                code=f"Z{i:02d}", name_en=f"Z{i}", name_zh=f"Z{i}", parent=parent
            )
            product_create(code=f"P{i:02d}", name_en=f"P{i}", name_zh=f"P{i}", business_type=child)

    add(0, 5)
    with CaptureQueriesContext(connection) as few:
        assert client.get(reverse(url_name)).status_code == 200
    add(5, 50)
    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get(reverse(url_name))
    assert len(response.context["page"]) == 25
