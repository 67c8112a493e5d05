"""The imports page (upload, progress, error report) and the export downloads.

Only holders of an import capability see the imports page (anyone else gets 403); a job is
visible to the person who started it only. Exports answer any kind the caller may view, of
their scope only, with the list page's filters taken from the query string.
"""

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods

from servicecharter.accounts.scoping import has_capability
from servicecharter.core import exports as core_exports
from servicecharter.core.imports import FINISHED_STATES, ImportState, error_message
from servicecharter.core.models import ImportJob
from servicecharter.core.progress import progress_get
from servicecharter.core.services.imports import (
    export_start,
    import_job_create,
    import_kinds_for,
    progress_token,
)

RECENT_JOBS = 20
SHOWN_ERRORS = 1000


class ImportForm(forms.Form):
    kind = forms.ChoiceField(label=_("What to import"))
    file = forms.FileField(
        label=_("File"),
        help_text=_(
            "CSV (UTF-8 or GB18030, as Excel saves it) or XLSX. The first row names the "
            "columns, in English or Chinese."
        ),
    )
    skip_bad_rows = forms.BooleanField(
        label=_("Skip bad rows"),
        required=False,
        help_text=_(
            "Import the good rows and list the bad ones. Otherwise nothing is imported "
            "unless every row is valid."
        ),
    )

    def __init__(self, *args, kinds: dict[str, str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = list(kinds.items())


def _kinds_or_403(user) -> dict[str, str]:
    kinds = import_kinds_for(user)
    if not kinds:
        raise PermissionDenied
    return kinds


@login_required
@require_http_methods(["GET", "POST"])
def import_index(request):
    kinds = _kinds_or_403(request.user)
    form = ImportForm(request.POST or None, request.FILES or None, kinds=kinds)
    if request.method == "POST" and form.is_valid():
        try:
            job = import_job_create(
                user=request.user,
                kind=form.cleaned_data["kind"],
                upload=form.cleaned_data["file"],
                skip_bad_rows=form.cleaned_data["skip_bad_rows"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            return redirect("core:import_detail", pk=job.pk)
    jobs = [
        (job, kinds.get(job.kind, job.kind), _state_label(job.state))
        for job in ImportJob.objects.filter(created_by=request.user)[:RECENT_JOBS]
    ]
    return render(
        request,
        "core/imports/index.html",
        {"form": form, "jobs": jobs, "exports": _export_kinds(request.user)},
    )


def _state_label(state: str) -> str:
    return ImportState(state).label if state in ImportState.values else state


def _export_kinds(user) -> list[tuple[str, str]]:
    return [
        (kind, exporter.label)
        for kind, exporter in core_exports.exporters().items()
        if has_capability(user, exporter.capability)
    ]


def _own_job(request, pk: int) -> ImportJob:
    _kinds_or_403(request.user)
    return get_object_or_404(ImportJob, pk=pk, created_by=request.user)


@login_required
@require_GET
def import_detail(request, pk: int):
    job = _own_job(request, pk)
    finished = job.state in FINISHED_STATES
    errors = [{**error, "message": error_message(error)} for error in job.errors[:SHOWN_ERRORS]]
    done, percent = (None if finished else progress_get(progress_token(job))) or (0, 0)
    context = {
        "job": job,
        "finished": finished,
        "errors": errors,
        "more_errors": max(len(job.errors) - SHOWN_ERRORS, 0),
        "done": done,
        "percent": percent,
        "state_label": _state_label(job.state),
        "kind_label": import_kinds_for(request.user).get(job.kind, job.kind),
    }
    template = "core/imports/detail.html"
    if request.htmx:
        template += "#status"
    return render(request, template, context)


@login_required
@require_GET
def import_errors_csv(request, pk: int):
    """The whole error report as CSV, for files with more errors than the page shows."""
    job = _own_job(request, pk)
    rows = ([e.get("line", ""), e.get("column", ""), error_message(e)] for e in job.errors)
    headers = [str(_("Line")), str(_("Column")), str(_("Reason"))]
    response = StreamingHttpResponse(
        core_exports.csv_lines(headers, rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-errors.csv"'
    return response


@login_required
@require_GET
def export_download(request, kind: str, fmt: str):
    exporter_class = core_exports.exporters().get(kind)
    if exporter_class is None or fmt not in {"csv", "xlsx"}:
        raise Http404
    exporter = exporter_class(user=request.user, params=request.GET)
    export_start(exporter=exporter)
    headers = exporter.headers()
    file_name = f"{kind}-{timezone.localdate():%Y%m%d}.{fmt}"
    if fmt == "csv":
        response = StreamingHttpResponse(
            core_exports.csv_lines(headers, exporter.rows()),
            content_type="text/csv; charset=utf-8",
        )
        response["Content-Disposition"] = f'attachment; filename="{file_name}"'
        return response
    handle = core_exports.xlsx_file(headers, exporter.rows())
    return FileResponse(
        handle,
        as_attachment=True,
        filename=file_name,
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
