"""Exports: scoped, filtered like the list pages, masked without EXPORT_PII, audited."""

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from servicecharter.accounts.choices import Role
from servicecharter.core.models import AuditEntry
from servicecharter.core.services.imports import import_job_create
from servicecharter.org.models import Staff
from servicecharter.org.services import customer_create, staff_create
from tests.conftest import make_user


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def people(tree):
    staff_create(
        employee_number="E001",
        name="王芳",
        department=tree["bj_team"],
        base_wage=Decimal("12345.00"),
        hire_date=date(2020, 3, 1),
    )
    staff_create(
        employee_number="E002",
        name="李雷",
        department=tree["bj"],
        base_wage=Decimal("9000.00"),
        hire_date=date(2021, 1, 4),
        status="left",
    )
    staff_create(
        employee_number="E100",
        name="陈静",
        department=tree["sh_team"],
        base_wage=Decimal("8000.00"),
        hire_date=date(2019, 5, 6),
    )
    customer_create(
        customer_number="C001",
        name="张三",
        home_department=tree["bj_team"],
        segment="retail",
        id_number="110101199001011234",
        phone="13812345678",
        address="北京市东城区某街1号",
    )
    customer_create(
        customer_number="C100",
        name="赵六",
        home_department=tree["sh_team"],
        segment="affluent",
        id_number="310101198001011111",
        phone="13900001111",
    )


def _sign_in(client, user) -> None:
    if user.totp_confirmed_at is None:
        user.totp_confirmed_at = timezone.now()
        user.save(update_fields=["totp_confirmed_at"])
    client.force_login(user)


def _csv(client, kind, **params) -> list[dict]:
    response = client.get(reverse("core:export", args=[kind, "csv"]), params)
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    assert body.startswith(b"\xef\xbb\xbf")  # Excel needs the BOM to read Chinese as UTF-8
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


def test_staff_export_holds_the_callers_scope_only(client, people, bj_supervisor):
    _sign_in(client, bj_supervisor)
    rows = _csv(client, "staff")
    assert [row["employee_number"] for row in rows] == ["E001", "E002"]
    assert rows[0]["name"] == "王芳"
    assert rows[0]["base_wage"] == ""  # a supervisor does not see wages


def test_staff_export_honours_the_list_filters(client, people, tree, admin_user):
    _sign_in(client, admin_user)
    assert [r["employee_number"] for r in _csv(client, "staff", status="left")] == ["E002"]
    assert [r["employee_number"] for r in _csv(client, "staff", q="陈")] == ["E100"]
    assert [r["employee_number"] for r in _csv(client, "staff", department=tree["bj"].pk)] == [
        "E001",
        "E002",
    ]


def test_customer_export_is_masked_without_export_pii_and_audited(client, people, bj_supervisor):
    _sign_in(client, bj_supervisor)
    rows = _csv(client, "customers")
    assert [row["customer_number"] for row in rows] == ["C001"]
    assert rows[0]["id_number"] == "110***********1234"
    assert rows[0]["phone"] == "138****5678"
    assert "东城区某街" not in rows[0]["address"]
    entry = AuditEntry.objects.get(action="export.customers")
    assert entry.changes["rows"] == 1
    assert entry.changes["personal_data_in_full"] is False


def test_customer_export_is_in_full_for_export_pii_holders(client, people, compliance_officer):
    _sign_in(client, compliance_officer)
    rows = _csv(client, "customers", segment="retail")
    assert [row["customer_number"] for row in rows] == ["C001"]
    assert rows[0]["id_number"] == "110101199001011234"
    assert rows[0]["address"] == "北京市东城区某街1号"
    entry = AuditEntry.objects.get(action="export.customers")
    assert (entry.changes["rows"], entry.changes["personal_data_in_full"]) == (1, True)


def test_xlsx_export(client, people, admin_user):
    _sign_in(client, admin_user)
    response = client.get(reverse("core:export", args=["departments", "xlsx"]))
    assert response.status_code == 200
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True)
    rows = list(workbook.active.iter_rows(values_only=True))
    assert rows[0][:5] == ("code", "name_en", "name_zh", "kind", "parent")
    assert ("BJ-T1", "Beijing Team 1", "北京一组", "team", "BJ", "CN") in rows


def test_chinese_users_get_chinese_headers(client, people, admin_user):
    admin_user.language = "zh-hans"
    admin_user.save(update_fields=["language"])
    _sign_in(client, admin_user)
    response = client.get(
        reverse("core:export", args=["staff", "csv"]), headers={"Accept-Language": "zh-hans"}
    )
    header = b"".join(response.streaming_content).decode("utf-8-sig").splitlines()[0]
    assert header.startswith("工号,姓名")


def test_people_without_the_view_capability_get_403(client, people, stranger):
    _sign_in(client, stranger)
    for kind in ("departments", "staff", "customers"):
        assert client.get(reverse("core:export", args=[kind, "csv"])).status_code == 403
    assert not AuditEntry.objects.filter(action="export.customers").exists()


def test_an_hr_export_imports_back_unchanged(
    client, people, tree, django_capture_on_commit_callbacks
):
    hr = make_user("hr", Role.HR, tree["head"])
    _sign_in(client, hr)
    body = b"".join(client.get(reverse("core:export", args=["staff", "csv"])).streaming_content)
    before = list(Staff.objects.values_list("employee_number", "base_wage", "updated_at"))
    with django_capture_on_commit_callbacks(execute=True):
        job = import_job_create(user=hr, kind="staff", upload=SimpleUploadedFile("s.csv", body))
    job.refresh_from_db()
    assert (job.state, job.rows_imported) == ("done", 3), job.errors
    assert list(Staff.objects.values_list("employee_number", "base_wage", "updated_at")) == before


def test_text_that_looks_like_a_formula_is_defused_and_imports_back(
    client, tree, django_capture_on_commit_callbacks
):
    hr = make_user("hr", Role.HR, tree["head"])
    staff_create(
        employee_number="E9",
        name='=HYPERLINK("http://x")',
        department=tree["bj"],
        base_wage=Decimal("1.00"),
        hire_date=date(2020, 1, 1),
    )
    _sign_in(client, hr)
    body = b"".join(client.get(reverse("core:export", args=["staff", "csv"])).streaming_content)
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0]["name"] == '\'=HYPERLINK("http://x")'
    with django_capture_on_commit_callbacks(execute=True):
        job = import_job_create(user=hr, kind="staff", upload=SimpleUploadedFile("s.csv", body))
    job.refresh_from_db()
    assert job.state == "done"
    assert Staff.objects.get().name == '=HYPERLINK("http://x")'
