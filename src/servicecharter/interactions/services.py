"""Writes of interactions: ingest in bulk, idempotent by (external system, external id).

``interaction_ingest_many`` stores a batch of resolved rows (``ingest.NewInteraction``) in one
transaction: rows whose external id is already recorded — in the database or earlier in the
batch — change nothing; every new one is stamped with the standard version in force at its
time and its deviations are written beside it (``checks``). The rows go in with COPY on
PostgreSQL and with one multi-row statement per table elsewhere; the standards in force are
loaded once per batch. One audit row and one ``interactions.ingested`` event per batch.
"""

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.core.exceptions import PermissionDenied
from django.db import connection, transaction

from servicecharter.accounts import permissions as perms
from servicecharter.accounts.scoping import has_capability
from servicecharter.core import imports as core_imports
from servicecharter.core.audit import audit_record
from servicecharter.core.calendars import get_calendar
from servicecharter.core.events import emit
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
DEVIATION_COLUMNS = (
    "id",
    "interaction_id",
    "kind",
    "step_code",
    "expected",
    "actual",
    "staff_id_at",
    "department_id_at",
    "at",
)
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


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
        new_rows: list[NewInteraction] = []
        keys_in_batch: dict[tuple[str, str], int] = {}
        for position, row in enumerate(rows):
            key = (row.external_system, row.external_id)
            known = existing.get(key)
            if known is None and key in keys_in_batch:
                known = -1 - keys_in_batch[key]  # the new row earlier in this batch
            if known is None:
                keys_in_batch[key] = position
                new_rows.append(row)
            result.ids.append(known)
            result.created.append(known is None)
        ids = _new_ids(len(new_rows))
        interaction_rows, deviation_rows = _prepare(new_rows, ids, check=check, rules=rules)
        _write(Interaction, INTERACTION_COLUMNS, interaction_rows)
        if deviation_rows:
            deviation_ids = _new_ids(len(deviation_rows), Deviation)
            _write(
                Deviation,
                DEVIATION_COLUMNS,
                [(pk, *row) for pk, row in zip(deviation_ids, deviation_rows, strict=True)],
            )
        _fill_ids(result, ids)
        result.deviations = len(deviation_rows)
        _record(rows, new_rows, ids, result)
    return result


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


def _prepare(rows: list[NewInteraction], ids: list[int], *, check: bool, rules: InForce | None):
    """The table rows of the new interactions and of their deviations (without their ids)."""
    interaction_rows = []
    deviation_rows = []
    if check and rules is None:
        rules = in_force()
    business_days = _BusinessDays()
    uses_business_days = check and any(
        rule.metric == ServiceLevelMetric.REPLY_WITHIN_BUSINESS_DAYS
        for entries in rules.levels.values()
        for _period, rule in entries
    )
    for pk, row in zip(ids, rows, strict=True):
        version_id = None
        findings = ()
        if check:
            started_at = row.started_at
            version = rules.version(row.business_type_id, row.channel, started_at)
            findings = check_interaction(
                steps=version.steps if version is not None else (),
                levels=rules.service_levels(row.channel, started_at),
                events=row.steps,
                wait_seconds=row.wait_seconds,
                outcome=row.outcome,
                started_at=started_at,
                add_business_days=(
                    business_days.for_department(row.department_id) if uses_business_days else None
                ),
            )
            if version is not None:
                version_id = version.version_id
            for finding in findings:
                deviation_rows.append(
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
        interaction_rows.append(
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
                _dumps(row.steps),
                row.notes,
                version_id,
                len(findings),
            )
        )
    return interaction_rows, deviation_rows


def _new_ids(count: int, model=Interaction) -> list[int]:
    """Primary keys for ``count`` new rows: from the sequence on PostgreSQL; on SQLite the
    next numbers after the highest (the transaction holds the database's write lock)."""
    if not count:
        return []
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [table, count],
            )
            return [pk for (pk,) in cursor.fetchall()]
        quoted = connection.ops.quote_name(table)
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {quoted}")
        top = cursor.fetchone()[0]
    return list(range(top + 1, top + 1 + count))


def _write(model, columns: tuple[str, ...], rows: list[tuple]) -> None:
    if not rows:
        return
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    names = ", ".join(quote(column) for column in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        stamps = [i for i, column in enumerate(columns) if column in {"started_at", "at"}]
        prepared = []
        for row in rows:
            row = list(row)
            for i in stamps:
                row[i] = _sqlite_datetime(row[i])
            prepared.append(row)
        placeholders = ", ".join(["%s"] * len(columns))
        cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({placeholders})", prepared)


def _sqlite_datetime(value: datetime) -> str:
    """What Django's SQLite backend stores for an aware datetime (naive UTC text), without its
    per-value checks, which cost more than the insert."""
    return str(value.astimezone(UTC).replace(tzinfo=None))
