"""Writing many cases at once, for the imports (``cases.imports``) and the demo
(``demo.cases``): rows built from the fields' defaults and written with one COPY (PostgreSQL)
or a few multi-row INSERTs (SQLite) per batch, from a helper thread while the caller prepares
the next batch; primary keys allocated per batch so that each case has its readable reference
before it is written; the profile and routing rules, deadlines and severities worked out once
for the many rows that share them.

Like ``bulk_create`` it calls no ``save()`` and sends no signals: the callers write the
timeline and audit rows the services would.
"""

import gc
import json
import operator
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from functools import cache

from django.db import DatabaseError, connection
from django.utils.functional import cached_property

from servicecharter.cases.deadlines import clock_statuses
from servicecharter.cases.models import Case, CaseSettings, TimelineEntry
from servicecharter.cases.services import (
    _duty_due,
    reference_for,
    resolve_profile,
)
from servicecharter.cases.severity import score_severity
from servicecharter.core import foreign_keys
from servicecharter.core.calendars import get_calendar
from servicecharter.core.ids import IdPool
from servicecharter.core.imports import BINARY_TYPES, binary_copy_types
from servicecharter.org.choices import Channel


class _SqliteDatetimes(dict):
    """What Django's SQLite backend stores for an instant (naive UTC text), kept for the
    instants that repeat (receipt dates, deadlines, the batch's timestamp)."""

    LIMIT = 50_000

    def __call__(self, value: datetime) -> str:
        text = self.get(value)
        if text is None:
            if len(self) >= self.LIMIT:
                self.clear()
            text = self[value] = str(value.astimezone(UTC).replace(tzinfo=None))
        return text


def _json(value) -> str:
    # JSON text given by the caller (a value worked out once for many rows) goes in as it is.
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def json_text(value) -> str:
    return json.dumps(value, ensure_ascii=False)


class BulkTable:
    """Plain rows for one table, built from the fields' defaults and the values given, inserted
    with COPY on PostgreSQL and multi-row INSERTs elsewhere. No ``save()``, no signals. A JSON
    field takes a Python value or its JSON text."""

    def __init__(self, model, *, with_pk: bool):
        fields = [
            field for field in model._meta.concrete_fields if with_pk or not field.primary_key
        ]
        self.model = model
        self.fields = fields
        postgres = connection.vendor == "postgresql"
        datetimes = _SqliteDatetimes()
        converters: dict[str, Callable] = {}
        for field in fields:
            kind = field.get_internal_type()
            if kind == "JSONField":
                converters[field.attname] = _json
            elif kind == "DateTimeField" and not postgres:
                converters[field.attname] = datetimes
        self.converters = list(converters.items())
        # The field's default; "" for text without one, None otherwise (a NOT NULL field
        # every row must set: the database refuses a row that does not).
        self.defaults = {field.attname: field.get_default() for field in fields}
        for name, convert in self.converters:
            if self.defaults[name] is not None:
                self.defaults[name] = convert(self.defaults[name])
        self.pick = operator.itemgetter(*(field.attname for field in fields))
        self._statements: dict[tuple[int, str], str] = {}

    def row(self, values: dict) -> tuple:
        merged = {**self.defaults, **values}
        for name, convert in self.converters:
            value = merged[name]
            if value is not None and value.__class__ is not str:
                merged[name] = convert(value)
        return self.pick(merged)

    def copy_statement(self) -> str:
        quote = connection.ops.quote_name
        columns = ", ".join(quote(field.column) for field in self.fields)
        statement = f"COPY {quote(self.model._meta.db_table)} ({columns}) FROM STDIN"
        return statement + " (FORMAT BINARY)" if self.binary_types else statement

    @cached_property
    def key_checks(self) -> foreign_keys.BatchKeys:
        return foreign_keys.BatchKeys(self.fields)

    def primary_keys(self, rows: list[tuple]) -> set:
        """The primary keys of ``rows`` (none when the database gives them)."""
        for position, field in enumerate(self.fields):
            if field.primary_key:
                return {row[position] for row in rows}
        return set()

    @cached_property
    def binary_types(self) -> list[str] | None:
        """psycopg's names of the columns' types, when every one can go in PostgreSQL's binary
        COPY format: the database then reads numbers and instants as they are stored instead
        of parsing their text, and psycopg writes them for about half the cost."""
        return binary_copy_types(self.fields, _BINARY_TYPES)

    def insert_statement(self, rows: int, mark: str = "%s") -> str:
        """One INSERT of ``rows`` rows (cached: an import asks for the same few sizes)."""
        key = (rows, mark)
        if key not in self._statements:
            quote = connection.ops.quote_name
            table = quote(self.model._meta.db_table)
            columns = ", ".join(quote(field.column) for field in self.fields)
            row = "(" + ", ".join([mark] * len(self.fields)) + ")"
            values = ", ".join([row] * rows)
            self._statements[key] = f"INSERT INTO {table} ({columns}) VALUES {values}"
        return self._statements[key]

    def multirow_inserts(self, rows: list[tuple], mark: str = "%s") -> list[tuple[str, list]]:
        """(statement, values) of INSERTs of as many rows each as SQLite lets one statement
        bind. sqlite3 binds a statement's values and then lets SQLite write all of its rows
        without the interpreter's lock; ``executemany`` takes the lock back after every row,
        and waits for it as long as the importing thread runs Python (up to 5 ms a row)."""
        limit = connection.features.max_query_params or _POSTGRESQL_MAX_PARAMS
        per_statement = max(1, limit // len(self.fields))
        inserts = []
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            values = [value for row in chunk for value in row]
            inserts.append((self.insert_statement(len(chunk), mark), values))
        return inserts

    def insert(self, rows: list[tuple]) -> None:
        if not rows:
            return
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                _copy(cursor.cursor, self, rows)
                return
            for statement, values in self.multirow_inserts(rows):
                cursor.execute(statement, values)


# The core's binary COPY types, and two more: a row's values must be of the column's Python
# type, as ``BulkTable.row`` gives them (Decimal for numeric); JSON goes in as the JSON text
# ``BulkTable.row`` makes of it (see ``_jsonb_text_dumper``).
_BINARY_TYPES = {**BINARY_TYPES, "numeric": "numeric", "jsonb": "jsonb"}


# What PostgreSQL's protocol lets one statement bind (Django gives no limit for it).
_POSTGRESQL_MAX_PARAMS = 65_535


@cache
def _jsonb_text_dumper():
    """A psycopg dumper for a jsonb column of a binary COPY whose value is JSON text already
    (as ``BulkTable.row`` gives it): one call a value, where psycopg's own made five."""
    from psycopg import postgres, pq  # PostgreSQL only
    from psycopg.adapt import Dumper

    class JsonbText(Dumper):
        format = pq.Format.BINARY
        oid = postgres.types["jsonb"].oid

        def dump(self, obj) -> bytes:
            text = obj if obj.__class__ is str else json_text(obj)
            return b"\x01" + text.encode()  # jsonb's binary format: version 1, then the text

    return JsonbText


def _copy(cursor, table: BulkTable, rows: list) -> None:
    types = table.binary_types
    if types:
        # None: for the columns COPY's set_types names jsonb, not for any Python type.
        cursor.adapters.register_dumper(None, _jsonb_text_dumper())
    with cursor.copy(table.copy_statement()) as copy:
        if types:
            copy.set_types(types)
        for row in rows:
            copy.write_row(row)


class BackgroundWrites:
    """Sends a batch's rows from a helper thread, so the database writes one batch (rows and
    indexes: half the time of an import) while Python prepares the next. An error in the
    helper thread is raised from the next ``send`` or ``wait``.

    - PostgreSQL: COPY, with the batch's foreign keys checked as ``_choose_key_checks`` says.
    - SQLite: multi-row INSERTs on the same connection (Django opens it for use from any
      thread); sqlite3 lets go of the interpreter while SQLite writes them.

    The helper thread uses the connection for more than one statement, so until ``finish``
    every query of the importing thread first waits for the write in flight (a Django execute
    wrapper): the order of writes is kept and every later query sees the rows.
    """

    def __init__(self):
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._checking_now = False
        self._guarding = False
        self._own_key_checks: bool | None = None
        self._triggers_off = False

    def send(self, jobs: list[tuple[BulkTable, list[tuple]]]) -> None:
        self.wait()
        jobs = [(table, rows) for table, rows in jobs if rows]
        if not jobs:
            return
        self._guard_connection()
        if connection.vendor == "postgresql":
            self._choose_key_checks()
            if self._own_key_checks:
                self._check_keys(jobs)
            statements = jobs
            run = self._copy_all
        else:
            statements = [
                insert for table, rows in jobs for insert in table.multirow_inserts(rows, "?")
            ]
            run = self._insert_all
        self._thread = threading.Thread(
            target=self._run,
            args=(run, connection.connection, statements),
            name="bulk-write",
            daemon=True,
        )
        self._thread.start()

    def _choose_key_checks(self) -> None:
        """Once per writer: the batch's own foreign-key checks when this connection may switch
        the triggers off (``core.foreign_keys``); else the triggers', made at the end of each
        COPY, in the helper thread, instead of all at the commit, where nothing else could go
        on meanwhile."""
        if self._own_key_checks is not None:
            return
        self._own_key_checks = foreign_keys.may_switch_off_triggers()
        if not self._own_key_checks:
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            self._checking_now = True

    def _check_keys(self, jobs) -> None:
        """Lock and check the keys of the batch's rows, and switch the triggers off for its
        COPY (on again in ``wait``). Done here, not in the helper thread: each query there
        would wait for the interpreter's lock, up to 5 ms, while this thread runs Python."""
        written: dict = {}  # model → primary keys of its rows the batch writes first
        with connection.cursor() as cursor:
            for table, rows in jobs:
                table.key_checks.check(cursor, rows, written)
                written[table.model] = table.primary_keys(rows)
            foreign_keys.set_triggers(cursor, on=False)
        self._triggers_off = True

    def _guard_connection(self) -> None:
        if not self._guarding:
            connection.execute_wrappers.append(self._wait_before_query)
            self._guarding = True

    def _wait_before_query(self, execute, sql, params, many, context):
        self.wait()
        return execute(sql, params, many, context)

    def _run(self, run, raw_connection, statements):
        try:
            run(raw_connection, statements)
        except BaseException as error:  # raised again in the importing thread
            self._error = error

    @staticmethod
    def _copy_all(raw_connection, jobs) -> None:
        with raw_connection.cursor() as cursor:
            for table, rows in jobs:
                _copy(cursor, table, rows)

    @staticmethod
    def _insert_all(raw_connection, statements) -> None:
        for statement, values in statements:
            raw_connection.execute(statement, values)

    def wait(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        error, self._error = self._error, None
        triggers_off, self._triggers_off = self._triggers_off, False
        if error is not None:  # the transaction failed: its end switches the triggers on
            with connection.wrap_database_errors:  # as Django's (IntegrityError…)
                raise error
        if triggers_off:
            with connection.cursor() as cursor:
                foreign_keys.set_triggers(cursor, on=True)

    def finish(self) -> None:
        """Wait for the last write, let the connection's queries go unguarded, and defer the
        constraints again, as the transaction had them (a failing transaction is left alone:
        its rollback ends the setting anyway)."""
        try:
            self.wait()
        finally:
            if self._guarding:
                self._guarding = False
                connection.execute_wrappers.remove(self._wait_before_query)
            if self._checking_now:
                self._checking_now = False
                if not connection.needs_rollback:
                    try:
                        with connection.cursor() as cursor:
                            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
                    except DatabaseError:
                        pass


def _prefix_of(received_at: datetime) -> str:
    """What ``reference_for`` puts before the case number (checked against it)."""
    prefix = reference_for(0, received_at)[:-7]
    if reference_for(1234567, received_at) != f"{prefix}1234567":
        raise RuntimeError("reference_for changed its format: update CaseWriter.reference")
    return prefix


def actor_label(user) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


class CaseWriter:
    """Writes new cases and their timeline rows in bulk (see the module's notes). Rows wait in
    ``pending`` until ``send``; with ``background`` the writes run while the caller
    prepares its next batch. Call ``wait`` at the end."""

    # Case ids allocated at a time when writing in the background (a few batches' worth).
    IDS_AHEAD = 10_000

    def __init__(self, *, background: bool = False):
        self.cases = BulkTable(Case, with_pk=True)
        self.timeline = BulkTable(TimelineEntry, with_pk=False)
        self._prefixes = Memo()
        self.pending: list[tuple[BulkTable, list[tuple]]] = []
        self.copies = BackgroundWrites() if background else None
        self.ids = IdPool(Case, ahead=self.IDS_AHEAD if background else 0)

    def reference(self, case_id: int, received_at: datetime) -> str:
        """``services.reference_for``, with its date part worked out once per receipt instant
        (formatting a date costs more than the rest of a row's reference)."""
        prefix = self._prefixes.get_or_make(received_at, lambda: _prefix_of(received_at))
        return f"{prefix}{case_id:07d}"

    def write_cases(
        self, cases: list[dict], now: datetime, finish: Callable | None = None
    ) -> list[tuple[int, str]]:
        """Queue ``cases`` (field → value; every NOT NULL field without a default given) and
        return (id, reference) of each, in order. ``finish(values)``, if given, completes a
        case's values once its id and reference are known."""
        ids = self.ids.take(len(cases))
        rows, made = [], []
        for case_id, values in zip(ids, cases, strict=True):
            reference = self.reference(case_id, values["received_at"])
            values["id"] = case_id
            values["reference"] = reference
            values["created_at"] = values["updated_at"] = now
            if finish is not None:
                finish(values)
            rows.append(self.cases.row(values))
            made.append((case_id, reference))
        self.pending.append((self.cases, rows))
        return made

    def write_timeline(self, entries: Iterable[dict]) -> None:
        self.pending.append((self.timeline, [self.timeline.row(entry) for entry in entries]))

    def send(self) -> None:
        jobs, self.pending = self.pending, []
        if self.copies is not None:
            self.copies.send(jobs)
            return
        for table, rows in jobs:
            table.insert(rows)

    def wait(self) -> None:
        if self.copies is not None:
            self.copies.wait()

    def finish(self) -> None:
        if self.copies is not None:
            self.copies.finish()


# --- what a bulk write needs to know, read once --------------------------------------------------


class Memo(dict):
    """Values worked out once per key, up to a bound (then it starts afresh, so memory stays
    flat). An error of the ``remembered`` type is kept too, and raised again for the next
    caller with the same key (a row refused for a reason the next rows share)."""

    def __init__(self, limit: int = 20_000, *, remembered: type[Exception] | None = None):
        super().__init__()
        self.limit = limit
        self.remembered = remembered or _Never

    def get_or_make(self, key, make: Callable):
        found = self.get(key, self)
        if found is self:
            if len(self) >= self.limit:
                self.clear()
            try:
                found = make()
            except self.remembered as error:
                found = error
            self[key] = found
        if isinstance(found, self.remembered):
            raise found
        return found


class _Never(Exception):
    """Raised by nothing: a Memo that remembers no error."""


class DeadlineBook:
    """Due and warning instants of a new complaint's first duty clock, worked out once per
    profile and receipt instant and kept (up to a bound, so memory stays flat)."""

    LIMIT = 20_000

    def __init__(self, now: datetime):
        self.now = now
        self.share = CaseSettings.current().warn_share / 100
        self._calendars: dict[str, object] = {}
        self._profiles: dict[str, object] = {}
        self._zones: dict[str, object] = {}
        self._due: dict[tuple, tuple] = {}

    def calendar(self, code: str):
        if code not in self._calendars:
            self._calendars[code] = get_calendar(code)
        return self._calendars[code]

    def profile(self, key: str):
        if key not in self._profiles:
            self._profiles[key] = resolve_profile(key)
        return self._profiles[key]

    def zone(self, profile_key: str):
        """The time zone a date without a time is read in: the profile's first clock's."""
        if profile_key not in self._zones:
            profile = self.profile(profile_key)
            code = profile.clocks[0].calendar if profile.clocks else None
            self._zones[profile_key] = self.calendar(code).zone
        return self._zones[profile_key]

    def first_due(self, profile_key: str, received_at: datetime) -> tuple:
        """(due_at, warn_at) of the clock that falls due first, or (None, None)."""
        key = (profile_key, received_at)
        hit = self._due.get(key)
        if hit is None:
            if len(self._due) >= self.LIMIT:
                self._due.clear()
            statuses = clock_statuses(
                profile=self.profile(profile_key),
                received_at=received_at,
                as_of=max(self.now, received_at),
                calendars=self.calendar,
            )
            first = _duty_due(statuses)
            if first is None:
                hit = (None, None)
            else:
                warn_at = first.started_at + (first.due.at - first.started_at) * self.share
                hit = (first.due.at, warn_at)
            self._due[key] = hit
        return hit


class SeverityBook:
    """``score_severity`` for repeated facts, worked out once each."""

    def __init__(self):
        settings = CaseSettings.current()
        self.window = settings.repeat_window_days
        self._scores: dict[tuple, tuple] = {}

    def score(self, *, money, currency, vulnerable, channel, earlier=0) -> tuple:
        """(level, score, the reasons as JSON text)."""
        key = (money, currency, vulnerable, channel, earlier)
        hit = self._scores.get(key)
        if hit is None:
            result = score_severity(
                money_at_stake=money,
                currency=currency,
                is_vulnerable=vulnerable,
                regulator_referral=channel == Channel.REGULATOR,
                earlier_cases=earlier,
                repeat_window_days=self.window,
                social_media=channel == Channel.SOCIAL,
            )
            hit = (result.level, result.score, json_text(result.reasons))
            if len(self._scores) < 10_000:
                self._scores[key] = hit
        return hit


class FewerCollections:
    """Python's cycle collector runs after every 700 new objects; an import makes a few dozen
    a row and keeps almost none, so while one runs the collector runs less often (a tenth of
    an import's time went to it). ``start`` and ``stop`` may be called more than once."""

    THRESHOLDS = (50_000, 20, 20)

    def __init__(self):
        self.saved: tuple | None = None

    def start(self) -> None:
        if self.saved is None:
            self.saved = gc.get_threshold()
            gc.set_threshold(*self.THRESHOLDS)

    def stop(self) -> None:
        if self.saved is not None:
            gc.set_threshold(*self.saved)
            self.saved = None
