"""Domain events: emit in the caller's transaction, at-least-once delivery, back-off, dead letters."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from servicecharter.core.choices import DeliveryState
from servicecharter.core.events import emit, subscriber, unsubscribe
from servicecharter.core.models import AuditEntry, Event, EventDelivery
from servicecharter.core.services.events import (
    DeliveryRefused,
    deliver_due,
    delivery_claim,
    delivery_run,
    event_deliveries_retry_dead,
    event_delivery_retry,
    retry_delay,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Recorder:
    """A test subscriber that fails its first ``failures`` calls, then records the event."""

    def __init__(self):
        self.failures = 0
        self.calls = 0
        self.delivered: list[int] = []

    def __call__(self, event):
        self.calls += 1
        if self.calls <= self.failures:
            raise RuntimeError(f"boom #{self.calls}")
        self.delivered.append(event.pk)


@pytest.fixture
def recorder():
    handler = Recorder()
    subscriber("test.happened", name="test.recorder")(handler)
    yield handler
    unsubscribe("test.recorder")


@pytest.fixture
def second_recorder():
    handler = Recorder()
    subscriber("test.happened", name="test.second")(handler)
    yield handler
    unsubscribe("test.second")


def _delivery(event) -> EventDelivery:
    return EventDelivery.objects.get(event=event)


def test_emit_stores_the_event_and_one_delivery_per_subscriber(db, recorder, second_recorder):
    event = emit("test.happened", {"case": 7})

    assert Event.objects.get().payload == {"case": 7}
    deliveries = EventDelivery.objects.filter(event=event).order_by("subscriber")
    assert [d.subscriber for d in deliveries] == ["test.recorder", "test.second"]
    assert all(d.state == DeliveryState.PENDING and d.next_attempt_at for d in deliveries)


def test_an_event_nobody_subscribes_to_is_stored_without_deliveries(db, recorder):
    emit("test.unheard", {})

    assert Event.objects.filter(name="test.unheard").exists()
    assert not EventDelivery.objects.exists()


def test_emit_in_a_rolled_back_transaction_leaves_no_event(db, recorder):
    with pytest.raises(RuntimeError), transaction.atomic():
        emit("test.happened", {"case": 7})
        raise RuntimeError("the fact itself failed")

    assert not Event.objects.exists()
    assert not EventDelivery.objects.exists()


def test_the_same_dedupe_key_emits_only_once(db, recorder):
    first = emit("test.happened", {"case": 7}, dedupe_key="case-7-breach")
    again = emit("test.happened", {"case": 7}, dedupe_key="case-7-breach")

    assert again.pk == first.pk
    assert Event.objects.count() == 1
    assert EventDelivery.objects.count() == 1


def test_prompt_delivery_is_enqueued_only_after_commit(
    db, recorder, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        emit("test.happened", {})
    assert not DBTaskResult.objects.exists()

    for callback in callbacks:
        callback()
    task = DBTaskResult.objects.get()
    assert task.task_path == "servicecharter.core.tasks.deliver_event"
    assert task.queue_name == "events"


def test_a_delivered_event_is_not_delivered_again(db, recorder):
    event = emit("test.happened", {})

    assert deliver_due(worker_id="w1") == 1
    assert deliver_due(worker_id="w2") == 0

    assert recorder.delivered == [event.pk]
    delivery = _delivery(event)
    assert delivery.state == DeliveryState.DELIVERED
    assert delivery.delivered_at is not None
    assert delivery.attempts == 1


def test_a_failing_handler_is_retried_with_back_off_then_delivered(db, recorder):
    recorder.failures = 2
    with time_machine.travel(T0, tick=False) as clock:
        event = emit("test.happened", {})

        deliver_due(worker_id="w1")
        delivery = _delivery(event)
        assert delivery.state == DeliveryState.PENDING
        assert delivery.attempts == 1
        assert "boom #1" in delivery.last_error
        assert delivery.next_attempt_at == T0 + retry_delay(1)

        # Not due yet: nothing happens before the back-off has passed.
        clock.shift(retry_delay(1) - timedelta(seconds=1))
        assert deliver_due(worker_id="w1") == 0

        clock.shift(timedelta(seconds=1))
        deliver_due(worker_id="w1")
        delivery.refresh_from_db()
        assert delivery.attempts == 2
        assert delivery.next_attempt_at == timezone.now() + retry_delay(2)
        assert retry_delay(2) == 2 * retry_delay(1)

        clock.shift(retry_delay(2))
        deliver_due(worker_id="w1")

    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.DELIVERED
    assert delivery.attempts == 3
    assert delivery.last_error == ""
    assert recorder.delivered == [event.pk]


def test_back_off_grows_but_is_capped():
    delays = [retry_delay(n) for n in range(1, 20)]
    assert delays == sorted(delays)
    assert delays[-1] == timedelta(hours=6)


def _fail_until_dead(event, settings) -> EventDelivery:
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for _ in range(settings.EVENT_MAX_ATTEMPTS):
            deliver_due(worker_id="w1")
            clock.shift(timedelta(days=1))
    return _delivery(event)


def test_after_the_last_attempt_the_delivery_is_dead_and_retry_brings_it_back(
    db, recorder, settings
):
    settings.EVENT_MAX_ATTEMPTS = 3
    recorder.failures = 3
    event = emit("test.happened", {})

    delivery = _fail_until_dead(event, settings)
    assert delivery.state == DeliveryState.DEAD
    assert delivery.attempts == 3
    assert "boom #3" in delivery.last_error
    assert AuditEntry.objects.filter(action="event_delivery.dead", object_id=str(delivery.pk))
    # A dead delivery is never picked up by the sweep.
    with time_machine.travel(timezone.now() + timedelta(days=30)):
        assert deliver_due(worker_id="w1") == 0

    event_delivery_retry(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == (DeliveryState.PENDING, 0)
    assert AuditEntry.objects.filter(action="event_delivery.retry", object_id=str(delivery.pk))

    deliver_due(worker_id="w1")
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.DELIVERED
    assert recorder.delivered == [event.pk]


def test_retry_refuses_a_delivery_that_is_not_dead(db, recorder):
    event = emit("test.happened", {})
    delivery = _delivery(event)

    with pytest.raises(DeliveryRefused, match="not in the dead-letter list"):
        event_delivery_retry(delivery_id=delivery.pk)
    with pytest.raises(DeliveryRefused, match="no event delivery"):
        event_delivery_retry(delivery_id=999999)
    assert not AuditEntry.objects.filter(action__startswith="event_delivery.")


def test_a_subscriber_that_no_longer_exists_ends_in_the_dead_letters(db, settings):
    settings.EVENT_MAX_ATTEMPTS = 1
    event = Event.objects.create(name="test.happened", payload={})
    EventDelivery.objects.create(event=event, subscriber="gone.handler", next_attempt_at=T0)

    deliver_due(worker_id="w1")

    delivery = _delivery(event)
    assert delivery.state == DeliveryState.DEAD
    assert "No subscriber named 'gone.handler'" in delivery.last_error


def test_a_claimed_delivery_is_refused_to_a_second_worker_until_the_claim_expires(
    db, recorder, settings
):
    settings.EVENT_CLAIM_SECONDS = 60
    with time_machine.travel(T0, tick=False) as clock:
        event = emit("test.happened", {})
        delivery = _delivery(event)

        assert delivery_claim(delivery_id=delivery.pk, worker_id="w1")
        assert not delivery_claim(delivery_id=delivery.pk, worker_id="w2")
        assert deliver_due(worker_id="w2") == 0

        # w1 died without finishing: once its claim expires, w2 takes over.
        clock.shift(timedelta(seconds=61))
        assert deliver_due(worker_id="w2") == 1

    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.DELIVERED
    assert delivery.attempts == 2
    assert recorder.delivered == [event.pk]
    # The late worker cannot deliver it a second time.
    assert not delivery_run(delivery_id=delivery.pk, worker_id="w1")
    assert recorder.delivered == [event.pk]


def test_a_worker_that_lost_its_claim_rolls_back_the_handlers_work(db, settings):
    def handler(event):
        Event.objects.create(name="test.side_effect", payload={})
        # Meanwhile our claim expired and another worker took the delivery over.
        EventDelivery.objects.filter(event=event).update(claimed_by="w2")

    subscriber("test.happened", name="test.slow")(handler)
    try:
        event = emit("test.happened", {})
        delivery = _delivery(event)
        assert delivery_claim(delivery_id=delivery.pk, worker_id="w1")

        assert not delivery_run(delivery_id=delivery.pk, worker_id="w1")
    finally:
        unsubscribe("test.slow")

    assert not Event.objects.filter(name="test.side_effect").exists()
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.PENDING
    assert delivery.delivered_at is None


def test_a_delivery_whose_worker_died_on_every_attempt_goes_dead(db, recorder, settings):
    settings.EVENT_MAX_ATTEMPTS = 2
    settings.EVENT_CLAIM_SECONDS = 60
    with time_machine.travel(T0, tick=False) as clock:
        event = emit("test.happened", {})
        delivery = _delivery(event)
        for _ in range(2):  # claimed, then the worker vanished
            assert delivery_claim(delivery_id=delivery.pk, worker_id="w1")
            clock.shift(timedelta(seconds=61))

        deliver_due(worker_id="w2")

    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.DEAD
    assert recorder.calls == 0
    assert "stopped during every attempt" in delivery.last_error


def _dead_delivery(event_name="test.happened") -> EventDelivery:
    event = Event.objects.create(name=event_name, payload={})
    return EventDelivery.objects.create(
        event=event,
        subscriber="test.recorder",
        state=DeliveryState.DEAD,
        attempts=8,
        last_error="Traceback …\nRuntimeError: the mail server refused",
        next_attempt_at=T0,
    )


def test_retry_all_puts_every_dead_delivery_back(db):
    first, second = _dead_delivery(), _dead_delivery()

    assert event_deliveries_retry_dead() == 2

    states = set(EventDelivery.objects.values_list("state", flat=True))
    assert states == {DeliveryState.PENDING}
    entry = AuditEntry.objects.get(action="event_delivery.retry_all")
    assert entry.changes["ids"] == [first.pk, second.pk]
    assert event_deliveries_retry_dead() == 0


def test_the_events_command_lists_and_retries_dead_deliveries(db, capsys):
    delivery = _dead_delivery()

    call_command("events", "dead")
    listed = capsys.readouterr().out
    assert f"{delivery.pk}\ttest.happened#{delivery.event_id}\ttest.recorder\t8" in listed
    assert "the mail server refused" in listed

    call_command("events", "retry", str(delivery.pk))
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.PENDING

    call_command("events", "dead")
    assert "No dead deliveries." in capsys.readouterr().out


def test_the_events_command_refuses_bad_input_and_changes_nothing(db):
    delivery = _dead_delivery()

    with pytest.raises(CommandError, match="no event delivery with the id 424242"):
        call_command("events", "retry", "424242")
    with pytest.raises(CommandError, match="either a delivery id or --all"):
        call_command("events", "retry")
    with pytest.raises(CommandError, match="either a delivery id or --all"):
        call_command("events", "retry", str(delivery.pk), "--all")

    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.DEAD


def test_the_events_command_retries_all(db):
    _dead_delivery(), _dead_delivery()

    call_command("events", "retry", "--all")

    assert not EventDelivery.objects.filter(state=DeliveryState.DEAD).exists()
