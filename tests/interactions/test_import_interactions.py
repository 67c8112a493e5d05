"""CSV import of interactions through the import framework: every bad row with its line,
nothing imported unless every row is valid or bad rows are skipped, idempotent re-import."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from servicecharter.accounts.choices import Role
from servicecharter.core.imports import error_message
from servicecharter.core.models import AuditEntry
from servicecharter.core.services.imports import import_job_create
from servicecharter.interactions.models import Deviation, Interaction
from tests.conftest import make_user

HEADER = (
    "external_system,external_id,channel,employee_number,department,business_type,"
    "started_at,wait_seconds,handle_seconds,outcome,steps\n"
)
GOOD = (
    "ivr,c1,phone,E10001,,B03,2025-06-02 09:30:00,12,240,served,"
    "greeting@3;identify@30;fee_disclosure@90\n"
    "ivr,c2,电话,E10001,,B03,2025/6/2 10:00,45,100,served,greeting@15\n"
    "ivr,c3,phone,,BJ-T1,,2025-06-02T11:00:00+08:00,60,,abandoned,\n"
)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def run_import(django_capture_on_commit_callbacks):
    def run(user, content, *, skip=False):
        with django_capture_on_commit_callbacks(execute=True):
            job = import_job_create(
                user=user,
                kind="interactions",
                upload=SimpleUploadedFile("calls.csv", content.encode("utf-8")),
                skip_bad_rows=skip,
            )
        job.refresh_from_db()
        return job

    return run


@pytest.fixture
def ready(bj_staff, sh_staff, card_version):
    return card_version


def reasons(job) -> list[tuple[int, str, str]]:
    return [(e["line"], e["column"], e["code"]) for e in job.errors]


def test_a_valid_file_stores_and_judges_every_row(ingester, ready, run_import):
    job = run_import(ingester, HEADER + GOOD)

    assert job.state == "done", job.errors
    assert job.rows_imported == 3
    late = Interaction.objects.get(external_id="c2")
    assert late.standard_version == ready
    assert sorted(late.deviations.values_list("kind", flat=True)) == [
        "missed_disclosure",
        "missed_step",
        "service_level",
        "step_late",
    ]
    abandoned = Interaction.objects.get(external_id="c3")
    assert abandoned.outcome == "abandoned" and abandoned.staff is None
    assert abandoned.department.code == "BJ-T1"
    assert list(abandoned.deviations.values_list("kind", flat=True)) == ["service_level"]
    assert AuditEntry.objects.filter(action="interactions.ingest").count() == 1


def test_importing_the_same_file_again_changes_nothing(ingester, ready, run_import):
    run_import(ingester, HEADER + GOOD)
    job = run_import(ingester, HEADER + GOOD)

    assert job.state == "done"
    assert Interaction.objects.count() == 3
    assert Deviation.objects.count() == 5


BAD = (
    "ivr,c4,phone,NOBODY,,B03,2025-06-02 09:30:00,12,240,served,\n"  # line 5
    "ivr,c5,phone,E10001,,B03,yesterday,12,240,served,greeting:3\n"  # line 6
    "ivr,c6,pigeon,E10001,,,2025-06-02 09:30:00,-1,240,lost,\n"  # line 7
    "ivr,c7,phone,,,,2025-06-02 09:30:00,1,20,served,greeting@25\n"  # line 8
    "ivr,c1,phone,E10001,,,2025-06-02 09:30:00,1,20,served,\n"  # line 9: c1 again
    "ivr,c10,phone,E10001,,B77,2025-06-02 09:30:00,1,20,served,\n"  # line 10
)


def test_every_bad_row_is_reported_with_its_line_and_nothing_is_stored(ingester, ready, run_import):
    job = run_import(ingester, HEADER + GOOD + BAD)

    assert job.state == "rejected"
    assert not Interaction.objects.exists()
    assert reasons(job) == [
        (5, "employee_number", "interaction_unknown_staff"),
        (6, "started_at", "interaction_bad_datetime"),
        (6, "steps", "interaction_bad_steps"),
        (7, "channel", "bad_choice"),
        (7, "wait_seconds", "out_of_range"),
        (7, "outcome", "bad_choice"),
        (8, "department", "interaction_no_department"),
        (8, "steps", "interaction_step_after_end"),
        (9, "external_id", "duplicate_in_file"),
        (10, "business_type", "interaction_unknown_business_type"),
    ]
    messages = {e["code"]: error_message(e) for e in job.errors}
    assert "NOBODY" in messages["interaction_unknown_staff"]
    assert "greeting" in messages["interaction_step_after_end"]


def test_skipping_bad_rows_stores_the_good_ones(ingester, ready, run_import):
    job = run_import(ingester, HEADER + GOOD + BAD, skip=True)

    assert job.state == "done"
    assert job.rows_imported == 3
    assert sorted(Interaction.objects.values_list("external_id", flat=True)) == ["c1", "c2", "c3"]


def test_rows_outside_the_importer_scope_are_refused(tree, ready, run_import):
    beijing_feed = make_user("bj.feed", Role.ADMIN, tree["bj"])
    content = HEADER + GOOD + "ivr,c8,phone,E20001,,,2025-06-02 09:30:00,1,20,served,\n"

    job = run_import(beijing_feed, content)

    assert job.state == "rejected"
    assert reasons(job) == [(5, "employee_number", "out_of_scope")]


def test_chinese_headers_are_accepted(ingester, ready, run_import):
    content = (
        "外部编号,渠道,工号,开始时间,等待秒数,结果\nc9,电话,E10001,2025-06-02 09:30:00,5,已接听\n"
    )
    job = run_import(ingester, content)

    assert job.state == "done", job.errors
    assert Interaction.objects.get(external_id="c9").outcome == "served"
