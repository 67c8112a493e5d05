"""The audit page for compliance officers: filter, page through, verify, export (audited)."""

import csv
import json
from datetime import UTC

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from servicecharter.accounts.permissions import VIEW_AUDIT
from servicecharter.accounts.scoping import has_capability
from servicecharter.core.audit import audit_entries_matching, audit_record, verify_chain

PAGE_SIZE = 50
EXPORT_CHUNK = 2000


class AuditFilterForm(forms.Form):
    actor = forms.CharField(
        label=gettext_lazy("Actor"),
        max_length=200,
        required=False,
        help_text=gettext_lazy("User name, or user id"),
    )
    action = forms.CharField(
        label=gettext_lazy("Action"),
        max_length=100,
        required=False,
        help_text=gettext_lazy("Exact, or a prefix ending in a dot: “staff.”"),
    )
    object_type = forms.CharField(label=gettext_lazy("Object type"), max_length=100, required=False)
    object_id = forms.CharField(label=gettext_lazy("Object id"), max_length=64, required=False)
    date_from = forms.DateField(label=gettext_lazy("From"), required=False)
    date_to = forms.DateField(label=gettext_lazy("To"), required=False)
    before = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    after = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)

    FILTERS = ("actor", "action", "object_type", "object_id", "date_from", "date_to")

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("The end date is before the start date."))
        return data

    def filters(self) -> dict:
        """The valid, non-empty filters (nothing when the form has errors)."""
        if not self.is_valid():
            return {}
        return {name: self.cleaned_data[name] for name in self.FILTERS if self.cleaned_data[name]}


def _page(entries: QuerySet, before: int | None, after: int | None):
    """One page by seq (keyset), in one query whatever the table's size: no COUNT."""
    if after is not None:
        rows = list(entries.filter(seq__gt=after).order_by("seq")[: PAGE_SIZE + 1])
        has_newer, has_older = len(rows) > PAGE_SIZE, True
        rows = rows[:PAGE_SIZE][::-1]
    else:
        if before is not None:
            entries = entries.filter(seq__lt=before)
        rows = list(entries[: PAGE_SIZE + 1])
        has_older, has_newer = len(rows) > PAGE_SIZE, before is not None
        rows = rows[:PAGE_SIZE]
    return rows, has_newer and bool(rows), has_older and bool(rows)


def change_lines(changes) -> list[dict]:
    """``{field: [before, after]}`` as lines to show ``before → after``; other values as they are."""
    if not isinstance(changes, dict):
        return [{"field": "", "value": json.dumps(changes, ensure_ascii=False)}]
    lines = []
    for field, value in sorted(changes.items()):
        if isinstance(value, list) and len(value) == 2:
            lines.append({"field": field, "before": value[0], "after": value[1], "pair": True})
        else:
            lines.append({"field": field, "value": value})
    return lines


def _require_audit_viewer(request) -> None:
    if not has_capability(request.user, VIEW_AUDIT):
        raise PermissionDenied(_("Only compliance officers may see the audit trail."))


def _query_without_cursor(request) -> str:
    params = request.GET.copy()
    for key in ("before", "after"):
        params.pop(key, None)
    return params.urlencode()


@login_required
@require_GET
def audit_list(request):
    _require_audit_viewer(request)
    form = AuditFilterForm(request.GET or None)
    filters = form.filters() if form.is_bound else {}
    cursor = form.cleaned_data if form.is_bound and form.is_valid() else {}
    rows, has_newer, has_older = _page(
        audit_entries_matching(**filters), cursor.get("before"), cursor.get("after")
    )
    for row in rows:
        row.change_lines = change_lines(row.changes)
    return render(
        request,
        "core/audit/list.html",
        {
            "form": form,
            "entries": rows,
            "has_newer": has_newer,
            "has_older": has_older,
            "query": _query_without_cursor(request),
        },
    )


@login_required
@require_POST
def audit_verify(request):
    _require_audit_viewer(request)
    report = verify_chain()
    audit_record(
        action="audit.verify",
        object_type="core.auditentry",
        changes={
            "intact": report.intact,
            "entries": report.entries,
            "broken_seq": report.broken.seq if report.broken else None,
        },
    )
    template = "core/audit/_verify.html" if request.htmx else "core/audit/verify.html"
    return render(request, template, {"report": report})


# --- CSV export ---------------------------------------------------------------------------

EXPORT_HEADERS = (
    ("seq", gettext_lazy("Sequence")),
    ("at", gettext_lazy("Time (UTC)")),
    ("actor_id", gettext_lazy("Actor id")),
    ("actor_label", gettext_lazy("Actor")),
    ("action", gettext_lazy("Action")),
    ("object_type", gettext_lazy("Object type")),
    ("object_id", gettext_lazy("Object id")),
    ("object_repr", gettext_lazy("Object")),
    ("changes", gettext_lazy("Changes")),
    ("ip", gettext_lazy("IP address")),
    ("request_id", gettext_lazy("Request id")),
    ("prev_hash", gettext_lazy("Previous hash")),
    ("hash", gettext_lazy("Hash")),
)
# Cells starting with these are formulas to a spreadsheet: neutralise them.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_lines(entries: QuerySet):
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow([str(label) for _name, label in EXPORT_HEADERS])
    fields = [name for name, _label in EXPORT_HEADERS]
    for row in entries.values_list(*fields).iterator(chunk_size=EXPORT_CHUNK):
        values = dict(zip(fields, row, strict=True))
        values["at"] = values["at"].astimezone(UTC).isoformat()
        values["changes"] = json.dumps(values["changes"], ensure_ascii=False, sort_keys=True)
        yield writer.writerow([_cell(values[name]) for name in fields])


@login_required
@require_GET
def audit_export(request):
    _require_audit_viewer(request)
    form = AuditFilterForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        return render(request, "core/audit/list.html", {"form": form, "entries": []}, status=400)
    filters = form.filters() if form.is_bound else {}
    # Recorded before the first row leaves, with the filters that chose the rows.
    audit_record(
        action="audit.export",
        object_type="core.auditentry",
        changes={"filters": {name: str(value) for name, value in filters.items()}},
    )
    response = StreamingHttpResponse(
        _csv_lines(audit_entries_matching(**filters)), content_type="text/csv; charset=utf-8"
    )
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
    return response
