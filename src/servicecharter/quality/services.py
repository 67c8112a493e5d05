"""Writes of the quality module, one transaction each, audited; facts other modules act on
leave as domain events stored in the same transaction.

The file is kept in blocks, one per concern, each under its own heading; a block is written
by one team and others append theirs at the end:

- Scorecards: create, draft a version (a copy of the latest), edit a draft, activate.
- Evaluations: assign, submit, acknowledge, dispute, decide a dispute.
- (sampling plans and calibration; periodic reviews: appended below by their authors)
"""

# =============================================================================================
# Scorecards and evaluations
# =============================================================================================
#
# Scorecards. A scorecard has numbered versions. Only a draft is edited; activating it puts it
# in use and retires the version in use before it. A version in use (or retired) is never
# edited: "editing" it drafts a new version copied from it (``scorecard_version_edit``), so an
# evaluation always keeps the criteria and weights it was scored on. Whether a version can be
# scored at all is decided by ``stats`` (``selectors.version_scorecard``), not here.
#
# Evaluations. assigned → completed (scored) → acknowledged and/or disputed → upheld (the
# score stands) or revised (another auditor re-scored it). The total and the auto-fail come
# from ``stats.score_scorecard``. Completing (and revising) emits ``evaluation.completed`` and,
# when a critical item was answered "no", ``evaluation.auto_failed``; the employee is told.
# Auditors never score, nor decide disputes about, their own interactions.

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import NamedTuple

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from servicecharter.accounts import permissions as perms
from servicecharter.accounts.models import User
from servicecharter.accounts.scoping import scope_paths
from servicecharter.core.audit import audit_record
from servicecharter.core.events import emit
from servicecharter.core.notifications import notify, register_kind
from servicecharter.interactions.models import Interaction
from servicecharter.quality import selectors, stats
from servicecharter.quality.choices import (
    CriterionCategory,
    EvaluationState,
    SampleReason,
    Scale,
    ScorecardState,
)
from servicecharter.quality.models import (
    Answer,
    Criterion,
    Dispute,
    Evaluation,
    Scorecard,
    ScorecardVersion,
    Section,
)

register_kind("quality.evaluation_completed", gettext_lazy("An evaluation of my work is ready"))
register_kind("quality.dispute_decided", gettext_lazy("My dispute of an evaluation is decided"))

CODE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
CRITERION_FIELDS = ("code", "text_en", "text_zh", "weight", "scale", "category", "critical")
SECTION_FIELDS = ("name_en", "name_zh", "weight")


class EvaluationRefused(ValidationError):
    """The evaluation's state or the process forbids the step (scoring twice, disputing after
    the window, the scorer deciding their own dispute). A ValidationError, so forms show it;
    the API answers 409 with code ``evaluation_refused``."""


# Scorecards ----------------------------------------------------------------------------------


def _require_scorecard_manager(actor) -> None:
    if not selectors.can_manage_scorecards(actor):
        raise PermissionDenied


def _lock_version(version: ScorecardVersion) -> ScorecardVersion:
    """The version re-read under a lock: two editors never change or activate it at once."""
    return (
        ScorecardVersion.objects.select_for_update().select_related("scorecard").get(pk=version.pk)
    )


def _require_draft(version: ScorecardVersion) -> None:
    if version.state != ScorecardState.DRAFT:
        raise ValidationError(
            _("Version %(number)s is in use or retired and is never edited: edit a new draft.")
            % {"number": version.number}
        )


def _check_pass_mark(pass_mark) -> None:
    if pass_mark is None or not 0 <= pass_mark <= 100:
        raise ValidationError({"pass_mark": _("The pass mark must be between 0 and 100.")})


@transaction.atomic
def scorecard_create(
    *, actor, code: str, name_en: str, name_zh: str, pass_mark: int = 80
) -> Scorecard:
    """A new scorecard and its first, empty draft (version 1)."""
    _require_scorecard_manager(actor)
    code = code.strip().upper()
    if Scorecard.objects.filter(code=code).exists():
        raise ValidationError({"code": _("Another scorecard has this code.")})
    _check_pass_mark(pass_mark)
    scorecard = Scorecard(code=code, name_en=name_en.strip(), name_zh=name_zh.strip())
    scorecard.full_clean()
    scorecard.save()
    ScorecardVersion.objects.create(scorecard=scorecard, number=1, pass_mark=pass_mark)
    audit_record(
        action="scorecard.create",
        obj=scorecard,
        changes={"code": [None, code], "name_en": [None, name_en], "pass_mark": [None, pass_mark]},
    )
    return scorecard


@transaction.atomic
def scorecard_update(*, actor, scorecard: Scorecard, name_en: str, name_zh: str) -> Scorecard:
    """The names; what is scored lives in the versions."""
    _require_scorecard_manager(actor)
    scorecard = Scorecard.objects.select_for_update().get(pk=scorecard.pk)
    changes = {
        name: [getattr(scorecard, name), value.strip()]
        for name, value in (("name_en", name_en), ("name_zh", name_zh))
        if getattr(scorecard, name) != value.strip()
    }
    for name, (_before, after) in changes.items():
        setattr(scorecard, name, after)
    scorecard.full_clean()
    if changes:
        scorecard.save(update_fields=[*changes, "updated_at"])
        audit_record(action="scorecard.update", obj=scorecard, changes=changes)
    return scorecard


def _source_version(scorecard: Scorecard) -> ScorecardVersion | None:
    """The version a new draft copies: the one in use, else the newest."""
    versions = scorecard.versions.exclude(state=ScorecardState.DRAFT)
    return (
        versions.filter(state=ScorecardState.ACTIVE).first() or versions.order_by("-number").first()
    )


def _copy_contents(source: ScorecardVersion, draft: ScorecardVersion) -> None:
    for section in source.sections.order_by("order", "pk").prefetch_related("criteria"):
        copy = Section.objects.create(
            version=draft, order=section.order, **{n: getattr(section, n) for n in SECTION_FIELDS}
        )
        Criterion.objects.bulk_create(
            Criterion(
                section=copy,
                order=criterion.order,
                **{name: getattr(criterion, name) for name in CRITERION_FIELDS},
            )
            for criterion in sorted(section.criteria.all(), key=lambda c: (c.order, c.pk))
        )


@transaction.atomic
def scorecard_version_draft(*, actor, scorecard: Scorecard) -> ScorecardVersion:
    """The scorecard's draft: the one being written, or a new version copied from the one in
    use (its pass mark, sections and criteria)."""
    _require_scorecard_manager(actor)
    scorecard = Scorecard.objects.select_for_update().get(pk=scorecard.pk)
    draft = scorecard.versions.filter(state=ScorecardState.DRAFT).first()
    if draft is not None:
        return draft
    source = _source_version(scorecard)
    number = (scorecard.versions.aggregate(top=Max("number"))["top"] or 0) + 1
    draft = ScorecardVersion.objects.create(
        scorecard=scorecard, number=number, pass_mark=source.pass_mark if source else 80
    )
    if source is not None:
        _copy_contents(source, draft)
    audit_record(
        action="scorecard.draft",
        obj=draft,
        changes={
            "number": [None, number],
            "copied_from": [None, source.number if source else None],
        },
    )
    return draft


def scorecard_version_edit(*, actor, version: ScorecardVersion) -> ScorecardVersion:
    """The version to make changes in: a draft itself; a version in use or retired — which
    may have scored evaluations — is never changed: a new draft copied from it instead."""
    if version.state == ScorecardState.DRAFT:
        _require_scorecard_manager(actor)
        return version
    return scorecard_version_draft(actor=actor, scorecard=version.scorecard)


@transaction.atomic
def scorecard_version_update(
    *, actor, version: ScorecardVersion, pass_mark: int
) -> ScorecardVersion:
    _require_scorecard_manager(actor)
    version = _lock_version(version)
    _require_draft(version)
    _check_pass_mark(pass_mark)
    if version.pass_mark != pass_mark:
        audit_record(
            action="scorecard.version_update",
            obj=version,
            changes={"pass_mark": [version.pass_mark, pass_mark]},
        )
        version.pass_mark = pass_mark
        version.save(update_fields=["pass_mark", "updated_at"])
    return version


def _check_weight(weight, what: str) -> None:
    """The statistics module decides what a valid weight is."""
    try:
        stats.Section(key=what, weight=weight, criteria=(stats.Criterion(what, 1, Scale.YES_NO),))
    except stats.ScorecardError as error:
        raise ValidationError({"weight": str(error)}) from None


@transaction.atomic
def section_add(*, actor, version: ScorecardVersion, name_en: str, name_zh: str, weight) -> Section:
    """A section at the end of the draft's sections."""
    _require_scorecard_manager(actor)
    version = _lock_version(version)
    _require_draft(version)
    _check_weight(weight, name_en)
    order = (version.sections.aggregate(top=Max("order"))["top"] or 0) + 1
    section = Section(version=version, order=order, name_en=name_en, name_zh=name_zh, weight=weight)
    section.full_clean()
    section.save()
    audit_record(
        action="scorecard.section_add",
        obj=version,
        changes={"section": [None, name_en], "weight": [None, str(weight)]},
    )
    return section


@transaction.atomic
def section_update(*, actor, section: Section, name_en: str, name_zh: str, weight) -> Section:
    _require_scorecard_manager(actor)
    version = _lock_version(section.version)
    _require_draft(version)
    _check_weight(weight, name_en)
    section = Section.objects.get(pk=section.pk)
    values = {"name_en": name_en, "name_zh": name_zh, "weight": weight}
    changes = {
        name: [str(getattr(section, name)), str(value)]
        for name, value in values.items()
        if getattr(section, name) != value
    }
    for name, value in values.items():
        setattr(section, name, value)
    section.full_clean()
    section.save()
    if changes:
        audit_record(action="scorecard.section_update", obj=version, changes=changes)
    return section


@transaction.atomic
def section_remove(*, actor, section: Section) -> None:
    """Remove a draft's section with its criteria."""
    _require_scorecard_manager(actor)
    version = _lock_version(section.version)
    _require_draft(version)
    name = section.name_en
    Section.objects.filter(pk=section.pk).delete()
    audit_record(action="scorecard.section_remove", obj=version, changes={"section": [name, None]})


def _clean_criterion(
    version: ScorecardVersion, values: dict, *, exclude: int | None = None
) -> dict:
    """Check one criterion's fields; the statistics module judges weight and critical items."""
    values = {**values, "code": (values.get("code") or "").strip().lower()}
    errors = {}
    if not CODE_PATTERN.match(values["code"]):
        errors["code"] = _("Use lower-case letters, digits, dots, dashes and underscores.")
    elif (
        Criterion.objects.filter(section__version=version, code=values["code"])
        .exclude(pk=exclude)
        .exists()
    ):
        errors["code"] = _("This version already has a criterion with this code.")
    if values.get("scale") not in Scale.values:
        errors["scale"] = _("Select a valid scale.")
    if values.get("category") not in CriterionCategory.values:
        errors["category"] = _("Select a valid category.")
    if "scale" not in errors:
        try:
            stats.Criterion(
                key=values["code"] or "?",
                weight=values.get("weight"),
                scale=values["scale"],
                critical=bool(values.get("critical")),
            )
        except stats.ScorecardError as error:
            wrong_scale = values.get("critical") and values["scale"] != Scale.YES_NO
            errors["critical" if wrong_scale else "weight"] = str(error)
    if errors:
        raise ValidationError(errors)
    return values


@transaction.atomic
def criterion_add(
    *,
    actor,
    section: Section,
    code: str,
    text_en: str,
    text_zh: str,
    weight,
    scale: str,
    category: str,
    critical: bool = False,
) -> Criterion:
    """A criterion at the end of a draft's section."""
    _require_scorecard_manager(actor)
    version = _lock_version(section.version)
    _require_draft(version)
    values = _clean_criterion(
        version,
        {
            "code": code,
            "text_en": text_en,
            "text_zh": text_zh,
            "weight": weight,
            "scale": scale,
            "category": category,
            "critical": critical,
        },
    )
    order = (section.criteria.aggregate(top=Max("order"))["top"] or 0) + 1
    criterion = Criterion(section=section, order=order, **values)
    criterion.full_clean()
    criterion.save()
    audit_record(
        action="scorecard.criterion_add",
        obj=version,
        changes={name: [None, str(value)] for name, value in values.items()},
    )
    return criterion


@transaction.atomic
def criterion_update(*, actor, criterion: Criterion, **values) -> Criterion:
    """Change the fields of a draft's criterion given in ``values`` (``CRITERION_FIELDS``)."""
    _require_scorecard_manager(actor)
    unknown = set(values) - set(CRITERION_FIELDS)
    if unknown:
        raise TypeError(f"unknown criterion fields: {sorted(unknown)}")
    version = _lock_version(criterion.section.version)
    _require_draft(version)
    criterion = Criterion.objects.get(pk=criterion.pk)
    merged = {name: values.get(name, getattr(criterion, name)) for name in CRITERION_FIELDS}
    merged = _clean_criterion(version, merged, exclude=criterion.pk)
    changes = {
        name: [str(getattr(criterion, name)), str(value)]
        for name, value in merged.items()
        if getattr(criterion, name) != value
    }
    for name, value in merged.items():
        setattr(criterion, name, value)
    criterion.full_clean()
    criterion.save()
    if changes:
        audit_record(
            action="scorecard.criterion_update",
            obj=version,
            changes={"criterion": [criterion.code, criterion.code], **changes},
        )
    return criterion


@transaction.atomic
def criterion_remove(*, actor, criterion: Criterion) -> None:
    _require_scorecard_manager(actor)
    version = _lock_version(criterion.section.version)
    _require_draft(version)
    code = criterion.code
    Criterion.objects.filter(pk=criterion.pk).delete()
    audit_record(
        action="scorecard.criterion_remove", obj=version, changes={"criterion": [code, None]}
    )


@transaction.atomic
def scorecard_version_activate(*, actor, version: ScorecardVersion) -> ScorecardVersion:
    """Put a draft in use; the version in use before it is retired. Evaluations already
    assigned keep the version they were assigned with. Refused when the statistics module
    cannot score the version (no section, an empty section, a code used twice…)."""
    _require_scorecard_manager(actor)
    version = _lock_version(version)
    _require_draft(version)
    try:
        selectors.version_scorecard(selectors.scorecard_version_with_criteria(version.pk))
    except stats.ScorecardError as error:
        raise ValidationError(str(error)) from None
    previous = (
        ScorecardVersion.objects.select_for_update()
        .filter(scorecard_id=version.scorecard_id, state=ScorecardState.ACTIVE)
        .first()
    )
    if previous is not None:
        previous.state = ScorecardState.RETIRED
        previous.save(update_fields=["state", "updated_at"])
    version.state = ScorecardState.ACTIVE
    version.save(update_fields=["state", "updated_at"])
    audit_record(
        action="scorecard.activate",
        obj=version,
        changes={
            "state": [ScorecardState.DRAFT, ScorecardState.ACTIVE],
            "retires": [None, previous.number if previous else None],
        },
    )
    emit(
        "scorecard.activated",
        {
            "scorecard_id": version.scorecard_id,
            "version_id": version.pk,
            "number": version.number,
            "previous_version_id": previous.pk if previous else None,
        },
    )
    return version


# Evaluations: assignment -----------------------------------------------------------------------


class EvaluationPick(NamedTuple):
    """One interaction to evaluate and the auditor to do it (a sampling plan's pick)."""

    interaction_id: int
    auditor_id: int
    reason: str = SampleReason.RANDOM


@dataclass
class Assigned:
    created: list[Evaluation] = field(default_factory=list)
    # Interactions already evaluated on this scorecard: a redraw does not evaluate them twice.
    skipped: list[int] = field(default_factory=list)


ASSIGN_BATCH = 2_000


def _require_active(version: ScorecardVersion) -> None:
    if version.state != ScorecardState.ACTIVE:
        raise ValidationError(
            {"scorecard_version": _("Only a scorecard version in use can be assigned.")}
        )


def _already_evaluated(interaction_ids: list[int], scorecard_id: int) -> set[int]:
    found: set[int] = set()
    for start in range(0, len(interaction_ids), ASSIGN_BATCH):
        chunk = interaction_ids[start : start + ASSIGN_BATCH]
        found.update(
            Evaluation.objects.filter(
                interaction_id__in=chunk, scorecard_version__scorecard_id=scorecard_id
            ).values_list("interaction_id", flat=True)
        )
    return found


def _interactions(interaction_ids: list[int]) -> dict[int, tuple]:
    """id → (staff id, department id, department path), read in batches."""
    rows: dict[int, tuple] = {}
    for start in range(0, len(interaction_ids), ASSIGN_BATCH):
        chunk = interaction_ids[start : start + ASSIGN_BATCH]
        for pk, staff_id, department_id, path in Interaction.objects.filter(
            pk__in=chunk
        ).values_list("pk", "staff_id", "department_id", "department__path"):
            rows[pk] = (staff_id, department_id, path)
    return rows


def _within(path: str, roots: list[str]) -> bool:
    return any(path.startswith(root) for root in roots)


def _assignment_refusal(pick: EvaluationPick, row, auditor, actor_roots, auditor_roots):
    """Why ``pick`` cannot be assigned, or None."""
    if row is None:
        return _("Interaction %(id)s does not exist.") % {"id": pick.interaction_id}
    staff_id, _department_id, path = row
    if staff_id is None:
        return _("Interaction %(id)s names no employee, so there is no one to evaluate.") % {
            "id": pick.interaction_id
        }
    if not _within(path, actor_roots):
        return _("Interaction %(id)s is outside the departments whose quality you manage.") % {
            "id": pick.interaction_id
        }
    if auditor is None or not _within(path, auditor_roots):
        return _("The auditor chosen for interaction %(id)s does not evaluate its department.") % {
            "id": pick.interaction_id
        }
    if auditor.staff_id is not None and auditor.staff_id == staff_id:
        return _(
            "Interaction %(id)s is the auditor's own: auditors never score their own work."
        ) % {"id": pick.interaction_id}
    if pick.reason not in SampleReason.values:
        return _("Unknown reason %(reason)s for a pick.") % {"reason": pick.reason}
    return None


@transaction.atomic
def evaluation_assign_many(
    *,
    actor,
    scorecard_version: ScorecardVersion,
    picks: Iterable[EvaluationPick],
    plan=None,
) -> Assigned:
    """Give each picked interaction to its auditor to score on ``scorecard_version`` (in use).

    All or nothing: every interaction must name an employee and lie in the departments where
    ``actor`` holds MANAGE_QUALITY and its auditor holds EVALUATE, and no auditor gets their
    own interaction; otherwise nothing is assigned and the ValidationError names the first
    problem. Interactions already evaluated on the same scorecard are skipped, so drawing a
    plan again does not double the work. Written in bulk, with one audit row."""
    _require_active(scorecard_version)
    picks = list(picks)
    ids = [pick.interaction_id for pick in picks]
    if len(set(ids)) != len(ids):
        raise ValidationError(_("An interaction is picked twice."))
    rows = _interactions(ids)
    auditors = {user.pk: user for user in User.objects.filter(pk__in={p.auditor_id for p in picks})}
    auditor_roots = {pk: scope_paths(user, perms.EVALUATE) for pk, user in auditors.items()}
    actor_roots = scope_paths(actor, perms.MANAGE_QUALITY)
    for pick in picks:
        problem = _assignment_refusal(
            pick,
            rows.get(pick.interaction_id),
            auditors.get(pick.auditor_id),
            actor_roots,
            auditor_roots.get(pick.auditor_id, []),
        )
        if problem:
            raise ValidationError(problem)
    done = _already_evaluated(ids, scorecard_version.scorecard_id)
    result = Assigned(
        skipped=[pick.interaction_id for pick in picks if pick.interaction_id in done]
    )
    new = [
        Evaluation(
            interaction_id=pick.interaction_id,
            plan=plan,
            reason=pick.reason,
            scorecard_version=scorecard_version,
            auditor_id=pick.auditor_id,
            staff_id=rows[pick.interaction_id][0],
            department_id=rows[pick.interaction_id][1],
        )
        for pick in picks
        if pick.interaction_id not in done
    ]
    result.created = Evaluation.objects.bulk_create(new, batch_size=ASSIGN_BATCH)
    if result.created:
        audit_record(
            action="evaluation.assign",
            obj=plan if plan is not None else scorecard_version,
            changes={
                "assigned": [None, len(result.created)],
                "skipped": [None, len(result.skipped)],
                "scorecard_version": [None, scorecard_version.pk],
                "auditors": [None, sorted({pick.auditor_id for pick in picks})],
            },
        )
    return result


def evaluation_assign(
    *,
    actor,
    interaction: Interaction,
    scorecard_version: ScorecardVersion,
    auditor,
    plan=None,
    reason: str = SampleReason.RANDOM,
) -> Evaluation:
    """One interaction for ``auditor`` to score (see ``evaluation_assign_many``); refused when
    it is already evaluated on the same scorecard."""
    pick = EvaluationPick(interaction.pk, auditor.pk, reason)
    result = evaluation_assign_many(
        actor=actor, scorecard_version=scorecard_version, picks=[pick], plan=plan
    )
    if not result.created:
        raise ValidationError(_("This interaction is already evaluated on this scorecard."))
    return result.created[0]


# Evaluations: scoring --------------------------------------------------------------------------


def _lock_evaluation(evaluation: Evaluation) -> Evaluation:
    return (
        Evaluation.objects.select_for_update(of=("self",))
        .select_related("department", "staff", "scorecard_version")
        .get(pk=evaluation.pk)
    )


def dispute_days() -> int:
    return getattr(settings, "QUALITY_DISPUTE_DAYS", 7)


def _score(version: ScorecardVersion, answers: Mapping[str, int | None]):
    """The stats result and the criteria by code; the answers' problems as a ValidationError."""
    loaded = selectors.scorecard_version_with_criteria(version.pk)
    criteria = {criterion.code: criterion for criterion in selectors.version_criteria(loaded)}
    try:
        result = stats.score_scorecard(selectors.version_scorecard(loaded), dict(answers))
    except stats.ScorecardError as error:
        raise ValidationError(str(error)) from None
    if result.percent is None:
        raise ValidationError(result.reason)
    return result, criteria


def _write_answers(evaluation, criteria, answers, comments) -> list[dict]:
    """Replace the evaluation's answers; returns what they were (for the audit trail)."""
    before = [
        {"criterion": code, "value": value, "comment": comment}
        for code, value, comment in evaluation.answers.values_list(
            "criterion__code", "value", "comment"
        )
    ]
    evaluation.answers.all().delete()
    comments = comments or {}
    Answer.objects.bulk_create(
        Answer(
            evaluation=evaluation,
            criterion=criterion,
            value=answers[code],
            comment=(comments.get(code) or "").strip(),
        )
        for code, criterion in criteria.items()
    )
    return before


def _employee_user(evaluation: Evaluation):
    return User.objects.filter(staff_id=evaluation.staff_id, is_active=True).first()


def _evaluation_url(evaluation: Evaluation) -> str:
    return reverse("quality:evaluation", args=[evaluation.pk])


def _payload(evaluation: Evaluation, **extra) -> dict:
    return {
        "evaluation_id": evaluation.pk,
        "interaction_id": evaluation.interaction_id,
        "staff_id": evaluation.staff_id,
        "department_id": evaluation.department_id,
        "auditor_id": evaluation.auditor_id,
        "scorecard_version_id": evaluation.scorecard_version_id,
        **extra,
    }


def _announce(evaluation: Evaluation, result, criteria, *, scored_by, previous=None) -> None:
    """``evaluation.completed`` and, on an auto-fail, ``evaluation.auto_failed``: again after a
    revision (its own dedupe key), with what it was before, so a sanction can follow or be
    withdrawn."""
    revision = previous is not None
    suffix = ":revised" if revision else ""
    before = (
        {"previous_score": previous[0], "previous_auto_failed": previous[1]} if revision else {}
    )
    emit(
        "evaluation.completed",
        _payload(
            evaluation,
            score=str(evaluation.score),
            passed=bool(result.passed),
            auto_failed=evaluation.auto_failed,
            completed_at=evaluation.completed_at.isoformat(),
            revised=revision,
            scored_by_id=scored_by.pk,
            **before,
        ),
        dedupe_key=f"evaluation.completed:{evaluation.pk}{suffix}",
    )
    if evaluation.auto_failed:
        failed = [criteria[code] for code in result.failed_critical]
        emit(
            "evaluation.auto_failed",
            _payload(
                evaluation,
                criterion_id=failed[0].pk,
                criterion_code=failed[0].code,
                criterion_text_en=failed[0].text_en,
                criterion_text_zh=failed[0].text_zh,
                failed_criteria=[criterion.code for criterion in failed],
                revised=revision,
                scored_by_id=scored_by.pk,
            ),
            dedupe_key=f"evaluation.auto_failed:{evaluation.pk}{suffix}",
        )


def _notify_completed(evaluation: Evaluation) -> None:
    employee = _employee_user(evaluation)
    if employee is None:
        return
    score, days = evaluation.score, dispute_days()
    auto_failed = evaluation.auto_failed
    notify(
        recipient=employee,
        kind="quality.evaluation_completed",
        subject=gettext_lazy("An evaluation of your work is ready"),
        body=lambda: (
            (
                _("Score %(score)s%%; a critical item was missed, so the evaluation failed.")
                if auto_failed
                else _("Score %(score)s%%.")
            )
            % {"score": score}
            + " "
            + _("Acknowledge it, or dispute it within %(days)s days.") % {"days": days}
        ),
        url=_evaluation_url(evaluation),
    )


@transaction.atomic
def evaluation_submit(
    *,
    actor,
    evaluation: Evaluation,
    answers: Mapping[str, int | None],
    comments: Mapping[str, str] | None = None,
) -> Evaluation:
    """Score an assigned evaluation: an answer for every criterion by code (yes/no: 1 or 0;
    1–5; None for not applicable) and optional comments by code. The total and the auto-fail
    are computed by ``stats``; the employee may dispute it for QUALITY_DISPUTE_DAYS days."""
    evaluation = _lock_evaluation(evaluation)
    if evaluation.auditor_id != actor.pk or not selectors.may_evaluate(
        actor, evaluation.department
    ):
        raise PermissionDenied
    if selectors.is_the_employee(actor, evaluation):
        raise EvaluationRefused(_("Auditors never score their own interactions."))
    if evaluation.state != EvaluationState.ASSIGNED:
        raise EvaluationRefused(_("This evaluation is already scored."))
    result, criteria = _score(evaluation.scorecard_version, answers)
    _write_answers(evaluation, criteria, answers, comments)
    now = timezone.now()
    evaluation.score = result.percent
    evaluation.auto_failed = result.auto_failed
    evaluation.state = EvaluationState.COMPLETED
    evaluation.completed_at = now
    evaluation.dispute_until = now + timedelta(days=dispute_days())
    evaluation.save(
        update_fields=[
            "score",
            "auto_failed",
            "state",
            "completed_at",
            "dispute_until",
            "updated_at",
        ]
    )
    audit_record(
        action="evaluation.submit",
        obj=evaluation,
        changes={
            "state": [EvaluationState.ASSIGNED, EvaluationState.COMPLETED],
            "score": [None, str(result.percent)],
            "auto_failed": [None, result.auto_failed],
            "failed_critical": [None, list(result.failed_critical)],
        },
    )
    _announce(evaluation, result, criteria, scored_by=actor)
    _notify_completed(evaluation)
    return evaluation


# Evaluations: the employee's answer ------------------------------------------------------------


def _require_employee(actor, evaluation: Evaluation) -> None:
    if not selectors.is_the_employee(actor, evaluation):
        raise PermissionDenied


@transaction.atomic
def evaluation_acknowledge(*, actor, evaluation: Evaluation) -> Evaluation:
    """The employee has read the evaluation. They may still dispute it within the window."""
    evaluation = _lock_evaluation(evaluation)
    _require_employee(actor, evaluation)
    if evaluation.state != EvaluationState.COMPLETED:
        raise EvaluationRefused(_("Only a completed evaluation is acknowledged."))
    evaluation.state = EvaluationState.ACKNOWLEDGED
    evaluation.acknowledged_at = timezone.now()
    evaluation.save(update_fields=["state", "acknowledged_at", "updated_at"])
    audit_record(
        action="evaluation.acknowledge",
        obj=evaluation,
        changes={"state": [EvaluationState.COMPLETED, EvaluationState.ACKNOWLEDGED]},
    )
    return evaluation


@transaction.atomic
def evaluation_dispute(*, actor, evaluation: Evaluation, reason: str) -> Dispute:
    """The employee disputes the evaluation, with a reason, before ``dispute_until``; an
    auditor other than the one who scored it decides."""
    evaluation = _lock_evaluation(evaluation)
    _require_employee(actor, evaluation)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Say why you dispute the evaluation.")})
    if evaluation.state not in (EvaluationState.COMPLETED, EvaluationState.ACKNOWLEDGED):
        raise EvaluationRefused(_("This evaluation cannot be disputed in its state."))
    now = timezone.now()
    if evaluation.dispute_until is None or now > evaluation.dispute_until:
        raise EvaluationRefused(
            _("The time to dispute this evaluation ended on %(date)s.")
            % {"date": timezone.localtime(evaluation.dispute_until).strftime("%Y-%m-%d %H:%M")}
        )
    before = evaluation.state
    dispute = Dispute.objects.create(evaluation=evaluation, reason=reason, raised_at=now)
    evaluation.state = EvaluationState.DISPUTED
    evaluation.save(update_fields=["state", "updated_at"])
    audit_record(
        action="evaluation.dispute",
        obj=evaluation,
        changes={"state": [before, EvaluationState.DISPUTED], "reason": [None, reason]},
    )
    emit("evaluation.disputed", _payload(evaluation, dispute_id=dispute.pk))
    return dispute


# Evaluations: deciding a dispute ---------------------------------------------------------------


def _require_decider(actor, evaluation: Evaluation) -> None:
    if not selectors.may_evaluate(actor, evaluation.department):
        raise PermissionDenied
    if evaluation.auditor_id == actor.pk:
        raise EvaluationRefused(
            _("You scored this evaluation: another auditor must decide the dispute.")
        )
    if selectors.is_the_employee(actor, evaluation):
        raise EvaluationRefused(_("Auditors never decide disputes about their own work."))
    if evaluation.state != EvaluationState.DISPUTED:
        raise EvaluationRefused(_("This evaluation has no dispute waiting for a decision."))


def _notify_decided(evaluation: Evaluation, upheld: bool) -> None:
    employee = _employee_user(evaluation)
    if employee is None:
        return
    score = evaluation.score
    notify(
        recipient=employee,
        kind="quality.dispute_decided",
        subject=gettext_lazy("Your dispute of an evaluation is decided"),
        body=lambda: (
            (
                _("The score of %(score)s%% is upheld.")
                if upheld
                else _("The evaluation was scored again: %(score)s%%.")
            )
            % {"score": score}
        ),
        url=_evaluation_url(evaluation),
    )


@transaction.atomic
def dispute_decide(
    *,
    actor,
    evaluation: Evaluation,
    upheld: bool,
    note: str,
    answers: Mapping[str, int | None] | None = None,
    comments: Mapping[str, str] | None = None,
) -> Evaluation:
    """Decide a dispute. ``upheld``: the score stands (state upheld). Otherwise the deciding
    auditor scores the interaction again with ``answers`` (and ``comments``): the new total
    replaces the old (state revised), the old answers stay in the audit trail, and the
    completion (and auto-fail) events are emitted again marked as a revision."""
    evaluation = _lock_evaluation(evaluation)
    _require_decider(actor, evaluation)
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": _("Explain the decision to the employee.")})
    dispute = Dispute.objects.select_for_update().get(evaluation=evaluation)
    now = timezone.now()
    changes: dict = {"state": [EvaluationState.DISPUTED, None], "note": [None, note]}
    if upheld:
        evaluation.state = EvaluationState.UPHELD
        evaluation.save(update_fields=["state", "updated_at"])
    else:
        if answers is None:
            raise ValidationError(_("Score the interaction again to revise the evaluation."))
        result, criteria = _score(evaluation.scorecard_version, answers)
        previous = (str(evaluation.score), evaluation.auto_failed)
        before = _write_answers(evaluation, criteria, answers, comments)
        evaluation.score = result.percent
        evaluation.auto_failed = result.auto_failed
        evaluation.state = EvaluationState.REVISED
        evaluation.save(update_fields=["score", "auto_failed", "state", "updated_at"])
        changes |= {
            "score": [previous[0], str(result.percent)],
            "auto_failed": [previous[1], result.auto_failed],
            "answers": [before, None],
        }
    changes["state"][1] = evaluation.state
    dispute.decided_by = actor
    dispute.decided_at = now
    dispute.upheld = upheld
    dispute.decision_note = note
    dispute.save(update_fields=["decided_by", "decided_at", "upheld", "decision_note"])
    audit_record(action="evaluation.dispute_decide", obj=evaluation, changes=changes)
    emit(
        "evaluation.dispute_decided",
        _payload(evaluation, dispute_id=dispute.pk, upheld=upheld, decided_by_id=actor.pk),
    )
    if not upheld:
        _announce(evaluation, result, criteria, scored_by=actor, previous=previous)
    _notify_decided(evaluation, upheld)
    return evaluation
