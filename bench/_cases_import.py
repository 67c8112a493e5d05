"""Cases benchmark, part 1: import 1,000,000 CFPB-format rows through the CFPB importer.

The file is the CFPB sample (../shared/data/cfpb_complaints_sample.csv) repeated with new
Complaint IDs, as big as a real export of that many complaints (about 0.9 GB at scale 1). Every
row is made an open complaint ("In progress") received in the last ten days, spread over the
demo institution's teams by the ``queue`` column: the later parts need a million open cases (the
sweep with 1,000 due among them, the queue page and the list API at that size).

The import runs as a user's import does (``import_job_create`` + ``import_job_run``: count,
validate, apply in one transaction), timed from the job's start to its end. Memory: the peak
RSS of the process during the timed run, and tracemalloc's peak for two smaller files (a tenth
and a fiftieth of the rows) to show it does not grow with the file.

Leaves in ``state``: the users (``supervisor``, ``complaints_officer``, ``agent``), ``cases`` (how
many), ``due_cases`` (ids of the 1,000 cases made due for the sweep), ``teams`` (queue codes).
"""

import csv
import gc
import importlib.util
import random
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from unittest import mock

from django.conf import settings
from django.core.files import File
from django.db import connection
from django.db.models import Max, Min
from django.utils import timezone

from servicecharter.accounts.models import User
from servicecharter.cases.models import Case
from servicecharter.core.context import Actor, reset_actor, set_actor
from servicecharter.core.services import imports as import_services
from servicecharter.demo.services import institution_seed
from servicecharter.org.models import Department

ROWS = 1_000_000
DUE = 1_000
SAMPLE = "cfpb_complaints_sample.csv"
TARGETS = {"postgresql": 20_000, "sqlite": 10_000}
MEMORY_TARGET_MB = 300


def _foundation():
    """bench/foundation.py's result table and memory probes (one way of printing figures)."""
    spec = importlib.util.spec_from_file_location(
        "bench_foundation_for_cases", Path(__file__).with_name("foundation.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sample_path() -> Path | None:
    from servicecharter.demo.cases import data_file

    return data_file(SAMPLE)


def run(*, stdout, scale: float, state: dict) -> list:
    foundation = _foundation()
    rows = max(2_000, int(ROWS * scale))
    source = sample_path()
    if source is None:
        stdout.write(f"Skipping the import: {SAMPLE} was not found beside the repository.")
        return []
    stdout.write(f"Preparing the demo institution on {connection.vendor}…")
    institution_seed(seed=1, customers=0)
    teams = list(
        Department.objects.filter(kind="team").order_by("code").values_list("code", flat=True)
    )
    officer = User.objects.get(username="complaints")  # the role that imports cases, at HO
    state.update(
        supervisor=User.objects.get(username="supervisor"),
        complaints_officer=officer,
        agent=User.objects.get(username="agent"),
        teams=teams,
    )
    token = set_actor(Actor(label="charter bench"))
    results = []
    try:
        with tempfile.TemporaryDirectory(dir=settings.VAR_DIR) as folder:
            small = Path(folder) / "small.csv"
            tiny = Path(folder) / "tiny.csv"
            big = Path(folder) / "cfpb-big.csv"
            stdout.write(f"Writing {rows:,} CFPB-format rows…")
            megabytes = write_cfpb_file(big, source, rows, teams, first_id=100_000_000)
            write_cfpb_file(small, source, rows // 10, teams, first_id=300_000_000)
            write_cfpb_file(tiny, source, rows // 50, teams, first_id=400_000_000)
            stdout.write(f"Importing {rows:,} rows ({megabytes:,.0f} MB)…")
            rss_before = foundation._peak_rss_mb()
            elapsed, job = timed_import(officer, big)
            rss_peak = foundation._peak_rss_mb()
            results.append(import_result(foundation, rows, elapsed, job))
            results.append(
                foundation.Result(
                    "import peak memory (RSS of the process)",
                    f"{rss_peak:,.0f} MB at the end (grew {rss_peak - rss_before:,.0f} MB "
                    f"during the import of a {megabytes:,.0f} MB file)",
                    f"< {MEMORY_TARGET_MB} MB",
                    rss_peak < MEMORY_TARGET_MB,
                )
            )
            stdout.write("Tracing the memory of two smaller imports…")
            results.append(traced_memory(foundation, officer, tiny, small, rows))
        analyze()
        state["cases"] = Case.objects.count()
        state["due_cases"] = make_due(DUE)
    finally:
        reset_actor(token)
    foundation.print_table(stdout, results)
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
    started = time.perf_counter()
    import_services.import_job_run(job_id=job.pk)
    elapsed = time.perf_counter() - started
    job.refresh_from_db()
    return elapsed, job


def import_result(foundation, rows: int, elapsed: float, job):
    vendor = connection.vendor
    rate = rows / elapsed
    target = TARGETS.get(vendor, 10_000)
    return foundation.Result(
        f"case import, {rows:,} CFPB rows ({vendor})",
        f"{rate:,.0f} rows/s ({elapsed:.1f} s, state {job.state}, {job.rows_imported:,} imported)",
        f"≥ {target:,} rows/s",
        job.state == "done" and job.rows_imported == rows and rate >= target,
    )


def traced_memory(foundation, user, tiny: Path, small: Path, rows: int):
    peaks = []
    for path in (tiny, small):
        with foundation._traced() as peak:
            timed_import(user, path)
        peaks.append(peak())
    return foundation.Result(
        "import memory, traced peak",
        f"{peaks[0]:.1f} MB at {rows // 50:,} rows, {peaks[1]:.1f} MB at {rows // 10:,} rows",
        "flat in file size (≤ 1.5×)",
        peaks[1] <= 1.5 * peaks[0],
    )


def analyze() -> None:
    # Planner statistics for the tables just loaded, as autovacuum gives them a minute later.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def make_due(count: int) -> list[int]:
    """``count`` open cases, spread over the table, due an hour ago (warned two hours ago)."""
    bounds = Case.objects.aggregate(low=Min("pk"), high=Max("pk"))
    if bounds["low"] is None:
        return []
    step = max(1, (bounds["high"] - bounds["low"] + 1) // count)
    candidates = list(range(bounds["low"], bounds["high"] + 1, step))[:count]
    ids = list(Case.objects.filter(pk__in=candidates).values_list("pk", flat=True))
    now = timezone.now()
    Case.objects.filter(pk__in=ids).update(
        due_at=now - timedelta(hours=1), warn_at=now - timedelta(hours=2)
    )
    return ids
