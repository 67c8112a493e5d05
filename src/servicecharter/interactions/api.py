"""Interactions over JSON: channel systems send them in bulk; readers list them with filters and
a cursor, and read one with its deviations.

``POST /api/interactions/bulk`` takes a JSON array of up to ``MAX_BULK`` interactions. It is
idempotent by (``external_system``, ``external_id``): an interaction already recorded changes
nothing and answers with its id and ``created: false``, so a client whose connection dropped
simply sends the batch again. Every row is checked first; a bad row is reported with its index
in the array, and then nothing is stored (422) — unless ``?skip_invalid=true``, which stores the
good rows and lists the bad ones. Each stored interaction is judged against the standard version
and service levels in force at its time.

Writes need INGEST_INTERACTIONS for the rows' departments (and the ``interactions:write``
token scope); reads need VIEW_INTERACTIONS and show only the departments in scope (an
interaction outside it answers 404, like one that does not exist).
"""

from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Body, Field, Query, Router, Schema
from ninja.responses import Status
from pydantic import ValidationError as SchemaError

from servicecharter.accounts import permissions as perms
from servicecharter.accounts.api import ErrorOut, schema_error_fields
from servicecharter.accounts.scoping import has_capability
from servicecharter.accounts.tokens import TokenScope, require_scope
from servicecharter.core.cursors import decode_cursor, encode_cursor, next_link
from servicecharter.interactions import selectors, services
from servicecharter.interactions.choices import DeviationKind, InteractionOutcome
from servicecharter.interactions.ingest import MAX_STEP_SECONDS, MAX_STEPS, Resolver
from servicecharter.interactions.models import Deviation, Interaction
from servicecharter.org.choices import Channel
from servicecharter.org.models import Department, Staff

router = Router(tags=["interactions"])

MAX_BULK = 1_000
MAX_LIMIT = 200
BULK_BODY = Body(..., max_length=MAX_BULK, description="A JSON array of interactions.")
STARTED_FROM_QUERY = Query(None, description="Started at or after.")
STARTED_TO_QUERY = Query(None, description="Started before.")
READ_ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}


# Input ------------------------------------------------------------------------------------------


class StepIn(Schema):
    step: str = Field(min_length=1, max_length=50, description="The standard step's code.")
    at: int = Field(ge=0, le=MAX_STEP_SECONDS, description="Seconds from the start of service.")


class InteractionIn(Schema):
    external_system: str = Field("", max_length=50, description="The sending system's name.")
    external_id: str = Field(
        min_length=1,
        max_length=100,
        description="Its id there. Sending the same (system, id) again changes nothing.",
    )
    channel: Channel
    employee_number: str = Field(
        "", max_length=32, description="Who served (their department is taken)."
    )
    department: str = Field(
        "", max_length=32, description="A department code: needed when no one served."
    )
    customer_number: str = Field("", max_length=32)
    business_type: str = Field("", max_length=16, description="A JR/T 0169 code, e.g. B0302.")
    started_at: datetime = Field(description="When the customer made contact.")
    wait_seconds: int | None = Field(None, ge=0, le=10_000_000)
    handle_seconds: int | None = Field(None, ge=0, le=10_000_000)
    outcome: InteractionOutcome
    steps: list[StepIn] = Field(default_factory=list, max_length=MAX_STEPS)
    notes: str = Field("", max_length=20_000)


class BulkRowError(Schema):
    index: int
    fields: dict[str, list[str]]


class BulkItem(Schema):
    index: int
    id: int
    external_system: str
    external_id: str
    created: bool


class BulkOut(Schema):
    created: int
    existing: int = Field(description="Already recorded: unchanged.")
    rejected: int
    deviations: int = Field(description="Deviations found in the new interactions.")
    items: list[BulkItem]
    errors: list[BulkRowError]


class BulkErrorOut(ErrorOut):
    rows: list[BulkRowError] = []


def _as_row(data: InteractionIn) -> dict:
    row = data.model_dump()
    started_at = row["started_at"]
    if timezone.is_naive(started_at):
        row["started_at"] = timezone.make_aware(started_at)
    row["steps"] = sorted(row["steps"], key=lambda step: step["at"])
    return row


def _parse(payload: list[Any]) -> tuple[list[tuple[int, dict]], list[dict]]:
    """(index, parsed row) of the rows that parse, and the errors of those that do not."""
    parsed, errors = [], []
    for index, raw in enumerate(payload):
        try:
            parsed.append((index, _as_row(InteractionIn.model_validate(raw))))
        except SchemaError as error:
            fields = schema_error_fields(
                [{**e, "loc": ("body", "row", *e.get("loc", ()))} for e in error.errors()]
            )
            errors.append({"index": index, "fields": fields})
    return parsed, errors


# Each row is validated on its own (so one bad row can be reported by its index), but the
# documentation shows the shape of a row.
BULK_DOCUMENTATION = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "array",
                    "maxItems": MAX_BULK,
                    "items": InteractionIn.model_json_schema(),
                }
            }
        },
    }
}


@router.post(
    "/bulk",
    response={200: BulkOut, 401: ErrorOut, 403: ErrorOut, 422: BulkErrorOut},
    summary="Send interactions in bulk",
    openapi_extra=BULK_DOCUMENTATION,
)
def interaction_bulk(
    request,
    payload: list[Any] = BULK_BODY,
    skip_invalid: bool = Query(False, description="Store the good rows, list the bad ones."),
):
    """Up to 1,000 interactions as a JSON array. Answers, for each row by its index, the id it
    has and whether this call created it; and the rows refused, with the reason per field."""
    require_scope(request, TokenScope.INTERACTIONS_WRITE)
    user = request.auth
    if not has_capability(user, perms.INGEST_INTERACTIONS):
        raise PermissionDenied
    parsed, errors = _parse(payload)
    resolved = Resolver(user).resolve([row for _index, row in parsed])
    good = []
    for (index, _row), outcome in zip(parsed, resolved, strict=True):
        if isinstance(outcome, list):
            fields: dict[str, list[str]] = {}
            for error in outcome:
                fields.setdefault(error.field, []).append(error.message)
            errors.append({"index": index, "fields": fields})
        else:
            good.append((index, outcome))
    errors.sort(key=lambda error: error["index"])
    if errors and not skip_invalid:
        return Status(422, _bulk_refusal(errors))
    result = services.interaction_ingest_many([row for _i, row in good], actor=user)
    items = [
        {
            "index": index,
            "id": pk,
            "external_system": row.external_system,
            "external_id": row.external_id,
            "created": created,
        }
        for (index, row), pk, created in zip(good, result.ids, result.created, strict=True)
    ]
    return {
        "created": result.created_count,
        "existing": result.existing_count,
        "rejected": len(errors),
        "deviations": result.deviations,
        "items": items,
        "errors": errors,
    }


def _bulk_refusal(errors: list[dict]) -> dict:
    fields = {
        f"{error['index']}.{name}": messages
        for error in errors
        for name, messages in error["fields"].items()
    }
    return {
        "code": "validation_error",
        "message": _(
            "%(count)s of the rows are not valid: nothing was stored. Correct them, or send "
            "?skip_invalid=true to store the others."
        )
        % {"count": len(errors)},
        "fields": fields,
        "rows": errors,
    }


# Output -----------------------------------------------------------------------------------------


class InteractionOut(Schema):
    id: int
    external_system: str
    external_id: str
    channel: Channel
    staff_id: int | None
    employee_number: str | None
    department_id: int
    department_code: str
    business_type: str | None
    started_at: datetime
    wait_seconds: int | None
    handle_seconds: int | None
    outcome: InteractionOutcome
    standard_version_id: int | None
    standard: str | None = Field(
        description="The judging standard and version, e.g. CARD-PHONE v2."
    )
    deviation_count: int


class InteractionPage(Schema):
    limit: int
    items: list[InteractionOut]
    cursor: str | None = Field(description="Pass as ?cursor= for the next page; null at the end.")
    next: str | None = Field(description="The next page with the same filters; null at the end.")


class StepOut(Schema):
    step: str
    at: int


class DeviationOut(Schema):
    kind: DeviationKind
    label: str
    step_code: str = Field(description="The step, or the service level's measure.")
    step_name: str
    expected: str
    actual: str


class InteractionDetail(InteractionOut):
    customer_number: str | None
    notes: str
    steps: list[StepOut]
    deviations: list[DeviationOut]


def _interaction_out(interaction: Interaction) -> dict:
    version = interaction.standard_version
    return {
        "id": interaction.pk,
        "external_system": interaction.external_system,
        "external_id": interaction.external_id,
        "channel": interaction.channel,
        "staff_id": interaction.staff_id,
        "employee_number": interaction.staff.employee_number if interaction.staff_id else None,
        "department_id": interaction.department_id,
        "department_code": interaction.department.code,
        "business_type": interaction.business_type.code if interaction.business_type_id else None,
        "started_at": interaction.started_at,
        "wait_seconds": interaction.wait_seconds,
        "handle_seconds": interaction.handle_seconds,
        "outcome": interaction.outcome,
        "standard_version_id": interaction.standard_version_id,
        "standard": str(version) if version is not None else None,
        "deviation_count": interaction.deviation_count,
    }


def _deviation_out(deviation: Deviation, names: dict[str, str]) -> dict:
    return {
        "kind": deviation.kind,
        "label": deviation.get_kind_display(),
        "step_code": deviation.step_code,
        "step_name": names.get(deviation.step_code, ""),
        "expected": deviation.expected,
        "actual": deviation.actual,
    }


@router.get("/", response={200: InteractionPage, **READ_ERRORS}, summary="List interactions")
def interaction_list(
    request,
    channel: Channel | None = None,
    outcome: InteractionOutcome | None = None,
    employee_number: str = Query("", max_length=32, description="Only this member of staff."),
    department: int | None = Query(None, description="Only this department and those below."),
    with_deviations: bool | None = Query(None, description="true: only those with deviations."),
    started_from: datetime | None = STARTED_FROM_QUERY,
    started_to: datetime | None = STARTED_TO_QUERY,
    limit: int = Query(50, ge=1, le=MAX_LIMIT, description="Rows per page."),
    cursor: str = Query("", max_length=100, description="From the previous page's `cursor`."),
):
    """Most recently recorded first. Walk the pages with ``next`` until it is null: every
    interaction in scope is returned once. There is deliberately no total count."""
    require_scope(request, TokenScope.INTERACTIONS_READ)
    user = request.auth
    if not has_capability(user, perms.VIEW_INTERACTIONS):
        raise PermissionDenied
    staff = None
    if employee_number:
        staff = Staff.objects.filter(employee_number=employee_number.strip()).first()
        if staff is None:
            raise ValidationError({"employee_number": _("No member of staff has this number.")})
    queue = None
    if department is not None:
        queue = Department.objects.filter(pk=department).first()
        if queue is None:
            raise ValidationError({"department": _("No department has this id.")})
    interactions = selectors.interaction_filter(
        selectors.interaction_list_for_user(user=user),
        channel=channel or "",
        staff=staff,
        outcome=outcome or "",
        with_deviations=with_deviations,
        started_from=started_from,
        started_to=started_to,
        department=queue,
    )
    if cursor:
        interactions = interactions.filter(pk__lt=decode_cursor(cursor))
    rows = list(interactions.order_by("-pk")[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1].pk) if more else None
    return {
        "limit": limit,
        "items": [_interaction_out(row) for row in rows],
        "cursor": next_cursor,
        "next": next_link(request, next_cursor) if next_cursor else None,
    }


@router.get(
    "/{int:interaction_id}",
    response={200: InteractionDetail, **READ_ERRORS},
    summary="Read one interaction with its deviations",
)
def interaction_detail(request, interaction_id: int):
    require_scope(request, TokenScope.INTERACTIONS_READ)
    user = request.auth
    if not has_capability(user, perms.VIEW_INTERACTIONS):
        raise PermissionDenied
    interaction = selectors.interaction_get_for_user(user=user, pk=interaction_id)
    names = {}
    if interaction.standard_version_id is not None:
        names = {step.code: step.name for step in interaction.standard_version.steps.all()}
    return {
        **_interaction_out(interaction),
        "customer_number": (
            interaction.customer.customer_number if interaction.customer_id else None
        ),
        "notes": interaction.notes,
        "steps": interaction.steps or [],
        "deviations": [_deviation_out(d, names) for d in interaction.deviations.all()],
    }
