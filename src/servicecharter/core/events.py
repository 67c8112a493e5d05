"""Domain events: stored in the same transaction as the fact, delivered by the worker.

A module announces a fact with ``emit("case.deadline_breached", {...})`` inside the transaction
that records the fact. Another module reacts with a subscriber::

    @subscriber("case.deadline_breached")
    def open_violation(event):
        ...

A module keeps its subscribers in its ``subscribers.py`` and imports it from its AppConfig's
``ready()``, so the web servers (which emit) and the workers (which deliver) know the same list.

``emit`` stores the event and one delivery row per subscriber; if the caller's transaction rolls
back, so do they. After commit a task asks for prompt delivery, and the worker also sweeps due
deliveries, so nothing depends on that task running.

Delivery is AT LEAST ONCE: a worker that dies after the handler's work committed elsewhere (an
email sent, a file written) but before the delivery was marked, or whose claim expired while it was
still working, lets another worker run the handler again. Handlers must therefore be idempotent:
look up what they are about to create (by the event id or a natural key) before creating it. The
database work a handler does commits in the same transaction that marks the delivery done, so
that part happens exactly once.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial

from django.db import IntegrityError, transaction
from django.utils import timezone

from servicecharter.core.models import Event, EventDelivery

Handler = Callable[[Event], None]


@dataclass(frozen=True)
class Subscriber:
    name: str
    event_name: str
    handler: Handler


# event name → subscriber name → subscriber; filled by @subscriber at import time.
_BY_EVENT: dict[str, dict[str, Subscriber]] = {}
_BY_NAME: dict[str, Subscriber] = {}


def subscriber(event_name: str, *, name: str | None = None) -> Callable[[Handler], Handler]:
    """Register ``handler(event)`` for ``event_name``. The handler must be idempotent.

    The subscriber's name (default: the handler's dotted path) is stored on each delivery, so
    renaming a handler leaves its undelivered events to the dead-letter list."""

    def register(handler: Handler) -> Handler:
        sub_name = name or f"{handler.__module__}.{handler.__qualname__}"
        registered = _BY_NAME.get(sub_name)
        if registered is not None and registered.handler is not handler:
            raise ValueError(f"Two handlers are registered as subscriber {sub_name!r}.")
        entry = Subscriber(name=sub_name, event_name=event_name, handler=handler)
        _BY_NAME[sub_name] = entry
        _BY_EVENT.setdefault(event_name, {})[sub_name] = entry
        return handler

    return register


def unsubscribe(name: str) -> None:
    """Forget a subscriber (used by tests that register handlers of their own)."""
    entry = _BY_NAME.pop(name, None)
    if entry is not None:
        _BY_EVENT.get(entry.event_name, {}).pop(name, None)


def subscribers_for(event_name: str) -> list[str]:
    return sorted(_BY_EVENT.get(event_name, {}))


def handler_named(name: str) -> Handler | None:
    entry = _BY_NAME.get(name)
    return entry.handler if entry else None


def emit(name: str, payload: dict, *, dedupe_key: str | None = None) -> Event:
    """Record that ``name`` happened. Call inside the transaction that records the fact.

    ``payload`` must be JSON (ids rather than objects). With ``dedupe_key``, a second emit of
    the same key returns the first event and delivers nothing again."""
    # No savepoint of its own: a failure here fails the caller's transaction, which is what
    # the caller wants (the fact and its event commit together). Only a dedupe key's insert,
    # which may lose a race and carry on, needs one.
    with transaction.atomic(savepoint=False):
        if dedupe_key is None:
            event = Event.objects.create(name=name, payload=payload)
        else:
            existing = Event.objects.filter(dedupe_key=dedupe_key).first()
            if existing is not None:
                return existing
            try:
                with transaction.atomic():
                    event = Event.objects.create(name=name, payload=payload, dedupe_key=dedupe_key)
            except IntegrityError:
                # Another transaction stored the same key between our look-up and our insert.
                return Event.objects.get(dedupe_key=dedupe_key)
        names = subscribers_for(name)
        if names:
            now = timezone.now()
            EventDelivery.objects.bulk_create(
                [EventDelivery(event=event, subscriber=sub, next_attempt_at=now) for sub in names]
            )
            transaction.on_commit(partial(request_prompt_delivery, event.pk), robust=True)
    return event


def request_prompt_delivery(event_id: int) -> None:
    # Only a shortcut: if this enqueue fails the worker's sweep still delivers the event.
    from servicecharter.core.tasks import deliver_event

    deliver_event.enqueue(event_id)


def emit_many(name: str, items: Iterable[tuple[dict, str | None]]) -> list[Event]:
    """Record many facts of one kind at once (the deadline sweep): one query for the dedupe keys
    already stored, one insert of the events and one of their deliveries, instead of a few
    round trips per event. The same contract as ``emit`` otherwise: call it inside the
    transaction that records the facts; ``items`` are ``(payload, dedupe_key)`` pairs and a key
    already stored is skipped. No prompt delivery is asked for per event: the worker's sweep of
    due deliveries delivers them on its next pass."""
    items = list(items)
    with transaction.atomic():
        keys = [key for _payload, key in items if key is not None]
        seen = set(
            Event.objects.filter(dedupe_key__in=keys).values_list("dedupe_key", flat=True)
            if keys
            else ()
        )
        events = []
        for payload, key in items:
            if key is not None and key in seen:
                continue
            seen.add(key)
            events.append(Event(name=name, payload=payload, dedupe_key=key))
        try:
            with transaction.atomic():
                Event.objects.bulk_create(events)
        except IntegrityError:
            # A concurrent transaction stored one of the keys first: one at a time, then.
            return [emit(name, event.payload, dedupe_key=event.dedupe_key) for event in events]
        names = subscribers_for(name)
        if names and events:
            now = timezone.now()
            EventDelivery.objects.bulk_create(
                EventDelivery(event=event, subscriber=sub, next_attempt_at=now)
                for event in events
                for sub in names
            )
    return events
