"""Staff import: every bad row reported with its line, all-or-nothing, skip bad rows, upsert."""

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from servicecharter.accounts.choices import Role
from servicecharter.core.audit import verify_chain
from servicecharter.core.imports import error_message
from servicecharter.core.models import AuditEntry, ImportJob
from servicecharter.core.services.imports import import_job_create
from servicecharter.org.models import Staff
from tests.conftest import make_user

HEADER = "employee_number,name,department,base_wage,hire_date,status\n"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def hr(tree):
    return make_user("hr", Role.HR, tree["head"])


@pytest.fixture
def bj_hr(tree):
    return make_user("bj.hr", Role.HR, tree["bj"])


@pytest.fixture
def run_import(django_capture_on_commit_callbacks):
    def run(user, content, *, name="staff.csv", kind="staff", skip=False) -> ImportJob:
        if isinstance(content, str):
            content = content.encode("utf-8")
        with django_capture_on_commit_callbacks(execute=True):
            job = import_job_create(
                user=user, kind=kind, upload=SimpleUploadedFile(name, content), skip_bad_rows=skip
            )
        job.refresh_from_db()
        return job

    return run


def reasons(job) -> list[tuple[int, str, str]]:
    return [(e["line"], e["column"], e["code"]) for e in job.errors]


def test_a_valid_file_creates_every_staff_member(tree, hr, run_import):
    job = run_import(
        hr,
        HEADER + "E001,张三,BJ-T1,8500.50,2020-03-01,active\nE002,李四,SH,9000,2021/7/5,在职\n",
    )
    assert job.state == "done"
    assert job.rows_imported == 2
    zhang = Staff.objects.get(employee_number="E001")
    assert zhang.department == tree["bj_team"]
    assert zhang.base_wage == Decimal("8500.50")
    assert str(Staff.objects.get(employee_number="E002").hire_date) == "2021-07-05"
    assert AuditEntry.objects.filter(action="import.staff").count() == 1
    created = AuditEntry.objects.filter(action="staff.create").values_list("object_id", flat=True)
    assert set(created) == {str(zhang.pk), str(Staff.objects.get(employee_number="E002").pk)}
    assert verify_chain().intact


def test_every_bad_row_is_reported_with_its_line_and_nothing_is_imported(tree, hr, run_import):
    content = (
        HEADER
        + "E001,张三,BJ-T1,8500,2020-03-01,active\n"  # line 2: good
        + "E002,,BJ-T1,8500,2020-03-01,active\n"  # 3: missing name
        + "E001,王五,BJ-T1,8500,2020-03-01,active\n"  # 4: duplicate of line 2
        + "E004,赵六,NOPE,8500,2020-03-01,active\n"  # 5: unknown department
        + "E005,钱七,BJ-T1,lots,2020-03-01,active\n"  # 6: wage not a number
        + "E006,孙八,BJ-T1,-1,2020-03-01,active\n"  # 7: negative wage
        + "E007,周九,BJ-T1,8500,2020-02-30,active\n"  # 8: bad date
        + "E008,吴十,BJ-T1,8500,2020-03-01,retired\n"  # 9: unknown status
    )
    job = run_import(hr, content)
    assert job.state == "rejected"
    assert reasons(job) == [
        (3, "name", "missing_value"),
        (4, "employee_number", "duplicate_in_file"),
        (5, "department", "unknown_department"),
        (6, "base_wage", "not_a_number"),
        (7, "base_wage", "negative"),
        (8, "hire_date", "bad_date"),
        (9, "status", "bad_choice"),
    ]
    assert "line 2" in error_message(job.errors[1])
    assert not Staff.objects.exists()


def test_a_missing_column_is_reported_once_for_the_file(tree, hr, run_import):
    job = run_import(
        hr, "employee_number,name,department,hire_date\nE1,A,BJ,2020-01-01\nE2,B,BJ,2020-01-01\n"
    )
    assert job.state == "rejected"
    assert reasons(job) == [(1, "base_wage", "missing_column")]
    assert "base_wage" in error_message(job.errors[0])


def test_skip_bad_rows_imports_the_good_ones_and_lists_the_bad(tree, hr, run_import):
    content = (
        HEADER
        + "E001,张三,BJ-T1,8500,2020-03-01,active\n"
        + "E002,李四,BJ-T1,abc,2020-03-01,active\n"
        + "E003,王五,SH-T1,7000,2020-03-01,left\n"
    )
    job = run_import(hr, content, skip=True)
    assert job.state == "done"
    assert job.rows_imported == 2
    assert reasons(job) == [(3, "base_wage", "not_a_number")]
    assert set(Staff.objects.values_list("employee_number", flat=True)) == {"E001", "E003"}


def test_reimport_updates_by_employee_number_and_is_idempotent(tree, hr, run_import):
    run_import(hr, HEADER + "E001,张三,BJ-T1,8500,2020-03-01,active\n")
    job = run_import(hr, HEADER + "E001,张三,SH-T1,9100,2020-03-01,suspended\n")
    assert job.state == "done"
    zhang = Staff.objects.get(employee_number="E001")
    assert (zhang.department, zhang.base_wage, zhang.status) == (
        tree["sh_team"],
        Decimal("9100.00"),
        "suspended",
    )
    updated_at = zhang.updated_at
    again = run_import(hr, HEADER + "E001,张三,SH-T1,9100,2020-03-01,suspended\n")
    assert again.state == "done"
    assert Staff.objects.count() == 1
    zhang.refresh_from_db()
    assert zhang.updated_at == updated_at  # nothing changed, nothing written


def test_a_column_absent_from_the_file_is_left_as_it_is(tree, hr, run_import):
    run_import(
        hr,
        "employee_number,name,department,base_wage,hire_date,position\nE1,A,BJ,1,2020-01-01,Teller\n",
    )
    run_import(hr, "employee_number,name,department,base_wage,hire_date\nE1,A,BJ,2,2020-01-01\n")
    assert Staff.objects.get().position == "Teller"


def test_chinese_headers_are_accepted(tree, hr, run_import):
    job = run_import(
        hr, '工号,姓名,部门编码,基本工资,入职日期,状态\nE9,张三,BJ,"8,800.00",2020年3月1日,离职\n'
    )
    assert job.state == "done", job.errors
    staff = Staff.objects.get()
    assert (staff.base_wage, staff.status) == (Decimal("8800.00"), "left")


def test_rows_outside_the_importers_scope_are_refused(tree, bj_hr, run_import):
    Staff.objects.create(
        employee_number="SH1",
        name="上海人",
        department=tree["sh_team"],
        base_wage=1,
        hire_date="2020-01-01",
    )
    content = (
        HEADER
        + "E001,张三,BJ-T1,8500,2020-03-01,active\n"
        + "E002,李四,SH-T1,8500,2020-03-01,active\n"  # lands outside the scope
        + "SH1,上海人,BJ-T1,8500,2020-03-01,active\n"  # exists outside the scope
    )
    job = run_import(bj_hr, content)
    assert reasons(job) == [
        (3, "department", "out_of_scope"),
        (4, "employee_number", "out_of_scope"),
    ]
    assert not Staff.objects.filter(employee_number="E001").exists()
    assert Staff.objects.get(employee_number="SH1").department == tree["sh_team"]


def test_a_person_without_the_import_capability_is_refused(tree, bj_supervisor, run_import):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        run_import(bj_supervisor, HEADER + "E001,张三,BJ-T1,8500,2020-03-01,active\n")
    assert not ImportJob.objects.exists()


def test_errors_name_the_column_as_the_files_header_does(tree, hr, run_import):
    job = run_import(hr, "工号,姓名,部门编码,基本工资,入职日期\nE9,张三,BJ,很多,2020-03-01\n")
    assert [(e["line"], e["column"], e["code"]) for e in job.errors] == [
        (2, "基本工资", "not_a_number")
    ]
