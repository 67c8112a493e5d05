"""Domain events: stored in the same transaction as the fact, delivered by the worker.
(Subscribers, delivery, retries and dead letters: issue 2, item 9.)"""

from servicecharter.core.models import Event


def emit(name: str, payload: dict, *, dedupe_key: str | None = None) -> Event:
    """Record that ``name`` happened. Call inside the transaction that records the fact."""
    return Event.objects.create(name=name, payload=payload, dedupe_key=dedupe_key)
