"""Part 2 of `charter bench cases`: one deadline sweep with 1,000 due cases among 1,000,000 open.

The open cases come from the import part when it ran (``state``); whatever is missing is
bulk-loaded here (COPY on PostgreSQL, executemany on SQLite), then the tables are ANALYZEd as
autovacuum would. The 1,000 due cases were warned before (as the sweep does every minute), so a
sweep breaches them: claim, timeline, audit, event and notifications for each. After one
untimed sweep (the worker runs it every minute in a warm process), a sweep is timed three times
(the due cases are made due again in between); the median is reported, with
the query plans that show the partial indexes at work. An informational second figure times a
sweep that warns 1,000 cases and breaches 1,000 others in the same run.
"""

import os
import statistics
import time
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from servicecharter.accounts.choices import Role
from servicecharter.accounts.models import RoleGrant, User
from servicecharter.cases import services
from servicecharter.cases.choices import OPEN_STATES, CaseKind, CaseState
from servicecharter.cases.models import Case
from servicecharter.org.choices import Channel, DepartmentKind
from servicecharter.org.models import Department
from servicecharter.org.services import department_create

OPEN_CASES = 1_000_000
DUE = 1_000
RUNS = 3
TARGET_SECONDS = 1.0
BATCH = 20_000


def run(*, stdout, scale: float, state: dict) -> None:
    total = max(10_000, int(OPEN_CASES * scale))
    due = DUE if scale >= 1 else max(100, int(DUE * scale))
    stdout.write(f"Sweep: {total:,} open cases, {due:,} of them due ({connection.vendor})…")
    handler = _people()
    existing = Case.objects.filter(state__in=sorted(OPEN_STATES)).count()
    if existing < total:
        started = time.perf_counter()
        _bulk_load(total - existing, handler)
        stdout.write(
            f"  loaded {total - existing:,} open cases in {time.perf_counter() - started:.1f} s "
            f"({existing:,} were there from the import)"
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    due_ids = _make_due(due, handler)
    results = [_time_breaches(due_ids), _time_warnings_and_breaches(due_ids)]
    plans = _plans()
    state["sweep"] = results
    _print(stdout, results, plans, total)


# --- the data ------------------------------------------------------------------------------------


def _people() -> User:
    """A branch with a team, its supervisor, a complaints officer and the handler of the due
    cases, so a breach notifies the people it does in production."""
    branch = Department.objects.filter(code="BENCH-SWEEP").first()
    if branch is None:
        root = Department.objects.filter(parent__isnull=True).order_by("pk").first()
        if root is None:
            root = department_create(
                code="BENCH-HO",
                name_en="Head office",
                name_zh="总行",
                kind=DepartmentKind.HEAD_OFFICE,
            )
        branch = department_create(
            code="BENCH-SWEEP",
            name_en="Sweep branch",
            name_zh="巡检分行",
            kind=DepartmentKind.BRANCH,
            parent=root,
        )
        team = department_create(
            code="BENCH-SWEEP-T",
            name_en="Sweep team",
            name_zh="巡检组",
            kind=DepartmentKind.TEAM,
            parent=branch,
        )
        for username, role, department in (
            ("bench.sweep.supervisor", Role.SUPERVISOR, branch),
            ("bench.sweep.officer", Role.COMPLAINTS_OFFICER, branch),
            ("bench.sweep.handler", Role.AGENT, team),
        ):
            user = User.objects.create_user(username=username, password=None)
            RoleGrant.objects.create(user=user, role=role, department=department)
    return User.objects.get(username="bench.sweep.handler")


def _columns() -> list:
    return [field for field in Case._meta.concrete_fields if not field.primary_key]


def _bulk_load(count: int, handler: User) -> None:
    """``count`` open complaints, none due for days: constant columns adapted once, the few
    that vary (reference, receipt, deadlines) per row."""
    now = timezone.now()
    team = Department.objects.get(code="BENCH-SWEEP-T")
    template = Case(
        kind=CaseKind.COMPLAINT,
        channel=Channel.PHONE,
        state=CaseState.IN_PROGRESS,
        contact_name="Bench",
        subject="Sweep bench",
        description="Open, not yet due.",
        profile_key="cn_banking_insurance",
        department=team,
        handler=handler,
        received_at=now - timedelta(days=2),
        created_at=now,
        updated_at=now,
    )
    fields = _columns()
    constant = {
        field.column: field.get_db_prep_save(getattr(template, field.attname), connection)
        for field in fields
    }
    columns = [field.column for field in fields]
    stamp = connection.ops.adapt_datetimefield_value
    deadlines = {
        hours: (stamp(now + timedelta(hours=hours + 72)), stamp(now + timedelta(hours=hours + 1)))
        for hours in range(24 * 14)
    }
    first = Case.objects.count() + 1

    def rows():
        for number in range(first, first + count):
            due_at, warn_at = deadlines[number % len(deadlines)]
            row = dict(constant)
            row.update(reference=f"S{number:09d}", due_at=due_at, warn_at=warn_at)
            yield [row[column] for column in columns]

    with transaction.atomic():
        if connection.vendor == "postgresql":
            _copy(columns, rows())
        else:
            _insert_many(columns, rows())


def _copy(columns: list[str], rows) -> None:
    quoted = ", ".join(connection.ops.quote_name(column) for column in columns)
    with connection.cursor() as cursor:
        sql = f"COPY {connection.ops.quote_name(Case._meta.db_table)} ({quoted}) FROM STDIN"
        with cursor.cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)


def _insert_many(columns: list[str], rows) -> None:
    quoted = ", ".join(connection.ops.quote_name(column) for column in columns)
    marks = ", ".join(["%s"] * len(columns))
    sql = (
        f"INSERT INTO {connection.ops.quote_name(Case._meta.db_table)} ({quoted}) VALUES ({marks})"
    )
    batch = []
    with connection.cursor() as cursor:
        for row in rows:
            batch.append(row)
            if len(batch) == BATCH:
                cursor.executemany(sql, batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)


def _make_due(count: int, handler: User) -> list[int]:
    """Pick ``count`` open complaints (imported ones too), give them to the bench handler's
    team (so a breach tells a handler, a supervisor and a complaints officer) and put their
    deadline in the past."""
    ids = list(
        Case.objects.filter(kind=CaseKind.COMPLAINT, state__in=sorted(OPEN_STATES))
        .order_by("pk")
        .values_list("pk", flat=True)[:count]
    )
    team = Department.objects.get(code="BENCH-SWEEP-T")
    Case.objects.filter(pk__in=ids).update(handler=handler, department=team)
    _reset(ids, warned=True)
    return ids


def _reset(ids: list[int], *, warned: bool) -> None:
    """Due again: the deadline minutes ago, the warning days ago and (``warned``) already sent."""
    now = timezone.now()
    with transaction.atomic():
        Case.objects.filter(pk__in=ids).update(
            due_at=now - timedelta(minutes=5),
            warn_at=now - timedelta(days=3),
            warned_at=now - timedelta(days=3) if warned else None,
            breached_at=None,
        )


# --- the measurements ----------------------------------------------------------------------------


def _time_breaches(due_ids: list[int]) -> dict:
    # One untimed sweep first: the worker's sweep runs every minute in a warm process.
    _reset(due_ids, warned=True)
    services.sweep_deadlines(limit=len(due_ids))
    timings, cpu, counts = [], [], []
    for _ in range(RUNS):
        _reset(due_ids, warned=True)
        started, cpu_started = time.perf_counter(), time.process_time()
        counts.append(services.sweep_deadlines(limit=len(due_ids)))
        timings.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
    median = statistics.median(timings)
    right = all(count == {"warned": 0, "breached": len(due_ids)} for count in counts)
    return {
        "measure": f"one sweep, {len(due_ids):,} breaches",
        # The CPU of this process beside the wall clock: on a shared machine the second grows
        # with the load, the first does not.
        "value": f"{median:.3f} s median of {RUNS} ({', '.join(f'{t:.3f}' for t in timings)}; "
        f"{statistics.median(cpu):.3f} s CPU in this process)",
        "target": f"< {TARGET_SECONDS:.0f} s",
        "passed": right and median < TARGET_SECONDS,
    }


def _time_warnings_and_breaches(due_ids: list[int]) -> dict:
    """Half the due set breached, the other half only crossing its warning share."""
    half = len(due_ids) // 2
    timings = []
    for _ in range(RUNS):
        _reset(due_ids[:half], warned=True)
        _reset(due_ids[half:], warned=False)
        Case.objects.filter(pk__in=due_ids[half:]).update(due_at=timezone.now() + timedelta(days=2))
        started = time.perf_counter()
        services.sweep_deadlines(limit=len(due_ids))
        timings.append(time.perf_counter() - started)
    return {
        "measure": f"one sweep, {half:,} breaches + {len(due_ids) - half:,} warnings",
        "value": f"{statistics.median(timings):.3f} s median of {RUNS}",
        "target": "—",
        "passed": None,
    }


def _plans() -> dict[str, str]:
    now = timezone.now()
    plans = {}
    prefix = "EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN "
    for name, kind in (("warnings", services.SWEEP_WARNING), ("breaches", services.SWEEP_BREACH)):
        sql, params = services.sweep_candidates_sql(kind, now, DUE)
        with connection.cursor() as cursor:
            cursor.execute(prefix + sql, params)
            plans[name] = " / ".join(
                " ".join(str(part) for part in row).strip() for row in cursor.fetchall()
            )
    return plans


def _print(stdout, results: list[dict], plans: dict[str, str], total: int) -> None:
    stdout.write("")
    stdout.write(
        f"Deadline sweep — {connection.vendor}, {total:,} open cases, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    for result in results:
        verdict = "info" if result["passed"] is None else "PASS" if result["passed"] else "FAIL"
        stdout.write(
            f"  {result['measure']}: {result['value']}  (target {result['target']}) {verdict}"
        )
    for name, plan in plans.items():
        stdout.write(f"  plan, due {name}: {plan}")
