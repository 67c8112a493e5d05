"""Real `charter worker` processes against a database of their own (a SQLite file, or a fresh
PostgreSQL database when the suite runs on PostgreSQL).

The worker processes run ``python -m tests.core.worker_main worker …``: the real command line
with a few test subscribers registered (see worker_main.py). The test reads and writes the same
database through an extra connection alias. Nothing here sleeps: every wait is on a line of a
worker's output, with a deadline.
"""

import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone

from servicecharter.core.choices import DeliveryState
from servicecharter.core.models import Event, EventDelivery, PeriodicJobRun, WorkerHeartbeat

pytestmark = pytest.mark.worker

ROOT = Path(__file__).resolve().parents[2]
ALIAS = "worker_process_db"
ON_POSTGRES = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
DEADLINE = 60  # seconds any single wait may take before the test fails (a loaded CI box is slow)


class WorkerProcess:
    """One child process; its output lines go to a queue shared by all children of a test."""

    def __init__(self, name: str, args: list[str], env: dict, lines: queue.Queue):
        self.name = name
        self.output: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.core.worker_main", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._lines = lines
        self._pump_thread = threading.Thread(target=self._pump, daemon=True)
        self._pump_thread.start()

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self.output.append(line)
            self._lines.put((self.name, line))
        self._lines.put((self.name, None))

    def finish(self) -> int:
        """Wait for the process to exit and for all its output; returns the exit code."""
        code = self.proc.wait(timeout=DEADLINE)
        self._pump_thread.join(timeout=DEADLINE)
        return code

    def stop(self) -> int:
        """SIGTERM, as a service manager would; returns the exit code."""
        self.proc.send_signal(signal.SIGTERM)
        return self.finish()

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=DEADLINE)


class Workers:
    """Starts worker processes and waits on what they print."""

    def __init__(self, env: dict):
        self.env = env
        self.lines: queue.Queue = queue.Queue()
        self.started: list[WorkerProcess] = []
        self.ended: set[str] = set()

    def start(self, name: str, *args: str, **extra_env: str) -> WorkerProcess:
        process = WorkerProcess(
            name,
            ["worker", "--skip-checks", "--interval", "0.05", *args],
            {**self.env, **extra_env},
            self.lines,
        )
        self.started.append(process)
        return process

    def wait_for(self, pattern: str, count: int = 1) -> list[tuple[str, str]]:
        """Wait until ``count`` output lines (from any worker) match ``pattern``."""
        deadline = time.monotonic() + DEADLINE
        matched: list[tuple[str, str]] = []
        while len(matched) < count:
            remaining = deadline - time.monotonic()
            try:
                name, line = self.lines.get(timeout=max(remaining, 0.001))
            except queue.Empty:
                raise AssertionError(self._report(f"timed out waiting for {pattern!r}")) from None
            if line is None:
                if name in self.ended:
                    continue  # a worker this test stopped or killed on purpose
                raise AssertionError(self._report(f"{name} exited waiting for {pattern!r}"))
            if re.search(pattern, line):
                matched.append((name, line))
        return matched

    def _report(self, problem: str) -> str:
        outputs = "\n".join(f"--- {p.name}\n{''.join(p.output)}" for p in self.started)
        return f"{problem}\n{outputs}"

    def kill_all(self) -> None:
        for process in self.started:
            if process.proc.poll() is None:
                process.kill()


# The database the worker processes share with the test.


def _url(settings_dict: dict, name: str) -> str:
    if not ON_POSTGRES:
        return f"sqlite:///{name}"
    user = settings_dict.get("USER") or "postgres"
    password = f":{settings_dict['PASSWORD']}" if settings_dict.get("PASSWORD") else ""
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{name}"


def _postgres(sql: str) -> None:
    base = settings.DATABASES["default"]
    with psycopg.connect(
        dbname="postgres",
        user=base.get("USER") or "postgres",
        password=base.get("PASSWORD") or None,
        host=base.get("HOST") or "127.0.0.1",
        port=base.get("PORT") or 5432,
        autocommit=True,
    ) as conn:
        conn.execute(sql)


@contextmanager
def _alias(alias: str, name: str):
    """Reach database ``name`` through the connection alias ``alias`` while inside."""
    connections.settings[alias] = {**connections["default"].settings_dict, "NAME": name}
    try:
        yield
    finally:
        connections[alias].close()
        del connections[alias]
        del connections.settings[alias]


@pytest.fixture(scope="module")
def migrated_template(tmp_path_factory):
    """A migrated database that each test copies (migrating once keeps the file fast)."""
    if ON_POSTGRES:
        name = f"charter_worker_template_{os.getpid()}"
        _postgres(f'DROP DATABASE IF EXISTS "{name}"')
        _postgres(f'CREATE DATABASE "{name}"')
    else:
        name = str(tmp_path_factory.mktemp("worker-db") / "template.sqlite3")
    # A process of its own: some third-party data migrations only work on the default alias.
    env = {**os.environ, "DATABASE_URL": _url(settings.DATABASES["default"], name)}
    subprocess.run(
        [sys.executable, "-m", "servicecharter.cli", "migrate", "--skip-checks", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=300,
    )
    yield name
    if ON_POSTGRES:
        _postgres(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def worker_db(migrated_template, tmp_path, django_db_blocker):
    """A fresh copy of the template, reachable here as ``ALIAS`` and by the workers."""
    if ON_POSTGRES:
        name = f"charter_worker_{os.getpid()}_{tmp_path.name[-24:]}".lower()
        name = re.sub(r"[^a-z0-9_]", "_", name)
        _postgres(f'CREATE DATABASE "{name}" TEMPLATE "{migrated_template}"')
    else:
        name = str(tmp_path / "charter.sqlite3")
        shutil.copyfile(migrated_template, name)
    with django_db_blocker.unblock(), _alias(ALIAS, name):
        yield _url(settings.DATABASES["default"], name)
    if ON_POSTGRES:
        _postgres(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def workers(worker_db, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    env = {
        **os.environ,
        "DATABASE_URL": worker_db,
        "WORKER_TEST_DIR": str(out),
        "PYTHONUNBUFFERED": "1",
    }
    pool = Workers(env)
    pool.out = out
    yield pool
    pool.kill_all()


def _events(name: str, count: int, subscriber: str) -> list[int]:
    """Store events with one due delivery each, as ``emit`` would, in the workers' database."""
    now = timezone.now()
    with transaction.atomic(using=ALIAS):
        events = Event.objects.using(ALIAS).bulk_create(
            [Event(name=name, payload={"n": n}) for n in range(count)]
        )
        EventDelivery.objects.using(ALIAS).bulk_create(
            [EventDelivery(event=e, subscriber=subscriber, next_attempt_at=now) for e in events]
        )
    return [event.pk for event in events]


def _delivered_log(out: Path) -> Counter:
    path = out / "delivered.log"
    lines = path.read_text().splitlines() if path.exists() else []
    return Counter(int(line.split()[0]) for line in lines)


def _deliveries():
    return EventDelivery.objects.using(ALIAS)


def test_a_worker_process_delivers_an_event_beats_and_stops_cleanly(workers):
    [event_id] = _events("test.record", 1, "test.record")

    worker = workers.start("w1", "--heartbeat", "1")
    workers.wait_for(rf"delivered event {event_id} \(test.record\) to test.record")

    assert _delivered_log(workers.out) == {event_id: 1}
    assert _deliveries().get().state == DeliveryState.DELIVERED
    beat = WorkerHeartbeat.objects.using(ALIAS).get()
    assert beat.pid == worker.proc.pid

    assert worker.stop() == 0
    assert "stopped" in worker.output[-1]
    assert not WorkerHeartbeat.objects.using(ALIAS).exists()


def test_a_worker_killed_mid_handler_leaves_the_event_to_another_worker(workers):
    [event_id] = _events("test.block", 1, "test.block")

    first = workers.start("first", EVENT_CLAIM_SECONDS="2")
    workers.wait_for(rf"handler blocking on event {event_id}")
    first.kill()  # SIGKILL: no clean-up of any kind
    workers.ended.add("first")

    delivery = _deliveries().get()
    assert delivery.state == DeliveryState.PENDING
    assert delivery.attempts == 1
    assert delivery.claimed_by.split(":")[1] == str(first.proc.pid)
    assert _delivered_log(workers.out) == {}

    second = workers.start("second", EVENT_CLAIM_SECONDS="2")
    workers.wait_for(rf"delivered event {event_id} ")
    assert second.stop() == 0

    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.DELIVERED
    assert delivery.attempts == 2
    log = (workers.out / "delivered.log").read_text().split()
    assert log == [str(event_id), str(second.proc.pid)]


def test_two_workers_deliver_each_event_once_and_run_a_periodic_slot_once(workers):
    workers.start("w1")
    workers.start("w2")
    workers.wait_for(r"worker \S+ started", count=2)

    event_ids = _events("test.record", 200, "test.record")
    lines = workers.wait_for(r"delivered event \d+ ", count=len(event_ids))

    assert _delivered_log(workers.out) == dict.fromkeys(event_ids, 1)
    assert set(_deliveries().values_list("state", flat=True)) == {DeliveryState.DELIVERED}
    assert all(a == 1 for a in _deliveries().values_list("attempts", flat=True))
    reported = Counter(int(re.search(r"event (\d+) ", line)[1]) for _, line in lines)
    assert reported == dict.fromkeys(event_ids, 1)
    for process in workers.started:
        assert process.stop() == 0

    # Both started on a fresh database at the same moment: the daily job ran in one of them.
    assert len((workers.out / "ticks.log").read_text().splitlines()) == 1
    assert PeriodicJobRun.objects.using(ALIAS).filter(job="test.tick").count() == 1
    ran = [p.name for p in workers.started if any("job test.tick" in x for x in p.output)]
    assert len(ran) == 1
