"""Cases over JSON: record a case (idempotent by the channel system's external id), list the
cases in scope with filters and a cursor, read one case with its clocks, timeline and messages,
and move it through its workflow.

Reads go through ``cases.selectors`` (scoped to the caller: a case outside the scope answers
404 exactly like one that does not exist, and never appears in a list); writes through
``cases.services``. Errors have the shape of every other call (``accounts.api``), plus two
stable codes for a refusal by the rules of the case itself (HTTP 409):

| code | when |
| --- | --- |
| ``transition_refused`` | the case's state does not allow the action (closing an unanswered case) |
| ``deadline_rule`` | the regulatory profile does not allow the clock change (an extension without the approval it needs) |

A list is walked with ``next`` (a link with an opaque cursor), never with a count of the table,
so the first page and the thousandth cost the same. Contacts are masked; internal notes are
shown, since every caller of this API is staff.
"""

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.http import Http404, HttpResponse
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from ninja.responses import Status

from servicecharter.accounts import permissions as perms
from servicecharter.accounts.api import ErrorOut
from servicecharter.accounts.models import User
from servicecharter.accounts.scoping import (
    get_in_scope_or_404,
    has_capability,
    restrict,
    scope_paths,
)
from servicecharter.accounts.tokens import TokenScope, require_scope
from servicecharter.cases import selectors, services
from servicecharter.cases.choices import (
    CaseKind,
    CaseState,
    EscalationTarget,
    Jurisdiction,
    MessageDirection,
    Outcome,
    Severity,
    TimelineKind,
)
from servicecharter.cases.deadlines import ClockState, DeadlineRuleError
from servicecharter.cases.models import Case, CaseClockEvent, Category, Message, TimelineEntry
from servicecharter.cases.profiles import PauseReason
from servicecharter.cases.severity import reason_text
from servicecharter.cases.workflow import TransitionRefused, allowed_actions
from servicecharter.core import pii
from servicecharter.core.cursors import decode_cursor, encode_cursor, next_link
from servicecharter.core.rowsql import column, select_objects
from servicecharter.org.choices import Channel, Language
from servicecharter.org.models import Customer, Department, Product, Staff

router = Router(tags=["cases"])

MAX_LIMIT = 200
READ_ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}
WRITE_ERRORS = {**READ_ERRORS, 409: ErrorOut}

# The state filter: any state, or "open" for every state still being handled.
StateFilter = StrEnum("StateFilter", {"OPEN": "open", **{s.name: s.value for s in CaseState}})


class DueFilter(StrEnum):
    TODAY = "today"  # due by the end of today
    BREACHED = "breached"  # the deadline was missed (recorded by the sweep)
    OVERDUE = "overdue"  # open and past due now


def _not_a_choice(field: str) -> ValidationError:
    return ValidationError(
        {field: _("Select a valid choice. That choice is not one of the available choices.")}
    )


# Output ---------------------------------------------------------------------------------------


class CaseOut(Schema):
    id: int
    reference: str
    kind: CaseKind
    channel: Channel
    state: CaseState
    severity: Severity
    subject: str
    department_id: int
    department_code: str
    handler_id: int | None
    handler_name: str
    customer_number: str | None
    product_id: int | None
    external_system: str
    external_id: str
    received_at: datetime
    due_at: datetime | None = Field(description="The earliest running duty deadline.")
    breached_at: datetime | None
    updated_at: datetime


class CasePage(Schema):
    limit: int
    items: list[CaseOut]
    cursor: str | None = Field(description="Pass as ?cursor= for the next page; null at the end.")
    next: str | None = Field(description="The next page with the same filters; null at the end.")


class SeverityReasonOut(Schema):
    code: str
    points: int
    text: str


class ClockOut(Schema):
    key: str
    label: str
    state: ClockState
    due_at: datetime
    started_at: datetime
    length: int
    unit: str
    paused_days: int
    levels: list[str]
    stopped_at: datetime | None


class TimelineOut(Schema):
    at: datetime
    kind: TimelineKind
    label: str
    actor_id: int | None
    actor: str
    from_state: str
    to_state: str
    note: str
    data: dict[str, Any]


class MessageOut(Schema):
    id: int
    at: datetime
    direction: MessageDirection
    internal: bool
    author_id: int | None
    author: str
    body: str


class CaseDetail(CaseOut):
    description: str
    language: Language
    customer_id: int | None
    contact_name: str
    contact_email: str = Field(description="Masked, e.g. l***@example.com.")
    contact_phone: str = Field(description="Masked, e.g. 138****5678.")
    business_type_id: int | None
    category_id: int | None
    jurisdiction: Jurisdiction
    profile_key: str
    money_at_stake: Decimal | None
    currency: str
    severity_score: int
    severity_reasons: list[SeverityReasonOut]
    acknowledged_at: datetime | None
    warn_at: datetime | None
    extension_level: str
    escalated_to: str
    possible_duplicate_of_id: int | None
    merged_into_id: int | None
    outcome: str
    root_cause_id: int | None
    redress_amount: Decimal | None
    concerns_attitude: bool
    response_text: str
    responded_at: datetime | None
    closed_at: datetime | None
    customer_accepted: bool | None
    actions: list[str] = Field(description="The workflow actions the case's state allows.")
    clocks: list[ClockOut] = Field(description="Regulatory clocks (complaints only).")
    timeline: list[TimelineOut]
    messages: list[MessageOut] = Field(description="Internal notes included.")


def _mask_email(value: str) -> str:
    """li.lei@example.com → l*****@example.com."""
    local, at, domain = value.partition("@")
    if not at:
        return pii.mask_address(value)
    return local[:1] + "*" * max(3, len(local) - 1) + "@" + domain


def _user_label(user) -> str:
    return (user.get_full_name() or user.get_username()) if user is not None else ""


def _case_out(case: Case) -> dict:
    return {
        "id": case.pk,
        "reference": case.reference,
        "kind": case.kind,
        "channel": case.channel,
        "state": case.state,
        "severity": case.severity,
        "subject": case.subject,
        "department_id": case.department_id,
        "department_code": case.department.code,
        "handler_id": case.handler_id,
        "handler_name": _user_label(case.handler),
        "customer_number": case.customer.customer_number if case.customer_id else None,
        "product_id": case.product_id,
        "external_system": case.external_system,
        "external_id": case.external_id,
        "received_at": case.received_at,
        "due_at": case.due_at,
        "breached_at": case.breached_at,
        "updated_at": case.updated_at,
    }


def _prefetch_clock_events(case: Case) -> None:
    """Read the case's clock history here and hand it to ``services.case_clocks`` the way
    ``prefetch_related`` would (as the case's cached ``clock_events``)."""
    events = CaseClockEvent.objects.filter(case_id=case.pk)
    events._result_cache = _of_case(CaseClockEvent, case)
    events._prefetch_done = True
    case._prefetched_objects_cache = {"clock_events": events}


def _clocks_out(case: Case) -> list[dict]:
    if case.kind != CaseKind.COMPLAINT:
        return []
    _prefetch_clock_events(case)
    return [
        {
            "key": status.clock.key,
            "label": str(status.clock.label),
            "state": status.state,
            "due_at": status.due.at,
            "started_at": status.started_at,
            "length": status.length,
            "unit": status.clock.unit,
            "paused_days": status.paused_days,
            "levels": list(status.levels),
            "stopped_at": status.stopped_at,
        }
        for status in services.case_clocks(case)
    ]


# Not get_kind_display(): it rebuilds the dict of choices for every row.
_TIMELINE_LABELS = dict(TimelineKind.choices)


def _timeline_out(entry) -> dict:
    return {
        "at": entry.at,
        "kind": entry.kind,
        "label": str(_TIMELINE_LABELS.get(entry.kind, entry.kind)),
        "actor_id": entry.actor_id,
        "actor": entry.actor_label,
        "from_state": entry.from_state,
        "to_state": entry.to_state,
        "note": entry.note,
        "data": entry.data,
    }


def _message_out(message: Message) -> dict:
    return {
        "id": message.pk,
        "at": message.at,
        "direction": message.direction,
        "internal": not message.visible_to_customer,
        "author_id": message.author_id,
        "author": _user_label(message.author),
        "body": message.body,
    }


def _case_detail(case: Case) -> dict:
    """The whole case: its timeline, messages and (complaints only) clock history cost one
    query each, whatever their length."""
    timeline = _of_case(TimelineEntry, case)
    messages = _of_case(Message, case, _AUTHOR_JOIN)
    phone = pii.decrypt(case.contact_phone_cipher) if case.contact_phone_cipher else ""
    return {
        **_case_out(case),
        "description": case.description,
        "language": case.language,
        "customer_id": case.customer_id,
        "contact_name": case.contact_name,
        "contact_email": _mask_email(case.contact_email) if case.contact_email else "",
        "contact_phone": pii.mask_phone(phone),
        "business_type_id": case.business_type_id,
        "category_id": case.category_id,
        "jurisdiction": case.jurisdiction,
        "profile_key": case.profile_key,
        "money_at_stake": case.money_at_stake,
        "currency": case.currency,
        "severity_score": case.severity_score,
        "severity_reasons": [
            {"code": r.get("code", ""), "points": r.get("points", 0), "text": reason_text(r)}
            for r in case.severity_reasons
        ],
        "acknowledged_at": case.acknowledged_at,
        "warn_at": case.warn_at,
        "extension_level": case.extension_level,
        "escalated_to": case.escalated_to,
        "possible_duplicate_of_id": case.possible_duplicate_of_id,
        "merged_into_id": case.merged_into_id,
        "outcome": case.outcome,
        "root_cause_id": case.root_cause_id,
        "redress_amount": case.redress_amount,
        "concerns_attitude": case.concerns_attitude,
        "response_text": case.response_text,
        "responded_at": case.responded_at,
        "closed_at": case.closed_at,
        "customer_accepted": case.customer_accepted,
        "actions": allowed_actions(case.state),
        "clocks": _clocks_out(case),
        "timeline": [_timeline_out(entry) for entry in timeline],
        "messages": [_message_out(message) for message in messages],
    }


# Finding a case -------------------------------------------------------------------------------


def _fields(model, *, leave_out: tuple[str, ...] = ()) -> list[str]:
    return [f.name for f in model._meta.concrete_fields if f.name not in leave_out]


def _person_fields(relation: str) -> list[str]:
    return [f"{relation}__{name}" for name in ("username", "first_name", "last_name")]


# Columns the list does not show: long texts and the stored secrets.
_NOT_LISTED = (
    "description",
    "response_text",
    "severity_reasons",
    "contact_phone_cipher",
    "tracking_digest",
)


def _lean(queryset, *, listed: bool = False):
    """The selector's scoped cases, reading of the joined rows (queue, handler, customer) only
    the columns the answer shows: whole rows cost every read a third more ORM time."""
    leave_out = _NOT_LISTED if listed else ()
    return (
        queryset.select_related(None)
        .select_related("department", "handler", "customer")
        .only(
            *_fields(Case, leave_out=leave_out),
            "department__code",
            "department__path",
            "customer__customer_number",
            *_person_fields("handler"),
        )
    )


def _case_for(user, key: str) -> Case:
    """A case by id (digits) or reference, if the caller may view it; 404 otherwise. The same
    scoped fetch as ``selectors.case_get_for_user`` (out-of-scope guesses audited alike)."""
    key = key.strip()
    lookup = {"pk": int(key)} if key.isdigit() else {"reference": key.upper()}
    capability = selectors.ACTION_CAPABILITY["view"]
    roots = scope_paths(user, capability)
    case = _case_in_scope(roots, **lookup) if roots else None
    if case is not None:
        return case
    # Not found in scope: the ORM's scoped fetch decides between 404 (auditing a guess at a
    # case outside the scope) and a case recorded in the meantime.
    return get_in_scope_or_404(_lean(selectors.case_queryset()), user, capability, **lookup)


# A case read is the API's busiest call. Its queries (the case with, of its queue, handler and
# customer, the columns shown; its timeline, messages and clock history) are written as SQL once
# per shape instead of being compiled by the ORM on every call, which cost half a read's CPU.
# The objects are built as the ORM builds them (``from_db``, the same value converters).
_CASE_JOINS = (
    ("department", Department, "d", ("id", "code", "path"), "JOIN"),
    ("handler", User, "h", ("id", "username", "first_name", "last_name"), "LEFT JOIN"),
    ("customer", Customer, "cu", ("id", "customer_number"), "LEFT JOIN"),
)
_AUTHOR_JOIN = (("author", User, "a", ("id", "username", "first_name", "last_name"), "LEFT JOIN"),)


def _case_in_scope(roots: list[str], **lookup) -> Case | None:
    """The case matching ``lookup`` (pk or reference) with its queue under one of ``roots``,
    built as ``_lean(...).get()`` builds it; None when there is none."""
    ((name, value),) = lookup.items()
    quote = connection.ops.quote_name
    startswith = connection.operators["startswith"] % "%s"
    scope = " OR ".join([f"d.{quote('path')} {startswith}"] * len(roots))
    like = [connection.ops.prep_for_like_query(root) + "%" for root in roots]
    where = f"m.{column(Case, name)} = %s AND ({scope})"
    found = select_objects(Case, where, [value, *like], _CASE_JOINS)
    return found[0] if found else None


def _of_case(model, case: Case, joins: tuple = ()) -> list:
    """A case's timeline entries, messages or clock events, oldest first (their models'
    ordering)."""
    where = f"m.{column(model, 'case')} = %s"
    return select_objects(model, where, [case.pk], joins, order=("at", "id"))


def _case_to_handle(user, key: str) -> Case:
    """A case the caller may work on: 404 when they may not even see it, 403 when they may see
    it but not handle it (a quality auditor, say)."""
    case = _case_for(user, key)
    if not selectors.can(user, "handle", case):
        raise PermissionDenied
    return case


# Create ---------------------------------------------------------------------------------------


class CaseIn(Schema):
    external_system: str = Field(
        "", max_length=50, description="The channel system posting the case (chat, weibo…)."
    )
    external_id: str = Field(
        "",
        max_length=100,
        description="Its id there. Posting the same (system, id) again returns the same case.",
    )
    kind: CaseKind
    channel: Channel
    subject: str = Field(max_length=200)
    description: str = Field(max_length=20_000)
    customer_number: str = Field(
        "", max_length=32, description="A customer in your scope; or give the contact fields."
    )
    contact_name: str = Field("", max_length=100)
    contact_email: str = Field("", max_length=254)
    contact_phone: str = Field("", max_length=40)
    language: Language = Language.ZH_HANS
    product: int | None = None
    category: int | None = None
    jurisdiction: Jurisdiction = Jurisdiction.CN
    money_at_stake: Decimal | None = Field(None, ge=0, max_digits=14, decimal_places=2)
    currency: str = Field("CNY", min_length=3, max_length=3)
    department: int | None = Field(
        None, description="The queue, when no routing rule decides (default: your own)."
    )
    received_at: datetime | None = Field(None, description="Default: now.")


def _customer_for(user, number: str) -> Customer:
    customer = (
        restrict(Customer.objects.all(), user, perms.VIEW_CUSTOMERS, "home_department")
        .filter(customer_number=number.strip())
        .first()
    )
    if customer is None:
        raise ValidationError({"customer_number": _("There is no customer with this number.")})
    return customer


def _queue_for(user, pk: int | None, customer: Customer | None) -> Department | None:
    """The queue asked for (it must be one the caller handles); without one, the customer's
    home branch, else the caller's own queue. Routing rules still come first."""
    if pk is not None:
        department = Department.objects.filter(pk=pk).first()
        if department is None or not has_capability(user, perms.HANDLE_CASES, department):
            raise _not_a_choice("department")
        return department
    if customer is not None:
        return None  # case_create falls back to the customer's home branch
    roots = scope_paths(user, perms.HANDLE_CASES)
    return Department.objects.filter(path=roots[0]).first() if roots else None


def _intake_fields(user, payload: CaseIn) -> dict:
    data = payload.model_dump()
    customer = _customer_for(user, data["customer_number"]) if data["customer_number"] else None
    if customer is None and not data["contact_name"].strip():
        raise ValidationError(
            {"contact_name": _("Give the customer number or the name of the person.")}
        )
    product = category = None
    if data["product"] is not None:
        product = Product.objects.filter(pk=data["product"], is_active=True).first()
        if product is None:
            raise _not_a_choice("product")
    if data["category"] is not None:
        category = Category.objects.filter(pk=data["category"], is_active=True).first()
        if category is None:
            raise _not_a_choice("category")
    data.pop("customer_number")
    return {
        **data,
        "customer": customer,
        "product": product,
        "category": category,
        "department": _queue_for(user, data["department"], customer),
    }


def _already_recorded() -> ValidationError:
    """The external id is taken by a case the caller may not see: a conflict, saying no more."""
    return ValidationError(
        {
            "external_id": [
                ValidationError(_("This external id is already used by another case."), "unique")
            ]
        }
    )


@router.post(
    "/",
    response={201: CaseDetail, 200: CaseDetail, **WRITE_ERRORS},
    summary="Record a case",
)
def case_create(request, response: HttpResponse, payload: CaseIn):
    """Record a complaint, suggestion, praise or enquiry. A channel system sends its own
    ``external_system`` and ``external_id``: the first post answers 201, every repeat 200 with
    the same body. The customer's tracking code is sent once, in the ``Tracking-Code`` header
    of the 201 (only its hash is kept)."""
    require_scope(request, TokenScope.CASES_WRITE)
    user = request.auth
    if not has_capability(user, perms.HANDLE_CASES):
        raise PermissionDenied
    if payload.external_id:
        existing = (
            Case.objects.with_external_id(payload.external_system, payload.external_id)
            .values_list("pk", flat=True)
            .first()
        )
        if existing is not None:
            return _repeat(user, existing)
    fields = _intake_fields(user, payload)
    with transaction.atomic():
        intake = services.case_create(actor=user, **fields)
        if not intake.created:  # a concurrent post of the same external id won the race
            return _repeat(user, intake.case.pk)
        if not selectors.can(user, "view", intake.case):
            # Rolled back: the caller would create a case they could never see again.
            raise ValidationError(
                {"department": _("The routing rules send this case to a queue outside your scope.")}
            )
    response["Tracking-Code"] = intake.tracking_code
    return Status(201, _case_detail(_case_for(user, str(intake.case.pk))))


def _repeat(user, case_id: int):
    """The case an earlier post of the same external id recorded, if the caller may see it."""
    try:
        case = _case_for(user, str(case_id))
    except Http404:
        raise _already_recorded() from None
    return Status(200, _case_detail(case))


# List -----------------------------------------------------------------------------------------


STATE_QUERY = Query(None, description="A state, or `open` for every state still being handled.")
UPDATED_SINCE_QUERY = Query(None, description="Only cases changed at or after this time.")


@router.get("/", response={200: CasePage, **READ_ERRORS}, summary="List cases")
def case_list(
    request,
    state: StateFilter | None = STATE_QUERY,
    channel: Channel | None = None,
    kind: CaseKind | None = None,
    severity: Severity | None = None,
    product: int | None = None,
    handler: int | None = Query(None, description="A handler's user id."),
    department: int | None = Query(None, description="Only this queue and those below it."),
    due: DueFilter | None = None,
    updated_since: datetime | None = UPDATED_SINCE_QUERY,
    q: str = Query("", max_length=100, description="A reference, or words of subject or name."),
    limit: int = Query(50, ge=1, le=MAX_LIMIT, description="Rows per page."),
    cursor: str = Query("", max_length=100, description="From the previous page's `cursor`."),
):
    """Newest first. Walk the pages with ``next`` until it is null: every case in scope is
    returned exactly once. There is deliberately no total count."""
    require_scope(request, TokenScope.CASES_READ)
    user = request.auth
    if not has_capability(user, perms.VIEW_CASES):
        raise PermissionDenied
    cases = selectors.case_filter(
        _lean(selectors.case_list_for_user(user=user), listed=True),
        state=state or "",
        channel=channel or "",
        kind=kind or "",
        product=product,
        severity=severity or "",
        handler=handler,
        due=due or "",
        q=q.strip(),
    )
    if department is not None:
        queue = Department.objects.filter(pk=department).first()
        cases = cases.filter(department__path__startswith=queue.path if queue else "-")
    if updated_since is not None:
        cases = cases.filter(updated_at__gte=updated_since)
    if cursor:
        cases = cases.filter(pk__lt=decode_cursor(cursor))
    # One row more than shown says whether a next page exists, without counting.
    rows = list(cases.order_by("-pk")[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1].pk) if more else None
    return {
        "limit": limit,
        "items": [_case_out(case) for case in rows],
        "cursor": next_cursor,
        "next": next_link(request, next_cursor) if next_cursor else None,
    }


# Read -----------------------------------------------------------------------------------------


@router.get("/{key}", response={200: CaseDetail, **READ_ERRORS}, summary="Get a case")
def case_get(request, key: str):
    """One case by id or reference (``C2506-0000042``), with its clocks, timeline and
    messages."""
    require_scope(request, TokenScope.CASES_READ)
    return _case_detail(_case_for(request.auth, key))


# Actions --------------------------------------------------------------------------------------


class NoteIn(Schema):
    note: str = Field("", max_length=10_000)


class NoteRequiredIn(Schema):
    note: str = Field(max_length=10_000)


class EscalateIn(Schema):
    target: EscalationTarget
    note: str = Field(max_length=10_000, description="Why the case is escalated.")


class RespondIn(Schema):
    outcome: Outcome = Field(
        description="Complaints: upheld, partly_upheld or not_upheld; other kinds: answered."
    )
    response_text: str = Field(max_length=50_000)
    root_cause: int | None = Field(None, description="A category id.")
    redress_amount: Decimal | None = Field(None, max_digits=14, decimal_places=2)
    staff_involved: list[int] = Field(
        default_factory=list, description="Ids of the employees the complaint was about."
    )
    concerns_attitude: bool = False


class ReopenIn(Schema):
    reason: str = Field(max_length=10_000)


class MergeIn(Schema):
    into: str = Field(max_length=20, description="The earlier case's id or reference.")
    note: str = Field("", max_length=10_000)


class ExtendIn(Schema):
    level: str = Field(max_length=50, description="A level of the profile, e.g. `complex`.")
    note: str = Field(max_length=10_000, description="Why the extension is needed.")
    length: int | None = Field(None, ge=1, le=366, description="Default: the level's length.")
    clock: str = Field("", max_length=50, description="Default: the profile's only candidate.")


class PauseIn(Schema):
    reason: PauseReason
    note: str = Field(max_length=10_000)


class AssignIn(Schema):
    handler: int | None = Field(description="A user id; null to unassign.")


class MessageIn(Schema):
    body: str = Field(max_length=50_000)
    direction: MessageDirection = Field(
        description="to_customer, internal, or from_customer (recorded for the customer)."
    )


def _refused(exc: Exception):
    """A stable code for programs, the translated reason for people."""
    code = "transition_refused" if isinstance(exc, TransitionRefused) else "deadline_rule"
    return Status(409, {"code": code, "message": str(exc), "fields": {}})


def _act(request, key: str, change, *, action: str = "handle"):
    """Run ``change(case)`` on a case the caller may handle (or assign); the rules' refusals
    answer 409 with a stable code. Returns the case as it is afterwards."""
    require_scope(request, TokenScope.CASES_WRITE)
    user = request.auth
    case = _case_to_handle(user, key) if action == "handle" else _case_to_assign(user, key)
    try:
        change(case)
    except (TransitionRefused, DeadlineRuleError) as exc:
        return _refused(exc)
    return _case_detail(_case_for(user, str(case.pk)))


def _case_to_assign(user, key: str) -> Case:
    case = _case_for(user, key)
    if not selectors.can(user, "assign", case):
        raise PermissionDenied
    return case


ACTION = {200: CaseDetail, **WRITE_ERRORS}


@router.post("/{key}/acknowledge", response=ACTION, summary="Acknowledge receipt")
def case_acknowledge(request, key: str, payload: NoteIn | None = None):
    note = (payload or NoteIn()).note
    return _act(
        request,
        key,
        lambda case: services.case_acknowledge(actor=request.auth, case=case, note=note),
    )


@router.post("/{key}/start", response=ACTION, summary="Start work")
def case_start(request, key: str, payload: NoteIn | None = None):
    note = (payload or NoteIn()).note
    return _act(
        request, key, lambda case: services.case_start(actor=request.auth, case=case, note=note)
    )


@router.post("/{key}/await-customer", response=ACTION, summary="Wait for the customer")
def case_await_customer(request, key: str, payload: NoteRequiredIn):
    """The clock pauses where the case's profile allows it."""
    return _act(
        request,
        key,
        lambda case: services.case_await_customer(actor=request.auth, case=case, note=payload.note),
    )


@router.post("/{key}/customer-replied", response=ACTION, summary="The customer replied")
def case_customer_replied(request, key: str, payload: NoteIn | None = None):
    note = (payload or NoteIn()).note
    return _act(
        request,
        key,
        lambda case: services.case_customer_replied(actor=request.auth, case=case, note=note),
    )


@router.post("/{key}/escalate", response=ACTION, summary="Escalate")
def case_escalate(request, key: str, payload: EscalateIn):
    return _act(
        request,
        key,
        lambda case: services.case_escalate(
            actor=request.auth, case=case, target=payload.target, note=payload.note
        ),
    )


def _root_cause(pk: int | None) -> Category | None:
    if pk is None:
        return None
    category = Category.objects.filter(pk=pk, is_active=True).first()
    if category is None:
        raise _not_a_choice("root_cause")
    return category


def _staff_involved(user, ids: list[int]) -> list[Staff]:
    """Employees the caller can see; an unknown or out-of-scope id is a field error."""
    wanted = set(ids)
    staff = list(restrict(Staff.objects.all(), user, perms.VIEW_ORG).filter(pk__in=wanted))
    if len(staff) != len(wanted):
        raise _not_a_choice("staff_involved")
    return staff


@router.post("/{key}/respond", response=ACTION, summary="Send the final response")
def case_respond(request, key: str, payload: RespondIn):
    """Stops the response clocks. An upheld complaint naming employees emits
    ``case.upheld_against_staff`` for each of them."""
    user = request.auth

    def respond(case):
        services.case_respond(
            actor=user,
            case=case,
            outcome=payload.outcome,
            response_text=payload.response_text,
            root_cause=_root_cause(payload.root_cause),
            redress_amount=payload.redress_amount,
            staff_involved=_staff_involved(user, payload.staff_involved),
            concerns_attitude=payload.concerns_attitude,
        )

    return _act(request, key, respond)


@router.post("/{key}/close", response=ACTION, summary="Close")
def case_close(request, key: str, payload: NoteIn | None = None):
    note = (payload or NoteIn()).note
    return _act(
        request, key, lambda case: services.case_close(actor=request.auth, case=case, note=note)
    )


@router.post("/{key}/reopen", response=ACTION, summary="Reopen")
def case_reopen(request, key: str, payload: ReopenIn):
    return _act(
        request,
        key,
        lambda case: services.case_reopen(actor=request.auth, case=case, reason=payload.reason),
    )


@router.post("/{key}/withdraw", response=ACTION, summary="Record the customer's withdrawal")
def case_withdraw(request, key: str, payload: NoteIn | None = None):
    note = (payload or NoteIn()).note
    return _act(
        request, key, lambda case: services.case_withdraw(actor=request.auth, case=case, note=note)
    )


@router.post("/{key}/merge", response=ACTION, summary="Merge into an earlier case")
def case_merge(request, key: str, payload: MergeIn):
    """A repeat complaint without new facts is merged into the earlier case and closed."""
    user = request.auth

    def merge(case):
        try:
            into = _case_to_handle(user, payload.into)
        except (Http404, PermissionDenied):
            raise ValidationError(
                {"into": _("There is no case with this reference that you may handle.")}
            ) from None
        services.case_merge(actor=user, case=case, into=into, note=payload.note)

    return _act(request, key, merge)


@router.post("/{key}/extend", response=ACTION, summary="Extend the deadline")
def case_extend(request, key: str, payload: ExtendIn):
    """To a level of the case's regulatory profile; the caller's role must be the approval the
    level needs (409 ``deadline_rule`` says which is missing)."""
    return _act(
        request,
        key,
        lambda case: services.case_extend(
            actor=request.auth,
            case=case,
            level=payload.level,
            note=payload.note,
            length=payload.length,
            clock=payload.clock,
        ),
    )


@router.post("/{key}/pause", response=ACTION, summary="Pause the clock")
def case_pause(request, key: str, payload: PauseIn):
    """For a reason the profile allows (CN: external appraisal or testing)."""
    return _act(
        request,
        key,
        lambda case: services.case_pause_clock(
            actor=request.auth, case=case, reason=payload.reason, note=payload.note
        ),
    )


@router.post("/{key}/resume", response=ACTION, summary="Resume the clock")
def case_resume(request, key: str, payload: NoteIn | None = None):
    note = (payload or NoteIn()).note
    return _act(
        request,
        key,
        lambda case: services.case_resume_clock(actor=request.auth, case=case, note=note),
    )


@router.post("/{key}/new-facts", response=ACTION, summary="Record new facts")
def case_new_facts(request, key: str, payload: NoteRequiredIn):
    """New facts restart the response clock where the profile says so."""
    return _act(
        request,
        key,
        lambda case: services.case_new_facts(actor=request.auth, case=case, note=payload.note),
    )


def _handler_for(case: Case, pk: int | None):
    """A person who may handle cases of this queue; anyone else is a field error."""
    if pk is None:
        return None
    handler = User.objects.filter(pk=pk, is_active=True).first()
    if handler is None or not has_capability(handler, perms.HANDLE_CASES, case.department):
        raise ValidationError({"handler": _("This person does not handle cases of this queue.")})
    return handler


@router.post("/{key}/assign", response=ACTION, summary="Assign a handler")
def case_assign(request, key: str, payload: AssignIn):
    def assign(case):
        services.case_assign(
            actor=request.auth, case=case, handler=_handler_for(case, payload.handler)
        )

    return _act(request, key, assign, action="assign")


@router.post(
    "/{key}/messages",
    response={201: MessageOut, **WRITE_ERRORS},
    summary="Write a message or an internal note",
)
def case_message(request, key: str, payload: MessageIn):
    """A message to the customer, an internal note, or a message the customer sent on another
    channel (``from_customer``: the handler is told)."""
    require_scope(request, TokenScope.CASES_WRITE)
    user = request.auth
    case = _case_to_handle(user, key)
    from_customer = payload.direction == MessageDirection.FROM_CUSTOMER
    message = services.case_add_message(
        actor=None if from_customer else user,
        case=case,
        body=payload.body,
        direction=payload.direction,
    )
    message.author = None if from_customer else user
    return Status(201, _message_out(message))
