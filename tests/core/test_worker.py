"""The worker loop in this process: periodic slots, heartbeats, tasks and event sweeps."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django_tasks_db.models import DBTaskResult

from servicecharter.core.choices import DeliveryState
from servicecharter.core.events import emit, subscriber, unsubscribe
from servicecharter.core.models import EventDelivery, PeriodicJobRun, WorkerHeartbeat
from servicecharter.core.worker import (
    Worker,
    periodic,
    periodic_run_due,
    slot_start,
    unregister_periodic,
)

T0 = datetime(2026, 3, 2, 9, 0, 30, tzinfo=UTC)


@pytest.fixture
def ticks():
    runs: list[datetime] = []

    @periodic("test.tick", every=timedelta(minutes=5))
    def tick():
        runs.append(T0)

    yield runs
    unregister_periodic("test.tick")


@pytest.fixture
def delivered():
    seen: list[int] = []
    subscriber("test.happened", name="test.recorder")(lambda event: seen.append(event.pk))
    yield seen
    unsubscribe("test.recorder")


def test_slots_are_counted_from_the_epoch():
    assert slot_start(T0, timedelta(minutes=5)) == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert slot_start(T0, timedelta(days=1)) == datetime(2026, 3, 2, tzinfo=UTC)


def test_a_periodic_job_runs_once_per_slot_whatever_the_number_of_workers(db, ticks):
    with time_machine.travel(T0, tick=False) as clock:
        assert "test.tick" in periodic_run_due(worker_id="w1")
        assert "test.tick" not in periodic_run_due(worker_id="w2")
        assert "test.tick" not in periodic_run_due(worker_id="w1")
        assert len(ticks) == 1

        clock.shift(timedelta(minutes=4))  # same slot
        assert "test.tick" not in periodic_run_due(worker_id="w2")

        clock.shift(timedelta(minutes=1))  # the next slot
        assert "test.tick" in periodic_run_due(worker_id="w2")
        assert "test.tick" not in periodic_run_due(worker_id="w1")

    assert len(ticks) == 2
    runs = PeriodicJobRun.objects.filter(job="test.tick").order_by("slot")
    assert [(r.worker_id, r.slot.minute) for r in runs] == [("w1", 0), ("w2", 5)]
    assert all(r.finished_at and not r.error for r in runs)


def test_a_failing_periodic_job_records_its_error_and_runs_next_slot(db):
    calls = []

    @periodic("test.broken", every=timedelta(minutes=1))
    def broken():
        calls.append(1)
        raise ValueError("no calendar for 2027")

    try:
        with time_machine.travel(T0, tick=False) as clock:
            periodic_run_due(worker_id="w1")
            clock.shift(timedelta(minutes=1))
            periodic_run_due(worker_id="w1")
    finally:
        unregister_periodic("test.broken")

    assert len(calls) == 2
    errors = PeriodicJobRun.objects.filter(job="test.broken").values_list("error", flat=True)
    assert list(errors) == ["ValueError: no calendar for 2027"] * 2


def test_periodic_rejects_an_interval_under_a_second():
    with pytest.raises(ValueError):
        periodic("test.too_fast", every=timedelta(milliseconds=10))


def test_one_pass_beats_runs_tasks_and_delivers_events(
    db, delivered, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        event = emit("test.happened", {})
    assert DBTaskResult.objects.ready().count() == 1  # the prompt-delivery task

    worker = Worker(worker_id="w1", once=True)
    assert worker.run_pass() is True

    assert delivered == [event.pk]
    assert DBTaskResult.objects.get().status == "SUCCESSFUL"
    assert EventDelivery.objects.get().state == DeliveryState.DELIVERED
    beat = WorkerHeartbeat.objects.get(worker_id="w1")
    assert beat.seen_at >= beat.started_at


def test_the_sweep_delivers_even_when_the_prompt_task_was_never_enqueued(db, delivered):
    # In a test the on-commit callback never runs: exactly the "enqueue was lost" case.
    event = emit("test.happened", {})
    assert not DBTaskResult.objects.exists()

    Worker(worker_id="w1", once=True).run()

    assert delivered == [event.pk]
    # A clean stop removes the worker's heartbeat.
    assert not WorkerHeartbeat.objects.exists()


def test_the_heartbeat_is_written_every_few_seconds_not_every_pass(db):
    worker = Worker(worker_id="w1", heartbeat_seconds=5)
    with time_machine.travel(T0, tick=False) as clock:
        worker.run_pass()
        clock.shift(timedelta(seconds=2))
        worker.run_pass()
        assert WorkerHeartbeat.objects.get().seen_at == T0
        clock.shift(timedelta(seconds=3))
        worker.run_pass()
    assert WorkerHeartbeat.objects.get().seen_at == T0 + timedelta(seconds=5)


def test_the_worker_command_refuses_a_bad_worker_id(db):
    with pytest.raises(CommandError, match="1 to 64 characters"):
        call_command("worker", "--once", "--worker-id", "x" * 65)
