"""Violations and the rulebook over JSON: list the violations the caller may see (walked by an
opaque cursor, never counted), read one with its evidence and the rulebook's recommendation,
raise one by hand, confirm or dismiss it; read the rulebook versions.

Reads go through ``discipline.selectors`` — a violation outside the caller's scope answers 404
exactly like one that does not exist; an employee reads only their own — and writes through
``discipline.violations``. Errors have the shape of every other call (``accounts.api``), plus:

| code | when |
| --- | --- |
| ``violation_refused`` | reviewing a violation twice, or one about oneself (HTTP 409) |

Token scopes: ``discipline:read`` for reading, ``discipline:write`` for every action (which
also needs the capability: RAISE_VIOLATIONS or REVIEW_VIOLATIONS).
"""

from datetime import date, datetime
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from ninja.responses import Status

from servicecharter.accounts import permissions as perms
from servicecharter.accounts.api import ErrorOut
from servicecharter.accounts.scoping import restrict, scope_q
from servicecharter.accounts.tokens import TokenScope, require_scope
from servicecharter.core.cursors import decode_cursor, encode_cursor, next_link
from servicecharter.discipline import selectors
from servicecharter.discipline import violations as services
from servicecharter.discipline.choices import (
    ImpactScope,
    RulebookState,
    Severity,
    ViolationSource,
    ViolationState,
)
from servicecharter.discipline.models import Violation, ViolationType
from servicecharter.discipline.rulebook_services import violation_recommend
from servicecharter.org.models import Department, Staff

router = Router(tags=["discipline"])

MAX_LIMIT = 200
READ_ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}
WRITE_ERRORS = {**READ_ERRORS, 409: ErrorOut}


# Output ---------------------------------------------------------------------------------------


class EvidenceOut(Schema):
    kind: str
    label: str
    url: str


class ViolationOut(Schema):
    id: int
    state: ViolationState
    source: str
    type: str = Field(description="The catalogue code of the violation type.")
    category: str
    staff_id: int
    employee_number: str
    staff_name: str
    department_id: int
    department_code: str
    occurred_at: datetime
    severity: Severity
    impact_scope: ImpactScope
    money_lost: Decimal | None
    currency: str
    summary: str
    evidence: list[EvidenceOut]
    reviewed_at: datetime | None


class RecommendationOut(Schema):
    rulebook_version: str | None
    measure: str
    rule: str
    amount: Decimal | None
    demotion_grades: int | None
    training: str
    steps: list[dict] = Field(description="The reasoning, as codes and parameters.")


class ViolationDetail(ViolationOut):
    details: str
    adjustment_reason: str
    review_note: str
    recommendation: RecommendationOut | None


class ViolationPage(Schema):
    limit: int
    items: list[ViolationOut]
    cursor: str | None = Field(description="Pass as ?cursor= for the next page; null at the end.")
    next: str | None = Field(description="The next page with the same filters; null at the end.")


def _violation_out(violation: Violation) -> dict:
    return {
        "id": violation.pk,
        "state": violation.state,
        "source": violation.source,
        "type": violation.type.code,
        "category": violation.type.category,
        "staff_id": violation.staff_id,
        "employee_number": violation.staff.employee_number,
        "staff_name": violation.staff.name,
        "department_id": violation.department_id,
        "department_code": violation.department.code,
        "occurred_at": violation.occurred_at,
        "severity": violation.severity,
        "impact_scope": violation.impact_scope,
        "money_lost": violation.money_lost,
        "currency": violation.currency,
        "summary": violation.summary,
        "evidence": [
            {
                "kind": item.get("kind", ""),
                "label": item.get("label", ""),
                "url": item.get("url", ""),
            }
            for item in violation.evidence or []
        ],
        "reviewed_at": violation.reviewed_at,
    }


def _violation_detail(violation: Violation) -> dict:
    version, recommendation = violation_recommend(violation=violation)
    return {
        **_violation_out(violation),
        "details": violation.details,
        "adjustment_reason": violation.adjustment_reason,
        "review_note": violation.review_note,
        "recommendation": {
            "rulebook_version": str(version) if version else None,
            "measure": recommendation.measure,
            "rule": recommendation.rule_code,
            "amount": recommendation.amount,
            "demotion_grades": recommendation.demotion_grades,
            "training": recommendation.training,
            "steps": [dict(step) for step in recommendation.steps],
        },
    }


# Reading ------------------------------------------------------------------------------------


def _visible(user):
    """Violations in the VIEW_DISCIPLINE scope, and the caller's own."""
    visible = scope_q(user, perms.VIEW_DISCIPLINE) | selectors.own_violations_q(user)
    return Violation.objects.filter(visible).select_related(*selectors.VIOLATION_RELATED)


def _get(user, pk: int) -> Violation:
    try:
        return _visible(user).get(pk=pk)
    except Violation.DoesNotExist:
        return selectors.violation_get_for_user(user=user, pk=pk)  # records the guess, 404


@router.get("/violations", response={200: ViolationPage, **READ_ERRORS}, summary="List")
def violation_list(
    request,
    state: ViolationState | None = None,
    source: ViolationSource | None = None,
    type: str | None = Query(None, max_length=40, description="A violation type's code."),
    staff: int | None = Query(None, description="An employee's staff id."),
    department: int | None = Query(None, description="Only this department and those below."),
    limit: int = Query(50, ge=1, le=MAX_LIMIT, description="Rows per page."),
    cursor: str = Query("", max_length=100, description="From the previous page's `cursor`."),
):
    """The violations the caller may see, newest first: those of the departments where they
    hold VIEW_DISCIPLINE, and their own. Walk the pages with ``next`` until it is null."""
    require_scope(request, TokenScope.DISCIPLINE_READ)
    rows = _visible(request.auth)
    if state is not None:
        rows = rows.filter(state=state)
    if source is not None:
        rows = rows.filter(source=source)
    if type:
        rows = rows.filter(type__code=type)
    if staff is not None:
        rows = rows.filter(staff_id=staff)
    if department is not None:
        unit = Department.objects.filter(pk=department).first()
        rows = rows.filter(department__path__startswith=unit.path if unit else "-")
    if cursor:
        rows = rows.filter(pk__lt=decode_cursor(cursor))
    page = list(rows.order_by("-pk")[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    next_cursor = encode_cursor(page[-1].pk) if more else None
    return {
        "limit": limit,
        "items": [_violation_out(violation) for violation in page],
        "cursor": next_cursor,
        "next": next_link(request, next_cursor) if next_cursor else None,
    }


@router.get(
    "/violations/{violation_id}",
    response={200: ViolationDetail, **READ_ERRORS},
    summary="Get a violation",
)
def violation_get(request, violation_id: int):
    """One violation with its evidence and what the rulebook in force when it occurred
    recommends, step by step."""
    require_scope(request, TokenScope.DISCIPLINE_READ)
    return _violation_detail(_get(request.auth, violation_id))


# Actions ------------------------------------------------------------------------------------


class EvidenceIn(Schema):
    kind: str = Field("note", max_length=20)
    label: str = Field(max_length=300)
    url: str = Field("", max_length=500, description="A link inside this system (starts with /).")


class RaiseIn(Schema):
    staff_id: int
    type: str = Field(max_length=40, description="A violation type's code.")
    occurred_at: datetime
    summary: str = Field(max_length=300)
    details: str = Field("", max_length=10000)
    evidence: list[EvidenceIn] = Field(default_factory=list)
    severity: Severity | None = None
    impact_scope: ImpactScope | None = None
    money_lost: Decimal | None = None


class NoteIn(Schema):
    note: str = Field("", max_length=5000)


ACTION = {200: ViolationDetail, **WRITE_ERRORS}


def _refused(refusal) -> Status:
    message = " ".join(refusal.messages)
    return Status(409, {"code": "violation_refused", "message": message, "fields": {}})


@router.post("/violations", response={201: ViolationDetail, **WRITE_ERRORS}, summary="Raise")
def violation_raise(request, payload: RaiseIn):
    """Record a violation by hand (RAISE_VIOLATIONS over the employee's department)."""
    require_scope(request, TokenScope.DISCIPLINE_WRITE)
    user = request.auth
    staff = (
        restrict(Staff.objects.select_related("department"), user, perms.RAISE_VIOLATIONS)
        .filter(pk=payload.staff_id)
        .first()
    )
    if staff is None:
        if not Staff.objects.filter(pk=payload.staff_id).exists():
            raise ValidationError({"staff_id": _("No such employee.")})
        raise PermissionDenied
    vtype = ViolationType.objects.filter(code=payload.type, is_active=True).first()
    if vtype is None:
        raise ValidationError({"type": _("No such violation type.")})
    violation = services.violation_raise(
        actor=user,
        staff=staff,
        vtype=vtype,
        occurred_at=payload.occurred_at,
        summary=payload.summary,
        details=payload.details,
        evidence=[item.dict() for item in payload.evidence],
        severity=payload.severity,
        impact_scope=payload.impact_scope,
        money_lost=payload.money_lost,
    )
    return Status(201, _violation_detail(_get(user, violation.pk)))


def _review(request, violation_id: int, change):
    require_scope(request, TokenScope.DISCIPLINE_WRITE)
    user = request.auth
    violation = selectors.violation_get_for_user(user=user, pk=violation_id)
    try:
        change(violation)
    except services.ViolationRefused as refusal:
        return _refused(refusal)
    return _violation_detail(_get(user, violation_id))


@router.post("/violations/{violation_id}/confirm", response=ACTION, summary="Confirm")
def violation_confirm(request, violation_id: int, payload: NoteIn):
    """The facts hold (REVIEW_VIOLATIONS; never about oneself). A sanction may follow."""
    return _review(
        request,
        violation_id,
        lambda v: services.violation_confirm(actor=request.auth, violation=v, note=payload.note),
    )


@router.post("/violations/{violation_id}/dismiss", response=ACTION, summary="Dismiss")
def violation_dismiss(request, violation_id: int, payload: NoteIn):
    """The facts do not hold (REVIEW_VIOLATIONS; never about oneself); the note is required."""
    return _review(
        request,
        violation_id,
        lambda v: services.violation_dismiss(actor=request.auth, violation=v, note=payload.note),
    )


# The rulebook -------------------------------------------------------------------------------


class RuleOut(Schema):
    order: int
    code: str
    violation_type: str | None
    category: str
    min_severity: str
    min_impact: str
    min_priors: int
    max_priors: int | None
    measure: str
    wage_percent: Decimal | None
    fixed_amount: Decimal | None
    amount_cap: Decimal | None
    demotion_grades: int | None
    training: str
    in_force_months: int
    explanation_en: str
    explanation_zh: str


class FactorOut(Schema):
    code: str
    effect: str
    steps: int
    name_en: str
    name_zh: str


class VersionOut(Schema):
    id: int
    rulebook: str
    jurisdiction: str
    number: int
    state: RulebookState
    effective_from: date | None
    lookback_days: int
    appeal_days: int
    approved_at: datetime | None
    approval_note: str
    published_at: datetime | None


class VersionDetail(VersionOut):
    rules: list[RuleOut]
    factors: list[FactorOut]


def _version_out(version) -> dict:
    return {
        "id": version.pk,
        "rulebook": version.rulebook.code,
        "jurisdiction": version.rulebook.jurisdiction,
        "number": version.number,
        "state": version.state,
        "effective_from": version.effective_from,
        "lookback_days": version.lookback_days,
        "appeal_days": version.appeal_days,
        "approved_at": version.approved_at,
        "approval_note": version.approval_note,
        "published_at": version.published_at,
    }


def _readable_versions(user):
    """Published versions are for everyone; drafts and approved ones for their managers."""
    from servicecharter.discipline.rulebook_services import may_manage_rulebook

    versions = selectors.rulebook_versions()
    if may_manage_rulebook(user):
        return versions
    return versions.filter(state__in=(RulebookState.PUBLISHED, RulebookState.RETIRED))


@router.get("/rulebook/versions", response={200: list[VersionOut], **READ_ERRORS})
def rulebook_version_list(request):
    """Every rulebook version the caller may read, by rulebook, newest first."""
    require_scope(request, TokenScope.DISCIPLINE_READ)
    return [_version_out(version) for version in _readable_versions(request.auth)]


@router.get("/rulebook/versions/{version_id}", response={200: VersionDetail, **READ_ERRORS})
def rulebook_version_get(request, version_id: int):
    """One version with its rules (in the order they are tried) and its factors."""
    require_scope(request, TokenScope.DISCIPLINE_READ)
    version = _readable_versions(request.auth).filter(pk=version_id).first()
    if version is None:
        from django.http import Http404

        raise Http404
    rules = version.rules.select_related("violation_type").order_by("order", "code")
    return {
        **_version_out(version),
        "rules": [
            {
                **{
                    name: getattr(rule, name)
                    for name in RuleOut.model_fields
                    if name != "violation_type"
                },
                "violation_type": rule.violation_type.code if rule.violation_type else None,
            }
            for rule in rules
        ],
        "factors": [
            {
                "code": factor.code,
                "effect": factor.effect,
                "steps": factor.steps,
                "name_en": factor.name_en,
                "name_zh": factor.name_zh,
            }
            for factor in version.factors.order_by("effect", "code")
        ],
    }
