"""Foundation benchmarks (issue 2, "Speed"): the cost of the audit trail, the staff list with
100,000 staff, and the customer import at 100,000 rows.

Run by `charter bench foundation`, inside a throwaway database (see bench/README.md).
``BENCH_ONLY=import`` (or ``updates``, ``list``, comma-separated) runs only those parts.
"""

import csv
import gc
import io
import os
import random
import resource
import statistics
import time
import tracemalloc
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from unittest import mock

from django.core.files.base import ContentFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from servicecharter.accounts.models import User
from servicecharter.core.context import Actor, reset_actor, set_actor
from servicecharter.demo import customers as customer_data
from servicecharter.demo import institution, names
from servicecharter.demo.services import institution_seed
from servicecharter.org import services as org_services
from servicecharter.org.imports import CustomerImporter
from servicecharter.org.models import Customer, Department, Staff

STAFF_UPDATES = 10_000
LIST_STAFF = 100_000
IMPORT_ROWS = 100_000
IMPORT_RUNS = 3  # the import rate is the median of this many runs, each of new customers
LIST_REQUESTS = 15


@dataclass
class Result:
    measure: str
    value: str
    target: str
    passed: bool | None  # None: for information


def run(*, stdout, scale: float = 1.0) -> list[Result]:
    sizes = {
        "updates": max(100, int(STAFF_UPDATES * scale)),
        "staff": max(1_000, int(LIST_STAFF * scale)),
        "rows": max(1_000, int(IMPORT_ROWS * scale)),
    }
    stdout.write(f"Preparing the demo institution on {connection.vendor}…")
    institution_seed(seed=1, customers=0)
    token = set_actor(Actor(label="charter bench"))
    try:
        results = []
        parts = _selected_parts()
        if "updates" in parts:
            stdout.write(
                f"(a) {sizes['updates']:,} staff updates, with and without the audit trail…"
            )
            results += audited_updates(sizes["updates"])
        if "import" in parts:
            stdout.write(f"(c) importing {sizes['rows']:,} customers from CSV…")
            results += customer_import(sizes["rows"])
        if "list" in parts:
            stdout.write(f"(b) bulk-creating {sizes['staff']:,} staff, then timing the staff list…")
            results += staff_list(sizes["staff"])
    finally:
        reset_actor(token)
    print_table(stdout, results)
    return results


PARTS = ("updates", "import", "list")


def _selected_parts() -> set[str]:
    """The parts named in ``BENCH_ONLY`` (all of them when it is unset), to time one part
    alone while working on it."""
    named = {part.strip() for part in os.environ.get("BENCH_ONLY", "").split(",") if part.strip()}
    unknown = named - set(PARTS)
    if unknown:
        raise SystemExit(f"BENCH_ONLY: no part {', '.join(sorted(unknown))} (parts: {PARTS})")
    return named or set(PARTS)


# (a) audited writes ------------------------------------------------------------------------


def audited_updates(count: int) -> list[Result]:
    """The same kind of update through ``staff_update``, in alternating rounds with the audit
    call switched off and on, so warm-up and table growth weigh on both sides alike."""
    staff = list(Staff.objects.order_by("pk"))
    rounds = 10
    per_round = max(1, count // (2 * rounds))
    plain = audited = 0.0
    step = 0
    for _ in range(rounds):
        with mock.patch.object(org_services, "audit_record", lambda **kwargs: None):
            plain += _update_many(staff, per_round, step)
        step += per_round
        audited += _update_many(staff, per_round, step)
        step += per_round
    ratio = audited / plain
    done = per_round * rounds
    return [
        Result(
            f"staff updates, audited vs not ({done:,} each)",
            f"{ratio:.2f}× ({audited:.1f} s vs {plain:.1f} s; {done / audited:,.0f}/s audited)",
            "≤ 2×",
            ratio <= 2.0,
        )
    ]


def _update_many(staff: list[Staff], count: int, offset: int) -> float:
    started = time.perf_counter()
    for i in range(offset, offset + count):
        member = staff[i % len(staff)]
        # Alternate +1/−1 CNY so every call really changes the row (and writes an audit row).
        delta = Decimal(1 if (i // len(staff)) % 2 == 0 else -1)
        member.base_wage += delta
        org_services.staff_update(staff=member, base_wage=member.base_wage)
    return time.perf_counter() - started


# (b) the staff list with many staff --------------------------------------------------------


def staff_list(total: int) -> list[Result]:
    _bulk_create_staff(total - Staff.objects.count())
    _analyze()
    client = Client()
    client.force_login(User.objects.get(username="hr"))  # HR, scoped to the head office
    url = reverse("org:staff_list")
    results = []
    for label, params in (
        ("first page", {}),
        ("search by surname", {"q": "王"}),
        ("one branch, page 5", {"department": Department.objects.get(code="SH").pk, "page": 5}),
    ):
        median, queries, status = _time_requests(client, url, params)
        results.append(
            Result(
                f"staff list, {Staff.objects.count():,} staff: {label}",
                f"{median:.1f} ms median ({queries} queries, HTTP {status})",
                "< 100 ms",
                status == 200 and median < 100,
            )
        )
    return results


def _analyze() -> None:
    """Planner statistics for the tables just loaded, as autovacuum gives them a minute after
    a bulk load: without them PostgreSQL takes the 100,000-row table for an empty one and sorts
    it instead of walking the employee-number index (300 ms instead of 50)."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def _bulk_create_staff(count: int) -> None:
    rng = random.Random("bench:staff")
    teams = list(Department.objects.filter(kind="team"))
    cities = {city.code: city for city in institution.CITIES}
    batch: list[Staff] = []
    for number in range(count):
        team = teams[number % len(teams)]
        name, pinyin = names.chinese_name(rng, female=rng.random() < 0.5)
        grade = rng.randint(1, 8)
        batch.append(
            Staff(
                employee_number=f"B{number:07d}",
                name=name,
                name_latin=pinyin,
                department=team,
                position="Teller",
                grade=grade,
                base_wage=institution.monthly_wage(
                    rng, grade=grade, city=cities[team.code.split("-")[0]]
                ),
                hire_date=institution.hire_date(rng, grade=grade),
            )
        )
        if len(batch) == 5_000:
            Staff.objects.bulk_create(batch)
            batch = []
    Staff.objects.bulk_create(batch)


def _time_requests(client: Client, url: str, params: dict) -> tuple[float, int, int]:
    for _ in range(2):  # warm caches and the session
        client.get(url, params)
    timings = []
    for _ in range(LIST_REQUESTS):
        started = time.perf_counter()
        response = client.get(url, params)
        timings.append((time.perf_counter() - started) * 1000)
    with CaptureQueriesContext(connection) as queries:
        client.get(url, params)
    return statistics.median(timings), len(queries), response.status_code


# (c) the customer import -------------------------------------------------------------------

IMPORT_COLUMNS = (
    "customer_number", "name", "home_department", "segment", "tier", "is_vulnerable",
    "vulnerability_note", "preferred_language", "preferred_channel", "email", "id_number",
    "phone", "address",
)  # fmt: skip


def customer_csv(rows: int, first_number: int) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(IMPORT_COLUMNS)
    rng = random.Random(f"bench:customers:{first_number}")
    for spec in customer_data.customers(rng, rows, first_number=first_number):
        writer.writerow(
            [
                spec.customer_number, spec.name, spec.home_branch_code, spec.segment, spec.tier,
                "yes" if spec.is_vulnerable else "no", spec.vulnerability_note,
                spec.preferred_language, spec.preferred_channel, spec.email, spec.id_number,
                spec.phone, spec.address,
            ]
        )  # fmt: skip
    return buffer.getvalue().encode("utf-8")


def customer_import(rows: int) -> list[Result]:
    from servicecharter.core.services import imports as import_services

    admin = User.objects.get(username="admin")  # the role that may import customers
    rss_before = _peak_rss_mb()
    runs = []
    for run in range(IMPORT_RUNS):
        big = customer_csv(rows, first_number=10_000_001 + run * 1_000_000)
        cpu = _CpuClock()
        elapsed, job = _import(import_services, admin, big, "customers-big.csv")
        runs.append((rows / elapsed, elapsed, job.state, cpu.seconds()))
    rss_growth = _peak_rss_mb() - rss_before
    imported = Customer.objects.count()
    rate, elapsed, _state, (python_cpu, database_cpu) = sorted(runs)[len(runs) // 2]
    all_done = all(state == "done" for _rate, _elapsed, state, _cpu in runs)
    database_part = f" + PostgreSQL {database_cpu:.1f} s" if database_cpu is not None else ""
    results = [
        Result(
            f"customer import, {rows:,} rows from CSV ({connection.vendor})",
            f"{rate:,.0f} rows/s, median of {len(runs)} runs "
            f"({', '.join(f'{run[0]:,.0f}' for run in runs)}; {elapsed:.1f} s; "
            f"{'all done' if all_done else 'NOT all done'}, {imported:,} imported; "
            f"CPU of the median run: Python {python_cpu:.1f} s{database_part})",
            "≥ 10,000 rows/s on PostgreSQL",
            all_done and imported == rows * len(runs) and rate >= 10_000
            if connection.vendor == "postgresql"
            else None,
        )
    ]
    # Memory flat in file size: the traced peak for a file ten times smaller should be about
    # the same as for the full one. (Traced separately: tracing slows the import down.)
    # The smaller file holds at least two of the importer's batches: below one batch, the
    # peak measures how full the batch is rather than how the file's size weighs.
    small_rows = min(rows, max(1_000, rows // 10, 2 * CustomerImporter.batch_size))
    peak_small = _traced_peak(import_services, admin, small_rows, first_number=20_000_001)
    peak_big = _traced_peak(import_services, admin, rows, first_number=30_000_001)
    per_row = (peak_big - peak_small) * 1024 * 1024 / max(1, rows - small_rows)
    results.append(
        Result(
            "import memory, traced peak",
            f"{peak_small:.1f} MB at {small_rows:,} rows, {peak_big:.1f} MB at {rows:,} rows "
            f"(+{per_row:,.0f} B per extra row; file {len(big) / 1024 / 1024:.1f} MB; "
            f"peak RSS grew {rss_growth:.0f} MB in the timed run)",
            "flat in file size (≤ 1.5×)",
            peak_big <= 1.5 * peak_small,
        )
    )
    return results


def _import(import_services, user, content: bytes, name: str):
    # import_job_create queues the work after commit; the benchmark runs it here and times it.
    with mock.patch.object(import_services, "_dispatch", lambda job_id, inline: None):
        job = import_services.import_job_create(
            user=user, kind="customers", upload=ContentFile(content, name=name)
        )
    gc.collect()
    started = time.perf_counter()
    import_services.import_job_run(job_id=job.pk)
    elapsed = time.perf_counter() - started
    job.refresh_from_db()
    return elapsed, job


def _traced_peak(import_services, user, rows: int, *, first_number: int) -> float:
    content = customer_csv(rows, first_number=first_number)
    with _traced() as peak:
        _import(import_services, user, content, f"customers-{rows}.csv")
    return peak()


@contextmanager
def _traced():
    tracemalloc.start()
    tracemalloc.reset_peak()
    result = {}
    try:
        yield lambda: result["peak"]
    finally:
        result["peak"] = tracemalloc.get_traced_memory()[1] / 1024 / 1024
        tracemalloc.stop()


class _CpuClock:
    """CPU seconds spent by this process and, when PostgreSQL runs on this machine, by its
    server process for our connection: unlike elapsed time, they do not grow when other work
    keeps the machine busy, so they show the import's own cost beside its rate."""

    def __init__(self):
        self.started = (time.process_time(), self._database_cpu())

    def seconds(self) -> tuple[float, float | None]:
        python_started, database_started = self.started
        database_now = self._database_cpu()
        database = (
            database_now - database_started
            if database_now is not None and database_started is not None
            else None
        )
        return time.process_time() - python_started, database

    @staticmethod
    def _database_cpu() -> float | None:
        if connection.vendor != "postgresql":
            return None
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                (pid,) = cursor.fetchone()
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):  # a server elsewhere, or no /proc
            return None


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


# The table ---------------------------------------------------------------------------------


def print_table(stdout, results: list[Result]) -> None:
    headers = ("measure", "result", "target", "")
    rows = [
        (
            r.measure,
            r.value,
            r.target,
            "info" if r.passed is None else "PASS" if r.passed else "FAIL",
        )
        for r in results
    ]
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(4)]
    stdout.write("")
    stdout.write(
        f"Foundation benchmarks — {connection.vendor}, database "
        f"{connection.settings_dict['NAME']}, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f} (figures from a busy machine are not the system's)"
    )
    for row in [headers, *rows]:
        stdout.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
