"""The imports page: upload, progress by HTMX, the error table, refusals, the background task."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from servicecharter.core.models import ImportJob
from servicecharter.core.progress import progress_set
from servicecharter.core.services import imports as import_services
from servicecharter.core.services.imports import progress_token
from servicecharter.org.models import Staff

HEADER = "employee_number,name,department,base_wage,hire_date\n"
TWO_BAD_ROWS = (
    HEADER
    + "E001,张三,BJ-T1,8500,2020-03-01\n"
    + "E002,李四,BJ-T1,many,2020-03-01\n"
    + "E003,王五,NOPE,8500,2020-03-01\n"
)
IMMEDIATE = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def _sign_in(client, user) -> None:
    if user.totp_confirmed_at is None:
        user.totp_confirmed_at = timezone.now()
        user.save(update_fields=["totp_confirmed_at"])
    client.force_login(user)


def _upload(client, content: str, *, skip=False, kind="staff", name="staff.csv"):
    data = {"kind": kind, "file": SimpleUploadedFile(name, content.encode("utf-8"))}
    if skip:
        data["skip_bad_rows"] = "on"
    return client.post(reverse("core:imports"), data)


def test_a_staff_file_with_two_bad_rows_shows_both_lines_and_imports_nothing(
    client, admin_user, django_capture_on_commit_callbacks
):
    _sign_in(client, admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(client, TWO_BAD_ROWS)
    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("core:import_detail", args=[job.pk])
    page = client.get(response["Location"])
    html = page.content.decode()
    assert page.status_code == 200
    assert '<td class="num">3</td><td>base_wage</td><td>“many” is not a number.</td>' in html
    assert (
        '<td class="num">4</td><td>department</td><td>No department has the code “NOPE”.</td>'
        in html
    )
    assert "hx-trigger" not in html  # finished: no more polling
    assert not Staff.objects.exists()


def test_the_page_polls_while_the_job_runs_and_answers_htmx_with_the_fragment(client, admin_user):
    _sign_in(client, admin_user)
    response = _upload(client, TWO_BAD_ROWS)  # on_commit not run: the job stays pending
    job = ImportJob.objects.get()
    ImportJob.objects.filter(pk=job.pk).update(state="validating")
    # What the worker reports from inside its transaction, where the job row cannot carry it.
    progress_set(progress_token(job), done=50, percent=25)
    page = client.get(response["Location"])
    assert 'hx-trigger="every 1s"' in page.content.decode()
    fragment = client.get(response["Location"], headers={"HX-Request": "true"})
    text = fragment.content.decode()
    assert "<html" not in text
    assert "50 rows read so far (25%)" in text
    assert 'aria-valuenow="25"' in text


def test_skip_bad_rows_from_the_page(client, admin_user, django_capture_on_commit_callbacks):
    _sign_in(client, admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(client, TWO_BAD_ROWS, skip=True)
    html = client.get(response["Location"]).content.decode()
    assert "1 row imported." in html
    assert list(Staff.objects.values_list("employee_number", flat=True)) == ["E001"]


def test_a_file_of_another_type_is_refused_beside_the_field(client, admin_user):
    _sign_in(client, admin_user)
    response = _upload(client, "whatever", name="staff.pdf")
    assert response.status_code == 200
    assert "Upload a .csv or .xlsx file." in response.content.decode()
    assert not ImportJob.objects.exists()


@pytest.mark.parametrize("persona", ["stranger", "bj_supervisor", "bj_agent"])
def test_people_without_an_import_capability_get_403(db, client, persona, request):
    _sign_in(client, request.getfixturevalue(persona))
    assert client.get(reverse("core:imports")).status_code == 403
    assert _upload(client, TWO_BAD_ROWS).status_code == 403
    assert not ImportJob.objects.exists()


def test_a_job_is_visible_to_its_owner_only(
    client, admin_user, tree, django_capture_on_commit_callbacks
):
    from servicecharter.accounts.choices import Role
    from tests.conftest import make_user

    _sign_in(client, admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(client, TWO_BAD_ROWS)
    other_admin = make_user("admin2", Role.ADMIN, tree["head"])
    _sign_in(client, other_admin)
    assert client.get(response["Location"]).status_code == 404
    job = ImportJob.objects.get()
    assert client.get(reverse("core:import_errors", args=[job.pk])).status_code == 404


def test_the_error_report_downloads_as_csv(client, admin_user, django_capture_on_commit_callbacks):
    _sign_in(client, admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        _upload(client, TWO_BAD_ROWS)
    job = ImportJob.objects.get()
    body = b"".join(client.get(reverse("core:import_errors", args=[job.pk])).streaming_content)
    lines = body.decode("utf-8-sig").splitlines()
    assert lines[1:] == [
        "3,base_wage,“many” is not a number.",
        "4,department,No department has the code “NOPE”.",
    ]


@override_settings(TASKS=IMMEDIATE)
def test_a_large_file_is_imported_by_the_background_task(
    client, admin_user, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(import_services, "INLINE_MAX_BYTES", 0)
    ran = []
    real_run = import_services.import_job_run
    monkeypatch.setattr(
        import_services, "import_job_run", lambda **kw: ran.append(kw) or real_run(**kw)
    )
    _sign_in(client, admin_user)
    content = HEADER + "".join(
        f"E{n:05d},员工{n},BJ-T1,{5000 + n},2020-03-01\n" for n in range(2500)
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(client, content)
    job = ImportJob.objects.get()
    assert ran == [{"job_id": job.pk}]  # through the task, not inline
    assert (job.state, job.rows_total, job.rows_imported) == ("done", 2500, 2500)
    assert Staff.objects.count() == 2500
    assert "2500 rows imported." in client.get(response["Location"]).content.decode()


def test_a_job_runs_only_once(admin_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = import_services.import_job_create(
            user=admin_user,
            kind="staff",
            upload=SimpleUploadedFile("s.csv", (HEADER + "E1,A,BJ,1,2020-01-01\n").encode()),
        )
    assert import_services.import_job_run(job_id=job.pk) is None  # already done
    assert Staff.objects.count() == 1


def test_the_index_lists_my_jobs_and_the_exports_i_may_take(
    client, admin_user, django_capture_on_commit_callbacks
):
    _sign_in(client, admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        _upload(client, TWO_BAD_ROWS)
    html = client.get(reverse("core:imports")).content.decode()
    assert "staff.csv" in html
    assert "Rejected: nothing imported" in html
    assert reverse("core:export", args=["customers", "xlsx"]) in html


def test_a_queued_import_is_run_by_charter_worker(
    admin_user, monkeypatch, django_capture_on_commit_callbacks
):
    from django_tasks_db.models import DBTaskResult

    from servicecharter.core.worker import Worker

    monkeypatch.setattr(import_services, "INLINE_MAX_BYTES", 0)
    with django_capture_on_commit_callbacks(execute=True):
        job = import_services.import_job_create(
            user=admin_user,
            kind="staff",
            upload=SimpleUploadedFile("s.csv", (HEADER + "E1,A,BJ,1,2020-01-01\n").encode()),
        )
    job.refresh_from_db()
    assert job.state == "pending"  # queued in the database, waiting for a worker
    assert DBTaskResult.objects.ready().count() == 1

    Worker(worker_id="w-imports", once=True).run()

    job.refresh_from_db()
    assert (job.state, job.rows_imported) == ("done", 1)
    assert Staff.objects.get().employee_number == "E1"
    assert DBTaskResult.objects.get().status == "SUCCESSFUL"
