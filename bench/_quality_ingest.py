"""Quality benchmark, part 1: ingest 1,000,000 interactions of one month, judged by the demo
standards, with and without the deviation check.

The institution is the demo's (``institution_seed``) with its standards and service levels
(``demo.standards``) and 5,000 more agents in its teams (the sampling part needs that many).
The rows are what a channel system sends (employee number, business type code, start, wait,
handling time, outcome, step events), made from a few thousand shapes drawn like the demo's
interactions (so about a third carry a deviation), each with its own agent, time and wait. They
come in the order they happened, within ten minutes, as systems send interactions when they end
(the indexes on the time then grow at their end, as they do in production).

Each run goes through the path the API and the CSV import take, 5,000 rows a batch:
``ingest.Resolver`` (codes to ids, the caller's scope) and ``interaction_ingest_many``
(idempotency, the version in force, the deviations, COPY on PostgreSQL, one audit row a batch).
The time of a run is the time spent in those two; making the rows is timed apart. The first run
stores the rows without judging them (``check=False``), the tables are emptied, and the second
run judges every row: the ratio of the two is what the check costs. Memory: the peak RSS of the
process, before and after the runs (the rows are made and written a batch at a time).

Leaves in ``state``: ``agents`` (staff ids of the agents who served the interactions),
``period`` ((start, end) of the month), ``interactions`` (how many), ``ingester`` (the user).
"""

import importlib.util
import math
import os
import random
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from django.db import connection, transaction
from django.utils import timezone

from servicecharter.accounts.models import User
from servicecharter.core.context import Actor, reset_actor, set_actor
from servicecharter.core.imports import bulk_insert
from servicecharter.demo import interactions as demo
from servicecharter.demo.services import institution_seed
from servicecharter.demo.standards import standards_seed
from servicecharter.interactions.ingest import Resolver
from servicecharter.interactions.models import Deviation, Interaction
from servicecharter.interactions.services import interaction_ingest_many
from servicecharter.org.choices import Channel
from servicecharter.org.models import Department, Staff

ROWS = 1_000_000
AGENTS = 5_000
BATCH = 5_000
SHAPES = 4_000
TARGET_ROWS_PER_SECOND = 20_000  # on PostgreSQL
MEMORY_TARGET_MB = 300
CHECK_RATIO_TARGET = 1.5
# Share of the month's interactions per channel, and the teams whose agents serve it.
MIX = (
    (Channel.PHONE, 60, ("TEL",)),
    (Channel.CHAT, 15, ("TEL",)),
    (Channel.BRANCH, 10, ("RET", "WLT", "LN")),
    (Channel.EMAIL, 5, ("TEL",)),
    (Channel.SOCIAL, 4, ("TEL",)),
    (Channel.APP, 6, ("TEL",)),
)
# Business types of phone shapes (the demo draws the others per channel).
PHONE_TYPES = ((None, 45), ("B0302", 30), ("B0101", 15), ("B0202", 10))


def _foundation():
    """bench/foundation.py's result table and memory probe (one way of printing figures)."""
    spec = importlib.util.spec_from_file_location(
        "bench_foundation_for_quality", Path(__file__).with_name("foundation.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def last_month(today: date) -> tuple[datetime, datetime]:
    first_this = today.replace(day=1)
    first_last = (first_this - timedelta(days=1)).replace(day=1)
    zone = timezone.get_current_timezone()
    return (
        datetime.combine(first_last, datetime.min.time(), tzinfo=zone),
        datetime.combine(first_this, datetime.min.time(), tzinfo=zone),
    )


def run(*, stdout, scale: float, state: dict) -> list:
    foundation = _foundation()
    rows = max(10_000, int(ROWS * scale))
    agents = max(100, int(AGENTS * scale))
    stdout.write(f"Preparing the demo institution and its standards on {connection.vendor}…")
    token = set_actor(Actor(label="charter bench"))
    try:
        institution_seed(seed=1, customers=0, interactions=False)
        with transaction.atomic():
            standards_seed()
        ingester = User.objects.get(username="admin")
        pools = add_agents(agents)
        start, end = last_month(timezone.localdate())
        shapes = make_shapes(random.Random("bench:quality:shapes"), end.date())
        rss_before = foundation._peak_rss_mb()
        stdout.write(f"Ingesting {rows:,} interactions without the check…")
        plain = timed_ingest(ingester, rows, pools, shapes, start, end, check=False)
        empty_tables()
        stdout.write(f"Ingesting {rows:,} interactions with the check…")
        checked = timed_ingest(ingester, rows, pools, shapes, start, end, check=True)
        rss_peak = foundation._peak_rss_mb()
        analyze()
        state.update(
            agents=[pk for pool in pools.values() for pk, _number in pool],
            period=(start, end),
            interactions=Interaction.objects.count(),
            ingester=ingester,
        )
    finally:
        reset_actor(token)
    results = report(foundation, rows, plain, checked, rss_before, rss_peak)
    stdout.write("")
    stdout.write("Quality, part 1: interaction ingest")
    foundation.print_table(stdout, results)
    return results


# The agents -----------------------------------------------------------------------------------


def add_agents(count: int) -> dict[str, list[tuple[int, str]]]:
    """``count`` more staff in the teams, spread as the mix needs them: team kind → [(id,
    employee number)]. Bulk-inserted (COPY on PostgreSQL)."""
    kinds = {kind for _channel, _share, team_kinds in MIX for kind in team_kinds}
    teams = {
        kind: list(
            Department.objects.filter(kind="team", code__endswith=f"-{kind}").values_list(
                "pk", flat=True
            )
        )
        for kind in kinds
    }
    phone_share = 0.85  # most interactions are remote: most agents sit in phone teams
    records = []
    for number in range(count):
        kind = "TEL" if number < count * phone_share else ("RET", "WLT", "LN")[number % 3]
        department = teams[kind][number % len(teams[kind])]
        records.append(
            Staff(
                employee_number=f"B{number + 1:06d}",
                name=f"Bench agent {number + 1}",
                department_id=department,
                position="Phone Service Agent" if kind == "TEL" else "Teller",
                grade=2,
                base_wage=Decimal("8000"),
                hire_date=date(2020, 1, 1),
            )
        )
    with transaction.atomic():
        bulk_insert(Staff, records, batch_size=BATCH)
    kind_of = {pk: kind for kind, pks in teams.items() for pk in pks}
    pools: dict[str, list[tuple[int, str]]] = {}
    for record in records:
        pools.setdefault(kind_of[record.department_id], []).append(
            (record.pk, record.employee_number)
        )
    return pools


# The rows --------------------------------------------------------------------------------------


def make_shapes(rng: random.Random, today: date) -> list[dict]:
    """A few thousand interaction shapes (channel, business type, handling time, steps, wait
    spread), drawn as the demo draws its interactions, each with its own care for the steps."""
    channels = [channel for channel, _share, _kinds in MIX]
    weights = [share for _channel, share, _kinds in MIX]
    moment = datetime.combine(today, datetime.min.time(), tzinfo=timezone.get_current_timezone())
    shapes = []
    for _ in range(SHAPES):
        channel = rng.choices(channels, weights)[0]
        if channel == Channel.PHONE:
            codes, odds = zip(*PHONE_TYPES, strict=True)
            business_type = rng.choices(codes, odds)[0]
            handle = max(20, int(rng.lognormvariate(math.log(180), 0.7)))
            wait_median, wait_spread = 8, 1.1
        elif channel == Channel.BRANCH:
            codes, odds, medians = zip(*demo.COUNTER_BUSINESS["RET"], strict=True)
            pick = rng.choices(range(len(codes)), odds)[0]
            business_type = codes[pick]
            handle = max(30, int(rng.lognormvariate(math.log(medians[pick]), 0.5)))
            wait_median, wait_spread = demo.SHAPES[channel].wait_median, 0.7
        else:
            shape = demo.SHAPES[channel]
            codes, odds = zip(*shape.business_types, strict=True)
            business_type = rng.choices(codes, odds)[0]
            handle = max(30, int(rng.lognormvariate(math.log(shape.handle_median), 0.5)))
            wait_median, wait_spread = shape.wait_median, shape.wait_spread
        spec = demo.spec_for(business_type, channel)
        version = demo.version_for(spec, moment, today) if spec else None
        care = math.exp(rng.gauss(0, 0.6))
        abandoned = rng.random() < (0.08 if channel == Channel.PHONE else 0.03)
        steps = [] if abandoned or version is None else demo.step_events(version, handle, rng, care)
        shapes.append(
            {
                "channel": channel,
                "business_type": business_type,
                "outcome": "abandoned" if abandoned else "served",
                "handle_seconds": None if abandoned else handle,
                "steps": steps,
                "waits": [
                    int(rng.lognormvariate(math.log(wait_median), wait_spread)) for _ in range(7)
                ],
            }
        )
    return shapes


def team_kinds_of(channel: str) -> tuple[str, ...]:
    return next(kinds for each, _share, kinds in MIX if each == channel)


def batches(count: int, pools, shapes, start: datetime, end: datetime, *, first: int = 1):
    """The rows a channel system would send, ``BATCH`` at a time, spread over the month."""
    span = int((end - start).total_seconds())
    by_channel = {
        channel: [number for kind in team_kinds_of(channel) for _pk, number in pools.get(kind, [])]
        for channel, _share, _kinds in MIX
    }
    # Each channel deals its interactions to its agents in turn, so every agent serves some.
    dealt = dict.fromkeys(by_channel, 0)
    batch = []
    for index in range(count):
        shape = shapes[(index * 7919) % len(shapes)]
        agents = by_channel[shape["channel"]]
        served = shape["outcome"] == "served"
        turn = dealt[shape["channel"]]
        dealt[shape["channel"]] = turn + served
        batch.append(
            {
                "external_system": "bench",
                "external_id": str(first + index),
                "channel": shape["channel"],
                "employee_number": agents[turn % len(agents)] if served else "",
                "department": "" if served else "BJ-TEL",
                "business_type": shape["business_type"],
                # In the order they happened, give or take ten minutes: channel systems send
                # interactions as they end (or a month's export sorted by time).
                "started_at": start
                + timedelta(seconds=min(span - 1, index * span // count + (index * 7_919) % 600)),
                "wait_seconds": shape["waits"][index % 7],
                "handle_seconds": shape["handle_seconds"],
                "outcome": shape["outcome"],
                "steps": shape["steps"],
                "notes": "",
            }
        )
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _database_cpu_seconds() -> float | None:
    """CPU seconds used so far by this connection's PostgreSQL backend, when the server runs
    on this machine (read from /proc); None otherwise."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed_ingest(ingester, count, pools, shapes, start, end, *, check: bool) -> dict:
    """Resolve and ingest ``count`` rows; the seconds spent ingesting and making the rows, and
    the CPU seconds of this process and of the database backend (a busy machine stretches the
    wall time; the CPU time per row says what the work costs)."""
    resolver = Resolver(ingester)
    ingesting = making = 0.0
    deviations = created = 0
    database_before = _database_cpu_seconds()
    cpu_before = time.process_time()
    started = time.perf_counter()
    mark = started
    for batch in batches(count, pools, shapes, start, end):
        ready = time.perf_counter()
        making += ready - mark
        resolved = resolver.resolve(batch)
        result = interaction_ingest_many(resolved, actor=ingester, check=check)
        mark = time.perf_counter()
        ingesting += mark - ready
        deviations += result.deviations
        created += result.created_count
    wall = time.perf_counter() - started
    database_after = _database_cpu_seconds()
    return {
        "seconds": ingesting,
        "making": making,
        "wall": wall,
        "deviations": deviations,
        "created": created,
        # Python's share, without making the rows (CPU time, so the making is prorated).
        "python_cpu": (time.process_time() - cpu_before) * (ingesting / wall),
        "database_cpu": (
            database_after - database_before
            if database_before is not None and database_after is not None
            else None
        ),
    }


def empty_tables() -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"TRUNCATE {Deviation._meta.db_table}, {Interaction._meta.db_table} CASCADE"
            )
        else:
            cursor.execute(f"DELETE FROM {Deviation._meta.db_table}")
            cursor.execute(f"DELETE FROM {Interaction._meta.db_table}")


def analyze() -> None:
    """As autovacuum would after a bulk load, so later parts are planned on real statistics."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"ANALYZE {Interaction._meta.db_table}")
            cursor.execute(f"ANALYZE {Deviation._meta.db_table}")
        else:
            cursor.execute("ANALYZE")


# The figures -----------------------------------------------------------------------------------


def _cpu_text(rows: int, run: dict) -> str:
    text = f"Python {run['python_cpu'] / rows * 1e6:.0f} µs"
    if run["database_cpu"] is not None:
        text += f" + database {run['database_cpu'] / rows * 1e6:.0f} µs"
    return text


def report(foundation, rows, plain, checked, rss_before, rss_peak) -> list:
    Result = foundation.Result
    rate = rows / checked["seconds"]
    plain_rate = rows / plain["seconds"]
    ratio = checked["seconds"] / plain["seconds"]
    on_postgres = connection.vendor == "postgresql"
    return [
        Result(
            f"ingest {rows:,} interactions, judged (rows/s)",
            f"{rate:,.0f} rows/s ({checked['seconds']:.1f} s; {checked['deviations']:,} "
            f"deviations)",
            f">= {TARGET_ROWS_PER_SECOND:,} on PostgreSQL",
            rate >= TARGET_ROWS_PER_SECOND if on_postgres else None,
        ),
        Result(
            f"ingest {rows:,} interactions, not judged (rows/s)",
            f"{plain_rate:,.0f} rows/s ({plain['seconds']:.1f} s)",
            "for the ratio",
            None,
        ),
        Result(
            "time with the check / time without",
            f"{ratio:.2f}×",
            f"<= {CHECK_RATIO_TARGET}×",
            ratio <= CHECK_RATIO_TARGET,
        ),
        Result(
            "CPU time a row, judged (not judged)",
            _cpu_text(rows, checked) + f" ({_cpu_text(rows, plain)})",
            "",
            None,
        ),
        Result(
            "making the rows (not in the rates above)",
            f"{checked['making']:.1f} s; wall time of the judged run {checked['wall']:.1f} s",
            "",
            None,
        ),
        Result(
            "ingest peak memory (RSS of the process)",
            f"{rss_peak:,.0f} MB (was {rss_before:,.0f} MB before the runs)",
            f"< {MEMORY_TARGET_MB} MB",
            rss_peak < MEMORY_TARGET_MB,
        ),
    ]
