"""Every write to a case. One transaction per use case; each writes a timeline row and an audit
row, emits the domain events the accountability module consumes, and refuses what the case's
state or its regulatory profile does not allow with a translated message
(``TransitionRefused``, ``DeadlineRuleError`` or ``ValidationError``).

Permission checks happen before these are called (``selectors.case_get_for_user``); the
services check the rules of the case itself.
"""

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from servicecharter.accounts.choices import Role
from servicecharter.accounts.scoping import roles_of
from servicecharter.cases import workflow
from servicecharter.cases.choices import (
    OPEN_STATES,
    RESPONSE_OUTCOMES,
    UPHELD_OUTCOMES,
    CaseKind,
    CaseState,
    EscalationTarget,
    Jurisdiction,
    MessageDirection,
    Outcome,
    TimelineKind,
)
from servicecharter.cases.deadlines import (
    ClockEvent,
    ClockState,
    ClockStatus,
    clock_statuses,
)
from servicecharter.cases.models import (
    Attachment,
    Case,
    CaseClockEvent,
    CaseSettings,
    CustomProfile,
    Message,
    TimelineEntry,
)
from servicecharter.cases.profiles import (
    Approver,
    PauseReason,
    ProfileError,
    RegulatoryProfile,
    get_profile,
    profile_from_dict,
)
from servicecharter.cases.routing import CaseRules
from servicecharter.cases.severity import score_severity
from servicecharter.core import pii
from servicecharter.core.audit import audit_record, audit_record_many
from servicecharter.core.events import emit, emit_many
from servicecharter.core.ids import allocate_ids
from servicecharter.core.notifications import notify, register_kind
from servicecharter.org.choices import Channel
from servicecharter.org.models import Department, path_and_ancestors

register_kind("cases.assigned", gettext_lazy("A case is assigned to me"))
register_kind("cases.deadline_warning", gettext_lazy("A case of mine nears its deadline"))
register_kind("cases.deadline_breached", gettext_lazy("A case breached its deadline"))
register_kind("cases.customer_message", gettext_lazy("A customer wrote on a case of mine"))

# The role a user approves extensions as, highest first (see profiles.Approver).
_APPROVER_BY_ROLE = (
    (Role.EXECUTIVE, Approver.SENIOR_MANAGER),
    (Role.COMPLAINTS_OFFICER, Approver.COMPLAINTS_HEAD),
    (Role.SUPERVISOR, Approver.SUPERVISOR),
)


# --- tracking codes, references, profiles --------------------------------------------------


def tracking_code_new() -> str:
    """Twelve characters a customer can type: no 0/O or 1/I/L to confuse."""
    alphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
    return "".join(secrets.choice(alphabet) for _ in range(12))


def tracking_digest(code: str) -> str:
    return pii.digest("tracking:" + code.strip().upper().replace("-", "").replace(" ", ""))


def reference_for(case_id: int, received_at: datetime) -> str:
    """A reference people can read out on the phone: C, year and month, the case number."""
    return f"C{received_at:%y%m}-{case_id:07d}"


def resolve_profile(key: str) -> RegulatoryProfile:
    try:
        return get_profile(key)
    except (KeyError, LookupError, ProfileError):
        custom = CustomProfile.objects.filter(key=key, is_active=True).first()
        if custom is None:
            raise ValidationError(
                _("Unknown regulatory profile “%(key)s”.") % {"key": key}
            ) from None
        return profile_from_dict({**custom.definition, "key": custom.key})


# --- deadlines -------------------------------------------------------------------------------


def _clock_events(case: Case) -> list[ClockEvent]:
    return [
        ClockEvent(
            kind=row.kind,
            at=row.at,
            clock=row.clock,
            level=row.level,
            length=row.length,
            approved_by=row.approved_by,
            note=row.note,
            reason=row.reason,
        )
        for row in case.clock_events.all()
    ]


def case_clocks(case: Case, *, extra: ClockEvent | None = None, as_of=None) -> tuple:
    """The case's clock statuses, with ``extra`` applied on top (to test an event first)."""
    events = _clock_events(case) + ([extra] if extra else [])
    return clock_statuses(
        profile=resolve_profile(case.profile_key),
        received_at=case.received_at,
        events=events,
        as_of=as_of or timezone.now(),
    )


def _duty_due(statuses: tuple[ClockStatus, ...]) -> ClockStatus | None:
    """The running duty clock that falls due first (windows lapse without a breach)."""
    running = [
        status
        for status in statuses
        if not status.clock.is_window
        and status.state in (ClockState.RUNNING, ClockState.BREACHED)
        and status.stopped_at is None
    ]
    return min(running, key=lambda status: status.due.at, default=None)


def _refresh_due(case: Case, now: datetime, settings: CaseSettings | None = None) -> list[str]:
    """Recompute due_at and warn_at from the clock history; returns the changed fields.
    A later deadline clears a warning already sent, so the handler is warned again.
    ``settings``: the case settings when the caller has read them already."""
    first = _duty_due(case_clocks(case, as_of=now))
    due_at = first.due.at if first else None
    warn_at = None
    if first is not None:
        share = (settings or CaseSettings.current()).warn_share / 100
        warn_at = first.started_at + (first.due.at - first.started_at) * share
    changed = []
    if due_at != case.due_at:
        case.due_at = due_at
        changed.append("due_at")
    if warn_at != case.warn_at:
        if case.warned_at and warn_at and warn_at > case.warned_at:
            case.warned_at = None
            changed.append("warned_at")
        case.warn_at = warn_at
        changed.append("warn_at")
    return changed


def _add_clock_event(case: Case, event: ClockEvent, now: datetime) -> list[str]:
    """Check ``event`` against the profile's rules (DeadlineRuleError), store it, refresh."""
    case_clocks(case, extra=event, as_of=now)
    CaseClockEvent.objects.create(
        case=case,
        kind=event.kind,
        at=event.at,
        clock=event.clock,
        level=event.level,
        length=event.length,
        approved_by=event.approved_by,
        note=event.note,
        reason=event.reason,
    )
    case._prefetched_objects_cache = {}
    return _refresh_due(case, now)


# --- timeline and audit ------------------------------------------------------------------------


def _actor_label(actor) -> str:
    if actor is None:
        return ""
    return actor.get_full_name() or actor.get_username()


def _timeline(case: Case, kind: str, *, actor=None, at=None, note="", **data) -> TimelineEntry:
    return TimelineEntry.objects.create(
        case=case,
        at=at or timezone.now(),
        kind=kind,
        actor=actor,
        actor_label=_actor_label(actor) if actor else str(data.pop("by", "")),
        from_state=data.pop("from_state", ""),
        to_state=data.pop("to_state", ""),
        note=note,
        data=data,
    )


def _move(case: Case, action: str, *, actor, now: datetime, note: str = "", **data) -> str:
    """Apply ``action``'s state change (TransitionRefused if not allowed), with timeline and
    audit rows. The caller saves the case; returns the state it came from."""
    before = case.state
    case.state = workflow.target_of(action, before)
    _timeline(
        case,
        TimelineKind.TRANSITION,
        actor=actor,
        at=now,
        note=note,
        from_state=before,
        to_state=case.state,
        action=action,
        **data,
    )
    audit_record(
        action=f"case.{action}",
        obj=case,
        changes={"state": [before, case.state], **{k: [None, v] for k, v in data.items()}},
    )
    return before


def _locked(case: Case) -> Case:
    """The case row, locked for this transaction, so two handlers never both move it."""
    return Case.objects.select_for_update().get(pk=case.pk)


def _case_url(case: Case) -> str:
    return reverse("cases:case_detail", args=[case.pk])


# --- intake ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Intake:
    case: Case
    tracking_code: str  # shown once to the customer; "" when the case already existed
    created: bool


def _earlier_cases(customer, received_at: datetime, days: int):
    if customer is None:
        return Case.objects.none()
    since = received_at - timedelta(days=days)
    return Case.objects.filter(
        customer=customer, received_at__gte=since, received_at__lt=received_at
    )


def _possible_duplicate(customer, product, business_type, received_at, days) -> Case | None:
    if customer is None or (product is None and business_type is None):
        return None
    same = {"product": product} if product is not None else {"business_type": business_type}
    earlier = _earlier_cases(customer, received_at, days).filter(
        **same, state__in=sorted(OPEN_STATES | {CaseState.RESPONDED})
    )
    return earlier.order_by("-received_at").first()


@transaction.atomic
def case_create(
    *,
    actor,
    kind: str,
    channel: str,
    subject: str,
    description: str,
    customer=None,
    contact_name: str = "",
    contact_email: str = "",
    contact_phone: str = "",
    language: str = "zh-hans",
    product=None,
    business_type=None,
    category=None,
    jurisdiction: str = Jurisdiction.CN,
    money_at_stake: Decimal | None = None,
    currency: str = "CNY",
    department: Department | None = None,
    handler=None,
    received_at: datetime | None = None,
    external_system: str = "",
    external_id: str = "",
) -> Intake:
    """Record a new case, or return the existing one for the same external id (idempotent).

    The profile comes from channel, business type and jurisdiction; severity from the facts;
    the queue from the routing rules (else ``department``, else the customer's home branch)."""
    if external_id:
        # Its id alone: most posts are new, and a whole case's SELECT costs more to compile.
        existing_id = (
            Case.objects.with_external_id(external_system, external_id)
            .values_list("pk", flat=True)
            .first()
        )
        if existing_id is not None:
            return Intake(case=Case.objects.get(pk=existing_id), tracking_code="", created=False)
    now = timezone.now()
    received_at = received_at or now
    if received_at > now:
        raise ValidationError({"received_at": _("The case cannot be received in the future.")})
    if product is not None and business_type is None:
        business_type = product.business_type
    settings = CaseSettings.current()
    earlier = _earlier_cases(customer, received_at, settings.repeat_window_days).count()
    severity = score_severity(
        money_at_stake=money_at_stake,
        currency=currency,
        is_vulnerable=bool(customer and customer.is_vulnerable),
        regulator_referral=channel == Channel.REGULATOR,
        earlier_cases=earlier,
        repeat_window_days=settings.repeat_window_days,
        social_media=channel == Channel.SOCIAL,
    )
    rules = CaseRules.for_business_type(business_type)
    business_type_id = business_type.pk if business_type else None
    routed = rules.routing_rule(
        kind=kind, channel=channel, business_type_id=business_type_id, severity=severity.level
    )
    queue = (
        (routed.department if routed else None)
        or department
        or (customer.home_department if customer else None)
    )
    if queue is None:
        queue = Department.objects.filter(parent__isnull=True).order_by("pk").first()
    if queue is None:
        raise ValidationError(_("There is no department to receive the case."))
    tracking_code = tracking_code_new()
    # The id is taken first, so the row goes in whole (its reference and deadlines) with one
    # INSERT: an UPDATE after it would write the row and every index of it a second time.
    case_id = allocate_ids(Case, 1)[0]
    case = Case(
        pk=case_id,
        reference=reference_for(case_id, received_at),
        kind=kind,
        channel=channel,
        external_system=external_system,
        external_id=external_id,
        customer=customer,
        contact_name=contact_name or (customer.name if customer else ""),
        contact_email=contact_email or (customer.email if customer else ""),
        contact_phone_cipher=pii.encrypt(contact_phone) if contact_phone else "",
        language=language,
        subject=subject,
        description=description,
        product=product,
        business_type=business_type,
        category=category,
        jurisdiction=jurisdiction,
        profile_key=rules.profile_key(
            channel=channel, business_type_id=business_type_id, jurisdiction=jurisdiction
        ),
        money_at_stake=money_at_stake,
        currency=currency,
        severity=severity.level,
        severity_score=severity.score,
        severity_reasons=severity.reasons,
        department=queue,
        handler=handler,
        received_at=received_at,
        possible_duplicate_of=_possible_duplicate(
            customer, product, business_type, received_at, settings.duplicate_window_days
        ),
        tracking_digest=tracking_digest(tracking_code),
    )
    if kind == CaseKind.COMPLAINT:
        # A new case has no clock events yet: no query for them.
        case._prefetched_objects_cache = {"clock_events": CaseClockEvent.objects.none()}
        _refresh_due(case, now, settings)
        case._prefetched_objects_cache = {}
    # The table's constraints are not checked here one query each: the id and reference are
    # new, the external id was looked up above (a concurrent post is caught below), and a new
    # case is not closed.
    case.full_clean(
        exclude=["id", "reference", "department", "handler", "customer"],
        validate_constraints=False,
    )
    try:
        with transaction.atomic():
            case.save(force_insert=True)
    except IntegrityError:
        # A concurrent post of the same external id won the race: answer with its case.
        existing = Case.objects.with_external_id(external_system, external_id)
        if external_id and existing.exists():
            return Intake(case=existing.get(), tracking_code="", created=False)
        raise
    _timeline(case, TimelineKind.CREATED, actor=actor, at=received_at, channel=channel)
    if case.possible_duplicate_of_id:
        _timeline(
            case,
            TimelineKind.DUPLICATE,
            actor=None,
            at=now,
            of=case.possible_duplicate_of.reference,
        )
    emit("case.created", {"case_id": case.pk, "kind": kind, "channel": channel})
    if handler is not None:
        _notify_assigned(case, handler)
    # Last: the audit trail's lock is held from here to the commit, and every post waits for it.
    audit_record(
        action="case.create",
        obj=case,
        changes={"kind": [None, kind], "channel": [None, channel], "queue": [None, queue.code]},
    )
    return Intake(case=case, tracking_code=tracking_code, created=True)


# --- assignment ----------------------------------------------------------------------------


def _notify_assigned(case: Case, handler) -> None:
    notify(
        recipient=handler,
        kind="cases.assigned",
        subject=partial(_format, gettext_lazy("Case %(ref)s is assigned to you"), case),
        url=_case_url(case),
    )


def _format(template, case: Case) -> str:
    return str(template) % {"ref": case.reference}


@transaction.atomic
def case_assign(*, actor, case: Case, handler) -> Case:
    case = _locked(case)
    if not case.is_open:
        raise workflow.TransitionRefused(_("Only an open case can be assigned."))
    if case.handler_id == getattr(handler, "pk", None):
        return case
    before = case.handler
    case.handler = handler
    case.save(update_fields=["handler", "updated_at"])
    _timeline(case, TimelineKind.ASSIGNED, actor=actor, handler=_actor_label(handler))
    audit_record(
        action="case.assign",
        obj=case,
        changes={"handler": [getattr(before, "pk", None), getattr(handler, "pk", None)]},
    )
    if handler is not None:
        _notify_assigned(case, handler)
    return case


@transaction.atomic
def case_assign_many(*, actor, cases: list[Case], handler) -> int:
    """Assign many cases at once; all or nothing."""
    return sum(1 for case in cases if case_assign(actor=actor, case=case, handler=handler))


@transaction.atomic
def case_route(*, actor, case: Case, department: Department, note: str = "") -> Case:
    """Move the case to another department's queue (its handler is cleared)."""
    case = _locked(case)
    if not case.is_open:
        raise workflow.TransitionRefused(_("Only an open case can be moved to another queue."))
    before = case.department
    case.department, case.handler = department, None
    case.save(update_fields=["department", "handler", "updated_at"])
    _timeline(case, TimelineKind.ROUTED, actor=actor, note=note, queue=department.code)
    audit_record(action="case.route", obj=case, changes={"queue": [before.code, department.code]})
    return case


# --- state transitions -----------------------------------------------------------------------


@transaction.atomic
def case_acknowledge(*, actor, case: Case, note: str = "") -> Case:
    case = _locked(case)
    now = timezone.now()
    _move(case, "acknowledge", actor=actor, now=now, note=note)
    case.acknowledged_at = now
    case.save(update_fields=["state", "acknowledged_at", "updated_at"])
    return case


@transaction.atomic
def case_start(*, actor, case: Case, note: str = "") -> Case:
    case = _locked(case)
    now = timezone.now()
    _move(case, "start", actor=actor, now=now, note=note)
    fields = ["state", "updated_at"]
    if case.acknowledged_at is None:
        case.acknowledged_at = now
        fields.append("acknowledged_at")
    if case.handler_id is None and actor is not None:
        case.handler = actor
        fields.append("handler")
    case.save(update_fields=fields)
    return case


def _profile_allows_pause(case: Case, reason: str) -> bool:
    profile = resolve_profile(case.profile_key)
    return any(reason in clock.pause_reasons for clock in profile.clocks)


@transaction.atomic
def case_await_customer(*, actor, case: Case, note: str) -> Case:
    """Ask the customer for something; the clock pauses where the profile allows it."""
    case = _locked(case)
    now = timezone.now()
    _move(case, "await_customer", actor=actor, now=now, note=note)
    fields = ["state", "updated_at"]
    if case.kind == CaseKind.COMPLAINT and _profile_allows_pause(
        case, PauseReason.AWAITING_CUSTOMER
    ):
        fields += _add_clock_event(
            case, ClockEvent.pause(now, reason=PauseReason.AWAITING_CUSTOMER), now
        )
    case.save(update_fields=fields)
    return case


def _resume_if_paused(case: Case, now: datetime) -> list[str]:
    if case.kind != CaseKind.COMPLAINT:
        return []
    paused = any(s.state == ClockState.PAUSED for s in case_clocks(case, as_of=now))
    return _add_clock_event(case, ClockEvent.resume(now), now) if paused else []


@transaction.atomic
def case_customer_replied(*, actor, case: Case, note: str = "") -> Case:
    case = _locked(case)
    now = timezone.now()
    _move(case, "customer_replied", actor=actor, now=now, note=note)
    fields = ["state", "updated_at", *_resume_if_paused(case, now)]
    case.save(update_fields=fields)
    return case


@transaction.atomic
def case_escalate(*, actor, case: Case, target: str, note: str) -> Case:
    if target not in EscalationTarget.values:
        raise ValidationError({"target": _("Choose where the case is escalated to.")})
    if not note.strip():
        raise ValidationError({"note": _("Say why the case is escalated.")})
    case = _locked(case)
    now = timezone.now()
    _move(case, "escalate", actor=actor, now=now, note=note, target=target)
    case.escalated_to = target
    fields = ["state", "escalated_to", "updated_at", *_resume_if_paused(case, now)]
    case.save(update_fields=fields)
    return case


@transaction.atomic
def case_respond(
    *,
    actor,
    case: Case,
    outcome: str,
    response_text: str,
    root_cause=None,
    redress_amount: Decimal | None = None,
    staff_involved=(),
    concerns_attitude: bool = False,
) -> Case:
    """Send the final response. Stops the response clocks; emits ``case.upheld_against_staff``
    for each employee named when the complaint is upheld (fully or partly)."""
    errors = {}
    if outcome not in RESPONSE_OUTCOMES:
        errors["outcome"] = _("Choose the outcome.")
    elif (outcome == Outcome.ANSWERED) == (case.kind == CaseKind.COMPLAINT):
        errors["outcome"] = _(
            "A complaint is upheld, partly upheld or not upheld; other cases are answered."
        )
    if not response_text.strip():
        errors["response_text"] = _("Write the response to the customer.")
    if redress_amount is not None and redress_amount < 0:
        errors["redress_amount"] = _("Redress cannot be negative.")
    if errors:
        raise ValidationError(errors)
    case = _locked(case)
    now = timezone.now()
    _move(case, "respond", actor=actor, now=now, outcome=outcome)
    case.outcome = outcome
    case.response_text = response_text
    case.root_cause = root_cause
    case.redress_amount = redress_amount
    case.concerns_attitude = concerns_attitude
    case.responded_at = now
    case.customer_accepted = None
    fields = ["state", "outcome", "response_text", "root_cause", "redress_amount"]
    fields += ["concerns_attitude", "responded_at", "customer_accepted", "updated_at"]
    if case.kind == CaseKind.COMPLAINT:
        fields += _stop_clocks(case, now)
    case.save(update_fields=fields)
    case.staff_involved.set(staff_involved)
    Message.objects.create(
        case=case, at=now, direction=MessageDirection.TO_CUSTOMER, author=actor, body=response_text
    )
    if outcome in UPHELD_OUTCOMES:
        for staff in staff_involved:
            emit(
                "case.upheld_against_staff",
                _case_payload(case, staff_id=staff.pk, outcome=outcome),
                dedupe_key=f"case.upheld:{case.pk}:{staff.pk}:{now.isoformat()}",
            )
    return case


def _stop_clocks(case: Case, now: datetime) -> list[str]:
    fields = _resume_if_paused(case, now)
    running = [s for s in case_clocks(case, as_of=now) if s.stopped_at is None and s.clock.key]
    for status in running:
        fields += _add_clock_event(case, ClockEvent.done(now, clock=status.clock.key), now)
    return sorted(set(fields))


def breach_event(case: Case, *, due_at: str, breached_at: str) -> tuple[dict, str]:
    """The payload and dedupe key of ``case.deadline_breached`` for a breach of the deadline
    ``due_at`` recorded at ``breached_at`` (both ISO text): one event per claim, so a reopened
    case whose new deadline falls on the same instant breaches again."""
    payload = _case_payload(case, due_at=due_at, breached_at=breached_at)
    return payload, f"case.breached:{case.pk}:{due_at}:{breached_at}"


def _case_payload(case: Case, **extra) -> dict:
    handler_staff = getattr(case.handler, "staff_id", None) if case.handler_id else None
    return {
        "case_id": case.pk,
        "reference": case.reference,
        "department_id": case.department_id,
        "handler_user_id": case.handler_id,
        "handler_staff_id": handler_staff,
        **extra,
    }


@transaction.atomic
def case_close(*, actor, case: Case, note: str = "") -> Case:
    case = _locked(case)
    now = timezone.now()
    _move(case, "close", actor=actor, now=now, note=note)
    case.closed_at = now
    case.save(update_fields=["state", "closed_at", "updated_at"])
    # The satisfaction survey after a closed case starts from this fact (surveys.subscribers).
    emit("case.closed", _case_payload(case, channel=case.channel, outcome=case.outcome))
    return case


def _profile_restarts(case: Case) -> bool:
    """Whether new facts restart a clock of the case's profile (CN profiles: yes; the UK and
    US ones: no, and a reopened case there keeps its stopped clocks)."""
    profile = resolve_profile(case.profile_key)
    return any(clock.restarts_on_new_facts for clock in profile.clocks)


@transaction.atomic
def case_reopen(*, actor, case: Case, reason: str, by_customer: bool = False) -> Case:
    """Reopen after the customer rejected the response or came back. The case gets a new
    response clock (new facts restart it where the profile says so) and ``case.reopened``."""
    if not reason.strip():
        raise ValidationError({"reason": _("Say why the case is reopened.")})
    case = _locked(case)
    if case.outcome in (Outcome.WITHDRAWN, Outcome.MERGED):
        raise workflow.TransitionRefused(
            _("A withdrawn or merged case cannot be reopened: record a new case instead.")
        )
    now = timezone.now()
    before = _move(case, "reopen", actor=actor, now=now, note=reason, by_customer=by_customer)
    case.closed_at = None
    case.outcome = ""
    case.breached_at = None
    fields = ["state", "closed_at", "outcome", "breached_at", "updated_at"]
    if case.kind == CaseKind.COMPLAINT and _profile_restarts(case):
        fields += _add_clock_event(case, ClockEvent.new_facts(now), now)
    case.save(update_fields=sorted(set(fields)))
    emit("case.reopened", _case_payload(case, from_state=before, by_customer=by_customer))
    return case


@transaction.atomic
def case_withdraw(*, actor, case: Case, note: str = "") -> Case:
    case = _locked(case)
    now = timezone.now()
    _move(case, "withdraw", actor=actor, now=now, note=note)
    case.outcome = Outcome.WITHDRAWN
    case.closed_at = now
    fields = ["state", "outcome", "closed_at", "updated_at"]
    # Any clock still running stops, also after a response when the case was reopened.
    if case.kind == CaseKind.COMPLAINT and any(
        status.stopped_at is None for status in case_clocks(case, as_of=now)
    ):
        fields += _add_clock_event(case, ClockEvent.withdrawal(now), now)
    case.save(update_fields=sorted(set(fields)))
    return case


@transaction.atomic
def case_merge(*, actor, case: Case, into: Case, note: str = "") -> Case:
    """A repeat complaint without new facts is merged into the earlier case and closed."""
    if into.pk == case.pk:
        raise ValidationError({"into": _("A case cannot be merged into itself.")})
    if not into.is_open and into.state != CaseState.RESPONDED:
        raise ValidationError({"into": _("Merge into a case that is still being handled.")})
    if into.customer_id != case.customer_id:
        raise ValidationError({"into": _("Only cases of the same customer can be merged.")})
    case = _locked(case)
    now = timezone.now()
    _move(case, "merge", actor=actor, now=now, note=note, into=into.reference)
    case.outcome = Outcome.MERGED
    case.merged_into = into
    case.closed_at = now
    fields = ["state", "outcome", "merged_into", "closed_at", "updated_at"]
    if case.kind == CaseKind.COMPLAINT:
        fields += _add_clock_event(case, ClockEvent.withdrawal(now), now)
    case.save(update_fields=sorted(set(fields)))
    _timeline(into, TimelineKind.MERGED, actor=actor, at=now, note=note, merged=case.reference)
    return case


# --- clocks: extensions, pauses, new facts -------------------------------------------------------


def approver_role(actor, case: Case) -> str:
    """The highest approval the actor can give for this case (by the roles they hold)."""
    held = roles_of(actor) if actor is not None else set()
    return next((approver for role, approver in _APPROVER_BY_ROLE if role in held), "")


def _require_complaint_open(case: Case) -> None:
    if case.kind != CaseKind.COMPLAINT:
        raise workflow.TransitionRefused(_("Only complaints have regulatory deadlines."))
    if not case.is_open:
        raise workflow.TransitionRefused(_("The deadline of a case no longer open cannot change."))


@transaction.atomic
def case_extend(
    *, actor, case: Case, level: str, note: str, length: int | None = None, clock: str = ""
) -> Case:
    """Extend the deadline to ``level`` of the profile; the actor's role must suffice as the
    profile's approver (DeadlineRuleError says which approval is missing)."""
    case = _locked(case)
    _require_complaint_open(case)
    now = timezone.now()
    event = ClockEvent.extension(
        now,
        clock=clock,
        level=level,
        length=length,
        approved_by=approver_role(actor, case),
        note=note,
    )
    fields = _add_clock_event(case, event, now)
    case.extension_level = level
    fields += ["extension_level", "updated_at"]
    case.save(update_fields=sorted(set(fields)))
    _timeline(case, TimelineKind.EXTENDED, actor=actor, at=now, note=note, level=level)
    audit_record(
        action="case.extend",
        obj=case,
        changes={"extension_level": [None, level], "due_at": [None, str(case.due_at)]},
    )
    return case


@transaction.atomic
def case_pause_clock(*, actor, case: Case, reason: str, note: str) -> Case:
    """Pause for a reason the profile allows (CN: external appraisal); the customer is told."""
    case = _locked(case)
    _require_complaint_open(case)
    now = timezone.now()
    fields = _add_clock_event(case, ClockEvent.pause(now, reason=reason), now)
    case.save(update_fields=[*fields, "updated_at"])
    _timeline(case, TimelineKind.PAUSED, actor=actor, at=now, note=note, reason=reason)
    audit_record(action="case.pause_clock", obj=case, changes={"reason": [None, reason]})
    return case


@transaction.atomic
def case_resume_clock(*, actor, case: Case, note: str = "") -> Case:
    case = _locked(case)
    _require_complaint_open(case)
    now = timezone.now()
    fields = _add_clock_event(case, ClockEvent.resume(now), now)
    case.save(update_fields=[*fields, "updated_at"])
    _timeline(case, TimelineKind.RESUMED, actor=actor, at=now, note=note)
    audit_record(action="case.resume_clock", obj=case, changes={})
    return case


@transaction.atomic
def case_new_facts(*, actor, case: Case, note: str) -> Case:
    """New facts restart the response clock where the profile says so."""
    case = _locked(case)
    _require_complaint_open(case)
    now = timezone.now()
    fields = _add_clock_event(case, ClockEvent.new_facts(now), now)
    if case.breached_at is not None:
        # The restarted clock is a new deadline: the sweep must watch it again (the earlier
        # breach stays in the timeline and its event stays sent).
        case.breached_at = None
        fields.append("breached_at")
    case.save(update_fields=[*fields, "updated_at"])
    _timeline(case, TimelineKind.NEW_FACTS, actor=actor, at=now, note=note)
    audit_record(action="case.new_facts", obj=case, changes={})
    return case


# --- external decisions ------------------------------------------------------------------------


@transaction.atomic
def case_record_external_decision(*, actor, case: Case, found_against_us: bool, note: str) -> Case:
    """A regulator or ombudsman decided an escalated case; against us → ``case.overturned``."""
    if not case.escalated_to or case.escalated_to == EscalationTarget.INTERNAL:
        raise workflow.TransitionRefused(
            _("Only a case escalated to a regulator or an ombudsman has an external decision.")
        )
    if not note.strip():
        raise ValidationError({"note": _("Summarise the decision.")})
    case = _locked(case)
    now = timezone.now()
    _timeline(
        case,
        TimelineKind.NOTE,
        actor=actor,
        at=now,
        note=note,
        external_decision=True,
        found_against_us=found_against_us,
    )
    audit_record(
        action="case.external_decision",
        obj=case,
        changes={"found_against_us": [None, found_against_us]},
    )
    if found_against_us:
        staff_ids = list(case.staff_involved.values_list("pk", flat=True))
        emit("case.overturned", _case_payload(case, staff_ids=staff_ids, by=case.escalated_to))
    return case


# --- messages and attachments ----------------------------------------------------------------


@transaction.atomic
def case_add_message(*, actor, case: Case, body: str, direction: str) -> Message:
    """A message to the customer, an internal note, or (actor None) a message from the customer."""
    if not body.strip():
        raise ValidationError({"body": _("Write a message.")})
    if direction not in MessageDirection.values:
        raise ValidationError({"direction": _("Choose who the message is for.")})
    now = timezone.now()
    message = Message.objects.create(
        case=case, at=now, direction=direction, author=actor, body=body
    )
    kind = TimelineKind.NOTE if direction == MessageDirection.INTERNAL else TimelineKind.MESSAGE
    by = "" if actor else _("Customer")
    _timeline(case, kind, actor=actor, at=now, by=by, direction=direction, message_id=message.pk)
    audit_record(action="case.message", obj=case, changes={"direction": [None, direction]})
    if direction == MessageDirection.FROM_CUSTOMER and case.handler_id:
        notify(
            recipient=case.handler,
            kind="cases.customer_message",
            subject=partial(_format, gettext_lazy("The customer wrote on case %(ref)s"), case),
            url=_case_url(case),
        )
    return message


ATTACHMENT_TYPES = {
    "application/pdf": ".pdf",
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "text/plain": ".txt",
}
ATTACHMENT_MAX_BYTES = 5 * 1024 * 1024


def _sniff_type(head: bytes) -> str:
    """The file's real type from its first bytes; the browser's claim is not trusted."""
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return ""
    return "text/plain" if b"\x00" not in head else ""


def check_attachment(upload) -> str:
    """The upload's content type, or ValidationError saying what is wrong with it."""
    if upload.size > ATTACHMENT_MAX_BYTES:
        raise ValidationError(
            _("“%(name)s” is larger than %(limit)s MB.")
            % {"name": upload.name, "limit": ATTACHMENT_MAX_BYTES // (1024 * 1024)}
        )
    head = upload.read(2048)
    upload.seek(0)
    content_type = _sniff_type(head)
    if not content_type:
        raise ValidationError(
            _("“%(name)s” is not a PDF, JPEG, PNG or plain-text file.") % {"name": upload.name}
        )
    return content_type


@transaction.atomic
def case_add_attachment(*, actor, case: Case, upload, message: Message | None = None) -> Attachment:
    content_type = check_attachment(upload)
    attachment = Attachment(
        case=case,
        message=message,
        name=upload.name[:200],
        content_type=content_type,
        size=upload.size,
        from_customer=actor is None,
    )
    stored_name = uuid.uuid4().hex + ATTACHMENT_TYPES[content_type]
    attachment.file.save(stored_name, upload, save=False)
    attachment.save()
    _timeline(case, TimelineKind.ATTACHMENT, actor=actor, name=attachment.name)
    audit_record(action="case.attachment", obj=case, changes={"file": [None, attachment.name]})
    return attachment


# --- the customer's side ----------------------------------------------------------------------


@transaction.atomic
def case_customer_answer(*, case: Case, accepted: bool, comment: str = "") -> Case:
    """The customer accepts the final response (the case closes) or rejects it (it reopens)."""
    case = _locked(case)
    if case.state != CaseState.RESPONDED:
        raise workflow.TransitionRefused(_("There is no final response to answer yet."))
    now = timezone.now()
    case.customer_accepted = accepted
    case.save(update_fields=["customer_accepted", "updated_at"])
    _timeline(
        case, TimelineKind.CUSTOMER, at=now, by=_("Customer"), note=comment, accepted=accepted
    )
    if comment.strip():
        case_add_message(
            actor=None, case=case, body=comment, direction=MessageDirection.FROM_CUSTOMER
        )
    if accepted:
        return case_close(actor=None, case=case, note=_("The customer accepted the response."))
    return case_reopen(
        actor=None,
        case=case,
        reason=comment.strip() or _("The customer rejected the response."),
        by_customer=True,
    )


# --- the deadline sweep ------------------------------------------------------------------------


@dataclass(frozen=True)
class _SweepKind:
    """One half of the sweep: the column that says the case is due (``due``), the column the
    claim fills in (``stamp``) and the partial index that holds the candidates."""

    due: str
    stamp: str
    index: str


SWEEP_WARNING = _SweepKind(due="warn_at", stamp="warned_at", index="case_warn_open")
SWEEP_BREACH = _SweepKind(due="due_at", stamp="breached_at", index="case_due_open")


def _open_states_sql() -> str:
    # Written out, not bound: SQLite uses a partial index only when the query repeats the
    # index's condition literally (a bound IN list does not prove it). Enum values, never input.
    assert all(state.replace("_", "").isalpha() for state in OPEN_STATES)
    quote = connection.ops.quote_name
    states = ", ".join(f"'{state}'" for state in sorted(OPEN_STATES))
    return f"{quote('state')} IN ({states})"


def sweep_candidates_sql(kind: _SweepKind, now: datetime, limit: int) -> tuple[str, list]:
    """The SELECT of the due rows, earliest first, through the partial index ``kind.index``:
    it repeats the index's condition (open state, stamp still empty) so the planner uses it."""
    quote = connection.ops.quote_name
    sql = (
        f"SELECT {quote('id')} FROM {quote(Case._meta.db_table)} "
        f"WHERE {_open_states_sql()} AND {quote(kind.stamp)} IS NULL "
        f"AND {quote(kind.due)} <= %s ORDER BY {quote(kind.due)} LIMIT %s"
    )
    return sql, [connection.ops.adapt_datetimefield_value(now), limit]


def sweep_claim_sql(kind: _SweepKind, now: datetime, limit: int) -> tuple[str, list]:
    """The conditional UPDATE that claims up to ``limit`` due cases and returns their ids.

    It sets the stamp only where it is still empty and the case is still open and still due,
    so a case another worker claimed first, or that was extended, paused or answered in the
    meantime, is not returned. On PostgreSQL rows another transaction holds are skipped (the
    next sweep takes them); on SQLite writers are serialised, so the same condition suffices.
    The candidates are a materialised CTE: a subquery with LIMIT … SKIP LOCKED could be run
    again by the planner and lock more rows than the limit."""
    select, params = sweep_candidates_sql(kind, now, limit)
    if connection.features.has_select_for_update_skip_locked:
        select += " FOR UPDATE SKIP LOCKED"
    quote = connection.ops.quote_name
    stamp = connection.ops.adapt_datetimefield_value(now)
    sql = (
        f"WITH due AS MATERIALIZED ({select}) "
        f"UPDATE {quote(Case._meta.db_table)} SET {quote(kind.stamp)} = %s "
        f"WHERE {quote('id')} IN (SELECT {quote('id')} FROM due) "
        f"AND {quote(kind.stamp)} IS NULL AND {quote(kind.due)} <= %s AND {_open_states_sql()} "
        f"RETURNING {quote('id')}"
    )
    return sql, [*params, stamp, stamp]


def _claim_due(kind: _SweepKind, now: datetime, limit: int) -> list[int]:
    sql, params = sweep_claim_sql(kind, now, limit)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return sorted(row[0] for row in cursor.fetchall())


def sweep_deadlines(
    *, now: datetime | None = None, limit: int = 1000, batch_size: int = 500
) -> dict[str, int]:
    """Warn handlers of cases past the warning share and escalate cases past their deadline.

    Reads only due rows through the partial indexes and claims them with a conditional update,
    in batches of ``batch_size`` (each batch one short transaction with its timeline rows,
    audit rows, events and notifications), so two workers never act on the same case twice.
    At most ``limit`` of each per call; the next run takes the rest. Returns the counts."""
    now = now or timezone.now()
    counts = {"warned": 0, "breached": 0}
    for kind, key, act in (
        (SWEEP_WARNING, "warned", _warn_many),
        (SWEEP_BREACH, "breached", _breach_many),
    ):
        while counts[key] < limit:
            size = min(batch_size, limit - counts[key])
            with transaction.atomic():
                claimed = _claim_due(kind, now, size)
                if claimed:
                    act(claimed, now)
            counts[key] += len(claimed)
            if len(claimed) < size:
                break
    return counts


@dataclass(frozen=True)
class _Claimed:
    """What the sweep needs of a claimed case (read as plain values: building a thousand full
    Case rows would cost more than everything else the sweep does)."""

    pk: int
    reference: str
    due_at: datetime | None
    warn_at: datetime | None
    handler_id: int | None
    department_id: int
    handler: object
    department: Department


def _claimed_cases(ids: list[int]) -> list[_Claimed]:
    from servicecharter.accounts.models import User

    rows = list(
        Case.objects.filter(pk__in=ids)
        .order_by("pk")
        .values_list("pk", "reference", "due_at", "warn_at", "handler_id", "department_id")
    )
    users = User.objects.in_bulk({row[4] for row in rows if row[4]})
    departments = Department.objects.in_bulk({row[5] for row in rows})
    return [
        _Claimed(*row, handler=users.get(row[4]), department=departments[row[5]]) for row in rows
    ]


def _audit_rows(action: str, cases: list[_Claimed], field: str):
    for case in cases:
        value = getattr(case, field)
        yield {
            "action": action,
            "object_type": Case._meta.label_lower,
            "object_id": case.pk,
            "object_repr": case.reference,
            "changes": {field: [None, value.isoformat() if value else None]},
        }


def _warn_many(ids: list[int], now: datetime) -> None:
    cases = _claimed_cases(ids)
    TimelineEntry.objects.bulk_create(
        TimelineEntry(
            case_id=case.pk,
            at=now,
            kind=TimelineKind.WARNED,
            data={"due_at": case.due_at.isoformat() if case.due_at else ""},
        )
        for case in cases
    )
    audit_record_many(_audit_rows("case.deadline_warning", cases, "warn_at"))
    supervisors: dict[int, list] = {}
    told = _Recipients()
    for case in cases:
        # An unassigned case warns the queue's supervisors: someone must pick it up.
        if case.handler_id:
            told.add(case, [case.handler])
        else:
            told.add(case, _recipients_of(case.department, (Role.SUPERVISOR,), supervisors))
    told.notify(
        "cases.deadline_warning",
        one=gettext_lazy("Case %(ref)s nears its deadline"),
        list_url=_queue_url("today"),
    )


class _Recipients:
    """Who is told about which of a batch's cases: one notification per person per batch (a
    list when there are several), not one per case, so a bad morning does not bury anyone."""

    def __init__(self):
        self.cases: dict[int, tuple] = {}

    def add(self, case: "_Claimed", users) -> None:
        for user in users:
            if user is not None:
                self.cases.setdefault(user.pk, (user, []))[1].append(case)

    def notify(self, kind: str, *, one, list_url: str) -> None:
        for user, cases in self.cases.values():
            if len(cases) == 1:
                subject, url, body = partial(_format, one, cases[0]), _case_url(cases[0]), ""
            else:
                subject = partial(_count_subject, kind, len(cases))
                url, body = list_url, "\n".join(case.reference for case in cases)
            notify(recipient=user, kind=kind, subject=subject, body=body, url=url)


def _count_subject(kind: str, count: int) -> str:
    """Rendered by ``notify`` in the recipient's language."""
    if kind == "cases.deadline_breached":
        text = ngettext(
            "%(count)s case breached its deadline", "%(count)s cases breached their deadline", count
        )
    else:
        text = ngettext(
            "%(count)s case nears its deadline", "%(count)s cases near their deadline", count
        )
    return text % {"count": count}


def _queue_url(due: str) -> str:
    try:
        return f"{reverse('cases:queue')}?due={due}"
    except NoReverseMatch:  # the queue page is not part of every deployment's URLs
        return ""


def _recipients_of(department: Department, roles: tuple[str, ...], cache: dict) -> list:
    """Active users holding one of ``roles`` for the department or one above it (cached per
    department for the batch)."""
    from servicecharter.accounts.models import User

    if department.pk not in cache:
        ancestors = path_and_ancestors(department.path)
        cache[department.pk] = list(
            User.objects.filter(
                is_active=True,
                role_grants__role__in=roles,
                role_grants__department__path__in=ancestors,
            )
            .distinct()
            .order_by("pk")
        )
    return cache[department.pk]


def _escalation_recipients(case: Case, cache: dict | None = None) -> list:
    """Supervisors and complaints officers whose scope holds the case's queue."""
    roles = (Role.SUPERVISOR, Role.COMPLAINTS_OFFICER)
    return _recipients_of(case.department, roles, {} if cache is None else cache)


def _breach_many(ids: list[int], now: datetime) -> None:
    cases = _claimed_cases(ids)
    TimelineEntry.objects.bulk_create(
        TimelineEntry(
            case_id=case.pk,
            at=now,
            kind=TimelineKind.BREACHED,
            data={"due_at": case.due_at.isoformat()},
        )
        for case in cases
    )
    audit_record_many(_audit_rows("case.deadline_breached", cases, "due_at"))
    # A second worker never gets here: the claim is exclusive.
    emit_many(
        "case.deadline_breached",
        (
            breach_event(case, due_at=case.due_at.isoformat(), breached_at=now.isoformat())
            for case in cases
        ),
    )
    escalation: dict[int, list] = {}
    told = _Recipients()
    for case in cases:
        told.add(case, [case.handler, *_escalation_recipients(case, escalation)])
    told.notify(
        "cases.deadline_breached",
        one=gettext_lazy("Case %(ref)s breached its deadline"),
        list_url=_queue_url("breached"),
    )


def profiles_using_calendars(codes: set[str]) -> set[str]:
    """Keys of the shipped and custom profiles with a clock on one of ``codes``."""
    from servicecharter.cases.profiles import PROFILES

    keys = {key for key, p in PROFILES.items() if any(c.calendar in codes for c in p.clocks)}
    for custom in CustomProfile.objects.filter(is_active=True):
        profile = resolve_profile(custom.key)
        if any(clock.calendar in codes for clock in profile.clocks):
            keys.add(custom.key)
    return keys


def case_deadlines_recompute(*, calendar_codes: set[str], batch_size: int = 500) -> int:
    """After a calendar changed, recompute the deadlines of the open complaints it governs.
    Each case in its own short transaction; returns how many deadlines moved."""
    keys = profiles_using_calendars(calendar_codes)
    return case_deadlines_recompute_for_profiles(profile_keys=keys, batch_size=batch_size)


def case_deadlines_recompute_for_profiles(
    *, profile_keys: set[str] | None, batch_size: int = 500
) -> int:
    """Recompute due and warning times of the open complaints on ``profile_keys`` (None: on
    every profile, e.g. after the warn share changed). Each case in its own short transaction;
    returns how many cases changed."""
    ids = Case.objects.filter(kind=CaseKind.COMPLAINT, state__in=sorted(OPEN_STATES))
    if profile_keys is not None:
        ids = ids.filter(profile_key__in=sorted(profile_keys))
    moved = 0
    now = timezone.now()
    for case_id in ids.values_list("pk", flat=True).iterator(chunk_size=batch_size):
        with transaction.atomic():
            case = Case.objects.select_for_update().get(pk=case_id)
            before = {"due_at": case.due_at, "warn_at": case.warn_at}
            fields = _refresh_due(case, now)
            if fields:
                case.save(update_fields=fields)
                audit_record(
                    action="case.deadline_recomputed",
                    obj=case,
                    changes={
                        field: [str(before[field]), str(getattr(case, field))]
                        for field in ("due_at", "warn_at")
                        if field in fields
                    },
                )
                moved += 1
    return moved


# --- saved queue views -----------------------------------------------------------------------


@transaction.atomic
def saved_view_save(*, user, name: str, query: str):
    """Keep the queue filters ``query`` under ``name`` for ``user`` (the same name replaces)."""
    from servicecharter.cases.models import SavedView

    name = name.strip()
    if not name:
        raise ValidationError({"name": _("Give the view a name.")})
    view, _created = SavedView.objects.update_or_create(
        user=user, name=name[:100], defaults={"query": query[:1000]}
    )
    return view


def saved_view_delete(*, user, view) -> None:
    """Delete one of ``user``'s own saved views (a view of someone else is left alone)."""
    view.__class__.objects.filter(pk=view.pk, user=user).delete()
