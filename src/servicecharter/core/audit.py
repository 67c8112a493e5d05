"""The tamper-evident audit trail.

Every service that writes calls ``audit_record`` inside its transaction, preferably as its last
statement: the chain is one sequence for the whole system, so the lock that orders appends is held
until the service's transaction ends.

Each row's ``hash`` is SHA-256 over the previous row's hash and a canonical serialisation of the
row's own fields (see ``entry_hash``). ``verify_chain`` recomputes the chain and names the first
broken link. On PostgreSQL a trigger (core migration 0002) refuses UPDATE, DELETE and TRUNCATE.

The hash is not keyed: someone who can write the table *and* recompute every later hash could
rewrite history undetected. Anchor the head (``charter audit verify`` prints it) outside the
database when that matters.
"""

import contextvars
import hashlib
import ipaddress
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from servicecharter.core.context import current_actor
from servicecharter.core.models import AuditEntry

GENESIS_HASH = "0" * 64
# Key of the PostgreSQL transaction-level advisory lock that serialises appends to the chain.
CHAIN_LOCK_KEY = 0x5C_A0D1
VERIFY_BATCH = 2000
REFUSED = "access.refused"

_MAX = {f.name: f.max_length for f in AuditEntry._meta.fields if getattr(f, "max_length", None)}


# --- canonical form and hash -------------------------------------------------------------


def _clip(field: str, value) -> str:
    return ("" if value is None else str(value))[: _MAX[field]]


def _normal_ip(value) -> str | None:
    """One spelling per address, so the hash survives PostgreSQL's ``inet`` round trip."""
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(str(value).strip()))
    except ValueError:
        return None


def _floats_as_text(value):
    # PostgreSQL's jsonb rewrites numbers (1e20 comes back as an integer); text does not change.
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict):
        return {str(k): _floats_as_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_floats_as_text(v) for v in value]
    return value


def normal_changes(changes: dict | None) -> dict:
    """``changes`` as plain JSON (dates, decimals and floats as text), exactly as stored."""
    plain = json.loads(json.dumps(changes or {}, cls=DjangoJSONEncoder))
    return _floats_as_text(plain)


def _utc_iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def entry_hash(
    *,
    prev_hash: str,
    seq: int,
    at: datetime,
    actor_id: int | None,
    actor_label: str,
    action: str,
    object_type: str,
    object_id: str,
    object_repr: str,
    changes: dict,
    ip: str | None,
    request_id: str,
) -> str:
    """SHA-256 of the previous hash and the row's canonical JSON (sorted keys, UTC time)."""
    canonical = json.dumps(
        {
            "seq": seq,
            "at": _utc_iso(at),
            "actor_id": actor_id,
            "actor": actor_label,
            "action": action,
            "object_type": object_type,
            "object_id": object_id,
            "object_repr": object_repr,
            "changes": changes,
            "ip": _normal_ip(ip),
            "request_id": request_id,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )
    return hashlib.sha256(f"{prev_hash}\n{canonical}".encode()).hexdigest()


# --- appending ---------------------------------------------------------------------------


def _lock_chain_head() -> tuple[int, str]:
    """Take the append lock and read the head: (last seq, last hash). Call inside a transaction.

    SQLite transactions here begin IMMEDIATE, so the write lock is already held. PostgreSQL
    takes a transaction-level advisory lock; under READ COMMITTED the head is read by a new
    statement after the lock is granted, so it sees the row the previous holder committed."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHAIN_LOCK_KEY])
    head = AuditEntry.objects.order_by("-seq").values_list("seq", "hash").first()
    return head or (0, GENESIS_HASH)


def _new_entry(
    *,
    action: str,
    obj=None,
    object_type: str = "",
    object_id="",
    object_repr="",
    changes: dict | None = None,
    actor=None,
    at: datetime,
) -> AuditEntry:
    """An unsaved, unchained row with every field clipped and normalised as it will be stored."""
    actor = actor or current_actor()
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or obj.pk
        object_repr = object_repr or str(obj)
    return AuditEntry(
        at=at,
        actor_id=actor.user_id,
        actor_label=_clip("actor_label", actor.label),
        action=_clip("action", action),
        object_type=_clip("object_type", object_type),
        object_id=_clip("object_id", object_id),
        object_repr=_clip("object_repr", object_repr),
        changes=normal_changes(changes),
        ip=_normal_ip(actor.ip),
        request_id=_clip("request_id", actor.request_id),
    )


def _chain(entry: AuditEntry, seq: int, prev_hash: str) -> str:
    entry.seq = seq
    entry.prev_hash = prev_hash
    entry.hash = entry_hash(prev_hash=prev_hash, **_hashed_fields(entry))
    return entry.hash


def _hashed_fields(entry: AuditEntry) -> dict:
    return {name: getattr(entry, name) for name in HASHED_FIELDS}


HASHED_FIELDS = (
    "seq",
    "at",
    "actor_id",
    "actor_label",
    "action",
    "object_type",
    "object_id",
    "object_repr",
    "changes",
    "ip",
    "request_id",
)


def audit_record(
    *,
    action: str,
    obj=None,
    object_type: str = "",
    object_id="",
    object_repr="",
    changes: dict | None = None,
) -> AuditEntry:
    """Append one audit row for ``action`` on ``obj`` (or on the named object).

    ``changes`` is ``{field: [before, after]}`` for writes; other events may store plain values.
    Who and from where come from ``current_actor()``. Call it inside the service's transaction
    so the row and the fact commit or vanish together."""
    entry = _new_entry(
        action=action,
        obj=obj,
        object_type=object_type,
        object_id=object_id,
        object_repr=object_repr,
        changes=changes,
        at=timezone.now(),
    )
    # No savepoint: the caller's transaction decides; this saves two round trips per write.
    with transaction.atomic(savepoint=False):
        seq, prev_hash = _lock_chain_head()
        _chain(entry, seq + 1, prev_hash)
        entry.save(force_insert=True)
    return entry


def audit_record_many(entries: Iterable[dict]) -> list[AuditEntry]:
    """Append many rows at once (imports): one lock, the chain computed in Python, one bulk insert.

    ``entries`` is an iterable of dicts with the keyword arguments of ``audit_record``:
    ``{"action": "staff.create", "obj": staff, "changes": {"name": [None, "Li Lei"]}}`` or, without
    a model instance, ``{"action": ..., "object_type": "org.staff", "object_id": "42",
    "object_repr": "Li Lei", "changes": {...}}``. ``action`` is required; the rest are optional.
    All rows share one time and the current actor. Returns the saved rows in chain order.
    Keep batches to a few thousand rows: they are held in memory until inserted."""
    now = timezone.now()
    actor = current_actor()
    rows = [_new_entry(**entry, actor=actor, at=now) for entry in entries]
    if not rows:
        return []
    with transaction.atomic(savepoint=False):
        seq, prev_hash = _lock_chain_head()
        for row in rows:
            seq += 1
            prev_hash = _chain(row, seq, prev_hash)
        AuditEntry.objects.bulk_create(rows)
    return rows


# --- refused access ----------------------------------------------------------------------

# Refusals noticed inside an application transaction wait here until the request is answered:
# the transaction is about to roll back, and the record of the refusal must survive it.
_pending_refusals: contextvars.ContextVar[list[dict] | None] = contextvars.ContextVar(
    "pending_refusals", default=None
)


def _in_application_transaction() -> bool:
    # The transactions that wrap each test are not the application's (Django marks them).
    return any(not block._from_testcase for block in connection.atomic_blocks)


def audit_refusal(
    *, reason: str, object_type: str = "", object_id="", object_repr="", details: dict | None = None
) -> None:
    """Record that access was refused. Written at once in autocommit; inside a transaction that
    is about to fail it is kept for ``AuditAccessMiddleware`` to write after the response."""
    record = {
        "action": REFUSED,
        "object_type": object_type,
        "object_id": object_id,
        "object_repr": object_repr,
        "changes": {"reason": reason, **(details or {})},
    }
    pending = _pending_refusals.get()
    if pending is not None and _in_application_transaction():
        pending.append(record)
    else:
        audit_record(**record)


class AuditAccessMiddleware:
    """Records every 403 answer, and writes refusals noticed inside failed transactions.
    Sits after the authentication middlewares so the actor is known."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _pending_refusals.set([])
        try:
            response = self.get_response(request)
            pending = _pending_refusals.get()
        finally:
            _pending_refusals.reset(token)
        for record in pending:
            audit_record(**record)
        if response.status_code == 403:
            audit_record(
                action=REFUSED,
                object_type="http",
                object_repr=request.path,
                changes={"reason": "forbidden", "method": request.method, "path": request.path},
            )
        return response


# --- reading ---------------------------------------------------------------------------


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def audit_entries_matching(
    *,
    actor: str = "",
    action: str = "",
    object_type: str = "",
    object_id: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet:
    """Audit rows matching the audit page's filters, newest first. The caller checks VIEW_AUDIT.
    ``actor`` is a user name or a user id; ``action`` ending in a dot is a prefix ("staff.");
    the dates are whole days in the current time zone, both included."""
    entries = AuditEntry.objects.all()
    if actor:
        entries = (
            entries.filter(actor_id=int(actor))
            if actor.isdigit()
            else entries.filter(actor_label=actor)
        )
    if action:
        entries = (
            entries.filter(action__startswith=action)
            if action.endswith(".")
            else entries.filter(action=action)
        )
    if object_type:
        entries = entries.filter(object_type=object_type)
    if object_id:
        entries = entries.filter(object_id=object_id)
    if date_from:
        entries = entries.filter(at__gte=_day_start(date_from))
    if date_to:
        entries = entries.filter(at__lt=_day_start(date_to + timedelta(days=1)))
    return entries.order_by("-seq")


# --- verification ------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    kind: str  # "missing" | "unlinked" | "altered" | "outside"
    message: str


@dataclass(frozen=True)
class ChainReport:
    entries: int
    head_seq: int
    head_hash: str
    broken: ChainBreak | None = None

    @property
    def intact(self) -> bool:
        return self.broken is None


def _rows_in_order(batch_size: int) -> Iterator[tuple]:
    """Every row in ``seq`` order, ``batch_size`` at a time (keyset pages: constant memory)."""
    fields = ("prev_hash", "hash", *HASHED_FIELDS)
    last = None
    while True:
        page = AuditEntry.objects.order_by("seq").values_list(*fields)
        if last is not None:
            page = page.filter(seq__gt=last)
        rows = list(page[:batch_size])
        yield from rows
        if len(rows) < batch_size:
            return
        last = rows[-1][2]


def _check_row(row: tuple, expected_seq: int, prev_hash: str) -> ChainBreak | None:
    stored_prev, stored_hash, seq = row[:3]
    if seq < expected_seq:
        return ChainBreak(
            seq,
            "outside",
            _("Entry #%(seq)d lies outside the chain: sequence numbers start at 1.") % {"seq": seq},
        )
    if seq > expected_seq:
        return ChainBreak(
            expected_seq,
            "missing",
            _("Entry #%(seq)d is missing: entry #%(next)d follows entry #%(prev)d.")
            % {"seq": expected_seq, "next": seq, "prev": expected_seq - 1},
        )
    if stored_prev != prev_hash:
        return ChainBreak(
            seq,
            "unlinked",
            _(
                "Entry #%(seq)d does not link to the entry before it: it was inserted out of "
                "chain, or the entry before it was rewritten."
            )
            % {"seq": seq},
        )
    fields = dict(zip(HASHED_FIELDS, row[2:], strict=True))
    if entry_hash(prev_hash=stored_prev, **fields) != stored_hash:
        return ChainBreak(
            seq,
            "altered",
            _("Entry #%(seq)d was altered: its content no longer matches its hash.") % {"seq": seq},
        )
    return None


def verify_chain(*, batch_size: int = VERIFY_BATCH) -> ChainReport:
    """Walk the whole chain in order and stop at the first broken link."""
    count, prev_hash, expected = 0, GENESIS_HASH, 1
    for row in _rows_in_order(batch_size):
        broken = _check_row(row, expected, prev_hash)
        if broken is not None:
            return ChainReport(count, expected - 1, prev_hash, broken)
        count += 1
        prev_hash, expected = row[1], expected + 1
    return ChainReport(count, expected - 1, prev_hash)
