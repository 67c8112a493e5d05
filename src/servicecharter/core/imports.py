"""Reading and validating CSV/XLSX imports, for every module.

Memory stays flat whatever the file's size: the file is streamed, batch by batch, and only the
keys seen (on disk) and the numbers of the bad lines are kept. Nothing is applied when a row is
bad, unless the user chose to skip bad rows. An import runs in one of two ways:

- **two passes** (``validate``, then ``apply``): the first parses and checks every row and
  collects the errors, writing the parsed rows to a spool on disk; the second, inside one
  transaction, reads them back and applies the good ones. For importers whose checks need the
  whole file (a department tree) before anything is written;
- **one pass** (``import_in_one_pass``, for importers with ``single_pass``): each batch is
  checked and written at once, inside the import's transaction, so the database writes one
  batch while the next is read and checked. Once a row is bad nothing more is written, but
  every row is still checked, and the caller rolls the transaction back: the report is the
  same, and nothing is left half-imported.

A module describes its file with an ``Importer`` subclass in its own ``imports.py`` and
registers it with ``register``; ``importer_for`` finds every module's importers by
autodiscovery, so ``core`` never imports the modules above it.

Line numbers are the row numbers a spreadsheet shows: the header is line 1, the first data
row line 2 (a quoted value spanning several physical lines still counts as one row).
"""

import codecs
import csv
import io
import json
import pickle
import re
import sqlite3
import tempfile
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from operator import attrgetter
from typing import Any, BinaryIO

from django.db import connection, models
from django.utils import timezone, translation
from django.utils.module_loading import autodiscover_modules
from django.utils.translation import gettext_lazy as _

CHUNK_BYTES = 64 * 1024
# The error table is meant to be read; past this many rows the report says how many more.
MAX_STORED_ERRORS = 10_000


class ImportState(models.TextChoices):
    PENDING = "pending", _("Waiting")
    VALIDATING = "validating", _("Checking rows")
    APPLYING = "applying", _("Importing")
    DONE = "done", _("Imported")
    REJECTED = "rejected", _("Rejected: nothing imported")
    FAILED = "failed", _("Failed")


FINISHED_STATES = {ImportState.DONE, ImportState.REJECTED, ImportState.FAILED}

# Every reason a row can be refused. Stored as a code with parameters and translated when
# shown, so the report reads in the language of whoever opens it.
MESSAGES = {
    "unreadable": _("The file cannot be read: save it as CSV (UTF-8 or GB18030) or XLSX."),
    "empty_file": _("The file has no header row."),
    "missing_column": _("The column “%(column)s” is missing from the file."),
    "missing_value": _("A value is required."),
    "too_long": _("At most %(max)s characters."),
    "not_a_number": _("“%(value)s” is not a number."),
    "not_an_integer": _("“%(value)s” is not a whole number."),
    "negative": _("Must not be negative."),
    "out_of_range": _("Must be between %(min)s and %(max)s."),
    "too_large": _("“%(value)s” is too large."),
    "bad_date": _("“%(value)s” is not a date (use YYYY-MM-DD)."),
    "bad_choice": _("“%(value)s” is not one of: %(choices)s."),
    "bad_boolean": _("“%(value)s” is not yes or no."),
    "bad_email": _("“%(value)s” is not an email address."),
    "bad_currency": _("“%(value)s” is not a three-letter currency code."),
    "duplicate_in_file": _("“%(value)s” already appears on line %(line)s."),
    "unknown_department": _("No department has the code “%(value)s”."),
    "unknown_parent": _("No department has the code “%(value)s”, in the file or already."),
    "parent_has_errors": _("The parent department “%(value)s” has errors in this file."),
    "own_ancestor": _("Department “%(value)s” would become its own ancestor."),
    "out_of_scope": _("Outside your scope: you may not import “%(value)s”."),
    "masked_value": _(
        "This value is masked (*): give the full value for a new customer, or leave the column out."
    ),
    "more_errors": _("%(count)s more errors are not listed."),
    "crashed": _("The import stopped on an unexpected error; nothing was imported."),
}


def error_message(error: dict) -> str:
    """The translated reason of a stored error."""
    template = MESSAGES.get(error.get("code"), error.get("code", ""))
    return str(template) % error.get("params", {}) if error.get("params") else str(template)


class Masked:
    """The value of a cell that shows personal data masked: not a value to store. There is one
    such value (compared with ``is``), also after a trip through the row spool."""

    _the_one = None

    def __new__(cls):
        if cls._the_one is None:
            cls._the_one = super().__new__(cls)
        return cls._the_one

    def __reduce__(self):
        return (Masked, ())

    def __repr__(self) -> str:
        return "<masked>"


class CellError(Exception):
    """A cell value that cannot be used: a message code and its parameters."""

    def __init__(self, code: str, **params):
        super().__init__(code)
        self.code = code
        self.params = params


# Parsers: each takes the cell text (stripped, never blank) and returns the value or raises
# CellError. Blank cells never reach a parser.


def text(max_length: int) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if len(value) > max_length:
            raise CellError("too_long", max=max_length)
        return value

    return parse


_SPREADSHEET_INTEGER = re.compile(r"\d+\.0+")


def code_text(max_length: int) -> Callable[[str], str]:
    """A code or number used as a key: spreadsheets turn 1001 into 1001.0; undo that."""
    base = text(max_length)

    def parse(value: str) -> str:
        if "." in value and _SPREADSHEET_INTEGER.fullmatch(value):
            value = value.split(".", 1)[0]
        return base(value)

    return parse


def money(max_digits: int = 12, decimal_places: int = 2) -> Callable[[str], Decimal]:
    def parse(value: str) -> Decimal:
        cleaned = value.replace(",", "").replace("，", "").replace(" ", "")
        try:
            number = Decimal(cleaned)
        except InvalidOperation:
            raise CellError("not_a_number", value=value) from None
        if not number.is_finite():
            raise CellError("not_a_number", value=value)
        if number < 0:
            raise CellError("negative")
        number = number.quantize(Decimal(1).scaleb(-decimal_places))
        if number.adjusted() >= max_digits - decimal_places:
            raise CellError("too_large", value=value)
        return number

    return parse


def integer(minimum: int, maximum: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        cleaned = value[:-2] if value.endswith(".0") else value
        try:
            number = int(cleaned)
        except ValueError:
            raise CellError("not_an_integer", value=value) from None
        if not minimum <= number <= maximum:
            raise CellError("out_of_range", min=minimum, max=maximum)
        return number

    return parse


_DATE = re.compile(
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T]00:00(?::00)?)?"
)


def a_date(value: str) -> date:
    """2024-03-01, 2024/3/1, 2024.3.1, 2024年3月1日 (and a spreadsheet's midnight time)."""
    match = _DATE.fullmatch(value)
    if not match:
        raise CellError("bad_date", value=value)
    try:
        return date(*(int(part) for part in match.groups()))
    except ValueError:
        raise CellError("bad_date", value=value) from None


_TRUE = {"1", "true", "yes", "y", "是", "√", "x"}
_FALSE = {"0", "false", "no", "n", "否"}


def boolean(value: str) -> bool:
    folded = value.casefold()
    if folded in _TRUE:
        return True
    if folded in _FALSE:
        return False
    raise CellError("bad_boolean", value=value)


# A plain shape check: Django's full validator costs more than the rest of a row together.
_EMAIL = re.compile(r"[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>.]+")


def email(value: str) -> str:
    if len(value) > 254 or not _EMAIL.fullmatch(value):
        raise CellError("bad_email", value=value)
    return value


_CURRENCY = re.compile(r"[A-Za-z]{3}")


def currency(value: str) -> str:
    if not _CURRENCY.fullmatch(value):
        raise CellError("bad_currency", value=value)
    return value.upper()


def choice(choices: type[models.TextChoices], aliases: dict[str, str] | None = None):
    """A value of ``choices`` given as its code, its English or Chinese label, or an alias."""
    accepted: dict[str, str] = {}
    for code, label in choices.choices:
        accepted[code.casefold()] = code
        with translation.override("en"):
            accepted[str(label).casefold()] = code
        with translation.override("zh-hans"):
            accepted[str(label).casefold()] = code
    for alias, code in (aliases or {}).items():
        accepted[alias.casefold()] = code
    shown = ", ".join(code for code, _label in choices.choices)

    def parse(value: str) -> str:
        try:
            return accepted[value.casefold()]
        except KeyError:
            raise CellError("bad_choice", value=value, choices=shown) from None

    return parse


def normalise_header(name: str) -> str:
    return re.sub(r"[\s_\-]+", "_", str(name or "").strip().lstrip("\ufeff")).strip("_").casefold()


@dataclass(frozen=True)
class Column:
    """One column of an import file. ``headers`` are the names accepted besides ``key``
    (English labels, Chinese names). A ``required`` column must be in the file and every row
    must give it a value; an optional column may be absent (existing values are then kept)
    or blank (the field is cleared, or gets its default on a new record)."""

    key: str
    headers: tuple[str, ...] = ()
    required: bool = False
    parse: Callable[[str], Any] = str
    # The header written by exports in Chinese; the key is the English header.
    zh: str = ""

    def accepts(self, header: str) -> bool:
        wanted = normalise_header(header)
        return wanted in {normalise_header(name) for name in (self.key, self.zh, *self.headers)}

    def export_header(self) -> str:
        language = translation.get_language() or ""
        return self.zh if language.startswith("zh") and self.zh else self.key


@dataclass
class Row:
    line: int
    values: dict[str, Any]
    ok: bool = True
    # What ``check_batch`` worked out for ``apply_batch`` in a single pass (the record's
    # fields, say), so it is not worked out twice.
    prepared: Any = None


@dataclass
class Report:
    """The errors of one import and the lines they fell on."""

    errors: list[dict] = field(default_factory=list)
    bad_lines: set[int] = field(default_factory=set)
    file_error: bool = False
    not_listed: int = 0
    # The rows parsed by the first pass, for the second (set by ``validate``).
    spool: "RowSpool | None" = field(default=None, repr=False, compare=False)

    def add(self, line: int, column: str, code: str, /, **params) -> None:
        self.bad_lines.add(line)
        if len(self.errors) < MAX_STORED_ERRORS:
            self.errors.append({"line": line, "column": column, "code": code, "params": params})
        else:
            self.not_listed += 1

    def refuse_file(self, column: str, code: str, /, **params) -> None:
        self.file_error = True
        self.errors.append({"line": 1, "column": column, "code": code, "params": params})

    def as_json(self) -> list[dict]:
        errors = sorted(self.errors, key=lambda error: error["line"])
        if self.not_listed:
            errors.append(
                {
                    "line": 0,
                    "column": "",
                    "code": "more_errors",
                    "params": {"count": self.not_listed},
                }
            )
        return errors


class Importer:
    """What a module says about one kind of import. Subclasses set the class attributes and
    implement ``check_batch`` (checks that need the database, one query per batch) and
    ``apply_batch``; ``check_file`` and ``apply_finish`` serve checks and writes that need the
    whole file (a department tree)."""

    kind: str = ""
    label = ""
    capability: str = ""
    columns: tuple[Column, ...] = ()
    key: str = ""  # the column that identifies a record: duplicates are refused, matches updated
    batch_size: int = 1000
    # Check and write each batch in one pass (``import_in_one_pass``). Only for importers
    # whose rows can be judged batch by batch: ``check_file`` must find no row errors then.
    single_pass: bool = False

    def __init__(self, *, user):
        self.user = user
        self.present: set[str] = set()  # the keys of the columns the file has
        self.file_headers: dict[str, str] = {}  # column key → its header in the file
        self.created = 0
        self.updated = 0

    def column(self, key: str) -> Column:
        return next(column for column in self.columns if column.key == key)

    def check_batch(self, rows: list[Row], report: Report) -> None:
        """Add errors for rows that fail a database check; mark them ``ok = False``."""

    def check_file(self, report: Report) -> None:
        """Checks that need every row of the file (called after the last batch)."""

    def apply_batch(self, rows: list[Row]) -> None:
        raise NotImplementedError

    def apply_finish(self) -> None:
        """Writes that need the whole file (called after the last batch)."""

    def close(self) -> None:
        """Let go of what the second pass holds (a write still in flight, say): called when
        it ends, whether it succeeded or not."""

    def reject(self, row: Row, report: Report, column: str, code: str, /, **params) -> None:
        """Refuse ``row``; the error names the column as the file's header does."""
        row.ok = False
        report.add(row.line, self.file_headers.get(column, column), code, **params)


_REGISTRY: dict[str, type[Importer]] = {}
_discovered = False


def register(importer: type[Importer]) -> type[Importer]:
    _REGISTRY[importer.kind] = importer
    return importer


def importers() -> dict[str, type[Importer]]:
    """Every registered importer, by kind (each module's ``imports.py`` is loaded once)."""
    global _discovered
    if not _discovered:
        autodiscover_modules("imports")
        _discovered = True
    return dict(_REGISTRY)


# Reading files ------------------------------------------------------------------------


def detect_encoding(stream: BinaryIO) -> str:
    """UTF-8 (BOM or not) when the whole file decodes strictly as UTF-8, else GB18030 (a
    superset of GBK, what Chinese Excel writes). The check streams the file in chunks: a GBK
    file almost never happens to be valid UTF-8, while a UTF-8 file always is."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    try:
        while chunk := stream.read(CHUNK_BYTES):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
        encoding = "utf-8-sig"
    except UnicodeDecodeError:
        encoding = "gb18030"
    stream.seek(0)
    return encoding


def _cell_text(value) -> str:
    """A spreadsheet cell as the text a CSV would hold."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value).strip()


def _csv_records(stream: BinaryIO) -> Iterator[list[str]]:
    encoding = detect_encoding(stream)
    wrapper = io.TextIOWrapper(stream, encoding=encoding, newline="")
    try:
        yield from csv.reader(wrapper)
    finally:
        wrapper.detach()


def _xlsx_records(stream: BinaryIO) -> Iterator[list[str]]:
    from openpyxl import load_workbook

    workbook = load_workbook(stream, read_only=True, data_only=True)
    try:
        for values in workbook.active.iter_rows(values_only=True):
            yield [_cell_text(value) for value in values]
    finally:
        workbook.close()


def read_records(stream: BinaryIO, file_name: str) -> Iterator[list[str]]:
    """The rows of a CSV or XLSX file as lists of text, in constant memory."""
    if file_name.lower().endswith(".xlsx"):
        return _xlsx_records(stream)
    return _csv_records(stream)


class UnreadableFile(Exception):
    pass


def _map_header(importer: Importer, header: list[str], report: Report) -> dict[str, int]:
    """Column key → position in the row; a missing required column refuses the file."""
    positions: dict[str, int] = {}
    for position, name in enumerate(header):
        for column in importer.columns:
            if column.key not in positions and column.accepts(name):
                positions[column.key] = position
                importer.file_headers[column.key] = str(name).strip().lstrip("\ufeff")
                break
    for column in importer.columns:
        if column.required and column.key not in positions:
            report.refuse_file(column.key, "missing_column", column=column.export_header())
    return positions


_DEFUSED = ("=", "+", "-", "@", "\t", "\r")


def _parse_row(
    importer: Importer, line: int, record: list[str], plan: list[tuple], report: Report
) -> Row:
    """``plan`` lists (key, position, parse, required) of the file's columns."""
    values = {}
    row = Row(line, values)
    width = len(record)
    for key, position, parse, required in plan:
        raw = record[position].strip() if position < width else ""
        if not raw:
            if required:
                importer.reject(row, report, key, "missing_value")
            else:
                values[key] = None
            continue
        if raw[0] == "'" and raw[1:2] in _DEFUSED:
            raw = raw[1:]  # an exported cell that looked like a formula (see core.exports)
        try:
            values[key] = parse(raw)
        except CellError as error:
            importer.reject(row, report, key, error.code, **error.params)
    return row


def iter_rows(
    importer: Importer, stream: BinaryIO, file_name: str, report: Report
) -> Iterator[Row]:
    """Parse every data row; blank rows (a spreadsheet's trailing lines) are passed over.
    Sets ``importer.present``; a file without its required columns yields nothing."""
    try:
        records = read_records(stream, file_name)
        header = next(records, None)
    except Exception as exc:  # a corrupt XLSX raises anything from zipfile to KeyError
        raise UnreadableFile from exc
    if header is None or not any(cell.strip() for cell in header):
        report.refuse_file("", "empty_file")
        return
    positions = _map_header(importer, header, report)
    if report.file_error:
        return
    importer.present = set(positions)
    plan = [
        (column.key, positions[column.key], column.parse, column.required)
        for column in importer.columns
        if column.key in positions
    ]
    line = 1
    try:
        for record in records:
            line += 1
            if any(cell.strip() for cell in record):
                yield _parse_row(importer, line, record, plan, report)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise UnreadableFile from exc


def batched_rows(rows: Iterator[Row], size: int) -> Iterator[list[Row]]:
    batch: list[Row] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class RowSpool:
    """The rows the first pass parsed, pickled batch by batch to an anonymous temporary file
    (gone from the disk once closed), so the second pass reads them back instead of parsing
    the file again: the same values, in the same constant memory. Written right after
    parsing, before any check, so the second pass gets exactly what parsing gave."""

    def __init__(self):
        # It outlives the function that opens it: closed by ``close``, or when the spool is
        # dropped unread (a rejected file).
        self.file = tempfile.TemporaryFile()  # noqa: SIM115
        weakref.finalize(self, self.file.close)
        self.batches = 0
        self.present: set[str] = set()
        self.file_headers: dict[str, str] = {}

    def write(self, batch: list[Row]) -> None:
        parsed = [(row.line, row.values) for row in batch if row.ok]
        pickle.dump((len(batch), parsed), self.file, protocol=pickle.HIGHEST_PROTOCOL)
        self.batches += 1

    def read(self) -> Iterator[tuple[int, list[Row]]]:
        """(rows in the file's batch, the rows that parsed) for each batch, in file order."""
        self.file.seek(0)
        for _batch in range(self.batches):
            count, parsed = pickle.load(self.file)
            yield count, [Row(line, values) for line, values in parsed]

    def close(self) -> None:
        self.file.close()


class SeenKeys:
    """The keys met so far in a file and the line of each, kept in a private SQLite database
    on disk (deleted when closed): constant memory whatever the file's size, and no round trip
    to the main database, whose connection may be busy writing the previous batch."""

    def __init__(self):
        # An empty name opens a private temporary database on disk; only this object uses it.
        self.db = sqlite3.connect("", check_same_thread=False)
        self.db.executescript(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;"
            "CREATE TABLE seen (k TEXT PRIMARY KEY, line INTEGER) WITHOUT ROWID;"
        )

    def first_lines(self, keyed: list[tuple[str, int]]) -> dict[int, int]:
        """line → first line of the same key, for each of ``keyed`` (key, line) met before."""
        first_in_batch: dict[str, int] = {}
        repeats: dict[int, int] = {}
        for key, line in keyed:
            if key in first_in_batch:
                repeats[line] = first_in_batch[key]
            else:
                first_in_batch[key] = line
        if not first_in_batch:
            return repeats
        # The batch's keys travel as one JSON parameter (no limit on their number).
        earlier = dict(
            self.db.execute(
                "SELECT seen.k, seen.line FROM json_each(?) AS batch "
                "JOIN seen ON seen.k = batch.value",
                [json.dumps(list(first_in_batch))],
            )
        )
        self.db.executemany(
            "INSERT INTO seen (k, line) VALUES (?, ?)",
            [(key, line) for key, line in first_in_batch.items() if key not in earlier],
        )
        for key, line in keyed:
            if key in earlier:
                repeats[line] = earlier[key]
        return repeats

    def close(self) -> None:
        self.db.close()


# A JSON array of text (one parameter) as a PostgreSQL array of text.
_JSON_TEXT_ARRAY = "ARRAY(SELECT json_array_elements_text(%s::json))"


def filter_keys(queryset: models.QuerySet, field: str, keys: list) -> models.QuerySet:
    """``queryset.filter(<field>__in=keys)``; on PostgreSQL with the keys as one parameter
    (see ``SeenKeys``), which is several times cheaper for a batch of a thousand."""
    if connection.vendor != "postgresql" or not keys:
        return queryset.filter(**{f"{field}__in": keys})
    model = queryset.model
    quote = connection.ops.quote_name
    column = f"{quote(model._meta.db_table)}.{quote(model._meta.get_field(field).column)}"
    if all(isinstance(key, str) for key in keys):
        return queryset.extra(
            where=[f"{column} = ANY({_JSON_TEXT_ARRAY})"], params=[json.dumps(keys)]
        )
    return queryset.extra(where=[f"{column} = ANY(%s)"], params=[list(keys)])


def validate(
    importer: Importer, stream: BinaryIO, file_name: str, on_progress=None
) -> tuple[Report, int]:
    """The first pass: every error of the file, and the number of data rows. The parsed rows
    wait in ``report.spool`` for ``apply``."""
    report = Report()
    seen = SeenKeys()
    spool = RowSpool()
    total = 0
    try:
        for batch in batched_rows(
            iter_rows(importer, stream, file_name, report), importer.batch_size
        ):
            spool.write(batch)
            _reject_repeated_keys(importer, batch, seen, report)
            importer.check_batch([row for row in batch if row.ok], report)
            total += len(batch)
            if on_progress:
                on_progress(total)
    except UnreadableFile:
        spool.close()
        report = Report()
        report.refuse_file("", "unreadable")
        return report, total
    except BaseException:
        spool.close()
        raise
    finally:
        seen.close()
    if report.file_error:
        spool.close()
        return report, total
    spool.present, spool.file_headers = importer.present, importer.file_headers
    report.spool = spool
    importer.check_file(report)
    return report, total


def _reject_repeated_keys(importer: Importer, batch: list[Row], seen: SeenKeys, report) -> None:
    keyed = [
        (str(row.values[importer.key]), row)
        for row in batch
        if row.ok and row.values.get(importer.key) is not None
    ]
    repeats = seen.first_lines([(key, row.line) for key, row in keyed])
    for key, row in keyed:
        if row.line in repeats:
            importer.reject(
                row, report, importer.key, "duplicate_in_file", value=key, line=repeats[row.line]
            )


def apply(
    importer: Importer, stream: BinaryIO, file_name: str, report: Report, on_progress=None
) -> int:
    """The second pass: apply every row the first pass found good. The caller holds the
    transaction. Returns the number of rows applied. The rows come from the first pass's
    spool when ``report`` has one (``stream`` is then not read), else from ``stream``."""
    applied = 0
    done = 0
    try:
        for count, rows in _second_pass_batches(importer, stream, file_name, report):
            good = [row for row in rows if row.line not in report.bad_lines and row.ok]
            if good:
                importer.apply_batch(good)
            applied += len(good)
            done += count
            if on_progress:
                on_progress(done)
        importer.apply_finish()
    finally:
        importer.close()
    return applied


def import_in_one_pass(
    importer: Importer,
    stream: BinaryIO,
    file_name: str,
    *,
    skip_bad_rows: bool,
    on_progress=None,
) -> tuple[Report, int, int]:
    """Check each batch and write it at once (see the module's notes): the caller holds the
    transaction and rolls it back when the report has errors and bad rows are not skipped.
    Returns the report, the number of data rows and the number of rows applied."""
    report = Report()
    seen = SeenKeys()
    total = applied = 0
    writing = True
    try:
        for batch in batched_rows(
            iter_rows(importer, stream, file_name, report), importer.batch_size
        ):
            importer.check_batch([row for row in batch if row.ok], report)
            _reject_repeated_keys(importer, batch, seen, report)
            total += len(batch)
            # After a bad row the transaction will be rolled back: writing on is wasted.
            writing = writing and (skip_bad_rows or not report.bad_lines)
            if writing:
                good = [row for row in batch if row.ok]
                if good:
                    importer.apply_batch(good)
                applied += len(good)
            if on_progress:
                on_progress(total)
        if not report.file_error:
            importer.check_file(report)
            writing = writing and (skip_bad_rows or not report.bad_lines)
            if writing:
                importer.apply_finish()
    except UnreadableFile:
        report = Report()
        report.refuse_file("", "unreadable")
    finally:
        seen.close()
        importer.close()
    return report, total, applied if writing and not report.file_error else 0


def _second_pass_batches(
    importer: Importer, stream: BinaryIO, file_name: str, report: Report
) -> Iterator[tuple[int, list[Row]]]:
    spool, report.spool = report.spool, None
    if spool is None:
        scratch = Report()  # the errors were collected by the first pass already
        rows = iter_rows(importer, stream, file_name, scratch)
        for batch in batched_rows(rows, importer.batch_size):
            yield len(batch), batch
        return
    try:
        importer.present, importer.file_headers = spool.present, spool.file_headers
        yield from spool.read()
    finally:
        spool.close()


def count_rows(stream: BinaryIO, file_name: str) -> int:
    """The number of data rows, for the progress bar: a quick pass for CSV, the sheet's
    recorded size for XLSX. 0 when the file cannot be read (validation will say why)."""
    try:
        if file_name.lower().endswith(".xlsx"):
            from openpyxl import load_workbook

            workbook = load_workbook(stream, read_only=True)
            try:
                return max((workbook.active.max_row or 1) - 1, 0)
            finally:
                workbook.close()
        return max(sum(1 for _record in _csv_records(stream)) - 1, 0)
    except Exception:
        return 0


# New records are prepared this many at a time while a COPY streams (about one buffer
# of psycopg's, 32 KB): the database writes the rows sent while the next ones are prepared.
PREPARE_CHUNK = 100


def bulk_insert(
    model: type[models.Model],
    records: list[models.Model],
    batch_size: int,
    *,
    prepare: Callable[[list[models.Model]], None] | None = None,
    binary: bool = False,
) -> None:
    """Insert new records and give them their primary keys. On PostgreSQL this is COPY, several
    times faster than INSERT for imports of many rows; elsewhere ``bulk_create``. Like
    ``bulk_create`` it calls no ``save()`` and sends no signals.

    ``prepare``, when given, completes the records a chunk at a time just before they are
    written (before they have their primary keys), and must not use the database: on
    PostgreSQL it runs while the COPY streams, so the database writes and indexes the rows
    already sent while Python prepares the next ones (building them, encrypting personal
    data) instead of each waiting for the other.

    ``binary=True`` sends the rows in PostgreSQL's binary COPY format when every column has
    one of a few plain types (``BINARY_TYPES``), which costs Python half as much as the text
    format; the values must then be of the column's Python type (an int for an integer, not
    "5"), as an importer's parsers give them."""
    if not records:
        return
    if connection.vendor != "postgresql":
        if prepare is not None:
            prepare(records)
        model.objects.bulk_create(records, batch_size=batch_size)
        return
    table = model._meta.db_table
    pk = model._meta.pk
    fields = [pk, *(field for field in model._meta.concrete_fields if field is not pk)]
    now = timezone.now()  # one timestamp for the batch, as bulk_create would nearly give
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [table, pk.column, len(records)],
        )
        ids = [next_id for (next_id,) in cursor.fetchall()]
        columns = ", ".join(quote(field.column) for field in fields)
        types = binary_copy_types(fields) if binary else None
        statement = f"COPY {quote(table)} ({columns}) FROM STDIN"
        if types is not None:
            statement += " (FORMAT BINARY)"
        with cursor.cursor.copy(statement) as copy:
            if types is not None:
                copy.set_types(types)
            for start in range(0, len(records), PREPARE_CHUNK):
                chunk = records[start : start + PREPARE_CHUNK]
                if prepare is not None:
                    prepare(chunk)
                for record, next_id in zip(chunk, ids[start : start + PREPARE_CHUNK], strict=True):
                    record.pk = next_id
                for row in _copy_rows(model, chunk, now):
                    copy.write_row(row)
    for record in records:
        record._state.adding = False
        record._state.db = connection.alias


# Django's PostgreSQL column types (before any "(length)") that binary COPY is used for, and
# the name psycopg knows each by.
BINARY_TYPES = {
    "varchar": "varchar",
    "text": "text",
    "boolean": "bool",
    "smallint": "int2",
    "integer": "int4",
    "bigint": "int8",
    "date": "date",
    "timestamp with time zone": "timestamptz",
}


def binary_copy_types(fields, types: dict[str, str] = BINARY_TYPES) -> list[str] | None:
    """The psycopg type names of the columns for a binary COPY, or None when one of them has
    a type not in ``types`` (the text format then serves)."""
    names = []
    for model_field in fields:
        db_type = (model_field.db_type(connection) or "").split("(", 1)[0].strip().lower()
        name = types.get(db_type)
        if name is None:
            return None
        names.append(name)
    return names


# Types psycopg writes as they are: no need for Django's per-value preparation, which costs
# more than the COPY itself.
_PLAIN_TYPES = {
    "CharField",
    "TextField",
    "EmailField",
    "BooleanField",
    "IntegerField",
    "BigIntegerField",
    "SmallIntegerField",
    "PositiveIntegerField",
    "PositiveSmallIntegerField",
    "PositiveBigIntegerField",
    "ForeignKey",
    "DateField",
    "DecimalField",
}


def _copy_rows(model: type[models.Model], records: list[models.Model], now) -> list:
    """The COPY rows of ``records``: primary key first, then the other concrete fields. The
    auto_now fields get ``now``, one timestamp for the batch as ``bulk_create`` nearly gives;
    plain values are read as they are (one C-level getter per record)."""
    pk = model._meta.pk
    fields = [field for field in model._meta.concrete_fields if field is not pk]
    stamps = {
        field.attname: now
        for field in fields
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
    }
    prepared = [
        (position, field)
        for position, field in enumerate(fields, start=1)
        if field.attname not in stamps and field.get_internal_type() not in _PLAIN_TYPES
    ]
    # attrgetter of several names gives a tuple; of one, the bare value.
    row_of = attrgetter(pk.attname, pk.attname, *(field.attname for field in fields))
    rows = []
    for record in records:
        record.__dict__.update(stamps)
        row = row_of(record)[1:]
        if prepared:
            row = list(row)
            for position, field in prepared:
                row[position] = field.get_db_prep_save(field.pre_save(record, add=True), connection)
        rows.append(row)
    return rows
