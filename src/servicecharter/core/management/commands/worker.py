"""`charter worker`: deliver domain events, run periodic jobs and background tasks."""

import logging

from django.core.management.base import BaseCommand, CommandError

from servicecharter.core.worker import Worker


def _positive(value: str) -> float:
    number = float(value)
    if not number > 0:
        raise ValueError
    return number


class Command(BaseCommand):
    help = (
        "Run the background worker: deliver domain events, run periodic jobs and queued tasks. "
        "Several workers may run at once. Stops cleanly on SIGTERM or Ctrl+C."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--once",
            "--batch",
            action="store_true",
            dest="once",
            help="Process everything that is due, then exit.",
        )
        parser.add_argument(
            "--interval",
            type=_positive,
            default=1.0,
            help="Seconds to wait when there is nothing to do (default 1).",
        )
        parser.add_argument(
            "--heartbeat",
            type=_positive,
            default=5.0,
            help="Seconds between heartbeats shown by /healthz (default 5).",
        )
        parser.add_argument("--worker-id", default=None, help="A unique name for this worker.")

    def handle(self, *args, once, interval, heartbeat, worker_id, verbosity, **options):
        if worker_id is not None and not 0 < len(worker_id) <= 64:
            raise CommandError("--worker-id must be 1 to 64 characters long.")
        self._log_to_stdout(verbosity)
        Worker(worker_id=worker_id, interval=interval, once=once, heartbeat_seconds=heartbeat).run()

    def _log_to_stdout(self, verbosity: int) -> None:
        # One line per delivered event and per periodic run, on stdout, for operators and tests.
        level = logging.WARNING if verbosity == 0 else logging.INFO
        handler = logging.StreamHandler(self.stdout)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        for name in ("servicecharter", "django.tasks", "django_tasks_db"):
            log = logging.getLogger(name)
            log.setLevel(level)
            log.addHandler(handler)
            log.propagate = False
