"""Department import: parents resolved in any order, cycles refused, scope enforced."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from servicecharter.accounts.choices import Role
from servicecharter.core.services.imports import import_job_create
from servicecharter.org.models import Department
from tests.conftest import make_user

HEADER = "code,name_en,name_zh,kind,parent\n"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def run_import(django_capture_on_commit_callbacks):
    def run(user, content: str, *, skip=False):
        with django_capture_on_commit_callbacks(execute=True):
            job = import_job_create(
                user=user,
                kind="departments",
                upload=SimpleUploadedFile("departments.csv", content.encode("utf-8")),
                skip_bad_rows=skip,
            )
        job.refresh_from_db()
        return job

    return run


def reasons(job):
    return [(e["line"], e["column"], e["code"]) for e in job.errors]


def test_parents_are_resolved_within_the_file_in_any_order(tree, admin_user, run_import):
    job = run_import(
        admin_user,
        HEADER
        + "GZ-T1,Guangzhou Team 1,广州一组,team,GZ\n"
        + "GZ,Guangzhou Branch,广州分行,分行,HO\n",
    )
    assert job.state == "done", job.errors
    team = Department.objects.get(code="GZ-T1")
    assert team.parent.code == "GZ"
    assert team.path.startswith(tree["head"].path)
    assert team.path.startswith(team.parent.path)
    assert team.depth == 2


def test_a_cycle_within_the_file_is_reported_on_each_of_its_rows(tree, admin_user, run_import):
    job = run_import(
        admin_user,
        HEADER + "A,A,甲,team,B\n" + "B,B,乙,team,A\n" + "C,C,丙,team,C\n" + "D,D,丁,team,HO\n",
    )
    assert job.state == "rejected"
    assert reasons(job) == [
        (2, "parent", "own_ancestor"),
        (3, "parent", "own_ancestor"),
        (4, "parent", "own_ancestor"),
    ]
    assert not Department.objects.filter(code__in=["A", "B", "C", "D"]).exists()


def test_a_cycle_against_existing_departments_is_refused(tree, admin_user, run_import):
    job = run_import(admin_user, HEADER + "BJ,Beijing Branch,北京分行,branch,BJ-T1\n")
    assert reasons(job) == [(2, "parent", "own_ancestor")]
    tree["bj"].refresh_from_db()
    assert tree["bj"].parent == tree["head"]


def test_an_unknown_parent_is_refused_and_its_children_with_it(tree, admin_user, run_import):
    job = run_import(
        admin_user,
        HEADER + "X,X,X,branch,NOWHERE\n" + "X-T1,X team,X组,team,X\n" + "OK,Ok,好,team,BJ\n",
        skip=True,
    )
    assert reasons(job) == [(2, "parent", "unknown_parent"), (3, "parent", "parent_has_errors")]
    assert job.rows_imported == 1
    assert Department.objects.filter(code="OK", parent=tree["bj"]).exists()


def test_reimport_moves_a_subtree_and_is_idempotent(tree, admin_user, run_import):
    content = HEADER + "BJ-T1,Beijing Team 1,北京一组,team,SH\n"
    assert run_import(admin_user, content).state == "done"
    team = Department.objects.get(code="BJ-T1")
    assert team.path.startswith(tree["sh"].path)
    assert run_import(admin_user, content).state == "done"
    assert Department.objects.get(code="BJ-T1").path == team.path


def test_a_department_outside_the_scope_is_refused(tree, run_import):
    bj_hr = make_user("bj.hr", Role.HR, tree["bj"])
    job = run_import(
        bj_hr,
        HEADER
        + "BJ-T2,Beijing Team 2,北京二组,team,BJ\n"  # inside: allowed
        + "SH-T2,Shanghai Team 2,上海二组,team,SH\n"  # under another branch
        + "SH-T1,Shanghai Team 1,上海一组,team,BJ\n"  # takes another branch's team
        + "NEW,New root,新总行,head_office,\n",  # a new tree
    )
    assert reasons(job) == [
        (3, "parent", "out_of_scope"),
        (4, "code", "out_of_scope"),
        (5, "parent", "out_of_scope"),
    ]
    assert not Department.objects.filter(code="BJ-T2").exists()
