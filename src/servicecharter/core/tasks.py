"""Background tasks of the core module (Django's tasks framework, run by `charter worker`
with the database backend, or by the RQ/Celery worker when another backend is configured)."""

import os
import socket

from django.tasks import task

from servicecharter.core.services.events import deliver_due


def process_id() -> str:
    """Names this process in delivery claims (computed per call: servers fork)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:task"


@task(queue_name="events")
def deliver_event(event_id: int) -> int:
    """Prompt delivery of one event right after the transaction that emitted it committed.
    Only a shortcut: the worker's sweep delivers the same rows if this task never runs."""
    return deliver_due(worker_id=process_id(), event_id=event_id)
