"""Reads of the quality module, scoped to what the caller may see. A row outside the caller's
scope answers 404 exactly like one that does not exist.

The file is kept in blocks, one per concern, each under its own heading; a block is written
by one team and others append theirs at the end:

- Scorecards and evaluations (with per-employee results).
- (sampling plans and calibration; periodic reviews: appended below by their authors)
"""

# =============================================================================================
# Scorecards and evaluations
# =============================================================================================
#
# Scorecards belong to the whole institution: only an institution-wide holder of
# MANAGE_QUALITY writes them (``can_manage_scorecards``); anyone who judges or reads quality
# reads the versions in use, and drafts only those who may change them.
#
# An evaluation is seen by: those holding VIEW_QUALITY or EVALUATE for its department, the
# auditor it is assigned to, and the employee it judges once it is scored (an employee never
# learns which interactions are waiting to be scored). Acting on one is narrower, see
# ``can_score``, ``is_the_employee`` and ``can_decide``.

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404

from servicecharter.accounts import permissions as perms
from servicecharter.accounts.scoping import has_capability, scope_q
from servicecharter.core.audit import audit_refusal
from servicecharter.org.models import Department, Staff
from servicecharter.org.selectors import holds_institution_wide
from servicecharter.quality import stats
from servicecharter.quality.choices import EvaluationState, ScorecardState
from servicecharter.quality.models import (
    Criterion,
    Evaluation,
    Scorecard,
    ScorecardVersion,
    Section,
)

# States of an evaluation that carry a score: the ones results are computed from.
SCORED_STATES = (
    EvaluationState.COMPLETED,
    EvaluationState.ACKNOWLEDGED,
    EvaluationState.DISPUTED,
    EvaluationState.UPHELD,
    EvaluationState.REVISED,
)
EVALUATION_RELATED = (
    "interaction",
    "staff",
    "department",
    "auditor",
    "scorecard_version__scorecard",
)


# Scorecards ----------------------------------------------------------------------------------


def can_manage_scorecards(user) -> bool:
    """Scorecards judge every department alike, so only an institution-wide holder of
    MANAGE_QUALITY may write them."""
    return holds_institution_wide(user, perms.MANAGE_QUALITY)


def can_read_quality(user) -> bool:
    return any(
        has_capability(user, capability)
        for capability in (perms.VIEW_QUALITY, perms.EVALUATE, perms.MANAGE_QUALITY)
    )


def scorecard_list(*, user) -> QuerySet:
    """Every scorecard with its versions (newest first): two queries."""
    versions = ScorecardVersion.objects.order_by("-number")
    if not can_manage_scorecards(user):
        versions = versions.exclude(state=ScorecardState.DRAFT)
    return Scorecard.objects.prefetch_related(Prefetch("versions", queryset=versions)).order_by(
        "code"
    )


def scorecard_get(*, user, pk: int) -> Scorecard:
    try:
        return scorecard_list(user=user).get(pk=pk)
    except Scorecard.DoesNotExist:
        raise Http404 from None


def _version_queryset() -> QuerySet:
    criteria = Criterion.objects.order_by("order", "pk")
    sections = Section.objects.order_by("order", "pk").prefetch_related(
        Prefetch("criteria", queryset=criteria)
    )
    return ScorecardVersion.objects.select_related("scorecard").prefetch_related(
        Prefetch("sections", queryset=sections)
    )


def scorecard_version_get(*, user, pk: int) -> ScorecardVersion:
    """A version with its sections and criteria in order; a draft is 404 for non-managers."""
    versions = _version_queryset()
    if not can_manage_scorecards(user):
        versions = versions.exclude(state=ScorecardState.DRAFT)
    try:
        return versions.get(pk=pk)
    except ScorecardVersion.DoesNotExist:
        raise Http404 from None


def scorecard_version_with_criteria(version_id: int) -> ScorecardVersion:
    """The version with its sections and criteria loaded (three queries), for scoring."""
    return _version_queryset().get(pk=version_id)


def section_get(*, user, pk: int) -> Section:
    section = Section.objects.select_related("version__scorecard").filter(pk=pk).first()
    if section is None or not can_manage_scorecards(user):
        raise Http404
    return section


def criterion_get(*, user, pk: int) -> Criterion:
    criterion = (
        Criterion.objects.select_related("section__version__scorecard").filter(pk=pk).first()
    )
    if criterion is None or not can_manage_scorecards(user):
        raise Http404
    return criterion


def section_key(section: Section) -> str:
    return f"S{section.order}"


def version_scorecard(version: ScorecardVersion) -> stats.Scorecard:
    """The version as the statistics module scores it; raises ``stats.ScorecardError`` when
    it cannot be scored (no section, a section without criteria, a critical item that is not
    yes/no, a code used twice). Reads the prefetched sections and criteria when loaded."""
    return stats.Scorecard(
        sections=tuple(
            stats.Section(
                key=section_key(section),
                weight=section.weight,
                criteria=tuple(
                    stats.Criterion(
                        key=criterion.code,
                        weight=criterion.weight,
                        scale=criterion.scale,
                        critical=criterion.critical,
                        label=criterion.text_en,
                    )
                    for criterion in section.criteria.all()
                ),
                label=section.name_en,
            )
            for section in version.sections.all()
        ),
        pass_mark=Decimal(version.pass_mark),
    )


def version_criteria(version: ScorecardVersion) -> list[Criterion]:
    return [criterion for section in version.sections.all() for criterion in section.criteria.all()]


# Evaluations: who may see and do what -------------------------------------------------------


def _own_staff_id(user) -> int | None:
    return getattr(user, "staff_id", None)


def evaluation_visibility_q(user) -> Q:
    """The evaluations ``user`` may read (see the block's heading)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Q(pk__in=[])
    visible = (
        scope_q(user, perms.VIEW_QUALITY) | scope_q(user, perms.EVALUATE) | Q(auditor_id=user.pk)
    )
    own = _own_staff_id(user)
    if own is not None:
        visible |= Q(staff_id=own)
        # Not even a supervisor of their own team learns which of their calls await scoring.
        visible &= ~Q(staff_id=own, state=EvaluationState.ASSIGNED)
    return visible


def evaluation_list_for_user(*, user) -> QuerySet:
    """Every evaluation ``user`` may read, newest first, with what a list shows joined."""
    return (
        Evaluation.objects.filter(evaluation_visibility_q(user))
        .select_related(*EVALUATION_RELATED)
        .order_by("-pk")
    )


def evaluation_get_for_user(*, user, pk: int) -> Evaluation:
    """One evaluation the caller may read, with its answers, criteria and dispute; 404
    otherwise (and a guess at an existing one outside the scope is recorded)."""
    queryset = Evaluation.objects.select_related(
        *EVALUATION_RELATED, "interaction__business_type", "interaction__customer"
    ).prefetch_related("answers")
    try:
        return queryset.filter(evaluation_visibility_q(user)).get(pk=pk)
    except Evaluation.DoesNotExist:
        if Evaluation.objects.filter(pk=pk).exists():
            audit_refusal(
                reason="out_of_scope",
                object_type="quality.evaluation",
                object_id=str(pk),
                details={"capability": perms.VIEW_QUALITY},
            )
        raise Http404 from None


def dispute_of(evaluation: Evaluation):
    """The evaluation's dispute, or None (without an exception for the absent one-to-one)."""
    try:
        return evaluation.dispute
    except Evaluation.dispute.RelatedObjectDoesNotExist:
        return None


def is_the_employee(user, evaluation: Evaluation) -> bool:
    own = _own_staff_id(user)
    return own is not None and own == evaluation.staff_id


def may_evaluate(user, department: Department) -> bool:
    return has_capability(user, perms.EVALUATE, department)


def can_score(user, evaluation: Evaluation) -> bool:
    """The auditor it is assigned to, still holding EVALUATE for its department, while it
    waits to be scored, and never on their own interaction."""
    return (
        evaluation.state == EvaluationState.ASSIGNED
        and evaluation.auditor_id == user.pk
        and not is_the_employee(user, evaluation)
        and may_evaluate(user, evaluation.department)
    )


def can_decide(user, evaluation: Evaluation) -> bool:
    """A dispute is decided by an auditor holding EVALUATE for the department who neither
    scored the evaluation nor is the employee it judges."""
    return (
        evaluation.state == EvaluationState.DISPUTED
        and evaluation.auditor_id != user.pk
        and not is_the_employee(user, evaluation)
        and may_evaluate(user, evaluation.department)
    )


# The auditor's workspace ---------------------------------------------------------------------


def auditor_queue(*, user) -> QuerySet:
    """The evaluations assigned to ``user`` that wait to be scored, oldest first."""
    queue = Evaluation.objects.filter(auditor_id=user.pk, state=EvaluationState.ASSIGNED)
    own = _own_staff_id(user)
    if own is not None:
        queue = queue.exclude(staff_id=own)
    return queue.select_related(*EVALUATION_RELATED).order_by("created_at", "pk")


def disputes_to_decide(*, user) -> QuerySet:
    """Disputed evaluations of the departments where ``user`` evaluates, scored by someone
    else and not about ``user``, the longest waiting first."""
    disputes = (
        Evaluation.objects.filter(state=EvaluationState.DISPUTED)
        .filter(scope_q(user, perms.EVALUATE))
        .exclude(auditor_id=user.pk)
    )
    own = _own_staff_id(user)
    if own is not None:
        disputes = disputes.exclude(staff_id=own)
    return disputes.select_related(*EVALUATION_RELATED, "dispute").order_by(
        "dispute__raised_at", "pk"
    )


def recently_scored(*, user, limit: int = 10) -> list[Evaluation]:
    return list(
        Evaluation.objects.filter(auditor_id=user.pk, completed_at__isnull=False)
        .select_related(*EVALUATION_RELATED)
        .order_by("-completed_at", "-pk")[:limit]
    )


# The employee's evaluations ------------------------------------------------------------------


def evaluations_of_staff(*, staff_id: int) -> QuerySet:
    """The scored evaluations of one employee, newest first (the caller decides who may ask:
    "my quality" passes the user's own staff record)."""
    return (
        Evaluation.objects.filter(staff_id=staff_id, state__in=SCORED_STATES)
        .select_related(*EVALUATION_RELATED, "dispute")
        .order_by("-completed_at", "-pk")
    )


# Per-employee results --------------------------------------------------------------------------


def minimum_sample() -> int:
    return getattr(settings, "QUALITY_MINIMUM_SAMPLE", stats.DEFAULT_MINIMUM_SAMPLE)


@dataclass(frozen=True)
class EmployeeResult:
    """One employee's scored evaluations in a period: how many, the mean score with a t
    interval, the pass rate with a Wilson interval, the auto-fails, and whether the sample is
    large enough to act on (the assessment module refuses to sanction when it is not)."""

    staff: Staff | None
    count: int
    mean: stats.Interval
    pass_rate: stats.Interval
    auto_fails: int
    adequacy: stats.SampleAdequacy

    @property
    def insufficient(self) -> bool:
        return not self.adequacy.adequate


ResultRow = tuple[Decimal | None, bool, int]  # (score, auto_failed, pass mark)


def result_from_rows(staff: Staff | None, rows: Iterable[ResultRow]) -> EmployeeResult:
    scores = [
        (float(score), auto_failed, mark) for score, auto_failed, mark in rows if score is not None
    ]
    values = [score for score, _failed, _mark in scores]
    passed = sum(1 for score, failed, mark in scores if not failed and score >= mark)
    return EmployeeResult(
        staff=staff,
        count=len(values),
        mean=stats.mean_interval(values, bounds=(0.0, 100.0)),
        pass_rate=stats.wilson_interval(passed, len(values)),
        auto_fails=sum(1 for _score, failed, _mark in scores if failed),
        adequacy=stats.sample_adequacy(len(values), minimum_sample()),
    )


def _scored_in_period(since: datetime | None, until: datetime | None) -> QuerySet:
    evaluations = Evaluation.objects.filter(state__in=SCORED_STATES)
    if since is not None:
        evaluations = evaluations.filter(completed_at__gte=since)
    if until is not None:
        evaluations = evaluations.filter(completed_at__lt=until)
    return evaluations


RESULT_COLUMNS = ("score", "auto_failed", "scorecard_version__pass_mark")


def employee_result(
    *, staff: Staff, since: datetime | None = None, until: datetime | None = None
) -> EmployeeResult:
    """One employee's result (the caller decides who may ask). One query."""
    rows = _scored_in_period(since, until).filter(staff=staff).values_list(*RESULT_COLUMNS)
    return result_from_rows(staff, rows)


def team_results(
    *,
    user,
    department: Department | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    staff: Staff | None = None,
) -> list[EmployeeResult]:
    """A result per employee judged in the departments where ``user`` holds VIEW_QUALITY
    (narrowed to ``department``'s subtree, or to one employee), by employee name: two queries
    whatever the size."""
    evaluations = _scored_in_period(since, until).filter(scope_q(user, perms.VIEW_QUALITY))
    if department is not None:
        evaluations = evaluations.filter(department__path__startswith=department.path)
    if staff is not None:
        evaluations = evaluations.filter(staff=staff)
    by_staff: defaultdict[int, list[ResultRow]] = defaultdict(list)
    for staff_id, *row in evaluations.values_list("staff_id", *RESULT_COLUMNS):
        by_staff[staff_id].append(tuple(row))
    staff = Staff.objects.filter(pk__in=list(by_staff)).select_related("department")
    results = [result_from_rows(member, by_staff[member.pk]) for member in staff]
    return sorted(results, key=lambda result: (result.staff.name, result.staff.employee_number))


def team_member_evaluations(*, user, staff: Staff) -> QuerySet:
    """One employee's scored evaluations in the departments where ``user`` holds VIEW_QUALITY,
    newest first."""
    return (
        Evaluation.objects.filter(scope_q(user, perms.VIEW_QUALITY))
        .filter(staff=staff, state__in=SCORED_STATES)
        .select_related(*EVALUATION_RELATED, "dispute")
        .order_by("-completed_at", "-pk")
    )
