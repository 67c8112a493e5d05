"""Customer import: personal data encrypted and searchable, file encodings, XLSX, upsert."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook

from servicecharter.accounts.choices import Role
from servicecharter.core import pii
from servicecharter.core.audit import verify_chain
from servicecharter.core.models import AuditEntry
from servicecharter.core.services.imports import import_job_create
from servicecharter.org.models import Customer
from tests.conftest import make_user

HEADER_ZH = "客户号,姓名,所属机构,客群,等级,弱势客户,证件号码,手机号,地址\n"
ROW_ZH = "C001,张三,BJ-T1,零售,金卡,是,110101199001011234,13812345678,北京市东城区某街1号\n"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def importer(tree):
    return make_user("admin.customers", Role.ADMIN, tree["head"])


@pytest.fixture
def run_import(django_capture_on_commit_callbacks):
    def run(user, content: bytes, *, name="customers.csv", skip=False):
        with django_capture_on_commit_callbacks(execute=True):
            job = import_job_create(
                user=user,
                kind="customers",
                upload=SimpleUploadedFile(name, content),
                skip_bad_rows=skip,
            )
        job.refresh_from_db()
        return job

    return run


def assert_zhang_imported(tree):
    customer = Customer.objects.get(customer_number="C001")
    assert customer.name == "张三"
    assert customer.home_department == tree["bj_team"]
    assert (customer.segment, customer.tier, customer.is_vulnerable) == ("retail", "gold", True)
    assert pii.decrypt(customer.id_number_cipher) == "110101199001011234"
    assert "110101199001011234" not in customer.id_number_cipher
    assert customer.phone_digest == pii.digest("138 1234 5678")
    assert pii.decrypt(customer.address_cipher) == "北京市东城区某街1号"


def test_a_gb18030_file_from_chinese_excel_is_read(tree, importer, run_import):
    job = run_import(importer, (HEADER_ZH + ROW_ZH).replace("\n", "\r\n").encode("gb18030"))
    assert job.state == "done", job.errors
    assert_zhang_imported(tree)


def test_a_utf8_file_with_a_byte_order_mark_is_read(tree, importer, run_import):
    job = run_import(importer, (HEADER_ZH + ROW_ZH).encode("utf-8-sig"))
    assert job.state == "done", job.errors
    assert_zhang_imported(tree)


def test_an_xlsx_file_is_read(tree, importer, run_import):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(HEADER_ZH.strip().split(","))
    sheet.append(
        [
            "C001",
            "张三",
            "BJ-T1",
            "零售",
            "金卡",
            "是",
            "110101199001011234",
            13812345678,
            "北京市东城区某街1号",
        ]
    )
    # Row 3 and 4 stay blank (passed over); the bad row is row 5, as Excel numbers it.
    for column, value in enumerate(["C002", "李四", "BJ-T1", "nobody"], start=1):
        sheet.cell(row=5, column=column, value=value)
    buffer = io.BytesIO()
    workbook.save(buffer)
    job = run_import(importer, buffer.getvalue(), name="customers.xlsx", skip=True)
    assert job.state == "done", job.errors
    assert [(e["line"], e["column"], e["code"]) for e in job.errors] == [(5, "客群", "bad_choice")]
    assert_zhang_imported(tree)


def test_a_file_that_is_not_a_spreadsheet_is_refused(tree, importer, run_import):
    job = run_import(importer, b"PK\x03\x04 not really a zip", name="customers.xlsx")
    assert job.state == "rejected"
    assert [e["code"] for e in job.errors] == ["unreadable"]


def test_reimport_updates_personal_data_and_changes_nothing_the_second_time(
    tree, importer, run_import
):
    run_import(importer, (HEADER_ZH + ROW_ZH).encode("utf-8"))
    changed = ROW_ZH.replace("13812345678", "13900000000")
    assert run_import(importer, (HEADER_ZH + changed).encode("utf-8")).state == "done"
    customer = Customer.objects.get()
    assert pii.decrypt(customer.phone_cipher) == "13900000000"
    assert customer.phone_digest == pii.digest("13900000000")
    cipher = customer.id_number_cipher
    assert run_import(importer, (HEADER_ZH + changed).encode("utf-8")).state == "done"
    customer.refresh_from_db()
    assert customer.id_number_cipher == cipher
    assert Customer.objects.count() == 1
    # New customers are audited one row per batch, changes one row each, never the values.
    batch = AuditEntry.objects.get(action="customer.create_many")
    assert batch.changes["created"] == ["C001"]
    update = AuditEntry.objects.get(action="customer.update")
    assert update.object_id == str(customer.pk)
    assert "13900000000" not in str(update.changes)
    assert verify_chain().intact


def test_customers_outside_the_scope_are_refused(tree, run_import):
    bj_admin = make_user("bj.admin", Role.ADMIN, tree["bj"])
    job = run_import(
        bj_admin,
        (HEADER_ZH + ROW_ZH + ROW_ZH.replace("C001", "C002").replace("BJ-T1", "SH")).encode(),
    )
    assert [(e["line"], e["column"], e["code"]) for e in job.errors] == [
        (3, "所属机构", "out_of_scope")
    ]
    assert not Customer.objects.exists()


def test_hr_may_not_import_customers(tree, run_import):
    from django.core.exceptions import PermissionDenied

    hr = make_user("hr", Role.HR, tree["head"])
    with pytest.raises(PermissionDenied):
        run_import(hr, (HEADER_ZH + ROW_ZH).encode())


def test_a_masked_export_imported_back_keeps_the_stored_personal_data(tree, importer, run_import):
    run_import(importer, (HEADER_ZH + ROW_ZH).encode())
    masked = ROW_ZH.replace("110101199001011234", "110***********1234").replace("金卡", "白金")
    new_masked = masked.replace("C001", "C002")
    job = run_import(importer, (HEADER_ZH + masked + new_masked).encode(), skip=True)
    assert [(e["line"], e["column"], e["code"]) for e in job.errors] == [
        (3, "证件号码", "masked_value")
    ]
    customer = Customer.objects.get()
    assert customer.tier == "platinum"
    assert pii.decrypt(customer.id_number_cipher) == "110101199001011234"
