"""Survey responses and results over JSON (VIEW_SURVEYS, token scope ``surveys:read``).

``GET /api/surveys/responses`` lists the responses of the departments in the caller's scope,
newest first, walked by an opaque cursor without counting; ``GET /api/surveys/results`` gives
the figures (from the daily rollups) overall, by month and by channel, each with its 95%
interval and whether it rests on enough answers. A department outside the scope answers 404,
exactly like one that does not exist.
"""

from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema

from servicecharter.accounts import permissions as perms
from servicecharter.accounts.api import ErrorOut
from servicecharter.accounts.scoping import has_capability
from servicecharter.accounts.tokens import TokenScope, require_scope
from servicecharter.core.cursors import decode_cursor, encode_cursor
from servicecharter.org.choices import Channel
from servicecharter.org.models import Staff
from servicecharter.surveys import selectors
from servicecharter.surveys.models import Response
from servicecharter.surveys.services import month_of

router = Router(tags=["surveys"])

MAX_LIMIT = 200
READ_ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}
ANSWERED_FROM_QUERY = Query(None, description="Answered at or after.")
ANSWERED_TO_QUERY = Query(None, description="Answered before.")
MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"
FIRST_MONTH_QUERY = Query("", pattern=MONTH, description="YYYY-MM; default: eleven months ago.")
LAST_MONTH_QUERY = Query("", pattern=MONTH, description="YYYY-MM; default: this month.")


class ResponseOut(Schema):
    id: int
    answered_at: datetime
    csat: int | None = Field(description="1–5; null when not asked.")
    nps: int | None = Field(description="0–10; null when not asked.")
    effort: int | None = Field(description="1–5, lower is easier; null when not asked.")
    comment: str
    channel: Channel
    department_id: int
    department_code: str
    staff_id: int | None
    employee_number: str | None
    interaction_id: int | None
    case_id: int | None


class ResponsePage(Schema):
    limit: int
    items: list[ResponseOut]
    cursor: str | None = Field(description="Pass as ?cursor= for the next page; null at the end.")
    next: str | None = Field(description="The next page with the same filters; null at the end.")


class IntervalOut(Schema):
    estimate: float | None
    low: float | None
    high: float | None
    n: int


class TallyOut(Schema):
    invited: int
    answered: int
    response_rate: float | None = Field(description="answered / invited, 0–1.")
    csat: IntervalOut = Field(description="Share of answers of 4–5 (0–1), Wilson interval.")
    csat_mean: float | None
    nps: IntervalOut = Field(description="Promoters − detractors, in points (−100 to 100).")
    effort_mean: float | None
    effort_answers: int
    adequate: bool = Field(description="Enough answers to act on.")
    minimum_answers: int


class MonthOut(TallyOut):
    month: str = Field(description="YYYY-MM")


class ChannelOut(TallyOut):
    channel: Channel


class ResultsOut(Schema):
    first_month: str = Field(description="YYYY-MM")
    last_month: str = Field(description="YYYY-MM")
    department_id: int | None
    channel: str
    total: TallyOut
    by_month: list[MonthOut]
    by_channel: list[ChannelOut]


def _require_reader(request) -> None:
    require_scope(request, TokenScope.SURVEYS_READ)
    if not has_capability(request.auth, perms.VIEW_SURVEYS):
        raise PermissionDenied


def _department(user, department_id: int | None):
    if department_id is None:
        return None
    return selectors.survey_department_get_for_user(user=user, pk=department_id)


def _response_out(response: Response) -> dict:
    return {
        "id": response.pk,
        "answered_at": response.answered_at,
        "csat": response.csat,
        "nps": response.nps,
        "effort": response.effort,
        "comment": response.comment,
        "channel": response.channel,
        "department_id": response.department_id,
        "department_code": response.department.code,
        "staff_id": response.staff_id,
        "employee_number": response.staff.employee_number if response.staff_id else None,
        "interaction_id": response.invitation.interaction_id,
        "case_id": response.invitation.case_id,
    }


@router.get("/responses", response={200: ResponsePage, **READ_ERRORS}, summary="List responses")
def response_list(
    request,
    department: int | None = Query(None, description="Only this department and those below."),
    channel: Channel | None = None,
    employee_number: str = Query("", max_length=32, description="Only about this employee."),
    answered_from: datetime | None = ANSWERED_FROM_QUERY,
    answered_to: datetime | None = ANSWERED_TO_QUERY,
    limit: int = Query(50, ge=1, le=MAX_LIMIT, description="Rows per page."),
    cursor: str = Query("", max_length=100, description="From the previous page's `cursor`."),
):
    """Most recent first. Walk the pages with ``next`` until it is null: every response in
    scope is returned once. There is deliberately no total count."""
    _require_reader(request)
    user = request.auth
    responses = selectors.survey_response_list_for_user(user=user)
    unit = _department(user, department)
    if unit is not None:
        responses = responses.filter(department__path__startswith=unit.path)
    if channel:
        responses = responses.filter(channel=channel)
    if employee_number:
        staff = Staff.objects.filter(employee_number=employee_number.strip()).first()
        if staff is None:
            raise ValidationError({"employee_number": _("No member of staff has this number.")})
        responses = responses.filter(staff=staff)
    if answered_from is not None:
        responses = responses.filter(answered_at__gte=answered_from)
    if answered_to is not None:
        responses = responses.filter(answered_at__lt=answered_to)
    if cursor:
        responses = responses.filter(pk__lt=decode_cursor(cursor))
    rows = list(responses[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1].pk) if more else None
    next_link = None
    if next_cursor:
        params = request.GET.copy()
        params["cursor"] = next_cursor
        next_link = f"{request.path}?{params.urlencode()}"
    return {
        "limit": limit,
        "items": [_response_out(row) for row in rows],
        "cursor": next_cursor,
        "next": next_link,
    }


@router.get("/results", response={200: ResultsOut, **READ_ERRORS}, summary="Survey results")
def results_summary(
    request,
    department: int | None = Query(None, description="This department and those below."),
    channel: Channel | None = None,
    first_month: str = FIRST_MONTH_QUERY,
    last_month: str = LAST_MONTH_QUERY,
):
    """Response rate, CSAT, NPS and effort from the monthly rollups (an invitation counts in
    the month it was sent, and its answer with it), overall, by month and by channel."""
    _require_reader(request)
    user = request.auth
    first = month_of(first_month) if first_month else None
    last = month_of(last_month) if last_month else None
    if first and last and last < first:
        raise ValidationError({"last_month": _("The end comes before the start.")})
    results = selectors.survey_results_for_user(
        user=user,
        department=_department(user, department),
        channel=channel or "",
        first_month=first,
        last_month=last,
    )
    return {
        "first_month": selectors.month_label(results.first_month),
        "last_month": selectors.month_label(results.last_month),
        "department_id": results.department.pk if results.department else None,
        "channel": results.channel,
        "total": results.total.as_dict(),
        "by_month": [{"month": row.label, **row.tally.as_dict()} for row in results.by_month],
        "by_channel": [{"channel": row.key, **row.tally.as_dict()} for row in results.by_channel],
    }
