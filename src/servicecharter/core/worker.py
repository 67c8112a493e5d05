"""The background worker behind `charter worker`, and the registry of periodic jobs.

One loop does four things, each safe with several workers on the same database:
- writes a heartbeat row every few seconds (``/healthz`` reports its age);
- runs each periodic job once per slot: the slot is the job's interval counted from the Unix
  epoch, and the unique (job, slot) row is the lock, so only one worker runs a slot;
- runs tasks of Django's tasks framework when the database backend is configured, with
  django-tasks-db's own claiming and running code (its ``db_worker`` Worker);
- sweeps due event deliveries (see ``core.services.events``).

Periodic jobs should be idempotent sweepers ("close every period that has ended"): a worker that
dies during a job loses that slot, and the next slot does the work.
"""

import logging
import os
import secrets
import signal
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, close_old_connections, connection, transaction
from django.db.models import Max
from django.tasks import task_backends
from django.utils import timezone

from servicecharter.core.models import PeriodicJobRun, WorkerHeartbeat
from servicecharter.core.services.events import deliver_due

logger = logging.getLogger("servicecharter.worker")

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    every: timedelta
    func: Callable[[], object]


_PERIODIC: dict[str, PeriodicJob] = {}


def periodic(name: str, *, every: timedelta) -> Callable:
    """Register ``func()`` to run once per ``every`` across all workers."""
    if every < timedelta(seconds=1):
        raise ValueError("A periodic job runs at most once a second.")

    def register(func: Callable[[], object]) -> Callable[[], object]:
        _PERIODIC[name] = PeriodicJob(name=name, every=every, func=func)
        return func

    return register


def unregister_periodic(name: str) -> None:
    """Forget a periodic job (used by tests that register jobs of their own)."""
    _PERIODIC.pop(name, None)


def periodic_jobs() -> list[PeriodicJob]:
    return sorted(_PERIODIC.values(), key=lambda job: job.name)


def slot_start(now: datetime, every: timedelta) -> datetime:
    """The start of the interval of length ``every`` (counted from the epoch) holding ``now``."""
    return EPOCH + ((now - EPOCH) // every) * every


def periodic_run_due(*, worker_id: str, seen: dict[str, datetime] | None = None) -> list[str]:
    """Run every periodic job whose current slot no worker has taken yet; returns their names.
    ``seen`` remembers slots this worker already settled, to spare the database."""
    seen = {} if seen is None else seen
    ran = []
    for job in periodic_jobs():
        slot = slot_start(timezone.now(), job.every)
        if seen.get(job.name) == slot:
            continue
        seen[job.name] = slot
        if _take_slot(job, slot, worker_id) is None:
            continue
        _run_job(job, slot, worker_id)
        ran.append(job.name)
    return ran


def _take_slot(job: PeriodicJob, slot: datetime, worker_id: str) -> PeriodicJobRun | None:
    try:
        with transaction.atomic():
            return PeriodicJobRun.objects.create(job=job.name, slot=slot, worker_id=worker_id)
    except IntegrityError:
        return None  # another worker has this slot


def _run_job(job: PeriodicJob, slot: datetime, worker_id: str) -> None:
    error = ""
    try:
        with transaction.atomic():
            job.func()
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        logger.exception("periodic job %s failed for slot %s", job.name, slot.isoformat())
    PeriodicJobRun.objects.filter(job=job.name, slot=slot).update(
        finished_at=timezone.now(), error=error[:4000]
    )
    if not error:
        logger.info("ran periodic job %s for slot %s on %s", job.name, slot.isoformat(), worker_id)


def heartbeat_write(*, worker_id: str, started_at: datetime) -> None:
    WorkerHeartbeat.objects.update_or_create(
        worker_id=worker_id,
        defaults={
            "hostname": socket.gethostname()[:200],
            "pid": os.getpid(),
            "started_at": started_at,
            "seen_at": timezone.now(),
        },
    )


def _refresh_connections() -> None:
    """Drop a broken or too-old connection between steps, as Django does between requests
    (never inside a transaction: a caller's, or a test's)."""
    if not connection.in_atomic_block:
        close_old_connections()


def new_worker_id() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"


class Worker:
    """The `charter worker` loop. ``once`` processes what is due, then returns."""

    def __init__(
        self,
        *,
        worker_id: str | None = None,
        interval: float = 1.0,
        once: bool = False,
        heartbeat_seconds: float = 5.0,
        batch_size: int = 10,
    ):
        self.worker_id = worker_id or new_worker_id()
        self.interval = interval
        self.once = once
        self.heartbeat_seconds = heartbeat_seconds
        self.batch_size = batch_size
        self.started_at = timezone.now()
        self.stopping = False
        self._wake = threading.Event()
        self._last_heartbeat: datetime | None = None
        self._seen_slots: dict[str, datetime] = {}
        self._task_runner = self._database_task_runner()

    def _database_task_runner(self):
        """django-tasks-db's worker, when tasks are kept in the database; other backends
        (RQ, Celery) run their tasks in their own workers."""
        from django_tasks_db.backend import DatabaseBackend
        from django_tasks_db.management.commands.db_worker import Worker as DBWorker

        backend = task_backends["default"]
        if not isinstance(backend, DatabaseBackend):
            return None
        return DBWorker(
            queue_names=["*"],
            interval=self.interval,
            batch=True,
            backend_name=backend.alias,
            startup_delay=False,
            max_tasks=None,
            worker_id=self.worker_id,
            excluded_queue_names=[],
        )

    def run(self) -> None:
        previous = self._install_signal_handlers()
        logger.info("worker %s started", self.worker_id)
        try:
            while not self.stopping:
                did_work = self.run_pass()
                if self.once and not did_work:
                    break
                if not did_work:
                    self._wake.wait(self.interval)
        finally:
            self._forget_heartbeat()
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            logger.info("worker %s stopped", self.worker_id)

    def run_pass(self) -> bool:
        """One round over the heartbeat, periodic jobs, tasks and deliveries; True if any ran."""
        _refresh_connections()
        self._step(self._beat)
        ran_jobs = self._step(
            lambda: periodic_run_due(worker_id=self.worker_id, seen=self._seen_slots)
        )
        ran_tasks = self._step(self._run_tasks)
        delivered = self._step(lambda: deliver_due(worker_id=self.worker_id, limit=self.batch_size))
        return bool(ran_jobs or ran_tasks or delivered)

    def _step(self, action: Callable[[], object]):
        # One failing step (a locked SQLite file, a lost connection) must not stop the worker.
        if self.stopping:
            return None
        try:
            return action()
        except Exception:
            logger.exception("worker %s: step failed; carrying on", self.worker_id)
            _refresh_connections()
            return None

    def _beat(self) -> None:
        now = timezone.now()
        due = self._last_heartbeat is None or (now - self._last_heartbeat).total_seconds() >= (
            self.heartbeat_seconds
        )
        if due:
            heartbeat_write(worker_id=self.worker_id, started_at=self.started_at)
            self._last_heartbeat = now

    def _run_tasks(self) -> int:
        if self._task_runner is None:
            return 0
        from django_tasks_db.models import DBTaskResult
        from django_tasks_db.utils import exclusive_transaction

        ran = 0
        while ran < self.batch_size and not self.stopping:
            ready = DBTaskResult.objects.ready().filter(backend_name=self._task_runner.backend_name)
            with exclusive_transaction(ready.db):
                result = ready.get_locked()
                if result is not None:
                    result.claim(self.worker_id)
            if result is None:
                break
            self._task_runner.run_task(result)
            ran += 1
        return ran

    def _forget_heartbeat(self) -> None:
        try:
            WorkerHeartbeat.objects.filter(worker_id=self.worker_id).delete()
        except Exception:
            logger.warning("worker %s: could not remove its heartbeat", self.worker_id)

    def _install_signal_handlers(self) -> dict:
        """Stop cleanly on SIGTERM/SIGINT; returns the handlers to put back afterwards."""
        if threading.current_thread() is not threading.main_thread():
            return {}
        return {
            signum: signal.signal(signum, self._on_signal)
            for signum in (signal.SIGTERM, signal.SIGINT)
        }

    def _on_signal(self, signum, frame) -> None:
        if self.stopping:
            logger.warning(
                "worker %s: second %s, stopping now", self.worker_id, signal.strsignal(signum)
            )
            raise SystemExit(1)
        logger.info(
            "worker %s: %s, finishing the current step", self.worker_id, signal.strsignal(signum)
        )
        self.stopping = True
        self._wake.set()


def worker_health() -> dict:
    """The freshest heartbeat's age and how many workers beat recently (for /healthz)."""
    stale_after = settings.WORKER_HEARTBEAT_STALE_SECONDS
    now = timezone.now()
    freshest = WorkerHeartbeat.objects.aggregate(seen=Max("seen_at"))["seen"]
    if freshest is None:
        return {"status": "missing", "last_seen_seconds": None, "active": 0}
    age = max((now - freshest).total_seconds(), 0.0)
    active = WorkerHeartbeat.objects.filter(
        seen_at__gte=now - timedelta(seconds=stale_after)
    ).count()
    return {
        "status": "ok" if age <= stale_after else "stale",
        "last_seen_seconds": round(age, 1),
        "active": active,
    }
