"""A throttle any module can use: "at most ``limit`` attempts per ``window`` from one address".

Hits are rows (``ThrottleHit``), not process memory, so the several server processes of a
deployment (gunicorn workers share nothing) all count the same hits. The key is a keyed hash
(``pii.digest``) of the address: the table never holds an IP address, and without the hash key
nobody can tell from it who was throttled. Rows older than ``MAX_WINDOW`` are pruned by the
worker every hour (``core.subscribers.prune_throttle_hits``).

Counting and recording are two statements, so two requests arriving together may both pass
the last free place; ``throttle_check`` records first and counts after, so under a burst the
surplus requests are refused rather than admitted.
"""

from datetime import datetime, timedelta

from django.utils import timezone

from servicecharter.core import pii
from servicecharter.core.models import ThrottleHit

# The longest window a throttle may use: older hits are pruned.
MAX_WINDOW = timedelta(days=1)


def throttle_key(value: str | None) -> str:
    """The stored key for an address (or any other identifier): its keyed hash."""
    return pii.digest(value or "unknown")


def _recent(*, scope: str, key: str, window: timedelta, now: datetime):
    if window > MAX_WINDOW:
        raise ValueError(f"A throttle window is at most {MAX_WINDOW}; hits older are pruned.")
    return ThrottleHit.objects.filter(scope=scope, key=throttle_key(key), at__gt=now - window)


def throttle_hit(*, scope: str, key: str | None, at: datetime | None = None) -> None:
    """Count one attempt of ``key`` (e.g. the client's address) under ``scope``."""
    ThrottleHit.objects.create(scope=scope, key=throttle_key(key), at=at or timezone.now())


def throttle_count(*, scope: str, key: str | None, window: timedelta, limit: int) -> int:
    """Hits of ``key`` within the last ``window``, counted up to ``limit`` at most (a flood of
    hits costs no more to count than the limit)."""
    recent = _recent(scope=scope, key=key, window=window, now=timezone.now())
    return recent.values("pk")[:limit].count()


def throttle_exceeded(*, scope: str, key: str | None, limit: int, window: timedelta) -> bool:
    """True when ``key`` already used its ``limit`` attempts within the last ``window``."""
    return throttle_count(scope=scope, key=key, window=window, limit=limit) >= limit


def throttle_check(*, scope: str, key: str | None, limit: int, window: timedelta) -> bool:
    """Record an attempt and say whether it is allowed (True) or over the limit (False)."""
    throttle_hit(scope=scope, key=key)
    return throttle_count(scope=scope, key=key, window=window, limit=limit + 1) <= limit


def throttle_clear(*, scope: str, key: str | None) -> int:
    """Forget the hits of ``key`` under ``scope`` (e.g. after it proved who it is)."""
    deleted, _ = ThrottleHit.objects.filter(scope=scope, key=throttle_key(key)).delete()
    return deleted


def throttle_prune(*, now: datetime | None = None) -> int:
    """Delete the hits older than the longest window; returns how many went."""
    cutoff = (now or timezone.now()) - MAX_WINDOW
    deleted, _ = ThrottleHit.objects.filter(at__lt=cutoff).delete()
    return deleted
