"""`charter` with test subscribers registered: the real worker process of tests/core/test_worker_process.py.

Run as ``python -m tests.core.worker_main worker …``. The handlers append one line per completed
delivery to ``$WORKER_TEST_DIR/delivered.log`` (O_APPEND writes of one short line are atomic, so
several processes may share the file). ``test.block`` hangs the first time it runs, until the
test kills the process; later runs complete normally.
"""

import os
import sys
import threading
from datetime import timedelta
from pathlib import Path

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "servicecharter.settings")
django.setup()

from servicecharter.cli import main  # noqa: E402
from servicecharter.core.events import subscriber  # noqa: E402
from servicecharter.core.worker import periodic  # noqa: E402

OUT = Path(os.environ["WORKER_TEST_DIR"])


def _append(name: str, line: str) -> None:
    fd = os.open(OUT / name, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{line}\n".encode())
    finally:
        os.close(fd)


@subscriber("test.record", name="test.record")
def record(event) -> None:
    _append("delivered.log", f"{event.pk} {os.getpid()}")


@subscriber("test.block", name="test.block")
def block_first_time(event) -> None:
    started = OUT / f"started-{event.pk}"
    if not started.exists():
        started.touch()
        print(f"handler blocking on event {event.pk}", flush=True)
        # Block until the test kills this process (bounded, so a stray worker ends by itself).
        threading.Event().wait(timeout=120)
    _append("delivered.log", f"{event.pk} {os.getpid()}")


@periodic("test.tick", every=timedelta(days=1))
def tick() -> None:
    _append("ticks.log", str(os.getpid()))


if __name__ == "__main__":
    sys.argv[0] = "charter"
    main()
