"""Event subscribers and periodic jobs of the core module: housekeeping of the worker's tables."""

from datetime import timedelta

from django.utils import timezone

from servicecharter.core.models import PeriodicJobRun, WorkerHeartbeat
from servicecharter.core.throttle import throttle_prune
from servicecharter.core.worker import periodic

KEEP_JOB_RUNS = timedelta(days=30)
FORGET_SILENT_WORKERS = timedelta(days=1)
KEEP_FINISHED_TASKS = timedelta(days=7)


@periodic("core.prune_worker_tables", every=timedelta(hours=1))
def prune_worker_tables() -> None:
    """Drop old periodic-run rows, heartbeats of long-gone workers and finished task results."""
    from django_tasks_db.models import DBTaskResult

    now = timezone.now()
    PeriodicJobRun.objects.filter(slot__lt=now - KEEP_JOB_RUNS).delete()
    WorkerHeartbeat.objects.filter(seen_at__lt=now - FORGET_SILENT_WORKERS).delete()
    DBTaskResult.objects.finished().filter(finished_at__lt=now - KEEP_FINISHED_TASKS).delete()


@periodic("core.prune_throttle_hits", every=timedelta(hours=1))
def prune_throttle_hits() -> None:
    """Drop throttle hits older than the longest throttle window."""
    throttle_prune()
