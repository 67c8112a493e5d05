"""Assessment over JSON (mounted at /api/assessment/): the periods the caller may see, the staff
and department scorecards of a period, one scorecard with its KPIs, and an employee's history.

Scoped like the pages (``assessment.selectors``): an employee always reads their own
scorecards; VIEW_ASSESSMENT reads those of the departments in its scope; only
MANAGE_ASSESSMENT reads a period before it is closed. Anything else answers 404 exactly like
something that does not exist. Lists are walked by an opaque cursor, never counted.
Token scope: ``assessment:read``."""

from datetime import date, datetime
from decimal import Decimal

from ninja import Field, Query, Router, Schema

from servicecharter.accounts.tokens import TokenScope, require_scope
from servicecharter.assessment import selectors
from servicecharter.assessment.choices import PeriodKind, PeriodState, Tier
from servicecharter.core.cursors import decode_cursor, encode_cursor, next_link
from servicecharter.quality.api import READ_ERRORS

router = Router(tags=["assessment"])

MAX_LIMIT = 500


class PeriodOut(Schema):
    id: int
    kind: PeriodKind
    start: date
    end: date = Field(description="The last day of the period (inclusive).")
    state: PeriodState
    scheme_version: str | None
    computed_at: datetime | None
    closed_at: datetime | None


class KpiOut(Schema):
    value: Decimal | None = Field(description="The raw figure (see the scheme's definitions).")
    n: int = Field(description="The sample the figure was computed from.")
    sufficient: bool = Field(description="false: “insufficient data”; the reason says why.")
    reason: str
    normalised: Decimal | None = Field(description="0–100 among the peer group; null without data.")
    weight: Decimal


class StaffScorecardOut(Schema):
    id: int
    period_id: int
    staff_id: int
    employee_number: str
    staff_name: str
    department_id: int
    peer_group: str
    tier: Tier
    score: Decimal | None
    rank: int | None = Field(description="Place in the peer group by score; null without a tier.")
    peer_count: int
    kpis: dict[str, KpiOut]


class StaffScorecardPage(Schema):
    limit: int
    items: list[StaffScorecardOut]
    cursor: str | None
    next: str | None


class DepartmentScorecardOut(Schema):
    id: int
    period_id: int
    department_id: int
    department_code: str
    tier: Tier
    score: Decimal | None
    rank: int | None = Field(description="Place among the departments of the same kind.")
    staff_count: int
    scored_count: int
    tier_counts: dict[str, int]


class HistoryOut(Schema):
    staff_id: int
    items: list[StaffScorecardOut] = Field(description="Oldest first, the last 12 periods.")


def _period_out(period) -> dict:
    return {
        "id": period.pk,
        "kind": period.kind,
        "start": period.start,
        "end": period.end,
        "state": period.state,
        "scheme_version": str(period.scheme_version) if period.scheme_version_id else None,
        "computed_at": period.computed_at,
        "closed_at": period.closed_at,
    }


def _decimal(value) -> Decimal | None:
    return None if value in (None, "") else Decimal(value)


def _card_out(card) -> dict:
    return {
        "id": card.pk,
        "period_id": card.period_id,
        "staff_id": card.staff_id,
        "employee_number": card.staff.employee_number,
        "staff_name": card.staff.name,
        "department_id": card.department_id,
        "peer_group": card.peer_group,
        "tier": card.tier,
        "score": card.score,
        "rank": card.rank,
        "peer_count": card.peer_count,
        "kpis": {
            code: {
                "value": _decimal(figure.get("value")),
                "n": figure.get("n", 0),
                "sufficient": figure.get("sufficient", False),
                "reason": figure.get("reason", ""),
                "normalised": _decimal(figure.get("normalised")),
                "weight": _decimal(figure.get("weight")) or Decimal(0),
            }
            for code, figure in card.kpis.items()
        },
    }


@router.get("/periods", response={200: list[PeriodOut], **READ_ERRORS}, summary="Periods")
def period_list(request, kind: PeriodKind | None = None):
    """The periods the caller may see, newest first (closed ones; HR also those under review)."""
    require_scope(request, TokenScope.ASSESSMENT_READ)
    periods = selectors.period_list_for_user(user=request.auth)
    if kind is not None:
        periods = periods.filter(kind=kind)
    return [_period_out(p) for p in periods[:200]]


@router.get(
    "/periods/{period_id}/scorecards",
    response={200: StaffScorecardPage, **READ_ERRORS},
    summary="Staff scorecards of a period",
)
def period_scorecards(
    request,
    period_id: int,
    tier: Tier | None = None,
    limit: int = Query(100, ge=1, le=MAX_LIMIT),
    cursor: str = Query("", max_length=100),
):
    """The staff scorecards of the period the caller may see (their own, and those of the
    departments in their scope), by id; walk with ``next`` until it is null."""
    require_scope(request, TokenScope.ASSESSMENT_READ)
    period = selectors.period_get_for_user(user=request.auth, pk=period_id)
    cards = selectors.staff_scorecards_for_user(user=request.auth, period=period)
    if tier is not None:
        cards = cards.filter(tier=tier)
    if cursor:
        cards = cards.filter(pk__gt=decode_cursor(cursor))
    rows = list(cards.order_by("pk")[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1].pk) if more else None
    return {
        "limit": limit,
        "items": [_card_out(card) for card in rows],
        "cursor": next_cursor,
        "next": next_link(request, next_cursor) if next_cursor else None,
    }


@router.get(
    "/periods/{period_id}/departments",
    response={200: list[DepartmentScorecardOut], **READ_ERRORS},
    summary="Department scorecards of a period",
)
def period_departments(request, period_id: int):
    require_scope(request, TokenScope.ASSESSMENT_READ)
    period = selectors.period_get_for_user(user=request.auth, pk=period_id)
    cards = selectors.department_scorecards_for_user(user=request.auth, period=period)
    return [
        {
            "id": c.pk,
            "period_id": c.period_id,
            "department_id": c.department_id,
            "department_code": c.department.code,
            "tier": c.tier,
            "score": c.score,
            "rank": c.rank,
            "staff_count": c.staff_count,
            "scored_count": c.scored_count,
            "tier_counts": c.tier_counts,
        }
        for c in cards.order_by("department__path")
    ]


@router.get(
    "/scorecards/{scorecard_id}",
    response={200: StaffScorecardOut, **READ_ERRORS},
    summary="Get a staff scorecard",
)
def scorecard_get(request, scorecard_id: int):
    require_scope(request, TokenScope.ASSESSMENT_READ)
    return _card_out(selectors.staff_scorecard_get_for_user(user=request.auth, pk=scorecard_id))


@router.get(
    "/staff/{staff_id}/history",
    response={200: HistoryOut, **READ_ERRORS},
    summary="A staff member's scorecards over the periods",
)
def staff_history(request, staff_id: int, kind: PeriodKind = PeriodKind.MONTH):
    require_scope(request, TokenScope.ASSESSMENT_READ)
    _staff, cards = selectors.staff_history_for_user(
        user=request.auth, staff_id=staff_id, kind=kind
    )
    for card in cards:
        card.staff = _staff
    return {"staff_id": staff_id, "items": [_card_out(card) for card in cards]}
