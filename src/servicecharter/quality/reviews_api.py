"""Periodic quality reviews over JSON (mounted under /api/quality/ beside ``quality.api``): the
reviews the caller may see (VIEW_QUALITY for the department), walked by an opaque cursor and
never counted, and one review with its figures, findings and rectifications. A review outside
the scope answers 404 exactly like one that does not exist. Token scope: ``quality:read``."""

from datetime import date, datetime
from decimal import Decimal

from ninja import Field, Query, Router, Schema

from servicecharter.accounts.tokens import TokenScope, require_scope
from servicecharter.core.cursors import decode_cursor, encode_cursor, next_link
from servicecharter.quality import reviews
from servicecharter.quality.api import READ_ERRORS
from servicecharter.quality.choices import FindingSeverity, RectificationState, ReviewState

router = Router(tags=["quality"])

MAX_LIMIT = 200


class ReviewOut(Schema):
    id: int
    department_id: int
    department_code: str
    period_start: date
    period_end: date
    state: ReviewState
    threshold: int
    score: Decimal | None = Field(description="0–100; null until computed.")
    reviewer_id: int
    plan_id: int | None
    concluded_at: datetime | None


class ReviewPage(Schema):
    limit: int
    items: list[ReviewOut]
    cursor: str | None = Field(description="Pass as ?cursor= for the next page; null at the end.")
    next: str | None = Field(description="The next page with the same filters; null at the end.")


class RectificationOut(Schema):
    id: int
    action: str
    owner_id: int
    due_on: date
    state: RectificationState
    overdue: bool
    done_note: str
    verified_by_id: int | None
    verified_at: datetime | None
    verification_note: str


class FindingOut(Schema):
    id: int
    severity: FindingSeverity
    text: str
    source: str = Field(description="sample, survey, standards (proposed) or manual.")
    staff_ids: list[int]
    rectifications: list[RectificationOut]


class ReviewDetail(ReviewOut):
    figures: dict = Field(
        description="What the score was computed from: qa, survey and standards figures with "
        "their intervals (rates in percent), the weights and each component."
    )
    findings: list[FindingOut]


def _review_out(review) -> dict:
    return {
        "id": review.pk,
        "department_id": review.department_id,
        "department_code": review.department.code,
        "period_start": review.period_start,
        "period_end": review.period_end,
        "state": review.state,
        "threshold": review.threshold,
        "score": review.score,
        "reviewer_id": review.reviewer_id,
        "plan_id": review.plan_id,
        "concluded_at": review.concluded_at,
    }


def _rectification_out(rectification) -> dict:
    return {
        "id": rectification.pk,
        "action": rectification.action,
        "owner_id": rectification.owner_id,
        "due_on": rectification.due_on,
        "state": rectification.state,
        "overdue": reviews.is_overdue(rectification),
        "done_note": rectification.done_note,
        "verified_by_id": rectification.verified_by_id,
        "verified_at": rectification.verified_at,
        "verification_note": rectification.verification_note,
    }


@router.get("/reviews", response={200: ReviewPage, **READ_ERRORS}, summary="List reviews")
def review_list(
    request,
    state: ReviewState | None = None,
    department: int | None = Query(None, description="Reviews of this department only."),
    limit: int = Query(50, ge=1, le=MAX_LIMIT, description="Rows per page."),
    cursor: str = Query("", max_length=100, description="From the previous page's `cursor`."),
):
    """The reviews of the departments where the caller holds VIEW_QUALITY, newest first. Walk
    the pages with ``next`` until it is null; there is deliberately no total count."""
    require_scope(request, TokenScope.QUALITY_READ)
    rows = reviews.review_list_for_user(user=request.auth)
    if state is not None:
        rows = rows.filter(state=state)
    if department is not None:
        rows = rows.filter(department_id=department)
    if cursor:
        rows = rows.filter(pk__lt=decode_cursor(cursor))
    page = list(rows.order_by("-pk")[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    next_cursor = encode_cursor(page[-1].pk) if more else None
    return {
        "limit": limit,
        "items": [_review_out(review) for review in page],
        "cursor": next_cursor,
        "next": next_link(request, next_cursor) if next_cursor else None,
    }


@router.get(
    "/reviews/{review_id}", response={200: ReviewDetail, **READ_ERRORS}, summary="Get a review"
)
def review_get(request, review_id: int):
    """One review with its figures, findings (the most serious first) and rectifications."""
    require_scope(request, TokenScope.QUALITY_READ)
    review = reviews.review_get_for_user(user=request.auth, pk=review_id)
    return {
        **_review_out(review),
        "figures": review.figures or {},
        "findings": [
            {
                "id": finding.pk,
                "severity": finding.severity,
                "text": finding.text,
                "source": finding.source,
                "staff_ids": [member.pk for member in finding.staff.all()],
                "rectifications": [_rectification_out(r) for r in finding.rectifications.all()],
            }
            for finding in reviews.review_findings(review)
        ],
    }
