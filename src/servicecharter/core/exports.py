"""Writing CSV/XLSX exports, for every module, in constant memory.

A module describes an export with an ``Exporter`` subclass (in its ``imports.py``, beside the
importer of the same kind, so that an exported file imports back unchanged). CSV is streamed
row by row with a byte-order mark, so Excel opens Chinese text correctly; XLSX is written by
openpyxl's write-only mode to a temporary file.
"""

import csv
import re
import tempfile
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal

from django.db.models import QuerySet
from django.http import QueryDict
from django.utils.module_loading import autodiscover_modules

from servicecharter.core.imports import Column

BOM = "\ufeff"
ITERATOR_CHUNK = 2000


class Exporter:
    """What a module exports for one kind: the rows the caller may see, filtered by the same
    query parameters as its list page. ``audit_action`` (when set) is recorded with the row
    count before the first row leaves the server."""

    kind: str = ""
    label = ""
    capability: str = ""
    columns: tuple[Column, ...] = ()
    audit_action: str = ""

    def __init__(self, *, user, params: QueryDict | dict | None = None):
        self.user = user
        self.params = params or {}

    def param(self, name: str) -> str:
        return (self.params.get(name) or "").strip()

    def queryset(self) -> QuerySet:
        raise NotImplementedError

    def values(self, obj) -> list:
        raise NotImplementedError

    def audit_changes(self) -> dict:
        return {}

    def headers(self) -> list[str]:
        return [column.export_header() for column in self.columns]

    def rows(self) -> Iterator[list]:
        for obj in self.queryset().iterator(chunk_size=ITERATOR_CHUNK):
            yield self.values(obj)


_REGISTRY: dict[str, type[Exporter]] = {}
_discovered = False


def register(exporter: type[Exporter]) -> type[Exporter]:
    _REGISTRY[exporter.kind] = exporter
    return exporter


def exporters() -> dict[str, type[Exporter]]:
    global _discovered
    if not _discovered:
        autodiscover_modules("imports")
        _discovered = True
    return dict(_REGISTRY)


# A cell starting with one of these is run as a formula by spreadsheets (CSV injection); the
# export prefixes such text with an apostrophe, which the importer takes off again.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


def defuse(value: str) -> str:
    if value.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (date, datetime, Decimal)):
        return str(value)
    if isinstance(value, str):
        return defuse(value)
    return value


class _Echo:
    """A file-like object whose ``write`` hands the line back instead of storing it."""

    def write(self, value: str) -> str:
        return value


def csv_lines(headers: list[str], rows: Iterable[list]) -> Iterator[bytes]:
    """UTF-8 CSV with a byte-order mark, one encoded line at a time."""
    writer = csv.writer(_Echo())
    yield (BOM + writer.writerow(headers)).encode("utf-8")
    for row in rows:
        yield writer.writerow([_cell(value) for value in row]).encode("utf-8")


def xlsx_file(headers: list[str], rows: Iterable[list]):
    """A temporary file holding the workbook, rewound; the caller streams and closes it."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(headers)
    for row in rows:
        sheet.append([_xlsx_cell(value) for value in row])
    handle = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115 - FileResponse closes it
    workbook.save(handle)
    handle.seek(0)
    return handle


def _xlsx_cell(value):
    # Dates and numbers stay typed so Excel can sort and sum them; the rest is text.
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, str):
        return defuse(value)
    return value
