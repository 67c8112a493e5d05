"""Periodic quality reviews (定期服务质量审查) of a department, their findings and the
rectification actions (整改) that follow: the writes (one transaction each, audited) and the
scoped reads, in one module beside ``services`` and ``selectors``.

The life of a review: planned (``review_plan``) → in progress (``review_compute``, again as
often as needed, and findings added by hand with ``finding_add``) → passed or failed
(``review_conclude``). A failed review emits ``review.failed`` once (dedupe key), naming the
department and the employees its findings name, for the discipline module to act on.
Rectifications: open → done (the owner, with a note) → verified, or not accepted (someone
other than the owner) and so open again for the owner. One is overdue while it is open or not
accepted after its due date.

How the score is computed (``review_compute``), from the facts of the review's period for the
department and every department below it:

- QA: the scored evaluations of the period's interactions (of the sampling plan, when the
  review names one): mean score (t interval) and pass rate (Wilson interval);
- surveys: the daily rollups of the period: CSAT, the share of 4–5 answers (Wilson interval);
- standards: deviations per 100 interactions from the interactions module.

    score = Σ wᵢ·cᵢ / Σ wᵢ over the components cᵢ that have data, where
    c_qa = QA mean score, c_csat = 100 × CSAT share, c_standards = max(0, 100 − deviations per
    100 interactions), and the weights w come from ``QUALITY_REVIEW_WEIGHTS`` (default
    qa 50, csat 30, standards 20). A component without data drops out and the others'
    weights are renormalised; with no data at all there is no score and no conclusion.

Proposed findings (source ``sample``, ``survey`` or ``standards``; by hand: ``manual``):

- QA pass rate under the review's threshold → serious;
- an evaluation auto-failed on a critical item → serious, one per employee, naming them;
- CSAT under ``QUALITY_REVIEW_CSAT_TARGET`` (default 80%) → moderate;
- a mandatory step or disclosure missed at least ``QUALITY_REVIEW_STEP_MISSED_PER_100`` times
  per 100 interactions (default 5) → moderate, naming the step;
- a spot-check sample too small to act on → minor.

Computing again replaces the proposed findings that no rectification refers to yet.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Q, QuerySet, Sum
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from servicecharter.accounts import permissions as perms
from servicecharter.accounts.models import User
from servicecharter.accounts.scoping import has_capability, scope_q
from servicecharter.core.audit import audit_record, audit_refusal
from servicecharter.core.events import emit
from servicecharter.interactions.choices import DeviationKind
from servicecharter.interactions.models import Deviation, Interaction
from servicecharter.org.models import Department
from servicecharter.quality import stats, survey_facts
from servicecharter.quality.choices import FindingSeverity, RectificationState, ReviewState
from servicecharter.quality.models import (
    Answer,
    Evaluation,
    Finding,
    QualityReview,
    Rectification,
    SamplingPlan,
)
from servicecharter.quality.selectors import SCORED_STATES, minimum_sample

DEFAULT_WEIGHTS = {"qa": 50, "csat": 30, "standards": 20}
DEFAULT_CSAT_TARGET = 80
DEFAULT_STEP_MISSED_PER_100 = 5
MANUAL = "manual"
PROPOSED_SOURCES = ("sample", "survey", "standards")
CONCLUDED = (ReviewState.PASSED, ReviewState.FAILED)
OPEN_RECTIFICATION = (RectificationState.OPEN, RectificationState.REJECTED)
MISSED_KINDS = (DeviationKind.MISSED_STEP, DeviationKind.MISSED_DISCLOSURE)


class ReviewRefused(ValidationError):
    """The review's or the rectification's state forbids the step (concluding twice, the
    owner verifying their own work). A ValidationError, so forms show it."""


def weights() -> dict[str, float]:
    configured = getattr(settings, "QUALITY_REVIEW_WEIGHTS", DEFAULT_WEIGHTS)
    return {key: float(configured.get(key, 0)) for key in DEFAULT_WEIGHTS}


def csat_target() -> float:
    return float(getattr(settings, "QUALITY_REVIEW_CSAT_TARGET", DEFAULT_CSAT_TARGET))


def step_missed_per_100() -> float:
    return float(
        getattr(settings, "QUALITY_REVIEW_STEP_MISSED_PER_100", DEFAULT_STEP_MISSED_PER_100)
    )


# =============================================================================================
# Reads
# =============================================================================================


def may_view(user, review: QualityReview) -> bool:
    return has_capability(user, perms.VIEW_QUALITY, review.department)


def may_manage(user, review: QualityReview) -> bool:
    return has_capability(user, perms.MANAGE_QUALITY, review.department)


def review_list_for_user(*, user) -> QuerySet:
    """The reviews of the departments where ``user`` holds VIEW_QUALITY, newest period first,
    with their open and overdue rectifications counted (one query)."""
    today = timezone.localdate()
    open_q = Q(findings__rectifications__state__in=OPEN_RECTIFICATION)
    return (
        QualityReview.objects.filter(scope_q(user, perms.VIEW_QUALITY))
        .select_related("department", "reviewer")
        .annotate(
            finding_count=Count("findings", distinct=True),
            open_count=Count("findings__rectifications", filter=open_q, distinct=True),
            overdue_count=Count(
                "findings__rectifications",
                filter=open_q & Q(findings__rectifications__due_on__lt=today),
                distinct=True,
            ),
        )
        .order_by("-period_start", "-pk")
    )


def review_get_for_user(*, user, pk: int) -> QualityReview:
    """One review the caller may read (VIEW_QUALITY for its department); 404 otherwise, and a
    guess at an existing one outside the scope is recorded."""
    queryset = QualityReview.objects.select_related("department", "reviewer", "plan")
    try:
        return queryset.filter(scope_q(user, perms.VIEW_QUALITY)).get(pk=pk)
    except QualityReview.DoesNotExist:
        if QualityReview.objects.filter(pk=pk).exists():
            audit_refusal(
                reason="out_of_scope",
                object_type="quality.qualityreview",
                object_id=str(pk),
                details={"capability": perms.VIEW_QUALITY},
            )
        raise Http404 from None


def review_findings(review: QualityReview) -> list[Finding]:
    """The findings, the most serious first, with their staff and rectifications (three
    queries)."""
    order = {FindingSeverity.SERIOUS: 0, FindingSeverity.MODERATE: 1, FindingSeverity.MINOR: 2}
    findings = review.findings.prefetch_related(
        "staff", "rectifications__owner", "rectifications__verified_by"
    )
    return sorted(findings, key=lambda finding: (order.get(finding.severity, 9), finding.pk))


def is_overdue(rectification: Rectification, today: date | None = None) -> bool:
    today = today or timezone.localdate()
    return rectification.state in OPEN_RECTIFICATION and rectification.due_on < today


def rectifications_of_owner(*, user) -> QuerySet:
    """The rectifications ``user`` owns, open ones first, then by due date (no capability
    needed: they were given to this person)."""
    return (
        Rectification.objects.filter(owner_id=user.pk)
        .select_related("finding__review__department")
        .order_by("state", "due_on", "pk")
    )


def overdue_rectifications(*, user) -> QuerySet:
    """Open (or not accepted) rectifications past their due date, of the departments where
    ``user`` holds VIEW_QUALITY, the longest overdue first."""
    return (
        Rectification.objects.filter(
            scope_q(user, perms.VIEW_QUALITY, "finding__review__department"),
            state__in=OPEN_RECTIFICATION,
            due_on__lt=timezone.localdate(),
        )
        .select_related("owner", "finding__review__department")
        .order_by("due_on", "pk")
    )


def rectification_get(*, pk: int) -> Rectification:
    """The rectification with its review (the services decide who may act on it)."""
    try:
        return Rectification.objects.select_related("finding__review__department", "owner").get(
            pk=pk
        )
    except Rectification.DoesNotExist:
        raise Http404 from None


def reviewer_candidates() -> QuerySet:
    """Active people who hold MANAGE_QUALITY somewhere (the service checks the department)."""
    roles = perms.roles_with(perms.MANAGE_QUALITY)
    return (
        User.objects.filter(is_active=True, role_grants__role__in=roles)
        .distinct()
        .order_by("username")
    )


# =============================================================================================
# Planning
# =============================================================================================


def _require_manager(actor, department: Department) -> None:
    if not has_capability(actor, perms.MANAGE_QUALITY, department):
        raise PermissionDenied


def _overlaps(a: Department, b: Department) -> bool:
    return a.path.startswith(b.path) or b.path.startswith(a.path)


@transaction.atomic
def review_plan(
    *,
    actor,
    department: Department,
    period_start: date,
    period_end: date,
    threshold: int,
    reviewer,
    plan: SamplingPlan | None = None,
) -> QualityReview:
    """Plan a review of ``department`` (and every department below it) for a period. The
    actor and the reviewer must both hold MANAGE_QUALITY for the department; the sampling
    plan, when given, must cover the department or lie inside it."""
    _require_manager(actor, department)
    errors = {}
    if period_start and period_end and period_end < period_start:
        errors["period_end"] = _("The period cannot end before it starts.")
    if threshold is None or not 0 <= threshold <= 100:
        errors["threshold"] = _("The threshold must be between 0 and 100.")
    if reviewer is None or not reviewer.is_active:
        errors["reviewer"] = _("Choose an active reviewer.")
    elif not has_capability(reviewer, perms.MANAGE_QUALITY, department):
        errors["reviewer"] = _("The reviewer must manage quality for this department.")
    if plan is not None and not _overlaps(plan.department, department):
        errors["plan"] = _("The sampling plan is of another department.")
    if errors:
        raise ValidationError(errors)
    review = QualityReview.objects.create(
        department=department,
        period_start=period_start,
        period_end=period_end,
        threshold=threshold,
        reviewer=reviewer,
        plan=plan,
    )
    audit_record(
        action="review.plan",
        obj=review,
        changes={
            "department": [None, department.code],
            "period": [None, f"{period_start}..{period_end}"],
            "threshold": [None, threshold],
            "reviewer": [None, reviewer.get_username()],
            "plan": [None, plan.pk if plan else None],
        },
    )
    return review


# =============================================================================================
# Computing the figures
# =============================================================================================


def _interval(interval: stats.Interval, scale: float = 1.0) -> dict:
    def scaled(value):  # unrounded: the score is computed from these; pages round
        return None if value is None else value * scale

    return {
        "estimate": scaled(interval.estimate),
        "low": scaled(interval.low),
        "high": scaled(interval.high),
        "n": interval.n,
        "reason": str(interval.reason),
    }


def _bounds(review: QualityReview) -> tuple[datetime, datetime]:
    """The period as aware datetimes: from the first day's midnight to the next midnight after
    the last day."""
    start = timezone.make_aware(datetime.combine(review.period_start, time.min))
    end = timezone.make_aware(datetime.combine(review.period_end + timedelta(days=1), time.min))
    return start, end


def _subtree_ids(department: Department) -> list[int]:
    return list(
        Department.objects.filter(path__startswith=department.path).values_list("pk", flat=True)
    )


@dataclass
class Proposal:
    severity: str
    source: str
    text: str
    staff_ids: tuple[int, ...] = ()


def _qa_facts(review: QualityReview, start: datetime, end: datetime) -> tuple[dict, list]:
    """The scored evaluations of the period's interactions in the subtree (of the plan when
    the review names one): one query for the scores, one for the failed critical items."""
    evaluations = Evaluation.objects.filter(
        state__in=SCORED_STATES,
        department__path__startswith=review.department.path,
        interaction__started_at__gte=start,
        interaction__started_at__lt=end,
    )
    if review.plan_id is not None:
        evaluations = evaluations.filter(plan_id=review.plan_id)
    rows = list(evaluations.values_list("score", "auto_failed", "scorecard_version__pass_mark"))
    scores = [float(score) for score, _failed, _mark in rows if score is not None]
    passed = sum(
        1 for score, failed, mark in rows if score is not None and not failed and score >= mark
    )
    adequacy = stats.sample_adequacy(len(scores), minimum_sample())
    qa = {
        "n": len(scores),
        "mean": _interval(stats.mean_interval(scores, bounds=(0.0, 100.0))),
        "pass_rate": _interval(stats.wilson_interval(passed, len(scores)), 100),
        "auto_fails": sum(1 for _score, failed, _mark in rows if failed),
        "adequate": adequacy.adequate,
        "minimum": adequacy.minimum,
    }
    failed_items = list(
        Answer.objects.filter(
            evaluation__in=evaluations.filter(auto_failed=True),
            criterion__critical=True,
            value=0,
        )
        .values_list("evaluation__staff_id", "evaluation__staff__name", "criterion__code")
        .order_by("evaluation__staff_id", "criterion__code")
    )
    return qa, failed_items


def _survey_facts(review: QualityReview, subtree: list[int]) -> dict:
    """The period's survey figures summed from the daily rollups (one query)."""
    tally = survey_facts.period_tally(subtree, review.period_start, review.period_end)
    return {
        "invited": tally.invited,
        "answered": tally.answered,
        "csat": _interval(tally.csat, 100),
        "nps": _interval(tally.nps),
        "adequate": tally.adequacy.adequate,
        "target": csat_target(),
    }


def _standards_facts(subtree: list[int], start: datetime, end: datetime) -> dict:
    """Interactions and their deviations in the period (two queries): deviations per 100
    interactions, the share of interactions with any deviation, and the missed steps."""
    counts = Interaction.objects.filter(
        department_id__in=subtree, started_at__gte=start, started_at__lt=end
    ).aggregate(
        n=Count("pk"),
        deviations=Sum("deviation_count"),
        with_deviation=Count("pk", filter=Q(deviation_count__gt=0)),
    )
    n, deviations = counts["n"] or 0, counts["deviations"] or 0
    missed = list(
        Deviation.objects.filter(
            department_id_at__in=subtree, at__gte=start, at__lt=end, kind__in=MISSED_KINDS
        )
        .values("kind", "step_code")
        .annotate(count=Count("pk"))
        .order_by("-count", "step_code")
    )
    return {
        "interactions": n,
        "deviations": deviations,
        "per_100": round(100 * deviations / n, 2) if n else None,
        "with_deviation": _interval(stats.wilson_interval(counts["with_deviation"] or 0, n), 100),
        "missed": [
            {
                "kind": row["kind"],
                "step": row["step_code"],
                "count": row["count"],
                "per_100": round(100 * row["count"] / n, 2) if n else None,
            }
            for row in missed
        ],
    }


def review_score(components: dict[str, float | None], weights_: dict[str, float]):
    """The weighted mean of the components that have data (see the module's docstring), or
    None when none has."""
    present = {key: value for key, value in components.items() if value is not None}
    total_weight = sum(weights_[key] for key in present)
    if not present or total_weight <= 0:
        return None
    return round(sum(weights_[key] * value for key, value in present.items()) / total_weight, 2)


def _components(qa: dict, survey: dict, standards: dict) -> dict[str, float | None]:
    csat = survey["csat"]["estimate"]
    per_100 = standards["per_100"]
    return {
        "qa": qa["mean"]["estimate"],
        "csat": csat,
        "standards": None if per_100 is None else max(0.0, 100 - per_100),
    }


def _proposals(review, qa, failed_items, survey, standards) -> list[Proposal]:
    proposals = []
    pass_rate = qa["pass_rate"]["estimate"]
    if pass_rate is not None and pass_rate < review.threshold:
        proposals.append(
            Proposal(
                FindingSeverity.SERIOUS,
                "sample",
                _(
                    "QA pass rate %(rate)s%% is under the threshold of %(threshold)s%% (%(n)s evaluations)."
                )
                % {"rate": f"{pass_rate:.1f}", "threshold": review.threshold, "n": qa["n"]},
            )
        )
    by_staff: dict[int, tuple[str, list[str]]] = {}
    for staff_id, name, code in failed_items:
        by_staff.setdefault(staff_id, (name, []))[1].append(code)
    for staff_id, (name, codes) in by_staff.items():
        proposals.append(
            Proposal(
                FindingSeverity.SERIOUS,
                "sample",
                _("%(name)s failed a critical item (%(items)s): the evaluation was auto-failed.")
                % {"name": name, "items": ", ".join(sorted(set(codes)))},
                (staff_id,),
            )
        )
    if qa["n"] and not qa["adequate"]:
        proposals.append(
            Proposal(
                FindingSeverity.MINOR,
                "sample",
                _(
                    "The spot-check sample (%(n)s evaluations) is too small to act on; %(minimum)s are needed."
                )
                % {"n": qa["n"], "minimum": qa["minimum"]},
            )
        )
    csat = survey["csat"]["estimate"]
    if csat is not None and csat < survey["target"]:
        proposals.append(
            Proposal(
                FindingSeverity.MODERATE,
                "survey",
                _("CSAT %(csat)s%% is under the target of %(target)s%% (%(n)s answers).")
                % {
                    "csat": f"{csat:.1f}",
                    "target": f"{survey['target']:g}",
                    "n": survey["csat"]["n"],
                },
            )
        )
    limit = step_missed_per_100()
    for row in standards["missed"]:
        if row["per_100"] is not None and row["per_100"] >= limit:
            proposals.append(
                Proposal(
                    FindingSeverity.MODERATE,
                    "standards",
                    _("Step “%(step)s” was missed %(count)s times (%(rate)s per 100 interactions).")
                    % {"step": row["step"], "count": row["count"], "rate": f"{row['per_100']:g}"},
                )
            )
    return proposals


def _lock_review(review: QualityReview) -> QualityReview:
    return (
        QualityReview.objects.select_for_update(of=("self",))
        .select_related("department")
        .get(pk=review.pk)
    )


def _require_open(review: QualityReview) -> None:
    if review.state in CONCLUDED:
        raise ReviewRefused(_("This review is concluded and no longer changes."))


def _replace_proposals(review: QualityReview, proposals: list[Proposal]) -> tuple[int, int]:
    """Drop the proposed findings no rectification refers to, add the new ones (those already
    kept because of a rectification are not added twice). Returns (removed, added)."""
    proposed = review.findings.filter(source__in=PROPOSED_SOURCES)
    kept = set(
        proposed.filter(rectifications__isnull=False).values_list("source", "text").distinct()
    )
    removed, _detail = proposed.exclude(rectifications__isnull=False).delete()
    new = [proposal for proposal in proposals if (proposal.source, proposal.text) not in kept]
    findings = Finding.objects.bulk_create(
        Finding(review=review, severity=p.severity, text=p.text, source=p.source) for p in new
    )
    Through = Finding.staff.through
    Through.objects.bulk_create(
        Through(finding_id=finding.pk, staff_id=staff_id)
        for finding, proposal in zip(findings, new, strict=True)
        for staff_id in proposal.staff_ids
    )
    added = len(findings)
    return removed, added


@transaction.atomic
def review_compute(*, actor, review: QualityReview) -> QualityReview:
    """Compute the review's figures and score from the period's facts (a fixed number of
    set-based queries whatever the size), store them with the formula and weights, and
    propose findings (see the module's docstring). Planned → in progress."""
    review = _lock_review(review)
    _require_manager(actor, review.department)
    _require_open(review)
    start, end = _bounds(review)
    subtree = _subtree_ids(review.department)
    qa, failed_items = _qa_facts(review, start, end)
    survey = _survey_facts(review, subtree)
    standards = _standards_facts(subtree, start, end)
    weights_ = weights()
    components = _components(qa, survey, standards)
    score = review_score(components, weights_)
    before = {"state": review.state, "score": None if review.score is None else str(review.score)}
    review.figures = {
        "computed_at": timezone.now().isoformat(),
        "weights": weights_,
        "components": components,
        "qa": qa,
        "survey": survey,
        "standards": standards,
    }
    review.score = score
    review.state = ReviewState.IN_PROGRESS
    review.save(update_fields=["figures", "score", "state", "updated_at"])
    removed, added = _replace_proposals(
        review, _proposals(review, qa, failed_items, survey, standards)
    )
    audit_record(
        action="review.compute",
        obj=review,
        changes={
            "state": [before["state"], review.state],
            "score": [before["score"], None if score is None else str(score)],
            "components": [None, components],
            "findings_removed": [None, removed],
            "findings_proposed": [None, added],
        },
    )
    return review


# =============================================================================================
# Findings and the conclusion
# =============================================================================================


@transaction.atomic
def finding_add(*, actor, review: QualityReview, severity: str, text: str, staff=()) -> Finding:
    """A finding by hand (source ``manual``), optionally naming employees of the department's
    subtree; only while the review is not concluded."""
    review = _lock_review(review)
    _require_manager(actor, review.department)
    _require_open(review)
    text = (text or "").strip()
    errors = {}
    if severity not in FindingSeverity.values:
        errors["severity"] = _("Select a valid severity.")
    if not text:
        errors["text"] = _("Describe the finding.")
    staff = list(staff)
    outside = [
        member for member in staff if not member.department.path.startswith(review.department.path)
    ]
    if outside:
        errors["staff"] = _("%(name)s does not work in the reviewed department.") % {
            "name": outside[0].name
        }
    if errors:
        raise ValidationError(errors)
    finding = Finding.objects.create(review=review, severity=severity, text=text, source=MANUAL)
    finding.staff.set(staff)
    audit_record(
        action="review.finding_add",
        obj=review,
        changes={
            "finding": [None, finding.pk],
            "severity": [None, severity],
            "text": [None, text],
            "staff": [None, [member.pk for member in staff]],
        },
    )
    return finding


def _failed_payload(review: QualityReview) -> dict:
    findings = list(review.findings.prefetch_related("staff").order_by("pk"))
    staff_ids = sorted({member.pk for finding in findings for member in finding.staff.all()})
    return {
        "review_id": review.pk,
        "department_id": review.department_id,
        "department_code": review.department.code,
        "period_start": review.period_start.isoformat(),
        "period_end": review.period_end.isoformat(),
        "score": str(review.score),
        "threshold": review.threshold,
        "staff_ids": staff_ids,
        "findings": [
            {
                "id": finding.pk,
                "severity": finding.severity,
                "text": finding.text,
                "staff_ids": sorted(member.pk for member in finding.staff.all()),
            }
            for finding in findings
        ],
    }


@transaction.atomic
def review_conclude(*, actor, review: QualityReview) -> QualityReview:
    """Passed when the computed score reaches the threshold, failed otherwise. A failed
    review emits ``review.failed`` (once: dedupe key) naming the department and the staff its
    findings name. The figures are frozen from then on."""
    review = _lock_review(review)
    _require_manager(actor, review.department)
    _require_open(review)
    if review.state != ReviewState.IN_PROGRESS or review.score is None:
        raise ReviewRefused(
            _("Compute the review's figures first: there is no score to judge yet.")
        )
    before = review.state
    passed = review.score >= review.threshold
    review.state = ReviewState.PASSED if passed else ReviewState.FAILED
    review.concluded_at = timezone.now()
    review.save(update_fields=["state", "concluded_at", "updated_at"])
    audit_record(
        action="review.conclude",
        obj=review,
        changes={
            "state": [before, review.state],
            "score": [None, str(review.score)],
            "threshold": [None, review.threshold],
        },
    )
    if not passed:
        emit("review.failed", _failed_payload(review), dedupe_key=f"review.failed:{review.pk}")
    return review


# =============================================================================================
# Rectification (整改)
# =============================================================================================


def _lock_rectification(rectification: Rectification) -> Rectification:
    return (
        Rectification.objects.select_for_update(of=("self",))
        .select_related("finding__review__department")
        .get(pk=rectification.pk)
    )


@transaction.atomic
def rectification_add(
    *, actor, finding: Finding, action: str, owner, due_on: date
) -> Rectification:
    """A rectification action for a finding, with an owner (an active user) and a due date
    not in the past."""
    review = finding.review
    _require_manager(actor, review.department)
    action = (action or "").strip()
    errors = {}
    if not action:
        errors["action"] = _("Say what is to be done.")
    if owner is None or not owner.is_active:
        errors["owner"] = _("Choose an active owner.")
    if due_on is None:
        errors["due_on"] = _("Give a due date.")
    elif due_on < timezone.localdate():
        errors["due_on"] = _("The due date cannot be in the past.")
    if errors:
        raise ValidationError(errors)
    rectification = Rectification.objects.create(
        finding=finding, action=action, owner=owner, due_on=due_on
    )
    audit_record(
        action="rectification.add",
        obj=rectification,
        changes={
            "review": [None, review.pk],
            "finding": [None, finding.pk],
            "action": [None, action],
            "owner": [None, owner.get_username()],
            "due_on": [None, due_on.isoformat()],
        },
    )
    return rectification


@transaction.atomic
def rectification_done(*, actor, rectification: Rectification, note: str) -> Rectification:
    """The owner says what was done; someone else verifies it."""
    rectification = _lock_rectification(rectification)
    if rectification.owner_id != actor.pk:
        raise PermissionDenied
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": _("Say what was done.")})
    if rectification.state not in OPEN_RECTIFICATION:
        raise ReviewRefused(_("This rectification is not open."))
    before = rectification.state
    rectification.state = RectificationState.DONE
    rectification.done_note = note
    rectification.save(update_fields=["state", "done_note", "updated_at"])
    audit_record(
        action="rectification.done",
        obj=rectification,
        changes={"state": [before, RectificationState.DONE], "note": [None, note]},
    )
    return rectification


@transaction.atomic
def rectification_verify(
    *, actor, rectification: Rectification, accepted: bool, note: str = ""
) -> Rectification:
    """Someone other than the owner, managing quality for the department, accepts the work
    (verified) or does not (not accepted: open again for the owner, with the reason)."""
    rectification = _lock_rectification(rectification)
    _require_manager(actor, rectification.finding.review.department)
    if rectification.owner_id == actor.pk:
        raise ReviewRefused(_("The owner of a rectification cannot verify it: someone else must."))
    if rectification.state != RectificationState.DONE:
        raise ReviewRefused(_("Only a rectification marked done is verified."))
    note = (note or "").strip()
    if not accepted and not note:
        raise ValidationError({"note": _("Tell the owner why the work is not accepted.")})
    rectification.state = RectificationState.VERIFIED if accepted else RectificationState.REJECTED
    rectification.verified_by = actor if accepted else None
    rectification.verified_at = timezone.now() if accepted else None
    rectification.verification_note = note
    rectification.save(
        update_fields=["state", "verified_by", "verified_at", "verification_note", "updated_at"]
    )
    audit_record(
        action="rectification.verify",
        obj=rectification,
        changes={
            "state": [RectificationState.DONE, rectification.state],
            "accepted": [None, accepted],
            "note": [None, note],
        },
    )
    return rectification
