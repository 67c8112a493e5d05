"""Writes of interactions: ingest in bulk, idempotent by (external system, external id).

``interaction_ingest_many`` stores a batch of resolved rows (``ingest.NewInteraction``) in one
transaction: rows whose external id is already recorded — in the database or earlier in the
batch — change nothing; every new one is stamped with the standard version in force at its
time and its deviations are written beside it (``checks``). The rows go in with COPY on
PostgreSQL and with one multi-row statement per table elsewhere; the standards in force are
loaded once per batch. One audit row and one ``interactions.ingested`` event per batch.
"""

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from json.encoder import encode_basestring

from django.core.exceptions import PermissionDenied
from django.db import connection, transaction

from servicecharter.accounts import permissions as perms
from servicecharter.accounts.scoping import has_capability
from servicecharter.core import imports as core_imports
from servicecharter.core.audit import audit_record
from servicecharter.core.calendars import get_calendar
from servicecharter.core.events import emit
from servicecharter.core.ids import allocate_ids
from servicecharter.interactions.checks import check_interaction
from servicecharter.interactions.ingest import NewInteraction
from servicecharter.interactions.models import Deviation, Interaction
from servicecharter.org.models import Department
from servicecharter.standards.choices import ServiceLevelMetric
from servicecharter.standards.rules import InForce
from servicecharter.standards.selectors import in_force

INTERACTION_COLUMNS = (
    "id",
    "external_system",
    "external_id",
    "channel",
    "staff_id",
    "department_id",
    "customer_id",
    "business_type_id",
    "started_at",
    "wait_seconds",
    "handle_seconds",
    "outcome",
    "steps",
    "notes",
    "standard_version_id",
    "deviation_count",
)
# The database numbers deviations itself: nothing refers to them while they are written.
DEVIATION_COLUMNS = (
    "interaction_id",
    "kind",
    "step_code",
    "expected",
    "actual",
    "staff_id_at",
    "department_id_at",
    "at",
)


def steps_json(steps: list[dict], _text=encode_basestring) -> str:
    """The step events as JSON text, written directly for their one shape ({"step": code,
    "at": seconds}): twice as fast as the general encoder, the same text."""
    if not steps:
        return "[]"
    events = [f'{{"step":{_text(event["step"])},"at":{event["at"]:d}}}' for event in steps]
    return "[" + ",".join(events) + "]"


# Rows judged and written at a time; on PostgreSQL one chunk is written while the next is judged.
CHUNK = 1_000


@dataclass
class IngestResult:
    """What a batch did. ``ids[i]`` is the id of the i-th row given: new, or the interaction
    already recorded under its external id; ``created[i]`` says which."""

    ids: list[int] = field(default_factory=list)
    created: list[bool] = field(default_factory=list)
    deviations: int = 0

    @property
    def created_count(self) -> int:
        return sum(self.created)

    @property
    def existing_count(self) -> int:
        return len(self.created) - self.created_count


def interaction_ingest_many(
    rows: list[NewInteraction],
    *,
    actor,
    check: bool = True,
    rules: InForce | None = None,
) -> IngestResult:
    """Store a batch of interactions (see the module's docstring). ``actor`` must hold
    INGEST_INTERACTIONS (the rows' departments were checked against its scope when they were
    resolved). ``rules`` (from ``standards.selectors.in_force``) may be shared by batches
    written moments apart; by default they are read for this batch.

    ``check=False`` stores the rows without judging them (no version, no deviations): only
    the benchmark uses it, to measure what the check costs."""
    if actor is not None and not has_capability(actor, perms.INGEST_INTERACTIONS):
        raise PermissionDenied
    result = IngestResult()
    if not rows:
        return result
    with transaction.atomic():
        _lock_sources({row.external_system for row in rows})
        existing = _existing_ids(rows)
        new_rows = _new_rows(rows, existing, result)
        ids = allocate_ids(Interaction, len(new_rows))
        result.deviations = _judge_and_write(new_rows, ids, check=check, rules=rules)
        _fill_ids(result, ids)
        _record(rows, new_rows, ids, result)
    return result


def _new_rows(rows: list[NewInteraction], existing: dict, result: IngestResult) -> list:
    """The rows to store: not already recorded, and not repeated earlier in the batch.
    ``result`` gets, per row, the id already recorded (or -1 - the position of the first row
    of the batch with its key, resolved by ``_fill_ids``), or None for a row to store."""
    new_rows: list[NewInteraction] = []
    first_at: dict[tuple[str, str], int] = {}
    ids = result.ids
    for position, row in enumerate(rows):
        key = (row.external_system, row.external_id)
        known = existing.get(key) if existing else None
        if known is None:
            earlier = first_at.setdefault(key, position)
            if earlier != position:
                known = -1 - earlier
            else:
                new_rows.append(row)
        ids.append(known)
    result.created = [known is None for known in ids]
    return new_rows


def _judge_and_write(rows: list[NewInteraction], ids: list[int], *, check, rules) -> int:
    """Judge and write the new rows a chunk at a time. On PostgreSQL each chunk's COPY runs in
    a helper thread while the next chunk is judged, so the database writes (its indexes cost
    about as much as the judging) and Python judges at the same time. Returns the number of
    deviations written."""
    writer = _Writer()
    deviations = 0
    try:
        judge = _Judge(check=check, rules=rules)
        for start in range(0, len(rows), CHUNK):
            interaction_rows, deviation_rows = judge.prepare(
                rows[start : start + CHUNK], ids[start : start + CHUNK]
            )
            writer.send(Interaction, INTERACTION_COLUMNS, interaction_rows)
            writer.send(Deviation, DEVIATION_COLUMNS, deviation_rows)
            deviations += len(deviation_rows)
    finally:
        writer.close()
    return deviations


def _fill_ids(result: IngestResult, ids: list[int]) -> None:
    new_ids = iter(ids)
    by_position: dict[int, int] = {}
    for position, created in enumerate(result.created):
        if created:
            by_position[position] = result.ids[position] = next(new_ids)
    for position, known in enumerate(result.ids):
        if known is not None and known < 0:
            result.ids[position] = by_position[-1 - known]


def _record(rows, new_rows, ids, result: IngestResult) -> None:
    summary = {
        "rows": len(rows),
        "created": len(new_rows),
        "existing": len(rows) - len(new_rows),
        "deviations": result.deviations,
        "systems": sorted({row.external_system for row in rows}),
    }
    if new_rows:
        times = [row.started_at for row in new_rows]
        summary.update(
            first_id=min(ids),
            last_id=max(ids),
            started_from=min(times).isoformat(),
            started_to=max(times).isoformat(),
        )
    audit_record(
        action="interactions.ingest",
        object_type="interactions.interaction",
        object_id=summary.get("first_id", ""),
        changes=summary,
    )
    if new_rows:
        emit("interactions.ingested", summary)


# Idempotency ---------------------------------------------------------------------------------


def _lock_sources(systems: set[str]) -> None:
    """Two batches from the same source system never check and insert at the same time, so
    an id re-sent concurrently is still stored once. SQLite writes one transaction at a time
    (BEGIN IMMEDIATE) already."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for system in sorted(systems):
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"interactions:{system}"])


def _existing_ids(rows: list[NewInteraction]) -> dict[tuple[str, str], int]:
    by_system: dict[str, list[str]] = {}
    for row in rows:
        by_system.setdefault(row.external_system, []).append(row.external_id)
    existing: dict[tuple[str, str], int] = {}
    for system, external_ids in by_system.items():
        found = core_imports.filter_keys(
            Interaction.objects.filter(external_system=system), "external_id", external_ids
        ).values_list("external_id", "pk")
        existing.update({(system, external_id): pk for external_id, pk in found})
    return existing


# Judging and writing ------------------------------------------------------------------------


class _BusinessDays:
    """``add_business_days`` on each department's calendar, loaded once per batch."""

    def __init__(self):
        self.calendar_of: dict[int, str] | None = None
        self.calendars: dict[str, object] = {}

    def for_department(self, department_id: int):
        if self.calendar_of is None:
            self.calendar_of = dict(Department.objects.values_list("pk", "calendar_code"))
        code = self.calendar_of.get(department_id) or None
        calendar = self.calendars.get(code)
        if calendar is None:
            calendar = self.calendars[code] = get_calendar(code)
        return lambda start, days: calendar.add_business_days(start, days).at


class _Judge:
    """Turns new interactions into table rows, judging each against the rules in force at its
    time. Written for speed: a million rows go through ``prepare``."""

    def __init__(self, *, check: bool, rules: InForce | None):
        self.check = check
        if check and rules is None:
            rules = in_force()
        self.rules = rules
        self.business_days = _BusinessDays()
        # Only the channels with a "reply within business days" level need a calendar.
        self.calendar_channels = (
            {
                channel
                for channel, entries in rules.levels.items()
                for _period, rule in entries
                if rule.metric == ServiceLevelMetric.REPLY_WITHIN_BUSINESS_DAYS
            }
            if check
            else set()
        )

    def prepare(self, rows: list[NewInteraction], ids: list[int]) -> tuple[list, list]:
        """(interaction rows, deviation rows) in the column order of the tables."""
        interaction_rows: list[tuple] = []
        deviation_rows: list[tuple] = []
        add_interaction = interaction_rows.append
        add_deviation = deviation_rows.append
        check = self.check
        if check:
            version_at = self.rules.version
            levels_at = self.rules.service_levels
            calendar_channels = self.calendar_channels
            for_department = self.business_days.for_department
        dumps = steps_json
        for pk, row in zip(ids, rows, strict=True):
            version_id = None
            found = 0
            if check:
                started_at = row.started_at
                channel = row.channel
                version = version_at(row.business_type_id, channel, started_at)
                findings = check_interaction(
                    steps=version.steps if version is not None else (),
                    levels=levels_at(channel, started_at),
                    events=row.steps,
                    wait_seconds=row.wait_seconds,
                    outcome=row.outcome,
                    started_at=started_at,
                    add_business_days=(
                        for_department(row.department_id) if channel in calendar_channels else None
                    ),
                )
                if version is not None:
                    version_id = version.version_id
                found = len(findings)
                for finding in findings:
                    add_deviation(
                        (
                            pk,
                            finding.kind,
                            finding.step_code,
                            finding.expected,
                            finding.actual,
                            row.staff_id,
                            row.department_id,
                            started_at,
                        )
                    )
            add_interaction(
                (
                    pk,
                    row.external_system,
                    row.external_id,
                    row.channel,
                    row.staff_id,
                    row.department_id,
                    row.customer_id,
                    row.business_type_id,
                    row.started_at,
                    row.wait_seconds,
                    row.handle_seconds,
                    row.outcome,
                    dumps(row.steps),
                    row.notes,
                    version_id,
                    found,
                )
            )
        return interaction_rows, deviation_rows


class _Writer:
    """Writes table rows inside the caller's transaction: on PostgreSQL with COPY, each from a
    helper thread that holds the connection while the caller prepares the next rows (psycopg
    serialises any other use of the connection behind it, so the order of writes is kept);
    elsewhere at once, with one multi-row INSERT. A failed COPY raises from the next ``send``
    or from ``close``, so the transaction is rolled back."""

    def __init__(self):
        self.background = connection.vendor == "postgresql"
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def send(self, model, columns: tuple[str, ...], rows: list[tuple]) -> None:
        if not rows:
            return
        self.wait()
        statement = _insert_statement(model, columns)
        if not self.background:
            _insert_sqlite(statement, columns, rows)
            return
        connection.ensure_connection()
        holding = threading.Event()
        self.thread = threading.Thread(
            target=self._copy,
            args=(connection.connection, statement, rows, holding),
            name="interactions-copy",
            daemon=True,
        )
        self.thread.start()
        holding.wait()  # the COPY holds the connection from here on

    def _copy(self, raw_connection, statement: str, rows: list[tuple], holding) -> None:
        try:
            with raw_connection.cursor() as cursor, cursor.copy(statement) as copy:
                holding.set()
                write = copy.write_row
                for row in rows:
                    write(row)
        except BaseException as exc:  # raised again in the caller's thread
            self.error = exc
        finally:
            holding.set()

    def wait(self) -> None:
        if self.thread is not None:
            self.thread.join()
            self.thread = None
        error, self.error = self.error, None
        if error is not None:
            raise error

    def close(self) -> None:
        self.wait()


def _insert_statement(model, columns: tuple[str, ...]) -> str:
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    names = ", ".join(quote(column) for column in columns)
    if connection.vendor == "postgresql":
        return f"COPY {table} ({names}) FROM STDIN"
    return f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(columns))})"


def _insert_sqlite(statement: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    stamps = [i for i, column in enumerate(columns) if column in {"started_at", "at"}]
    prepared = []
    for row in rows:
        row = list(row)
        for i in stamps:
            row[i] = _sqlite_datetime(row[i])
        prepared.append(row)
    with connection.cursor() as cursor:
        cursor.executemany(statement, prepared)


def _sqlite_datetime(value: datetime) -> str:
    """What Django's SQLite backend stores for an aware datetime (naive UTC text), without its
    per-value checks, which cost more than the insert."""
    return str(value.astimezone(UTC).replace(tzinfo=None))
