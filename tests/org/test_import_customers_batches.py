"""Customer imports over many batches: every row keeps its own personal data when the
encryption is done a chunk at a time while the rows are written, duplicates are found across
batches, and a second import of the same file changes nothing."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from servicecharter.accounts.choices import Role
from servicecharter.core import imports as core_imports
from servicecharter.core import pii
from servicecharter.core.audit import verify_chain
from servicecharter.core.imports import Row
from servicecharter.core.models import AuditEntry
from servicecharter.core.services.imports import import_job_create
from servicecharter.org.imports import CustomerImporter
from servicecharter.org.models import Customer
from tests.conftest import make_user

HEADER = "customer_number,name,home_department,segment,id_number,phone,address\n"


def row(number: int, *, branch="BJ-T1", phone=None) -> str:
    return (
        f"C{number:03d},客户{number},{branch},retail,1101011990010{number:05d},"
        f"{phone or 13800000000 + number},北京市东城区{number}号\n"
    )


@pytest.fixture(autouse=True)
def small_batches(settings, tmp_path, monkeypatch):
    """Batches of 3 rows, encrypted 2 at a time: a few rows cross every boundary."""
    settings.MEDIA_ROOT = tmp_path
    monkeypatch.setattr(CustomerImporter, "batch_size", 3)
    monkeypatch.setattr(core_imports, "PREPARE_CHUNK", 2)


@pytest.fixture
def importer(tree):
    return make_user("admin.customers", Role.ADMIN, tree["head"])


@pytest.fixture
def run_import(django_capture_on_commit_callbacks):
    def run(user, content: str, *, skip=False):
        with django_capture_on_commit_callbacks(execute=True):
            job = import_job_create(
                user=user,
                kind="customers",
                upload=SimpleUploadedFile("customers.csv", content.encode()),
                skip_bad_rows=skip,
            )
        job.refresh_from_db()
        return job

    return run


def stored_personal_data() -> dict[str, tuple]:
    return {
        customer.customer_number: (
            pii.decrypt(customer.id_number_cipher),
            pii.decrypt(customer.phone_cipher),
            pii.decrypt(customer.address_cipher),
            customer.id_number_digest,
            customer.phone_digest,
        )
        for customer in Customer.objects.all()
    }


def expected_personal_data(number: int, phone=None) -> tuple:
    id_number, phone = f"1101011990010{number:05d}", str(phone or 13800000000 + number)
    return (id_number, phone, f"北京市东城区{number}号", pii.digest(id_number), pii.digest(phone))


def test_every_customer_of_many_batches_gets_its_own_personal_data(tree, importer, run_import):
    assert run_import(importer, HEADER + row(1) + row(2)).state == "done"
    # Two known customers (one with a new phone) among new ones, over three batches.
    content = HEADER + "".join(row(n, phone=13900000002 if n == 2 else None) for n in range(1, 9))

    job = run_import(importer, content)

    assert job.state == "done", job.errors
    assert job.rows_imported == 8
    assert stored_personal_data() == {
        f"C{n:03d}": expected_personal_data(n, 13900000002 if n == 2 else None) for n in range(1, 9)
    }
    batches = AuditEntry.objects.filter(action="customer.create_many").order_by("seq")
    assert [entry.changes["created"] for entry in batches] == [
        ["C001", "C002"],
        ["C003"],
        ["C004", "C005", "C006"],
        ["C007", "C008"],
    ]
    assert AuditEntry.objects.filter(action="customer.update").count() == 1
    assert verify_chain().intact


def test_importing_the_same_file_again_changes_nothing(tree, importer, run_import):
    content = HEADER + "".join(row(n) for n in range(1, 8))
    run_import(importer, content)
    before = {c.customer_number: (c.id_number_cipher, c.updated_at) for c in Customer.objects.all()}

    job = run_import(importer, content)

    assert job.state == "done"
    after = {c.customer_number: (c.id_number_cipher, c.updated_at) for c in Customer.objects.all()}
    assert after == before
    assert not AuditEntry.objects.filter(action="customer.update").exists()


def test_a_key_repeated_in_a_later_batch_names_the_line_it_first_appeared_on(
    tree, importer, run_import
):
    content = HEADER + row(1) + row(2) + row(3) + row(4) + row(2) + row(5) + row(1)

    job = run_import(importer, content)

    assert job.state == "rejected"
    assert [(e["line"], e["code"], e["params"]) for e in job.errors] == [
        (6, "duplicate_in_file", {"value": "C002", "line": 3}),
        (8, "duplicate_in_file", {"value": "C001", "line": 2}),
    ]
    assert not Customer.objects.exists()


def test_skipping_bad_rows_imports_the_good_ones_of_every_batch(tree, importer, run_import):
    content = HEADER + row(1) + row(2, branch="NOWHERE") + row(3) + row(4) + row(5, branch="SH")
    bj_admin = make_user("bj.admin", Role.ADMIN, tree["bj"])

    job = run_import(bj_admin, content, skip=True)

    assert job.state == "done"
    assert [(e["line"], e["code"]) for e in job.errors] == [
        (3, "unknown_department"),
        (6, "out_of_scope"),
    ]
    assert stored_personal_data() == {f"C{n:03d}": expected_personal_data(n) for n in (1, 3, 4)}


def test_records_encrypted_a_chunk_at_a_time_equal_those_built_one_by_one(tree, importer):
    customer_importer = CustomerImporter(user=importer)
    customer_importer.present = {"customer_number", "home_department", "phone", "address"}
    rows = [
        Row(
            line,
            {
                "customer_number": f"C{line}",
                "home_department": "BJ-T1",
                "phone": f"1380000000{line}",
                "address": None if line == 3 else f"地址{line}",
            },
        )
        for line in (2, 3, 4)
    ]

    chunked = customer_importer.new_records(rows)
    customer_importer.finish_new_records(chunked[:2])
    customer_importer.finish_new_records(chunked[2:])
    one_by_one = [customer_importer.new_record(row) for row in rows]

    def comparable(customer: Customer) -> dict:
        fields = {
            field.attname: getattr(customer, field.attname)
            for field in Customer._meta.concrete_fields
        }
        for name in ("id_number", "phone", "address"):
            fields[f"{name}_cipher"] = pii.decrypt(fields[f"{name}_cipher"])
        return fields

    assert [comparable(c) for c in chunked] == [comparable(c) for c in one_by_one]
    assert comparable(chunked[1])["address_cipher"] == ""
    assert all("_import_row" not in c.__dict__ for c in chunked)
