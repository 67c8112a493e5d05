"""Cases benchmark, part 1: import 1,000,000 CFPB-format rows through the CFPB importer.

The file is the CFPB sample (../shared/data/cfpb_complaints_sample.csv) repeated with new
Complaint IDs, as big as a real export of that many complaints (about 0.9 GB at scale 1). Every
row is made an open complaint ("In progress") received in the last ten days, spread over the
demo institution's teams by the ``queue`` column: the later parts need a million open cases
(the sweep picks its 1,000 due cases among them; the queue page and the list API run at that
size).

The import runs as a user's import does (``import_job_create`` + ``import_job_run``: the file
read once, each batch checked and written, all in one transaction), timed from the job's start
to its end. Beside the rate,
the table shows the CPU the importing process used per row and, on PostgreSQL, the CPU of the
database backend that served it: on a machine shared with other work the wall-clock rate
falls, the CPU per row does not. Memory: the peak RSS of the process across the import, and
tracemalloc's peak for two smaller files to show it does not grow with the file.

Leaves in ``state``: the users (``supervisor``, ``complaints_officer``, ``agent``), ``cases``
(how many there are), ``teams`` (the queue codes used).
"""

import csv
import gc
import os
import random
import resource
import tempfile
import time
import tracemalloc
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from unittest import mock

from django.conf import settings
from django.core.files import File
from django.db import connection
from django.utils import timezone

from servicecharter.accounts.models import User
from servicecharter.cases.models import Case
from servicecharter.core.context import Actor, reset_actor, set_actor
from servicecharter.core.services import imports as import_services
from servicecharter.demo.cases import data_file
from servicecharter.demo.services import institution_seed
from servicecharter.org.models import Department

ROWS = 1_000_000
SAMPLE = "cfpb_complaints_sample.csv"
TARGETS = {"postgresql": 20_000, "sqlite": 10_000}
MEMORY_TARGET_MB = 300


@dataclass
class Result:
    measure: str
    value: str
    target: str
    passed: bool | None  # None: for information


def run(*, stdout, scale: float, state: dict) -> list[Result]:
    rows = max(5_000, int(ROWS * scale))
    source = data_file(SAMPLE)
    if source is None:
        stdout.write(f"Skipping the import: {SAMPLE} was not found beside the repository.")
        return []
    stdout.write(f"(1) preparing the demo institution on {connection.vendor}…")
    institution_seed(seed=1, customers=0)
    teams = list(
        Department.objects.filter(kind="team").order_by("code").values_list("code", flat=True)
    )
    officer = User.objects.get(username="complaints")  # imports cases, scoped to head office
    state.update(
        supervisor=User.objects.get(username="supervisor"),
        complaints_officer=officer,
        agent=User.objects.get(username="agent"),
        teams=teams,
    )
    token = set_actor(Actor(label="charter bench"))
    try:
        results = _measure(stdout, source, rows, teams, officer)
    finally:
        reset_actor(token)
    analyze()
    state["cases"] = Case.objects.count()
    state.setdefault("results", []).extend(results)
    print_table(stdout, "Case import", results)
    return results


def _measure(stdout, source: Path, rows: int, teams: list[str], officer) -> list[Result]:
    traced_small = max(2_000, rows // 100)
    traced_big = traced_small * 5
    with tempfile.TemporaryDirectory(dir=settings.VAR_DIR) as folder:
        big = Path(folder) / "cfpb-big.csv"
        stdout.write(f"(1) writing {rows:,} CFPB-format rows…")
        megabytes = write_cfpb_file(big, source, rows, teams, first_id=100_000_000)
        stdout.write(f"(1) importing them ({megabytes:,.0f} MB)…")
        rss_before = peak_rss_mb()
        elapsed, cpu, server, job = timed_import(officer, big)
        rss_after = peak_rss_mb()
        big.unlink()
        results = [import_result(rows, elapsed, cpu, server, job)]
        results.append(
            Result(
                "import memory, peak RSS of the process",
                f"{rss_after:,.0f} MB (grew {rss_after - rss_before:,.0f} MB during the "
                f"import of a {megabytes:,.0f} MB file)",
                f"< {MEMORY_TARGET_MB} MB",
                rss_after < MEMORY_TARGET_MB,
            )
        )
        stdout.write("(1) tracing the memory of two smaller imports…")
        peaks = []
        for size, first_id in ((traced_small, 300_000_000), (traced_big, 400_000_000)):
            path = Path(folder) / f"traced-{size}.csv"
            write_cfpb_file(path, source, size, teams, first_id=first_id)
            with traced() as peak:
                timed_import(officer, path)
            peaks.append(peak())
        results.append(
            Result(
                "import memory, tracemalloc peak",
                f"{peaks[0]:.1f} MB at {traced_small:,} rows, {peaks[1]:.1f} MB at "
                f"{traced_big:,} rows",
                "flat in file size (≤ 1.5×)",
                peaks[1] <= 1.5 * peaks[0],
            )
        )
    return results


def write_cfpb_file(path: Path, source: Path, rows: int, teams: list[str], *, first_id: int):
    """The sample's rows over and over with new ids, open, received in the last ten days."""
    with source.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        sample = list(reader)
    position = {name: i for i, name in enumerate(header)}
    rng = random.Random(f"bench:cases:{first_id}")
    today = timezone.localdate()
    dates = [(today - timedelta(days=days)).isoformat() for days in range(1, 11)]
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow([*header, "queue"])
        for number in range(rows):
            row = list(sample[number % len(sample)])
            row[position["Complaint ID"]] = str(first_id + number)
            row[position["Date received"]] = dates[rng.randrange(len(dates))]
            row[position["Company response to consumer"]] = "In progress"
            row[position["Timely response?"]] = "Yes"
            writer.writerow([*row, teams[rng.randrange(len(teams))]])
    return path.stat().st_size / 1024 / 1024


def timed_import(user, path: Path):
    """(seconds, CPU seconds of this process, CPU seconds of the database backend, job)."""
    # The upload limit of the import page (200 MB) is for browsers; a file of a million
    # complaints is bigger, and this measures the import, not the upload.
    with (
        mock.patch.object(import_services, "MAX_UPLOAD_BYTES", 10 * 1024**3),
        mock.patch.object(import_services, "_dispatch", lambda job_id, inline: None),
        path.open("rb") as handle,
    ):
        job = import_services.import_job_create(
            user=user, kind="cases_cfpb", upload=File(handle, name=path.name)
        )
    gc.collect()
    server_before = backend_cpu_seconds()
    cpu_before = time.process_time()
    started = time.perf_counter()
    import_services.import_job_run(job_id=job.pk)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_before
    server = backend_cpu_seconds() - server_before
    job.refresh_from_db()
    return elapsed, cpu, server, job


def backend_cpu_seconds() -> float:
    """CPU time of the PostgreSQL backend serving this connection (0 elsewhere, or when the
    database runs on another machine)."""
    if connection.vendor != "postgresql":
        return 0.0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def import_result(rows: int, elapsed: float, cpu: float, server: float, job) -> Result:
    vendor = connection.vendor
    rate = rows / elapsed
    target = TARGETS.get(vendor, 10_000)
    cpu_text = f"{cpu / rows * 1e6:.0f} µs CPU per row in this process"
    if server:
        cpu_text += f", {server / rows * 1e6:.0f} µs in the database"
    return Result(
        f"case import, {rows:,} CFPB rows ({vendor})",
        f"{rate:,.0f} rows/s ({elapsed:.1f} s, {cpu_text}; state {job.state}, "
        f"{job.rows_imported:,} imported)",
        f"≥ {target:,} rows/s",
        job.state == "done" and job.rows_imported == rows and rate >= target,
    )


def analyze() -> None:
    # Planner statistics for the tables just loaded, as autovacuum gives them a minute later.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


class traced:
    """tracemalloc's peak inside the block (in MB), read by calling the bound value."""

    def __enter__(self):
        tracemalloc.start()
        tracemalloc.reset_peak()
        self.peak = 0.0
        return lambda: self.peak

    def __exit__(self, *exc):
        self.peak = tracemalloc.get_traced_memory()[1] / 1024 / 1024
        tracemalloc.stop()
        return False


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def print_table(stdout, title: str, results: list[Result]) -> None:
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
        f"{title} — {connection.vendor}, database {connection.settings_dict['NAME']}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} (figures from a busy "
        "machine are not the system's)"
    )
    for row in [headers, *rows]:
        stdout.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
