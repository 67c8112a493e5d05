"""The institution over JSON: scoped reads, validated and audited writes, masked personal data."""

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from servicecharter.accounts.choices import Role
from servicecharter.accounts.tokens import token_create
from servicecharter.core.models import AuditEntry
from servicecharter.org.models import Staff
from servicecharter.org.services import (
    business_type_create,
    customer_create,
    product_create,
    staff_create,
)
from tests.conftest import make_user

ALL_SCOPES = ["org:read", "org:write", "customers:read", "customers:write", "pii:reveal"]


def bearer(user, scopes=ALL_SCOPES) -> dict:
    issued = token_create(actor=user, owner=user, name="t", scopes=scopes, lifetime_days=30)
    return {"Authorization": f"Bearer {issued.secret}"}


def add_staff(department, number, **fields):
    defaults = {"name": f"Staff {number}", "base_wage": 8000, "hire_date": date(2024, 1, 1)}
    return staff_create(employee_number=number, department=department, **{**defaults, **fields})


def add_customer(department, number, **fields):
    return customer_create(
        customer_number=number,
        name=fields.pop("name", f"Customer {number}"),
        home_department=department,
        segment=fields.pop("segment", "retail"),
        id_number="110101199001011234",
        phone="13812345678",
        address="北京市东城区某某路1号",
        **fields,
    )


@pytest.fixture
def people(tree):
    return {
        "bj": [add_staff(tree["bj_team"], f"B{i}") for i in range(3)],
        "sh": [add_staff(tree["sh_team"], "S1")],
    }


@pytest.fixture
def customers(tree):
    return {
        "bj": add_customer(tree["bj_team"], "C-BJ", segment="affluent"),
        "sh": add_customer(tree["sh_team"], "C-SH"),
    }


@pytest.fixture
def bj_hr(tree):
    return make_user("bj.hr", Role.HR, tree["bj"])


# Scope -----------------------------------------------------------------------------------


def test_a_beijing_token_lists_beijing_staff_only(client, bj_supervisor, people):
    response = client.get("/api/staff", headers=bearer(bj_supervisor))
    assert response.status_code == 200
    assert {row["employee_number"] for row in response.json()["items"]} == {"B0", "B1", "B2"}
    assert response.json()["count"] == 3


@pytest.mark.parametrize("kind", ["token", "session"])
def test_a_guessed_shanghai_id_is_not_found(client, bj_supervisor, people, customers, tree, kind):
    headers = {}
    if kind == "token":
        headers = bearer(bj_supervisor)
    else:
        client.force_login(bj_supervisor)
    for path in (
        f"/api/staff/{people['sh'][0].pk}",
        f"/api/customers/{customers['sh'].pk}",
        f"/api/departments/{tree['sh'].pk}",
        "/api/staff/999999",
    ):
        response = client.get(path, headers=headers)
        assert response.status_code == 404, path
        assert response.json()["code"] == "not_found"
    listed = client.get("/api/customers", headers=headers).json()["items"]
    assert [row["customer_number"] for row in listed] == ["C-BJ"]


def test_a_user_without_roles_is_refused(client, stranger, tree):
    response = client.get("/api/staff", headers=bearer(stranger))
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


def test_a_patch_of_a_shanghai_row_is_not_found_and_changes_nothing(client, tree, people):
    hr = make_user("bj.hr", Role.HR, tree["bj"])
    target = people["sh"][0]
    response = client.patch(
        f"/api/staff/{target.pk}",
        {"name": "X"},
        content_type="application/json",
        headers=bearer(hr),
    )
    assert response.status_code == 404
    target.refresh_from_db()
    assert target.name == "Staff S1"


# Lists -----------------------------------------------------------------------------------


def test_filters_and_pages(client, tree, bj_supervisor, people):
    Staff.objects.filter(pk=people["bj"][2].pk).update(status="left")
    headers = bearer(bj_supervisor)
    by_status = client.get("/api/staff?status=left", headers=headers).json()
    assert [row["employee_number"] for row in by_status["items"]] == ["B2"]
    by_q = client.get("/api/staff?q=B1", headers=headers).json()
    assert [row["employee_number"] for row in by_q["items"]] == ["B1"]
    by_department = client.get(f"/api/staff?department={tree['sh'].pk}", headers=headers).json()
    assert by_department["items"] == []
    page = client.get("/api/staff?limit=2&offset=1", headers=headers).json()
    assert page["count"] == 3
    assert [row["employee_number"] for row in page["items"]] == ["B1", "B2"]


def test_a_limit_out_of_range_is_a_field_error(client, bj_supervisor, tree):
    response = client.get("/api/staff?limit=5000", headers=bearer(bj_supervisor))
    assert response.status_code == 422
    assert list(response.json()["fields"]) == ["limit"]


def test_customers_filter_by_segment(client, bj_supervisor, customers, tree):
    add_customer(tree["bj"], "C-BJ2", segment="retail")
    response = client.get("/api/customers?segment=affluent", headers=bearer(bj_supervisor))
    assert [row["customer_number"] for row in response.json()["items"]] == ["C-BJ"]


def _queries(client, path, headers) -> int:
    client.get(path, headers=headers)  # warm: marks the token used
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path, headers=headers)
    assert response.status_code == 200
    return len(captured)


@pytest.mark.parametrize(
    "path", ["/api/staff", "/api/customers", "/api/departments", "/api/products"]
)
def test_list_queries_do_not_grow_with_rows(client, tree, compliance_officer, path):
    headers = bearer(compliance_officer)
    business_type = business_type_create(code="B01", name_en="Deposits", name_zh="存款")

    def add_rows(start, count):
        for i in range(start, start + count):
            add_staff(tree["bj_team"], f"N{i}")
            add_customer(tree["sh_team"], f"C{i}")
            product_create(code=f"P{i}", name_en="P", name_zh="产品", business_type=business_type)

    add_rows(0, 2)
    few = _queries(client, path, headers)
    add_rows(2, 12)
    assert _queries(client, path, headers) == few


def test_wages_only_for_those_allowed(client, bj_supervisor, bj_hr, people):
    pk = people["bj"][0].pk
    assert client.get(f"/api/staff/{pk}", headers=bearer(bj_supervisor)).json()["base_wage"] is None
    assert client.get(f"/api/staff/{pk}", headers=bearer(bj_hr)).json()["base_wage"] == "8000.00"


# Writes --------------------------------------------------------------------------------------


def test_hr_creates_and_updates_staff_with_an_audit_trail(client, tree, bj_hr):
    headers = bearer(bj_hr)
    body = {
        "employee_number": "E100",
        "name": "张伟",
        "department": tree["bj_team"].pk,
        "base_wage": "9000.50",
        "hire_date": "2025-03-01",
    }
    created = client.post("/api/staff", body, content_type="application/json", headers=headers)
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    updated = client.patch(
        f"/api/staff/{pk}", {"grade": 3}, content_type="application/json", headers=headers
    )
    assert updated.status_code == 200
    assert updated.json()["grade"] == 3
    actions = AuditEntry.objects.filter(object_id=str(pk), object_type="org.staff")
    assert set(actions.values_list("action", flat=True)) == {"staff.create", "staff.update"}
    assert actions.get(action="staff.update").actor_label.startswith("bj.hr (token ")


def test_field_errors_come_in_chinese_when_asked(client, tree, bj_hr):
    response = client.post(
        "/api/staff",
        {"employee_number": "E1", "department": tree["bj_team"].pk, "base_wage": "abc"},
        content_type="application/json",
        headers={**bearer(bj_hr), "Accept-Language": "zh-hans"},
    )
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error"
    # The same wording the forms show: our catalogue's, which takes precedence over Django's.
    assert body["fields"]["name"] == ["此项为必填项。"]
    assert body["fields"]["hire_date"] == ["此项为必填项。"]
    assert "base_wage" in body["fields"]
    assert not Staff.objects.exists()


def test_service_errors_become_field_errors_in_the_callers_language(client, tree, bj_hr, people):
    bj_hr.language = "zh-hans"
    bj_hr.save()
    body = {
        "employee_number": "B0",  # taken
        "name": "李四",
        "department": tree["bj_team"].pk,
        "base_wage": "1",
        "hire_date": "2025-03-01",
    }
    response = client.post(
        "/api/staff", body, content_type="application/json", headers=bearer(bj_hr)
    )
    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
    assert "已存在" in response.json()["fields"]["employee_number"][0]
    english = client.post(
        "/api/staff",
        {**body, "employee_number": "E9", "email": "not-an-email"},
        content_type="application/json",
        headers={**bearer(bj_hr), "Accept-Language": "en"},
    )
    assert english.status_code == 422
    assert english.json()["fields"]["email"] == ["Enter a valid email address."]


def test_a_department_outside_the_scope_is_not_a_valid_choice(client, tree, bj_hr):
    body = {
        "employee_number": "E2",
        "name": "王五",
        "department": tree["sh_team"].pk,
        "base_wage": "1",
        "hire_date": "2025-03-01",
    }
    response = client.post(
        "/api/staff", body, content_type="application/json", headers=bearer(bj_hr)
    )
    assert response.status_code == 422
    assert list(response.json()["fields"]) == ["department"]
    assert not Staff.objects.exists()


def test_a_supervisor_may_not_create_staff(client, tree, bj_supervisor):
    response = client.post(
        "/api/staff",
        {
            "employee_number": "E3",
            "name": "x",
            "department": tree["bj_team"].pk,
            "base_wage": "1",
            "hire_date": "2025-01-01",
        },
        content_type="application/json",
        headers=bearer(bj_supervisor),
    )
    assert response.status_code == 403


def test_a_department_cannot_move_under_itself(client, tree, admin_user):
    response = client.patch(
        f"/api/departments/{tree['bj'].pk}",
        {"parent": tree["bj_team"].pk},
        content_type="application/json",
        headers=bearer(admin_user),
    )
    assert response.status_code == 422
    assert list(response.json()["fields"]) == ["parent"]


def test_a_body_that_is_not_json_is_a_bad_request(client, tree, admin_user):
    response = client.post(
        "/api/departments", "{nope", content_type="application/json", headers=bearer(admin_user)
    )
    assert response.status_code == 400
    assert response.json()["code"] == "bad_request"


def test_the_catalogue_is_changed_only_institution_wide(client, tree, admin_user, bj_hr):
    business_type = business_type_create(code="B01", name_en="Deposits", name_zh="存款")
    body = {
        "code": "P1",
        "name_en": "Savings",
        "name_zh": "储蓄",
        "business_type": business_type.pk,
    }
    refused = client.post(
        "/api/products", body, content_type="application/json", headers=bearer(bj_hr)
    )
    assert refused.status_code == 403
    created = client.post(
        "/api/products", body, content_type="application/json", headers=bearer(admin_user)
    )
    assert created.status_code == 201
    assert client.get("/api/products", headers=bearer(bj_hr)).json()["count"] == 1


# Personal data -----------------------------------------------------------------------------


def test_personal_data_is_masked_in_every_answer(client, bj_supervisor, customers):
    headers = bearer(bj_supervisor)
    row = client.get(f"/api/customers/{customers['bj'].pk}", headers=headers).json()
    assert row["id_number"] == "110***********1234"
    assert row["phone"] == "138****5678"
    assert "东城区" not in row["address"]
    listed = client.get("/api/customers", headers=headers).content.decode()
    assert "13812345678" not in listed


def test_reveal_needs_the_capability_and_is_audited(
    client, tree, bj_supervisor, compliance_officer, customers
):
    pk = customers["bj"].pk
    refused = client.post(
        f"/api/customers/{pk}/reveal",
        content_type="application/json",
        headers=bearer(bj_supervisor),
    )
    assert refused.status_code == 403
    no_scope = client.post(
        f"/api/customers/{pk}/reveal",
        content_type="application/json",
        headers=bearer(compliance_officer, ["customers:read"]),
    )
    assert no_scope.json()["code"] == "insufficient_scope"
    assert not AuditEntry.objects.filter(action="pii.reveal").exists()
    response = client.post(
        f"/api/customers/{pk}/reveal",
        {"fields": ["phone"]},
        content_type="application/json",
        headers=bearer(compliance_officer),
    )
    assert response.status_code == 200
    assert response.json()["fields"] == {"phone": "13812345678"}
    entry = AuditEntry.objects.get(action="pii.reveal")
    assert entry.object_id == str(pk)
    assert "13812345678" not in str(entry.changes)


def test_a_supervisor_creates_a_customer_in_their_branch(client, tree, bj_supervisor):
    body = {
        "customer_number": "C-NEW",
        "name": "赵六",
        "home_department": tree["bj_team"].pk,
        "segment": "senior",
        "phone": "13900001111",
    }
    response = client.post(
        "/api/customers", body, content_type="application/json", headers=bearer(bj_supervisor)
    )
    assert response.status_code == 201, response.content
    assert response.json()["phone"] == "139****1111"
    bad = client.post(
        "/api/customers",
        {**body, "customer_number": "C-NEW2", "segment": "vip"},
        content_type="application/json",
        headers=bearer(bj_supervisor),
    )
    assert bad.status_code == 422
    assert list(bad.json()["fields"]) == ["segment"]


# Documentation -------------------------------------------------------------------------------


def test_the_openapi_schema_and_docs_are_served_locally(client, db):
    schema = client.get("/api/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {"/api/staff", "/api/customers/{pk}/reveal", "/api/departments", "/api/products"} <= set(
        paths
    )
    docs = client.get("/api/docs")
    assert docs.status_code == 200
    assert b"cdn." not in docs.content
