"""Delivering domain events to their subscribers, and the dead-letter list.

Each delivery is claimed with a conditional UPDATE whose row count says whether this worker won
it, so two workers never run the same delivery at the same time. The claim lasts
``settings.EVENT_CLAIM_SECONDS``: a worker killed mid-handler leaves a claim that expires, and
another worker then delivers. The handler runs in its own transaction together with the update
that marks the delivery done, so its database work commits exactly once. A failure is recorded
and retried with exponential back-off; after ``settings.EVENT_MAX_ATTEMPTS`` the delivery is dead
and waits for an administrator (``event_delivery_retry``).

Keep handlers short: on SQLite the handler's transaction holds the database's single write lock
while it runs. Slow work (mail, exports) belongs in a task the handler enqueues.
"""

import logging
import time
import traceback
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from servicecharter.accounts.permissions import MANAGE_EVENTS
from servicecharter.accounts.scoping import has_capability
from servicecharter.core.audit import audit_record
from servicecharter.core.choices import DeliveryState
from servicecharter.core.events import handler_named, request_prompt_delivery
from servicecharter.core.models import EventDelivery

logger = logging.getLogger("servicecharter.events")

RETRY_BASE_SECONDS = 30
RETRY_MAX_SECONDS = 6 * 3600
ERROR_KEEP_CHARS = 4000


class ClaimLost(Exception):
    """Our claim expired and another worker took the delivery over; our work is rolled back."""


class DeliveryRefused(ValueError):
    """A dead-letter retry that cannot be done; the message is translated for the user."""


def retry_delay(attempts: int) -> timedelta:
    """Back-off after the ``attempts``-th failed try: 30 s, 1 min, 2 min, … at most 6 h."""
    seconds = RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, RETRY_MAX_SECONDS))


def _claimable(now: datetime) -> Q:
    return Q(state=DeliveryState.PENDING) & (
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    )


def delivery_claim(*, delivery_id: int, worker_id: str) -> bool:
    """Take one delivery for ``worker_id``; False when it is not due or another worker has it."""
    now = timezone.now()
    claimed = EventDelivery.objects.filter(
        _claimable(now), pk=delivery_id, next_attempt_at__lte=now
    ).update(
        claimed_by=worker_id,
        claimed_until=now + timedelta(seconds=settings.EVENT_CLAIM_SECONDS),
        attempts=F("attempts") + 1,
    )
    return claimed == 1


def delivery_run(*, delivery_id: int, worker_id: str) -> bool:
    """Run the handler of a delivery this worker has claimed. True when it was delivered."""
    delivery = EventDelivery.objects.select_related("event").get(pk=delivery_id)
    if delivery.claimed_by != worker_id:
        return False
    if delivery.attempts > settings.EVENT_MAX_ATTEMPTS:
        # Earlier tries never came back (the worker died each time): stop trying.
        # Stored like a traceback: technical text for the operator, not translated.
        _record_failure(delivery, worker_id, "The worker stopped during every attempt.")
        return False
    handler = handler_named(delivery.subscriber)
    started = time.monotonic()
    try:
        if handler is None:
            raise LookupError(f"No subscriber named {delivery.subscriber!r} is registered.")
        with transaction.atomic():
            handler(delivery.event)
            _mark_delivered(delivery, worker_id)
    except ClaimLost:
        logger.warning("delivery %s was taken over by another worker", delivery.pk)
        return False
    except Exception:
        _record_failure(delivery, worker_id, traceback.format_exc())
        return False
    logger.info(
        "delivered event %s (%s) to %s [delivery %s, attempt %s, %.0f ms]",
        delivery.event_id,
        delivery.event.name,
        delivery.subscriber,
        delivery.pk,
        delivery.attempts,
        (time.monotonic() - started) * 1000,
    )
    return True


def _mark_delivered(delivery: EventDelivery, worker_id: str) -> None:
    done = EventDelivery.objects.filter(
        pk=delivery.pk, claimed_by=worker_id, state=DeliveryState.PENDING
    ).update(
        state=DeliveryState.DELIVERED,
        delivered_at=timezone.now(),
        claimed_by="",
        claimed_until=None,
        last_error="",
    )
    if done != 1:
        raise ClaimLost


def _record_failure(delivery: EventDelivery, worker_id: str, error: str) -> None:
    dead = delivery.attempts >= settings.EVENT_MAX_ATTEMPTS
    with transaction.atomic():
        updated = EventDelivery.objects.filter(
            pk=delivery.pk, claimed_by=worker_id, state=DeliveryState.PENDING
        ).update(
            state=DeliveryState.DEAD if dead else DeliveryState.PENDING,
            next_attempt_at=timezone.now() + retry_delay(delivery.attempts),
            claimed_by="",
            claimed_until=None,
            last_error=error[-ERROR_KEEP_CHARS:],
        )
        if updated and dead:
            audit_record(
                action="event_delivery.dead",
                obj=delivery,
                changes={
                    "state": [DeliveryState.PENDING.value, DeliveryState.DEAD.value],
                    "attempts": delivery.attempts,
                },
            )
    last_line = error.strip().splitlines()[-1] if error.strip() else ""
    if dead:
        logger.error(
            "dead letter: delivery %s after %s attempts: %s",
            delivery.pk,
            delivery.attempts,
            last_line,
        )
    else:
        logger.warning(
            "delivery %s failed (attempt %s of %s), retry in %s: %s",
            delivery.pk,
            delivery.attempts,
            settings.EVENT_MAX_ATTEMPTS,
            retry_delay(delivery.attempts),
            last_line,
        )


def deliver_due(*, worker_id: str, limit: int = 100, event_id: int | None = None) -> int:
    """Claim and deliver up to ``limit`` due deliveries (of one event if given); returns how
    many this worker attempted."""
    now = timezone.now()
    due = EventDelivery.objects.filter(_claimable(now), next_attempt_at__lte=now)
    if event_id is not None:
        due = due.filter(event_id=event_id)
    candidates = list(due.order_by("next_attempt_at", "id").values_list("pk", flat=True)[:limit])
    attempted = 0
    for delivery_id in candidates:
        if delivery_claim(delivery_id=delivery_id, worker_id=worker_id):
            attempted += 1
            delivery_run(delivery_id=delivery_id, worker_id=worker_id)
    return attempted


# Dead letters: reads for the administrator page and the command, and the audited retry.


def require_manage_events(user) -> None:
    """Dead letters are institution-wide: only holders of MANAGE_EVENTS see or retry them."""
    if not has_capability(user, MANAGE_EVENTS):
        raise PermissionDenied


def dead_deliveries(*, user) -> QuerySet[EventDelivery]:
    """Dead deliveries, newest first, for a user allowed to manage events."""
    require_manage_events(user)
    return _dead().order_by("-id")


def _dead() -> QuerySet[EventDelivery]:
    return EventDelivery.objects.filter(state=DeliveryState.DEAD).select_related("event")


def dead_deliveries_for_command() -> QuerySet[EventDelivery]:
    """The operator's view from the command line (whoever can run the command is trusted)."""
    return _dead().order_by("id")


def event_delivery_retry(*, delivery_id: int) -> EventDelivery:
    """Put a dead delivery back in the queue with a fresh set of attempts."""
    with transaction.atomic():
        delivery = EventDelivery.objects.select_for_update().filter(pk=delivery_id).first()
        if delivery is None:
            raise DeliveryRefused(
                _("There is no event delivery with the id %(id)s.") % {"id": delivery_id}
            )
        if delivery.state != DeliveryState.DEAD:
            raise DeliveryRefused(
                _("Delivery %(id)s is not in the dead-letter list (it is %(state)s).")
                % {"id": delivery_id, "state": delivery.get_state_display()}
            )
        before = (delivery.state, delivery.attempts)
        _reset(EventDelivery.objects.filter(pk=delivery.pk))
        delivery.refresh_from_db()
        audit_record(
            action="event_delivery.retry",
            obj=delivery,
            changes={
                "state": [before[0], delivery.state],
                "attempts": [before[1], delivery.attempts],
            },
        )
    transaction.on_commit(partial(request_prompt_delivery, delivery.event_id), robust=True)
    return delivery


def event_deliveries_retry_dead() -> int:
    """Put every dead delivery back in the queue; returns how many."""
    with transaction.atomic():
        ids = list(_dead().select_for_update().values_list("pk", flat=True))
        if not ids:
            return 0
        count = _reset(EventDelivery.objects.filter(pk__in=ids))
        audit_record(
            action="event_delivery.retry_all",
            object_type="core.eventdelivery",
            object_repr=_("%(count)s dead deliveries") % {"count": count},
            changes={"count": count, "ids": ids[:1000]},
        )
    return count


def _reset(deliveries: QuerySet[EventDelivery]) -> int:
    return deliveries.update(
        state=DeliveryState.PENDING,
        attempts=0,
        next_attempt_at=timezone.now(),
        claimed_by="",
        claimed_until=None,
    )
