"""Calibration sessions: several auditors score the same 3–5 interactions on one scorecard
version, blind, and the agreement between them is measured when the session closes.

Blind means an auditor sees only their own scores while the session is open; nobody (not the
manager who runs it either) sees anyone's values until it closes. Then ``calibration_results``
computes, with ``stats``:

- per criterion, Krippendorff's alpha — ordinal for the 1–5 scales (2 vs 3 is a smaller miss
  than 1 vs 5), nominal for yes/no — and the exact agreement (within one point too, on 1–5);
- overall, alpha over every criterion of every interaction, each answer as the share of the
  criterion met (yes/no → 0 or 1, 1–5 → 0, ¼, ½, ¾, 1), ordinal: for the two values of a yes/no
  item every level of measurement gives the same alpha, so one ordinal alpha covers both;
- each auditor's bias against the consensus (the median of the *other* auditors), in scale
  points on the 1–5 criteria, and their agreement with that consensus (alpha, as overall).

An auditor is flagged when their bias is beyond the session's bias tolerance either way, or
their agreement with the consensus is below its alpha tolerance. "Not applicable" counts as no
answer: it is left out of the comparison.

Reads (the selectors, with the permission check inside) are at the end of this module.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from statistics import median

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from servicecharter.accounts import permissions as perms
from servicecharter.accounts.models import User
from servicecharter.accounts.scoping import has_capability, scope_paths
from servicecharter.core.audit import audit_record, audit_refusal
from servicecharter.core.events import emit
from servicecharter.interactions.models import Interaction
from servicecharter.org.models import Department
from servicecharter.quality import stats
from servicecharter.quality.choices import Scale, ScorecardState
from servicecharter.quality.models import (
    CalibrationScore,
    CalibrationSession,
    Criterion,
    ScorecardVersion,
)

MIN_INTERACTIONS, MAX_INTERACTIONS = 3, 5
MIN_AUDITORS = 2
MAX_BIAS_TOLERANCE = Decimal(4)  # the whole width of a 1–5 scale


# ---------------------------------------------------------------------------------------------
# Writes
# ---------------------------------------------------------------------------------------------


def criteria_of(version: ScorecardVersion) -> list[Criterion]:
    """The version's criteria in the order the scorecard shows them."""
    return list(
        Criterion.objects.filter(section__version=version)
        .select_related("section")
        .order_by("section__order", "order", "pk")
    )


def _departments_in_scope(user, capability: str) -> list[int]:
    ids: list[int] = []
    for root in scope_paths(user, capability):
        ids.extend(Department.objects.filter(path__startswith=root).values_list("pk", flat=True))
    return ids


def _check_interactions(actor, interactions: list[Interaction]) -> dict:
    if not MIN_INTERACTIONS <= len(interactions) <= MAX_INTERACTIONS:
        return {
            "interactions": _("Choose from %(min)s to %(max)s different interactions.")
            % {"min": MIN_INTERACTIONS, "max": MAX_INTERACTIONS}
        }
    in_scope = set(_departments_in_scope(actor, perms.MANAGE_QUALITY))
    outside = [str(i.pk) for i in interactions if i.department_id not in in_scope]
    if outside:
        # Said like an unknown id, so ids outside the scope cannot be probed.
        return {
            "interactions": _("No interaction %(ids)s among those you manage.")
            % {"ids": ", ".join(outside)}
        }
    return {}


def _check_auditors(auditors: list[User], interactions: list[Interaction]) -> dict:
    if len(auditors) < MIN_AUDITORS:
        return {
            "auditors": _("Choose at least %(min)s auditors: agreement needs two.")
            % {"min": MIN_AUDITORS}
        }
    departments = {i.department_id: i.department for i in interactions}
    outside = sorted(
        auditor.get_username()
        for auditor in auditors
        if not all(
            has_capability(auditor, perms.EVALUATE, department)
            for department in departments.values()
        )
    )
    if outside:
        return {
            "auditors": _("These people cannot evaluate all of these interactions: %(names)s.")
            % {"names": ", ".join(outside)}
        }
    return {}


def _check_tolerances(alpha_tolerance: Decimal, bias_tolerance: Decimal) -> dict:
    errors = {}
    if not Decimal(0) <= alpha_tolerance <= Decimal(1):
        errors["alpha_tolerance"] = _("The agreement tolerance must be between 0 and 1.")
    if not Decimal(0) <= bias_tolerance <= MAX_BIAS_TOLERANCE:
        errors["bias_tolerance"] = _("The bias tolerance must be between 0 and 4 points.")
    return errors


@transaction.atomic
def calibration_session_create(
    *,
    actor,
    name: str,
    scorecard_version: ScorecardVersion,
    interactions: Iterable[Interaction],
    auditors: Iterable[User],
    alpha_tolerance: Decimal = Decimal("0.800"),
    bias_tolerance: Decimal = Decimal("0.50"),
) -> CalibrationSession:
    """A session of 3–5 interactions the actor manages, scored by two or more auditors who may
    each evaluate all of them."""
    if not has_capability(actor, perms.MANAGE_QUALITY):
        raise PermissionDenied
    interactions = sorted({i.pk: i for i in interactions}.values(), key=lambda i: i.pk)
    auditors = sorted(set(auditors), key=lambda user: user.pk)
    errors = {
        **_check_interactions(actor, interactions),
        **_check_tolerances(Decimal(alpha_tolerance), Decimal(bias_tolerance)),
    }
    if "interactions" not in errors:
        errors.update(_check_auditors(auditors, interactions))
    if scorecard_version.state != ScorecardState.ACTIVE:
        errors["scorecard_version"] = _("Choose a scorecard version that is in use.")
    elif not criteria_of(scorecard_version):
        errors["scorecard_version"] = _("This scorecard version has no criteria.")
    if not name.strip():
        errors["name"] = _("Give the session a name.")
    if errors:
        raise ValidationError(errors)
    session = CalibrationSession.objects.create(
        name=name.strip(),
        scorecard_version=scorecard_version,
        alpha_tolerance=alpha_tolerance,
        bias_tolerance=bias_tolerance,
        created_by=actor,
    )
    session.interactions.set(interactions)
    session.auditors.set(auditors)
    audit_record(
        action="calibration.create",
        obj=session,
        changes={
            "scorecard_version": [None, scorecard_version.pk],
            "interactions": [None, [i.pk for i in interactions]],
            "auditors": [None, [auditor.pk for auditor in auditors]],
            "alpha_tolerance": [None, str(alpha_tolerance)],
            "bias_tolerance": [None, str(bias_tolerance)],
        },
    )
    return session


def _check_value(criterion: Criterion, value) -> str | None:
    if value is None:
        return None
    whole = isinstance(value, int) and not isinstance(value, bool)
    if criterion.scale == Scale.YES_NO:
        if whole and value in (stats.YES, stats.NO):
            return None
        return _("%(code)s: answer yes, no or not applicable.") % {"code": criterion.code}
    if whole and 1 <= value <= 5:
        return None
    return _("%(code)s: answer from 1 to 5, or not applicable.") % {"code": criterion.code}


def _lock_open(session: CalibrationSession) -> CalibrationSession:
    session = CalibrationSession.objects.select_for_update().get(pk=session.pk)
    if session.closed_at is not None:
        raise ValidationError(_("This session is closed: its scores can no longer change."))
    return session


@transaction.atomic
def calibration_score_submit(
    *,
    actor,
    session: CalibrationSession,
    interaction: Interaction,
    answers: Mapping[int, int | None],
) -> list[CalibrationScore]:
    """The actor's answers to every criterion for one interaction of the session (criterion id
    → value; None = not applicable). Replaces the actor's earlier answers for it; nobody
    else's are read or touched."""
    if not session.auditors.filter(pk=actor.pk).exists():
        raise PermissionDenied
    session = _lock_open(session)
    if not session.interactions.filter(pk=interaction.pk).exists():
        raise ValidationError(_("This interaction is not part of the session."))
    criteria = criteria_of(session.scorecard_version)
    missing = [c.code for c in criteria if c.pk not in answers]
    unknown = set(answers) - {c.pk for c in criteria}
    errors = [_check_value(c, answers[c.pk]) for c in criteria if c.pk in answers]
    errors = [error for error in errors if error]
    if missing:
        errors.append(
            _("Every criterion needs an answer; missing: %(codes)s.")
            % {"codes": ", ".join(missing)}
        )
    if unknown:
        errors.append(_("Answers to criteria not on this scorecard."))
    if errors:
        raise ValidationError(errors)
    CalibrationScore.objects.filter(
        session=session, auditor=actor, interaction=interaction
    ).delete()
    scores = CalibrationScore.objects.bulk_create(
        [
            CalibrationScore(
                session=session,
                auditor=actor,
                interaction=interaction,
                criterion=criterion,
                value=answers[criterion.pk],
            )
            for criterion in criteria
        ]
    )
    # The values stay out of the audit trail until the session closes: it would unblind them.
    audit_record(
        action="calibration.score",
        obj=session,
        changes={"interaction": interaction.pk, "answers": len(scores)},
    )
    return scores


@transaction.atomic
def calibration_session_close(*, actor, session: CalibrationSession) -> CalibrationResults:
    """Close the session (scores are final, everyone's become visible) and compute the
    agreement. Refused while fewer than two auditors have scored anything."""
    if not can_manage_session(actor, session):
        raise PermissionDenied
    session = _lock_open(session)
    scorers = (
        CalibrationScore.objects.filter(session=session).values("auditor_id").distinct().count()
    )
    if scorers < MIN_AUDITORS:
        raise ValidationError(
            _("At least two auditors must have scored before the session can close.")
        )
    session.closed_at = timezone.now()
    session.save(update_fields=["closed_at", "updated_at"])
    results = calibration_results(session)
    flagged = [auditor.user.pk for auditor in results.auditors if auditor.flagged]
    overall = results.overall.alpha
    audit_record(
        action="calibration.close",
        obj=session,
        changes={
            "alpha": None if overall is None else round(overall, 4),
            "flagged_auditors": flagged,
        },
    )
    emit(
        "calibration.closed",
        {
            "session_id": session.pk,
            "alpha": None if overall is None else round(overall, 4),
            "flagged_auditor_ids": flagged,
        },
    )
    return results


# ---------------------------------------------------------------------------------------------
# The results (computed from the stored scores with ``stats``; nothing stored)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CriterionResult:
    criterion: Criterion
    level: stats.Level
    alpha: stats.AlphaResult
    agreement: stats.CriterionAgreement


@dataclass
class AuditorResult:
    user: User
    answered: int  # answers given (not applicable included)
    bias: stats.CoderBias | None  # None when the scorecard has no 1–5 criterion
    alpha: stats.AlphaResult  # against the consensus of the others
    flagged: bool = False
    reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CalibrationResults:
    session: CalibrationSession
    criteria: list[CriterionResult]
    overall: stats.AlphaResult
    auditors: list[AuditorResult]

    @property
    def overall_below_tolerance(self) -> bool:
        alpha = self.overall.alpha
        return alpha is not None and alpha < float(self.session.alpha_tolerance)

    def chart_bias(self) -> dict:
        rows = [a for a in self.auditors if a.bias is not None and a.bias.bias is not None]
        return {
            "labels": [a.user.get_username() for a in rows],
            "values": [round(a.bias.bias, 2) for a in rows],
            "minInterval": 0,
        }

    def chart_agreement(self) -> dict:
        rows = [c for c in self.criteria if c.agreement.exact is not None]
        return {
            "labels": [c.criterion.code for c in rows],
            "values": [round(100 * c.agreement.exact, 1) for c in rows],
        }


def _fraction(criterion: Criterion, value: int) -> float:
    return float(stats.criterion_fraction(Scale(criterion.scale), value))


def calibration_results(session: CalibrationSession) -> CalibrationResults:
    """Agreement per criterion and overall, and each auditor against the consensus, from the
    session's scores: one query for the scores, one each for criteria, auditors, interactions."""
    criteria = criteria_of(session.scorecard_version)
    auditors = list(session.auditors.order_by("username", "pk"))
    interactions = list(session.interactions.order_by("pk").values_list("pk", flat=True))
    values: dict[tuple[int, int, int], int | None] = {}
    answered: dict[int, int] = dict.fromkeys((a.pk for a in auditors), 0)
    for auditor_id, interaction_id, criterion_id, value in CalibrationScore.objects.filter(
        session=session
    ).values_list("auditor_id", "interaction_id", "criterion_id", "value"):
        values[(auditor_id, interaction_id, criterion_id)] = value
        answered[auditor_id] = answered.get(auditor_id, 0) + 1

    def row(auditor: User, units: list[tuple[int, Criterion]], as_fraction: bool) -> list:
        out = []
        for interaction_id, criterion in units:
            value = values.get((auditor.pk, interaction_id, criterion.pk))
            if value is not None and as_fraction:
                value = _fraction(criterion, value)
            out.append(value)
        return out

    per_criterion = []
    for criterion in criteria:
        units = [(i, criterion) for i in interactions]
        data = {a.pk: row(a, units, as_fraction=False) for a in auditors}
        ordinal = criterion.scale == Scale.ONE_TO_FIVE
        level = stats.Level.ORDINAL if ordinal else stats.Level.NOMINAL
        per_criterion.append(
            CriterionResult(
                criterion,
                level,
                stats.krippendorff_alpha(data, level),
                stats.criterion_agreement(data, within_one=ordinal),
            )
        )
    all_units = [(i, c) for i in interactions for c in criteria]
    fractions = {a.pk: row(a, all_units, as_fraction=True) for a in auditors}
    overall = stats.krippendorff_alpha(fractions, stats.Level.ORDINAL)
    return CalibrationResults(
        session,
        per_criterion,
        overall,
        _auditor_results(session, auditors, answered, fractions, criteria, interactions, row),
    )


def _consensus_of_others(fractions: dict[int, list], auditor_id: int) -> list:
    others = [row for other, row in fractions.items() if other != auditor_id]
    consensus = []
    for unit in zip(*others, strict=True) if others else ():
        given = [value for value in unit if value is not None]
        consensus.append(median(given) if given else None)
    return consensus


def _auditor_results(session, auditors, answered, fractions, criteria, interactions, row):
    scaled = [(i, c) for i in interactions for c in criteria if c.scale == Scale.ONE_TO_FIVE]
    biases = {}
    if scaled:
        points = {a.pk: row(a, scaled, as_fraction=False) for a in auditors}
        tolerance = float(session.bias_tolerance)
        biases = {b.coder: b for b in stats.coder_bias(points, tolerance=tolerance)}
    results = []
    for auditor in auditors:
        consensus = _consensus_of_others(fractions, auditor.pk)
        alpha = stats.krippendorff_alpha(
            {"auditor": fractions[auditor.pk], "consensus": consensus}, stats.Level.ORDINAL
        )
        result = AuditorResult(auditor, answered.get(auditor.pk, 0), biases.get(auditor.pk), alpha)
        _flag(result, session)
        results.append(result)
    return results


def _flag(result: AuditorResult, session: CalibrationSession) -> None:
    if result.bias is not None and result.bias.flagged:
        direction = _("kinder") if result.bias.bias > 0 else _("harsher")
        result.reasons.append(
            _("%(points)s points %(direction)s than the others on average (tolerance %(tol)s).")
            % {
                "points": f"{abs(result.bias.bias):.2f}",
                "direction": direction,
                "tol": session.bias_tolerance,
            }
        )
    alpha = result.alpha.alpha
    if alpha is not None and alpha < float(session.alpha_tolerance):
        result.reasons.append(
            _("Agreement with the others %(alpha)s, below the tolerance %(tol)s.")
            % {"alpha": f"{alpha:.3f}", "tol": session.alpha_tolerance}
        )
    result.flagged = bool(result.reasons)


# ---------------------------------------------------------------------------------------------
# Reads (selectors): the permission check is inside
# ---------------------------------------------------------------------------------------------


def _managed(user) -> QuerySet:
    """Sessions every interaction of which lies in the caller's MANAGE_QUALITY scope."""
    if not has_capability(user, perms.MANAGE_QUALITY):
        return CalibrationSession.objects.none()
    outside = Department.objects.exclude(pk__in=_departments_in_scope(user, perms.MANAGE_QUALITY))
    return CalibrationSession.objects.exclude(interactions__department__in=outside)


def can_manage_session(user, session: CalibrationSession) -> bool:
    return _managed(user).filter(pk=session.pk).exists()


def is_session_auditor(user, session: CalibrationSession) -> bool:
    return session.auditors.filter(pk=user.pk).exists()


def calibration_session_list_for_user(*, user) -> QuerySet:
    """Sessions the caller scores in or manages, newest first, with their sizes."""
    scoring = CalibrationSession.auditors.through.objects.filter(user_id=user.pk).values(
        "calibrationsession_id"
    )
    return (
        CalibrationSession.objects.filter(Q(pk__in=scoring) | Q(pk__in=_managed(user).values("pk")))
        .select_related("scorecard_version__scorecard")
        .annotate(
            interaction_count=Count("interactions", distinct=True),
            auditor_count=Count("auditors", distinct=True),
        )
        .order_by("-created_at", "-pk")
    )


def calibration_session_get_for_user(*, user, pk: int, action: str = "view") -> CalibrationSession:
    """One session: ``score`` for its auditors, ``manage`` for whoever manages all of its
    interactions, ``view`` for either. Anyone else gets 404, as if it did not exist."""
    session = (
        CalibrationSession.objects.select_related("scorecard_version__scorecard", "created_by")
        .filter(pk=pk)
        .first()
    )
    if session is not None:
        scoring = is_session_auditor(user, session)
        managing = can_manage_session(user, session)
        allowed = {"score": scoring, "manage": managing, "view": scoring or managing}[action]
        if allowed:
            return session
        audit_refusal(
            reason="out_of_scope",
            object_type="quality.calibrationsession",
            object_id=str(pk),
            details={"action": action},
        )
    raise Http404


def my_calibration_scores(session: CalibrationSession, user) -> dict[tuple[int, int], int | None]:
    """The caller's own answers: (interaction id, criterion id) → value. Never anyone else's."""
    return {
        (interaction_id, criterion_id): value
        for interaction_id, criterion_id, value in CalibrationScore.objects.filter(
            session=session, auditor=user
        ).values_list("interaction_id", "criterion_id", "value")
    }


def calibration_progress(session: CalibrationSession) -> dict[int, int]:
    """Per auditor, how many interactions they have scored: counts only, no values, so the
    manager can chase the late without unblinding anyone."""
    return dict(
        CalibrationScore.objects.filter(session=session)
        .values("auditor_id")
        .annotate(n=Count("interaction_id", distinct=True))
        .values_list("auditor_id", "n")
    )
