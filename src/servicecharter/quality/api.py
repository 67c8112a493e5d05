"""Evaluations and scorecards over JSON: list the evaluations the caller may see (walked by an
opaque cursor, never counted), read one with its answers and dispute, score it, acknowledge or
dispute it (the employee), decide a dispute (another auditor); read the scorecards.

Reads go through ``quality.selectors`` — an evaluation outside the caller's scope answers 404
exactly like one that does not exist, and an employee sees only their own — and writes through
``quality.services``. Errors have the shape of every other call (``accounts.api``), plus one
stable code for a refusal by the evaluation process itself (HTTP 409):

| code | when |
| --- | --- |
| ``evaluation_refused`` | scoring twice, disputing after the window, the scorer deciding their own dispute, an auditor scoring their own interaction |

Token scopes: ``quality:read`` for reading, ``quality:write`` for every action.
"""

from datetime import datetime
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from ninja.responses import Status

from servicecharter.accounts.api import ErrorOut
from servicecharter.accounts.tokens import TokenScope, require_scope
from servicecharter.core.cursors import decode_cursor, encode_cursor, next_link
from servicecharter.org.models import Department
from servicecharter.quality import selectors, services
from servicecharter.quality.choices import (
    CriterionCategory,
    EvaluationState,
    SampleReason,
    Scale,
    ScorecardState,
)
from servicecharter.quality.models import Evaluation

router = Router(tags=["quality"])

MAX_LIMIT = 200
READ_ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}
WRITE_ERRORS = {**READ_ERRORS, 409: ErrorOut}


# Output ---------------------------------------------------------------------------------------


class EvaluationOut(Schema):
    id: int
    state: EvaluationState
    reason: SampleReason
    interaction_id: int
    staff_id: int
    staff_name: str
    employee_number: str
    department_id: int
    department_code: str
    auditor_id: int
    auditor_name: str
    scorecard_id: int
    scorecard_code: str
    scorecard_version_id: int
    scorecard_version: int
    pass_mark: int
    score: Decimal | None = Field(description="0–100; null until scored.")
    auto_failed: bool
    passed: bool | None = Field(description="Score at or above the pass mark, no auto-fail.")
    created_at: datetime
    completed_at: datetime | None
    dispute_until: datetime | None
    acknowledged_at: datetime | None


class EvaluationPage(Schema):
    limit: int
    items: list[EvaluationOut]
    cursor: str | None = Field(description="Pass as ?cursor= for the next page; null at the end.")
    next: str | None = Field(description="The next page with the same filters; null at the end.")


class AnswerOut(Schema):
    criterion_id: int
    criterion: str = Field(description="The criterion's code.")
    text_en: str
    text_zh: str
    scale: Scale
    critical: bool
    value: int | None = Field(description="yes/no: 1 or 0; 1–5; null: not applicable.")
    comment: str


class DisputeOut(Schema):
    reason: str
    raised_at: datetime
    decided_by_id: int | None
    decided_at: datetime | None
    upheld: bool | None
    decision_note: str


class EvaluationDetail(EvaluationOut):
    answers: list[AnswerOut]
    dispute: DisputeOut | None
    actions: list[str] = Field(description="What the caller may do now: score, acknowledge, …")


def _user_label(user) -> str:
    return (user.get_full_name() or user.get_username()) if user is not None else ""


def _passed(evaluation: Evaluation) -> bool | None:
    if evaluation.score is None:
        return None
    return not evaluation.auto_failed and evaluation.score >= evaluation.scorecard_version.pass_mark


def _evaluation_out(evaluation: Evaluation) -> dict:
    version = evaluation.scorecard_version
    return {
        "id": evaluation.pk,
        "state": evaluation.state,
        "reason": evaluation.reason,
        "interaction_id": evaluation.interaction_id,
        "staff_id": evaluation.staff_id,
        "staff_name": evaluation.staff.name,
        "employee_number": evaluation.staff.employee_number,
        "department_id": evaluation.department_id,
        "department_code": evaluation.department.code,
        "auditor_id": evaluation.auditor_id,
        "auditor_name": _user_label(evaluation.auditor),
        "scorecard_id": version.scorecard_id,
        "scorecard_code": version.scorecard.code,
        "scorecard_version_id": version.pk,
        "scorecard_version": version.number,
        "pass_mark": version.pass_mark,
        "score": evaluation.score,
        "auto_failed": evaluation.auto_failed,
        "passed": _passed(evaluation),
        "created_at": evaluation.created_at,
        "completed_at": evaluation.completed_at,
        "dispute_until": evaluation.dispute_until,
        "acknowledged_at": evaluation.acknowledged_at,
    }


def _actions(user, evaluation: Evaluation) -> list[str]:
    actions = []
    if selectors.can_score(user, evaluation):
        actions.append("submit")
    if selectors.is_the_employee(user, evaluation):
        if evaluation.state == EvaluationState.COMPLETED:
            actions.append("acknowledge")
        if evaluation.state in (EvaluationState.COMPLETED, EvaluationState.ACKNOWLEDGED):
            actions.append("dispute")
    if selectors.can_decide(user, evaluation):
        actions.append("decide")
    return actions


def _evaluation_detail(user, evaluation: Evaluation) -> dict:
    version = selectors.scorecard_version_with_criteria(evaluation.scorecard_version_id)
    answers = {answer.criterion_id: answer for answer in evaluation.answers.all()}
    dispute = selectors.dispute_of(evaluation)
    return {
        **_evaluation_out(evaluation),
        "answers": [
            {
                "criterion_id": criterion.pk,
                "criterion": criterion.code,
                "text_en": criterion.text_en,
                "text_zh": criterion.text_zh,
                "scale": criterion.scale,
                "critical": criterion.critical,
                "value": answers[criterion.pk].value,
                "comment": answers[criterion.pk].comment,
            }
            for criterion in selectors.version_criteria(version)
            if criterion.pk in answers
        ],
        "dispute": None
        if dispute is None
        else {
            "reason": dispute.reason,
            "raised_at": dispute.raised_at,
            "decided_by_id": dispute.decided_by_id,
            "decided_at": dispute.decided_at,
            "upheld": dispute.upheld,
            "decision_note": dispute.decision_note,
        },
        "actions": _actions(user, evaluation),
    }


# List and read ----------------------------------------------------------------------------------


COMPLETED_SINCE_QUERY = Query(None, description="Scored at or after this time.")


@router.get("/evaluations", response={200: EvaluationPage, **READ_ERRORS}, summary="List")
def evaluation_list(
    request,
    state: EvaluationState | None = None,
    staff: int | None = Query(None, description="An employee's staff id."),
    auditor: int | None = Query(None, description="An auditor's user id."),
    department: int | None = Query(None, description="Only this department and those below."),
    completed_since: datetime | None = COMPLETED_SINCE_QUERY,
    limit: int = Query(50, ge=1, le=MAX_LIMIT, description="Rows per page."),
    cursor: str = Query("", max_length=100, description="From the previous page's `cursor`."),
):
    """The evaluations the caller may see, newest first: those of the departments where they
    hold VIEW_QUALITY or EVALUATE, those assigned to them, and their own once scored. Walk the
    pages with ``next`` until it is null; there is deliberately no total count."""
    require_scope(request, TokenScope.QUALITY_READ)
    evaluations = selectors.evaluation_list_for_user(user=request.auth)
    if state is not None:
        evaluations = evaluations.filter(state=state)
    if staff is not None:
        evaluations = evaluations.filter(staff_id=staff)
    if auditor is not None:
        evaluations = evaluations.filter(auditor_id=auditor)
    if department is not None:
        unit = Department.objects.filter(pk=department).first()
        evaluations = evaluations.filter(department__path__startswith=unit.path if unit else "-")
    if completed_since is not None:
        evaluations = evaluations.filter(completed_at__gte=completed_since)
    if cursor:
        evaluations = evaluations.filter(pk__lt=decode_cursor(cursor))
    rows = list(evaluations.order_by("-pk")[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1].pk) if more else None
    return {
        "limit": limit,
        "items": [_evaluation_out(evaluation) for evaluation in rows],
        "cursor": next_cursor,
        "next": next_link(request, next_cursor) if next_cursor else None,
    }


@router.get(
    "/evaluations/{evaluation_id}",
    response={200: EvaluationDetail, **READ_ERRORS},
    summary="Get an evaluation",
)
def evaluation_get(request, evaluation_id: int):
    """One evaluation with its answers (criterion by criterion), its dispute, and the actions
    the caller may take on it now."""
    require_scope(request, TokenScope.QUALITY_READ)
    evaluation = selectors.evaluation_get_for_user(user=request.auth, pk=evaluation_id)
    return _evaluation_detail(request.auth, evaluation)


# Actions ----------------------------------------------------------------------------------------


class AnswerIn(Schema):
    criterion: str = Field(max_length=50, description="The criterion's code.")
    value: int | None = Field(description="yes/no: 1 or 0; 1–5; null: not applicable.")
    comment: str = Field("", max_length=2000)


class SubmitIn(Schema):
    answers: list[AnswerIn] = Field(description="One for every criterion of the scorecard.")


class DisputeIn(Schema):
    reason: str = Field(max_length=5000)


class DecideIn(Schema):
    upheld: bool = Field(description="true: the score stands; false: score it again.")
    note: str = Field(max_length=5000, description="The reasons, for the employee.")
    answers: list[AnswerIn] | None = Field(None, description="Required when not upheld.")


def _answers(items: list[AnswerIn]) -> tuple[dict, dict]:
    codes = [item.criterion for item in items]
    if len(set(codes)) != len(codes):
        raise ValidationError({"answers": _("A criterion is answered twice.")})
    return (
        {item.criterion: item.value for item in items},
        {item.criterion: item.comment for item in items},
    )


ACTION = {200: EvaluationDetail, **WRITE_ERRORS}


def _act(request, evaluation_id: int, change):
    """Run ``change(evaluation)`` on an evaluation the caller may see; a refusal by the
    process answers 409. Returns the evaluation as it is afterwards."""
    require_scope(request, TokenScope.QUALITY_WRITE)
    user = request.auth
    evaluation = selectors.evaluation_get_for_user(user=user, pk=evaluation_id)
    try:
        change(evaluation)
    except services.EvaluationRefused as refusal:
        message = " ".join(refusal.messages)
        return Status(409, {"code": "evaluation_refused", "message": message, "fields": {}})
    evaluation = selectors.evaluation_get_for_user(user=user, pk=evaluation_id)
    return _evaluation_detail(user, evaluation)


@router.post("/evaluations/{evaluation_id}/submit", response=ACTION, summary="Score")
def evaluation_submit(request, evaluation_id: int, payload: SubmitIn):
    """The assigned auditor scores the interaction. The total and the auto-fail are computed
    by the statistics module; ``evaluation.completed`` (and ``evaluation.auto_failed``) are
    emitted and the employee is told."""
    answers, comments = _answers(payload.answers)
    return _act(
        request,
        evaluation_id,
        lambda evaluation: services.evaluation_submit(
            actor=request.auth, evaluation=evaluation, answers=answers, comments=comments
        ),
    )


@router.post("/evaluations/{evaluation_id}/acknowledge", response=ACTION, summary="Acknowledge")
def evaluation_acknowledge(request, evaluation_id: int):
    """The employee has read the evaluation (they may still dispute it within the window)."""
    return _act(
        request,
        evaluation_id,
        lambda evaluation: services.evaluation_acknowledge(
            actor=request.auth, evaluation=evaluation
        ),
    )


@router.post("/evaluations/{evaluation_id}/dispute", response=ACTION, summary="Dispute")
def evaluation_dispute(request, evaluation_id: int, payload: DisputeIn):
    """The employee disputes the evaluation within the window, with a reason."""
    return _act(
        request,
        evaluation_id,
        lambda evaluation: services.evaluation_dispute(
            actor=request.auth, evaluation=evaluation, reason=payload.reason
        ),
    )


@router.post("/evaluations/{evaluation_id}/decide", response=ACTION, summary="Decide a dispute")
def dispute_decide(request, evaluation_id: int, payload: DecideIn):
    """An auditor other than the one who scored it, holding EVALUATE for the department,
    upholds the score or scores the interaction again (state revised, events again)."""
    answers = comments = None
    if payload.answers is not None:
        answers, comments = _answers(payload.answers)
    return _act(
        request,
        evaluation_id,
        lambda evaluation: services.dispute_decide(
            actor=request.auth,
            evaluation=evaluation,
            upheld=payload.upheld,
            note=payload.note,
            answers=answers,
            comments=comments,
        ),
    )


# Scorecards -------------------------------------------------------------------------------------


class CriterionOut(Schema):
    id: int
    code: str
    text_en: str
    text_zh: str
    weight: Decimal
    scale: Scale
    category: CriterionCategory
    critical: bool


class SectionOut(Schema):
    id: int
    name_en: str
    name_zh: str
    weight: Decimal
    criteria: list[CriterionOut]


class VersionOut(Schema):
    id: int
    number: int
    state: ScorecardState
    pass_mark: int


class VersionDetail(VersionOut):
    scorecard_id: int
    scorecard_code: str
    sections: list[SectionOut]


class ScorecardOut(Schema):
    id: int
    code: str
    name_en: str
    name_zh: str
    versions: list[VersionOut] = Field(description="Newest first; drafts only for managers.")


def _require_reader(request) -> None:
    require_scope(request, TokenScope.QUALITY_READ)
    if not selectors.can_read_quality(request.auth):
        raise PermissionDenied


def _version_out(version) -> dict:
    return {
        "id": version.pk,
        "number": version.number,
        "state": version.state,
        "pass_mark": version.pass_mark,
    }


@router.get("/scorecards", response={200: list[ScorecardOut], **READ_ERRORS}, summary="Scorecards")
def scorecard_list(request):
    """Every scorecard with its versions (VIEW_QUALITY, EVALUATE or MANAGE_QUALITY)."""
    _require_reader(request)
    return [
        {
            "id": scorecard.pk,
            "code": scorecard.code,
            "name_en": scorecard.name_en,
            "name_zh": scorecard.name_zh,
            "versions": [_version_out(version) for version in scorecard.versions.all()],
        }
        for scorecard in selectors.scorecard_list(user=request.auth)
    ]


@router.get(
    "/scorecards/versions/{version_id}",
    response={200: VersionDetail, **READ_ERRORS},
    summary="A scorecard version",
)
def scorecard_version_get(request, version_id: int):
    """A version's sections and criteria in order, with weights, scales and critical items."""
    _require_reader(request)
    version = selectors.scorecard_version_get(user=request.auth, pk=version_id)
    return {
        **_version_out(version),
        "scorecard_id": version.scorecard_id,
        "scorecard_code": version.scorecard.code,
        "sections": [
            {
                "id": section.pk,
                "name_en": section.name_en,
                "name_zh": section.name_zh,
                "weight": section.weight,
                "criteria": [
                    {
                        "id": criterion.pk,
                        "code": criterion.code,
                        "text_en": criterion.text_en,
                        "text_zh": criterion.text_zh,
                        "weight": criterion.weight,
                        "scale": criterion.scale,
                        "category": criterion.category,
                        "critical": criterion.critical,
                    }
                    for criterion in section.criteria.all()
                ],
            }
            for section in version.sections.all()
        ],
    }
