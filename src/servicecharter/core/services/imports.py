"""Import jobs and exports: the writes behind the imports page.

An upload is stored, recorded as an ``ImportJob`` and processed after commit: inline when the
file is small (the answer is on the next page at once), otherwise by the background worker.
Nothing is imported unless every row is good or the user chose to skip bad rows: an importer
either validates the whole file first and then applies it in one transaction, or checks and
writes it in one pass inside one transaction, rolled back when a row was bad (see
``core.imports``). Progress goes to ``core.progress``, which other processes can read while
the transaction runs. The stored file is deleted when the job ends: uploads hold personal data
and are kept no longer than needed.
"""

import logging
import uuid
from pathlib import PurePath

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from django.tasks import task
from django.utils import timezone
from django.utils.translation import gettext as _

from servicecharter.accounts.scoping import has_capability
from servicecharter.core import imports as core_imports
from servicecharter.core.audit import audit_record
from servicecharter.core.context import Actor, reset_actor, set_actor
from servicecharter.core.exports import Exporter
from servicecharter.core.imports import ImportState
from servicecharter.core.models import ImportJob
from servicecharter.core.progress import progress_clear, progress_set

logger = logging.getLogger(__name__)

ALLOWED_SUFFIXES = {".csv", ".xlsx"}
MAX_UPLOAD_BYTES = 200 * 1024 * 1024
# Files up to this size are processed during the upload request (a few thousand rows).
INLINE_MAX_BYTES = 256 * 1024


def import_kinds_for(user) -> dict[str, str]:
    """kind → label of the imports ``user`` may run."""
    return {
        kind: str(importer.label)
        for kind, importer in core_imports.importers().items()
        if has_capability(user, importer.capability)
    }


@transaction.atomic
def import_job_create(*, user, kind: str, upload, skip_bad_rows: bool = False) -> ImportJob:
    """Store ``upload`` and queue its import; the processing starts after commit."""
    importer = core_imports.importers().get(kind)
    if importer is None or not has_capability(user, importer.capability):
        raise PermissionDenied
    suffix = PurePath(upload.name).suffix.lower()
    if suffix not in ALLOWED_SUFFIXES:
        raise ValidationError({"file": _("Upload a .csv or .xlsx file.")})
    if upload.size > MAX_UPLOAD_BYTES:
        raise ValidationError({"file": _("The file is too large (at most 200 MB).")})
    stored = default_storage.save(f"imports/{uuid.uuid4().hex}{suffix}", upload)
    job = ImportJob.objects.create(
        kind=kind,
        file_name=PurePath(upload.name).name[:255],
        stored_file=stored,
        created_by=user,
        skip_bad_rows=skip_bad_rows,
        state=ImportState.PENDING,
    )
    audit_record(
        action="import.upload",
        obj=job,
        changes={"kind": kind, "file": job.file_name, "skip_bad_rows": skip_bad_rows},
    )
    inline = upload.size <= INLINE_MAX_BYTES
    transaction.on_commit(lambda: _dispatch(job.pk, inline))
    return job


def _dispatch(job_id: int, inline: bool) -> None:
    if inline:
        import_job_run(job_id=job_id)
    else:
        import_job_task.enqueue(job_id)


@task()
def import_job_task(job_id: int) -> None:
    """Background entry point (the worker); safe to run twice, the second run does nothing."""
    import_job_run(job_id=job_id)


def import_job_run(*, job_id: int) -> ImportJob | None:
    """Validate, then apply, the file of a pending job. Claims the job with a conditional
    update so two workers never process it twice."""
    claimed = ImportJob.objects.filter(pk=job_id, state=ImportState.PENDING).update(
        state=ImportState.VALIDATING
    )
    if not claimed:
        return None
    job = ImportJob.objects.select_related("created_by").get(pk=job_id)
    user = job.created_by
    token = set_actor(Actor(user_id=user.pk if user else None, label=str(user or "system")))
    try:
        _process(job)
    except Exception:
        logger.exception("import job %s failed", job_id)
        _finish(job, ImportState.FAILED, [{"line": 0, "column": "", "code": "crashed"}])
    finally:
        reset_actor(token)
        _delete_upload(job)
    return job


def progress_token(job: ImportJob) -> str:
    return f"import:{job.pk}:{job.stored_file}"


class _Rejected(Exception):
    """A single-pass import found bad rows: its transaction is rolled back."""


def _process(job: ImportJob) -> None:
    importer = core_imports.importers()[job.kind](user=job.created_by)
    try:
        if importer.single_pass:
            _process_in_one_pass(job, importer)
        else:
            _process_in_two_passes(job, importer)
    finally:
        progress_clear(progress_token(job))


def _process_in_two_passes(job: ImportJob, importer) -> None:
    with default_storage.open(job.stored_file, "rb") as stream:
        job.rows_total = core_imports.count_rows(stream, job.file_name)
    ImportJob.objects.filter(pk=job.pk).update(rows_total=job.rows_total)

    def progress(done: int) -> None:
        percent = 100 * done // job.rows_total if job.rows_total else 0
        progress_set(progress_token(job), done=done, percent=percent)

    with default_storage.open(job.stored_file, "rb") as stream:
        report, total = core_imports.validate(importer, stream, job.file_name, progress)
    errors = report.as_json()
    if report.file_error or (errors and not job.skip_bad_rows):
        _finish(job, ImportState.REJECTED, errors, rows_total=total)
        return
    ImportJob.objects.filter(pk=job.pk).update(state=ImportState.APPLYING, rows_total=total)
    with transaction.atomic():
        with default_storage.open(job.stored_file, "rb") as stream:
            applied = core_imports.apply(importer, stream, job.file_name, report)
        _record_and_finish(job, importer, errors, total, applied, skipped=len(report.bad_lines))


def _process_in_one_pass(job: ImportJob, importer) -> None:
    ImportJob.objects.filter(pk=job.pk).update(state=ImportState.APPLYING)
    try:
        with transaction.atomic():
            with default_storage.open(job.stored_file, "rb") as stream:
                report, total, applied = core_imports.import_in_one_pass(
                    importer,
                    stream,
                    job.file_name,
                    skip_bad_rows=job.skip_bad_rows,
                    on_progress=_progress_of_reading(job, stream),
                )
            errors = report.as_json()
            if report.file_error or (errors and not job.skip_bad_rows):
                raise _Rejected(errors, total)
            _record_and_finish(job, importer, errors, total, applied, skipped=len(report.bad_lines))
    except _Rejected as rejected:
        errors, total = rejected.args
        _finish(job, ImportState.REJECTED, errors, rows_total=total)


def _progress_of_reading(job: ImportJob, stream):
    """A progress callback for a file read once: the share of its bytes read (a CSV row's
    length varies, a quoted value may span lines, and counting rows first would mean reading
    it twice), or of its rows for an XLSX file, whose sheet records its size."""
    token = progress_token(job)
    if job.file_name.lower().endswith(".xlsx"):
        with default_storage.open(job.stored_file, "rb") as sized:
            rows = core_imports.count_rows(sized, job.file_name)

        def share(done: int) -> float:
            return done / rows if rows else 0.0
    else:
        size = default_storage.size(job.stored_file)

        def share(done: int) -> float:
            return stream.tell() / size if size else 0.0

    def progress(done: int) -> None:
        progress_set(token, done=done, percent=int(100 * share(done)))

    return progress


def _record_and_finish(job: ImportJob, importer, errors, total, applied, *, skipped) -> None:
    audit_record(
        action=f"import.{job.kind}",
        obj=job,
        changes={
            "rows": total,
            "created": importer.created,
            "updated": importer.updated,
            "skipped": skipped,
        },
    )
    _finish(job, ImportState.DONE, errors, rows_total=total, rows_imported=applied)


def _finish(job: ImportJob, state: str, errors: list, **counts) -> None:
    job.state = state
    job.errors = errors
    job.finished_at = timezone.now()
    for name, value in counts.items():
        setattr(job, name, value)
    job.save(
        update_fields=[
            "state",
            "errors",
            "finished_at",
            "updated_at",
            *counts,
        ]
    )


def _delete_upload(job: ImportJob) -> None:
    if job.stored_file and default_storage.exists(job.stored_file):
        default_storage.delete(job.stored_file)


@transaction.atomic
def export_start(*, exporter: Exporter) -> int | None:
    """Refuse a caller without the capability; record an audited export (personal data) with
    its row count before the first row is sent. Returns the count when it was taken."""
    if not has_capability(exporter.user, exporter.capability):
        raise PermissionDenied
    if not exporter.audit_action:
        return None
    count = exporter.queryset().count()
    audit_record(
        action=exporter.audit_action,
        object_type=exporter.kind,
        changes={"rows": count, **exporter.audit_changes()},
    )
    return count
