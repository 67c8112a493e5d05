"""Decisions (sanctions and rewards), their approval and appeals over JSON, mounted under
/api/discipline/ beside the violations API.

Reads go through ``decision_selectors``: a decision outside the caller's scope answers 404
exactly like one that does not exist, and an employee sees only the decisions in force about
themselves. Writes go through ``decisions``; the capability is checked there (403), and the
decision process's own refusals answer 409 with one stable code:

| code | when |
| --- | --- |
| ``decision_refused`` | approving one's own proposal, a second approver in the same role of a demotion, a deduction breaking the lawful limits (the message names the limit and the excess), appealing after the window, deciding an appeal one took part in |

Bad input answers 422 with the field at fault. Token scopes: ``discipline:read`` for reading,
``discipline:write`` for every action.
"""

from datetime import date, datetime
from decimal import Decimal

from ninja import Field, Query, Router, Schema
from ninja.responses import Status

from servicecharter.accounts import permissions as perms
from servicecharter.accounts.scoping import get_in_scope_or_404
from servicecharter.accounts.tokens import TokenScope, require_scope
from servicecharter.core.cursors import decode_cursor, encode_cursor
from servicecharter.discipline import decision_selectors as selectors
from servicecharter.discipline import decisions as services
from servicecharter.discipline.choices import (
    AppealState,
    DecisionKind,
    DecisionState,
    Measure,
)
from servicecharter.discipline.models import Violation
from servicecharter.org.models import Department, Staff
from servicecharter.quality.api import READ_ERRORS, WRITE_ERRORS

router = Router(tags=["discipline"])

MAX_LIMIT = 200


# Output ---------------------------------------------------------------------------------------


class ApprovalOut(Schema):
    approver_id: int
    role: str
    approved: bool
    note: str
    at: datetime


class AppealOut(Schema):
    id: int
    decision_id: int
    filed_at: datetime
    grounds: str
    state: AppealState
    decided_by_id: int | None
    decided_at: datetime | None
    outcome_reason: str
    reduced_measure: str
    reduced_amount: Decimal | None


class DecisionOut(Schema):
    id: int
    kind: DecisionKind
    state: DecisionState
    staff_id: int | None
    department_id: int
    violation_id: int | None
    measure: Measure
    amount: Decimal | None
    currency: str
    deduction_month: date | None
    recommended_rule: str | None = Field(description="Code of the rule that produced it.")
    recommended_measure: str
    recommended_amount: Decimal | None
    is_deviation: bool
    deviation_reason: str
    proposed_by_id: int
    proposed_at: datetime
    decided_at: datetime | None
    in_force_until: date | None
    appeal_until: datetime | None
    acknowledged_at: datetime | None


class DecisionDetail(DecisionOut):
    explanation: dict = Field(description="The rulebook's reasoning: rule and steps as data.")
    reason: str
    basis: list
    evidence: list = Field(description="The violation's evidence links.")
    approvals: list[ApprovalOut]
    appeal: AppealOut | None


class DecisionPage(Schema):
    limit: int
    items: list[DecisionOut]
    cursor: str | None = Field(description="Pass as ?cursor= for the next page; null at the end.")


def _decision_out(decision) -> dict:
    return {
        "id": decision.pk,
        "kind": decision.kind,
        "state": decision.state,
        "staff_id": decision.staff_id,
        "department_id": decision.department_id,
        "violation_id": decision.violation_id,
        "measure": decision.measure,
        "amount": decision.amount,
        "currency": decision.currency,
        "deduction_month": decision.deduction_month,
        "recommended_rule": decision.recommended_rule.code if decision.recommended_rule else None,
        "recommended_measure": decision.recommended_measure,
        "recommended_amount": decision.recommended_amount,
        "is_deviation": decision.is_deviation,
        "deviation_reason": decision.deviation_reason,
        "proposed_by_id": decision.proposed_by_id,
        "proposed_at": decision.proposed_at,
        "decided_at": decision.decided_at,
        "in_force_until": decision.in_force_until,
        "appeal_until": decision.appeal_until,
        "acknowledged_at": decision.acknowledged_at,
    }


def _appeal_out(appeal) -> dict:
    return {
        "id": appeal.pk,
        "decision_id": appeal.decision_id,
        "filed_at": appeal.filed_at,
        "grounds": appeal.grounds,
        "state": appeal.state,
        "decided_by_id": appeal.decided_by_id,
        "decided_at": appeal.decided_at,
        "outcome_reason": appeal.outcome_reason,
        "reduced_measure": appeal.reduced_measure,
        "reduced_amount": appeal.reduced_amount,
    }


def _detail(user, pk: int) -> dict:
    decision = selectors.decision_get_for_user(user=user, pk=pk)
    appeal = getattr(decision, "appeal", None)
    return {
        **_decision_out(decision),
        "explanation": decision.explanation or {},
        "reason": decision.reason,
        "basis": decision.basis or [],
        "evidence": decision.violation.evidence if decision.violation else [],
        "approvals": [
            {
                "approver_id": approval.approver_id,
                "role": approval.role,
                "approved": approval.approved,
                "note": approval.note,
                "at": approval.at,
            }
            for approval in selectors.approvals_of(decision)
        ],
        "appeal": _appeal_out(appeal) if appeal else None,
    }


# Reads ----------------------------------------------------------------------------------------


@router.get("/decisions", response={200: DecisionPage, **READ_ERRORS}, summary="List decisions")
def decision_list(
    request,
    state: DecisionState | None = None,
    kind: DecisionKind | None = None,
    awaiting_my_approval: bool = Query(False, description="Only the caller's approval queue."),
    limit: int = Query(50, ge=1, le=MAX_LIMIT, description="Rows per page."),
    cursor: str = Query("", max_length=100, description="From the previous page's `cursor`."),
):
    """The decisions the caller may read (VIEW_DISCIPLINE in scope, or one's own once in force),
    newest first, walked by ``cursor``."""
    require_scope(request, TokenScope.DISCIPLINE_READ)
    user = request.auth
    if awaiting_my_approval:
        rows = selectors.approval_queue(user=user)
    else:
        rows = selectors.decision_list_for_user(user=user)
    if state is not None:
        rows = rows.filter(state=state)
    if kind is not None:
        rows = rows.filter(kind=kind)
    if cursor:
        rows = rows.filter(pk__lt=decode_cursor(cursor))
    page = list(rows.order_by("-pk")[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return {
        "limit": limit,
        "items": [_decision_out(decision) for decision in page],
        "cursor": encode_cursor(page[-1].pk) if more else None,
    }


@router.get(
    "/decisions/{decision_id}",
    response={200: DecisionDetail, **READ_ERRORS},
    summary="Get a decision",
)
def decision_get(request, decision_id: int):
    """One decision with the rulebook's reasoning, the evidence, approvals and appeal."""
    require_scope(request, TokenScope.DISCIPLINE_READ)
    return _detail(request.auth, decision_id)


# Writes ---------------------------------------------------------------------------------------


ACTION = {200: DecisionDetail, **WRITE_ERRORS}


def _refused(refusal) -> Status:
    message = " ".join(refusal.messages)
    return Status(409, {"code": "decision_refused", "message": message, "fields": {}})


def _act(request, decision_id: int, change):
    require_scope(request, TokenScope.DISCIPLINE_WRITE)
    user = request.auth
    decision = selectors.decision_get_for_user(user=user, pk=decision_id)
    try:
        change(decision)
    except services.DecisionRefused as refusal:
        return _refused(refusal)
    return _detail(user, decision_id)


class ProposeIn(Schema):
    violation_id: int
    measure: Measure | None = Field(None, description="Empty: the rulebook's recommendation.")
    amount: Decimal | None = None
    factors: list[str] = Field(default_factory=list, description="Factor codes ticked.")
    deviation_reason: str = ""
    reason: str = ""
    deduction_month: date | None = None


class DirectIn(Schema):
    kind: DecisionKind
    measure: Measure
    reason: str
    staff_id: int | None = None
    department_id: int | None = None
    amount: Decimal | None = None


class NoteIn(Schema):
    note: str = ""


class GroundsIn(Schema):
    grounds: str


class AppealDecideIn(Schema):
    outcome: AppealState
    reason: str
    reduced_measure: Measure | None = None
    reduced_amount: Decimal | None = None


@router.post("/decisions", response={201: DecisionDetail, **WRITE_ERRORS}, summary="Propose")
def decision_propose(request, payload: ProposeIn):
    """Propose a sanction for a confirmed violation (PROPOSE_DECISIONS over the employee's
    department). A measure or amount other than the rulebook's needs ``deviation_reason``."""
    require_scope(request, TokenScope.DISCIPLINE_WRITE)
    user = request.auth
    violation = get_in_scope_or_404(
        Violation.objects.select_related("staff__department"),
        user,
        perms.VIEW_DISCIPLINE,
        "staff__department",
        pk=payload.violation_id,
    )
    try:
        decision = services.decision_propose(
            actor=user,
            violation=violation,
            measure=payload.measure,
            amount=payload.amount,
            factors=payload.factors,
            deviation_reason=payload.deviation_reason,
            reason=payload.reason,
            deduction_month=payload.deduction_month,
        )
    except services.DecisionRefused as refusal:
        return _refused(refusal)
    return Status(201, _detail(user, decision.pk))


@router.post("/direct-decisions", response={201: DecisionDetail, **WRITE_ERRORS}, summary="Reward")
def decision_propose_direct(request, payload: DirectIn):
    """Propose a reward for an employee (``staff_id``), or a reward or penalty for a whole
    department (``department_id``, no employee)."""
    require_scope(request, TokenScope.DISCIPLINE_WRITE)
    user = request.auth
    staff = department = None
    if payload.staff_id is not None:
        staff = get_in_scope_or_404(
            Staff.objects.select_related("department"),
            user,
            perms.PROPOSE_DECISIONS,
            pk=payload.staff_id,
        )
    elif payload.department_id is not None:
        department = get_in_scope_or_404(
            Department.objects.all(), user, perms.PROPOSE_DECISIONS, "", pk=payload.department_id
        )
    decision = services.decision_propose_direct(
        actor=user,
        kind=payload.kind,
        measure=payload.measure,
        reason=payload.reason,
        staff=staff,
        department=department,
        amount=payload.amount,
    )
    return Status(201, _detail(user, decision.pk))


@router.post("/decisions/{decision_id}/approve", response=ACTION, summary="Approve")
def decision_approve(request, decision_id: int, payload: NoteIn):
    """One approver's yes (APPROVE_DECISIONS; never the proposer nor the employee)."""
    return _act(
        request,
        decision_id,
        lambda decision: services.decision_approve(
            actor=request.auth, decision=decision, note=payload.note
        ),
    )


@router.post("/decisions/{decision_id}/reject", response=ACTION, summary="Reject")
def decision_reject(request, decision_id: int, payload: NoteIn):
    """One approver's no, with a reason: the proposal ends."""
    return _act(
        request,
        decision_id,
        lambda decision: services.decision_reject(
            actor=request.auth, decision=decision, note=payload.note
        ),
    )


@router.post("/decisions/{decision_id}/withdraw", response=ACTION, summary="Withdraw")
def decision_withdraw(request, decision_id: int):
    """The proposer withdraws a proposal still awaiting approval."""
    return _act(
        request,
        decision_id,
        lambda decision: services.decision_withdraw(actor=request.auth, decision=decision),
    )


@router.post("/decisions/{decision_id}/acknowledge", response=ACTION, summary="Acknowledge")
def decision_acknowledge(request, decision_id: int):
    """The employee has read the decision about them."""
    return _act(
        request,
        decision_id,
        lambda decision: services.decision_acknowledge(actor=request.auth, decision=decision),
    )


@router.post(
    "/decisions/{decision_id}/appeal",
    response={201: AppealOut, **WRITE_ERRORS},
    summary="Appeal",
)
def appeal_file(request, decision_id: int, payload: GroundsIn):
    """The employee appeals a sanction in force, inside the window."""
    require_scope(request, TokenScope.DISCIPLINE_WRITE)
    decision = selectors.decision_get_for_user(user=request.auth, pk=decision_id)
    try:
        appeal = services.appeal_file(
            actor=request.auth, decision=decision, grounds=payload.grounds
        )
    except services.DecisionRefused as refusal:
        return _refused(refusal)
    return Status(201, _appeal_out(appeal))


@router.get("/appeals", response={200: list[AppealOut], **READ_ERRORS}, summary="Appeals to decide")
def appeal_list(request, limit: int = Query(50, ge=1, le=MAX_LIMIT)):
    """Open appeals in the caller's DECIDE_APPEALS scope that they took no part in, oldest
    first."""
    require_scope(request, TokenScope.DISCIPLINE_READ)
    return [_appeal_out(appeal) for appeal in selectors.appeal_queue(user=request.auth)[:limit]]


@router.post(
    "/appeals/{appeal_id}/decide",
    response={200: AppealOut, **WRITE_ERRORS},
    summary="Decide an appeal",
)
def appeal_decide(request, appeal_id: int, payload: AppealDecideIn):
    """Upheld, reduced (to ``reduced_measure`` and ``reduced_amount``) or overturned, by
    someone holding DECIDE_APPEALS who took no part in the decision."""
    require_scope(request, TokenScope.DISCIPLINE_WRITE)
    appeal = selectors.appeal_get_for_user(user=request.auth, pk=appeal_id)
    try:
        appeal = services.appeal_decide(
            actor=request.auth,
            appeal=appeal,
            outcome=payload.outcome,
            reason=payload.reason,
            reduced_measure=payload.reduced_measure,
            reduced_amount=payload.reduced_amount,
        )
    except services.DecisionRefused as refusal:
        return _refused(refusal)
    return _appeal_out(appeal)
