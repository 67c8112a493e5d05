"""The tamper-evident audit trail. Every service that writes calls ``audit_record`` inside its
transaction. (Chain hashing and verification: see issue 2, item 7.)"""

from django.db import transaction
from django.utils import timezone

from servicecharter.core.context import current_actor
from servicecharter.core.models import AuditEntry


def audit_record(
    *,
    action: str,
    obj=None,
    object_type: str = "",
    object_id="",
    object_repr="",
    changes: dict | None = None,
) -> AuditEntry:
    """Append one audit row for ``action`` on ``obj`` (or on the named object)."""
    actor = current_actor()
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
        object_repr = object_repr or str(obj)[:300]
    with transaction.atomic():
        last = AuditEntry.objects.select_for_update().order_by("-seq").first()
        seq = (last.seq + 1) if last else 1
        return AuditEntry.objects.create(
            seq=seq,
            at=timezone.now(),
            actor_id=actor.user_id,
            actor_label=actor.label,
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            object_repr=object_repr,
            changes=changes or {},
            ip=actor.ip,
            request_id=actor.request_id,
            prev_hash=last.hash if last else "0" * 64,
            hash=f"{seq:064d}",
        )
