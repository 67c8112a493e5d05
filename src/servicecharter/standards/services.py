"""Writes of service standards and channel service levels, one transaction each, audited.

A standard has numbered versions. Only a draft is edited; publishing gives it the instant it
takes effect, and the version before it stops at that instant (``effective_to``). A published
version is never edited again: editing a standard drafts a new version copied from the latest
one. Interactions keep the version that judged them and their deviations, so a new version
(even one backdated) never changes how a past interaction was judged.

Only an institution-wide holder of MANAGE_STANDARDS writes standards and service levels
(they apply everywhere); anyone signed in acknowledges a version in force.
"""

from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from servicecharter.core.audit import audit_record
from servicecharter.core.events import emit
from servicecharter.org.choices import Channel
from servicecharter.standards.choices import Phase, ServiceLevelMetric, VersionState
from servicecharter.standards.models import (
    ServiceLevel,
    Standard,
    StandardAcknowledgement,
    StandardStep,
    StandardVersion,
)
from servicecharter.standards.selectors import can_manage

STEP_FIELDS = (
    "code",
    "phase",
    "name_en",
    "name_zh",
    "description_en",
    "description_zh",
    "target_seconds",
    "mandatory",
    "is_disclosure",
)


def _require_manager(actor) -> None:
    if not can_manage(actor):
        raise PermissionDenied


def _require_draft(version: StandardVersion) -> None:
    if version.state != VersionState.DRAFT:
        raise ValidationError(
            _("Version %(number)s is published and is never edited: draft a new version.")
            % {"number": version.number}
        )


def _lock_version(version: StandardVersion) -> StandardVersion:
    """The version re-read under a lock: two editors never publish or edit it at once."""
    return StandardVersion.objects.select_for_update().select_related("standard").get(pk=version.pk)


# Standards ----------------------------------------------------------------------------------


def _check_key(*, code: str, business_type, channel: str, exclude: int | None = None) -> None:
    others = Standard.objects.exclude(pk=exclude) if exclude else Standard.objects.all()
    errors = {}
    if others.filter(code=code).exists():
        errors["code"] = _("Another standard has this code.")
    same = others.filter(business_type=business_type, channel=channel).first()
    if same is not None:
        errors["channel"] = _(
            "Standard %(code)s already covers this business type on this channel: draft a new "
            "version of it instead."
        ) % {"code": same.code}
    if channel and channel not in Channel.values:
        errors["channel"] = _("Select a valid channel.")
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def standard_create(
    *,
    actor,
    code: str,
    name_en: str,
    name_zh: str,
    business_type=None,
    channel: str = "",
    departments=(),
) -> Standard:
    """A new standard and its first, empty draft (version 1)."""
    _require_manager(actor)
    code = code.strip().upper()
    _check_key(code=code, business_type=business_type, channel=channel)
    standard = Standard(
        code=code, name_en=name_en, name_zh=name_zh, business_type=business_type, channel=channel
    )
    standard.full_clean(exclude=["departments"])
    standard.save()
    standard.departments.set(departments)
    StandardVersion.objects.create(standard=standard, number=1)
    audit_record(
        action="standard.create",
        obj=standard,
        changes={
            "code": [None, code],
            "business_type": [None, business_type.code if business_type else None],
            "channel": [None, channel],
            "departments": [None, sorted(d.code for d in departments)],
        },
    )
    return standard


def standard_has_published(standard: Standard) -> bool:
    return standard.versions.exclude(state=VersionState.DRAFT).exists()


@transaction.atomic
def standard_update(
    *,
    actor,
    standard: Standard,
    name_en: str,
    name_zh: str,
    departments=(),
    business_type=None,
    channel: str | None = None,
) -> Standard:
    """Names and audience. Business type and channel say what the standard judges: they may
    change only until a version is published (after that, make a new standard)."""
    _require_manager(actor)
    standard = Standard.objects.select_for_update().get(pk=standard.pk)
    before = {
        "name_en": standard.name_en,
        "name_zh": standard.name_zh,
        "business_type": standard.business_type_id,
        "channel": standard.channel,
        "departments": sorted(standard.departments.values_list("code", flat=True)),
    }
    new_type = business_type if channel is not None else standard.business_type
    new_channel = channel if channel is not None else standard.channel
    if (new_type != standard.business_type or new_channel != standard.channel) and (
        standard_has_published(standard)
    ):
        raise ValidationError(
            {
                "channel": _(
                    "A published standard keeps its business type and channel: create a new "
                    "standard instead."
                )
            }
        )
    _check_key(code=standard.code, business_type=new_type, channel=new_channel, exclude=standard.pk)
    standard.name_en, standard.name_zh = name_en, name_zh
    standard.business_type, standard.channel = new_type, new_channel
    standard.full_clean(exclude=["departments"])
    standard.save()
    standard.departments.set(departments)
    after = {
        "name_en": name_en,
        "name_zh": name_zh,
        "business_type": standard.business_type_id,
        "channel": new_channel,
        "departments": sorted(d.code for d in departments),
    }
    changes = {key: [before[key], after[key]] for key in before if before[key] != after[key]}
    if changes:
        audit_record(action="standard.update", obj=standard, changes=changes)
    return standard


# Versions -----------------------------------------------------------------------------------


def latest_published(standard: Standard) -> StandardVersion | None:
    return standard.versions.filter(state=VersionState.PUBLISHED).order_by("-number").first()


@transaction.atomic
def standard_version_draft(*, actor, standard: Standard) -> StandardVersion:
    """The standard's draft: the one being written, or a new one copied from the latest
    published version (its summary and every step)."""
    _require_manager(actor)
    standard = Standard.objects.select_for_update().get(pk=standard.pk)
    draft = standard.versions.filter(state=VersionState.DRAFT).first()
    if draft is not None:
        return draft
    source = latest_published(standard)
    number = (standard.versions.aggregate(top=Max("number"))["top"] or 0) + 1
    draft = StandardVersion.objects.create(
        standard=standard,
        number=number,
        summary_en=source.summary_en if source else "",
        summary_zh=source.summary_zh if source else "",
    )
    if source is not None:
        StandardStep.objects.bulk_create(
            StandardStep(
                version=draft,
                order=step.order,
                **{name: getattr(step, name) for name in STEP_FIELDS},
            )
            for step in source.steps.order_by("order", "pk")
        )
    audit_record(
        action="standard.draft",
        obj=draft,
        changes={
            "number": [None, number],
            "copied_from": [None, source.number if source else None],
        },
    )
    return draft


@transaction.atomic
def standard_version_update(
    *, actor, version: StandardVersion, summary_en: str, summary_zh: str
) -> StandardVersion:
    _require_manager(actor)
    version = _lock_version(version)
    _require_draft(version)
    changes = {}
    for name, value in (("summary_en", summary_en), ("summary_zh", summary_zh)):
        if getattr(version, name) != value:
            changes[name] = [getattr(version, name), value]
            setattr(version, name, value)
    if changes:
        version.save(update_fields=["summary_en", "summary_zh", "updated_at"])
        audit_record(action="standard.version_update", obj=version, changes=changes)
    return version


def _clean_step(version: StandardVersion, values: dict, *, exclude: int | None = None) -> dict:
    values = {**values, "code": values["code"].strip()}
    errors = {}
    if values["phase"] not in Phase.values:
        errors["phase"] = _("Select a valid phase.")
    if values.get("is_disclosure") and not values.get("mandatory"):
        errors["mandatory"] = _("A disclosure is always mandatory: tick “mandatory” too.")
    taken = version.steps.filter(code=values["code"])
    if exclude is not None:
        taken = taken.exclude(pk=exclude)
    if taken.exists():
        errors["code"] = _("This version already has a step with this code.")
    if errors:
        raise ValidationError(errors)
    return values


@transaction.atomic
def standard_step_add(
    *,
    actor,
    version: StandardVersion,
    code: str,
    phase: str,
    name_en: str,
    name_zh: str,
    description_en: str = "",
    description_zh: str = "",
    target_seconds: int | None = None,
    mandatory: bool = False,
    is_disclosure: bool = False,
) -> StandardStep:
    """A step at the end of the draft's steps."""
    _require_manager(actor)
    version = _lock_version(version)
    _require_draft(version)
    values = _clean_step(
        version,
        {
            "code": code,
            "phase": phase,
            "name_en": name_en,
            "name_zh": name_zh,
            "description_en": description_en,
            "description_zh": description_zh,
            "target_seconds": target_seconds,
            "mandatory": mandatory,
            "is_disclosure": is_disclosure,
        },
    )
    order = (version.steps.aggregate(top=Max("order"))["top"] or 0) + 1
    step = StandardStep(version=version, order=order, **values)
    step.full_clean()
    step.save()
    audit_record(
        action="standard.step_add",
        obj=version,
        changes={"step": [None, values["code"]], **{k: [None, v] for k, v in values.items()}},
    )
    return step


@transaction.atomic
def standard_step_update(*, actor, step: StandardStep, **values) -> StandardStep:
    """Change the fields of a draft's step given in ``values`` (names of ``STEP_FIELDS``)."""
    _require_manager(actor)
    unknown = set(values) - set(STEP_FIELDS)
    if unknown:
        raise TypeError(f"unknown step fields: {sorted(unknown)}")
    version = _lock_version(step.version)
    _require_draft(version)
    step = StandardStep.objects.get(pk=step.pk)
    merged = {name: values.get(name, getattr(step, name)) for name in STEP_FIELDS}
    merged = _clean_step(version, merged, exclude=step.pk)
    changes = {
        name: [getattr(step, name), value]
        for name, value in merged.items()
        if getattr(step, name) != value
    }
    for name, value in merged.items():
        setattr(step, name, value)
    step.full_clean()
    step.save()
    if changes:
        audit_record(
            action="standard.step_update",
            obj=version,
            changes={"step": [step.code, step.code], **changes},
        )
    return step


@transaction.atomic
def standard_step_remove(*, actor, step: StandardStep) -> None:
    _require_manager(actor)
    version = _lock_version(step.version)
    _require_draft(version)
    code = step.code
    StandardStep.objects.filter(pk=step.pk).delete()
    audit_record(action="standard.step_remove", obj=version, changes={"step": [code, None]})


@transaction.atomic
def standard_step_move(*, actor, step: StandardStep, direction: str) -> None:
    """Swap the step with its neighbour above (``up``) or below (``down``)."""
    _require_manager(actor)
    if direction not in {"up", "down"}:
        raise ValidationError(_("Move a step up or down."))
    version = _lock_version(step.version)
    _require_draft(version)
    steps = list(version.steps.order_by("order", "pk"))
    index = next(i for i, other in enumerate(steps) if other.pk == step.pk)
    other_index = index - 1 if direction == "up" else index + 1
    if not 0 <= other_index < len(steps):
        return
    steps[index], steps[other_index] = steps[other_index], steps[index]
    for position, each in enumerate(steps, start=1):
        each.order = position
    StandardStep.objects.bulk_update(steps, ["order"])
    audit_record(
        action="standard.step_move",
        obj=version,
        changes={"order": [None, [each.code for each in steps]]},
    )


@transaction.atomic
def standard_version_publish(
    *, actor, version: StandardVersion, effective_from: datetime
) -> StandardVersion:
    """Put a draft in force from ``effective_from``; the version before it stops then.

    The instant must come after the previous version took effect. It may lie in the past:
    interactions recorded before publishing keep the version that judged them; those recorded
    afterwards with a time from that instant on are judged by this one."""
    _require_manager(actor)
    version = _lock_version(version)
    _require_draft(version)
    if effective_from is None or timezone.is_naive(effective_from):
        raise ValidationError({"effective_from": _("Give the date and time it takes effect.")})
    if not version.steps.exists():
        raise ValidationError(_("A version without steps cannot be published: add its steps."))
    previous = (
        StandardVersion.objects.select_for_update()
        .filter(standard_id=version.standard_id, state=VersionState.PUBLISHED)
        .order_by("-number")
        .first()
    )
    if previous is not None and effective_from <= previous.effective_from:
        raise ValidationError(
            {
                "effective_from": _("Must be after version %(number)s took effect (%(at)s).")
                % {
                    "number": previous.number,
                    "at": timezone.localtime(previous.effective_from).strftime("%Y-%m-%d %H:%M"),
                }
            }
        )
    if previous is not None:
        previous.effective_to = effective_from
        previous.save(update_fields=["effective_to", "updated_at"])
    version.state = VersionState.PUBLISHED
    version.effective_from = effective_from
    version.published_by = actor
    version.save(update_fields=["state", "effective_from", "published_by", "updated_at"])
    audit_record(
        action="standard.publish",
        obj=version,
        changes={
            "state": [VersionState.DRAFT, VersionState.PUBLISHED],
            "effective_from": [None, effective_from.isoformat()],
            "supersedes": [None, previous.number if previous else None],
        },
    )
    emit(
        "standard.published",
        {
            "standard_id": version.standard_id,
            "version_id": version.pk,
            "number": version.number,
            "effective_from": effective_from.isoformat(),
            "previous_version_id": previous.pk if previous else None,
        },
    )
    return version


# Acknowledgement ----------------------------------------------------------------------------


@transaction.atomic
def standard_acknowledge(*, user, version: StandardVersion) -> StandardAcknowledgement:
    """``user`` has read ``version`` (M3). Only a published version that is in force or
    scheduled can be acknowledged; acknowledging twice keeps the first time."""
    if not getattr(user, "is_authenticated", False):
        raise PermissionDenied
    now = timezone.now()
    if version.state != VersionState.PUBLISHED or (
        version.effective_to is not None and version.effective_to <= now
    ):
        raise ValidationError(_("Only the version in force (or the next one) is acknowledged."))
    acknowledgement, created = StandardAcknowledgement.objects.get_or_create(
        version=version, user=user, defaults={"at": now}
    )
    if created:
        audit_record(
            action="standard.acknowledge",
            obj=version,
            changes={"acknowledged_by": [None, user.get_username()]},
        )
    return acknowledgement


# Service levels -----------------------------------------------------------------------------


@transaction.atomic
def service_level_set(
    *,
    actor,
    channel: str,
    metric: str,
    threshold: int,
    target_share: int,
    effective_from: datetime,
) -> ServiceLevel:
    """A channel's service level from ``effective_from`` on; the level before it for the same
    channel and measure stops then. Levels are never edited: a change is a new level."""
    _require_manager(actor)
    errors = {}
    if channel not in Channel.values:
        errors["channel"] = _("Select a valid channel.")
    if metric not in ServiceLevelMetric.values:
        errors["metric"] = _("Select a valid measure.")
    if threshold is None or threshold <= 0:
        errors["threshold"] = _("Must be more than zero.")
    if target_share is None or not 1 <= target_share <= 100:
        errors["target_share"] = _("Must be between 1 and 100.")
    if effective_from is None or timezone.is_naive(effective_from):
        errors["effective_from"] = _("Give the date and time it takes effect.")
    if errors:
        raise ValidationError(errors)
    previous = (
        ServiceLevel.objects.select_for_update()
        .filter(channel=channel, metric=metric)
        .order_by("-effective_from")
        .first()
    )
    if previous is not None and effective_from <= previous.effective_from:
        raise ValidationError(
            {
                "effective_from": _("Must be after the current level took effect (%(at)s).")
                % {"at": timezone.localtime(previous.effective_from).strftime("%Y-%m-%d %H:%M")}
            }
        )
    if previous is not None:
        previous.effective_to = effective_from
        previous.save(update_fields=["effective_to", "updated_at"])
    level = ServiceLevel.objects.create(
        channel=channel,
        metric=metric,
        threshold=threshold,
        target_share=target_share,
        effective_from=effective_from,
    )
    audit_record(
        action="service_level.set",
        obj=level,
        changes={
            "channel": [None, channel],
            "metric": [None, metric],
            "threshold": [previous.threshold if previous else None, threshold],
            "target_share": [previous.target_share if previous else None, target_share],
            "effective_from": [None, effective_from.isoformat()],
        },
    )
    return level
