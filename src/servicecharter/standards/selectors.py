"""Reads of service standards and service levels.

Standards belong to the whole institution: everyone signed in may read the published versions.
Drafts are seen only by those who may change standards (MANAGE_STANDARDS on a whole tree); to
anyone else a draft answers 404, as if it did not exist.

``in_force()`` loads every published version and service level once (a few hundred rows at
most) so an ingest batch judges thousands of interactions without a query per row;
``standard_version_in_force`` is the same question asked once.
"""

from datetime import datetime, timedelta

from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from servicecharter.accounts import permissions as perms
from servicecharter.org.models import BusinessType, path_and_ancestors
from servicecharter.org.selectors import holds_institution_wide
from servicecharter.standards.choices import VersionState
from servicecharter.standards.models import (
    ServiceLevel,
    Standard,
    StandardAcknowledgement,
    StandardStep,
    StandardVersion,
)
from servicecharter.standards.rules import (
    InForce,
    LevelRule,
    Period,
    StepRule,
    VersionRules,
    index_versions,
)

# A standard without a named audience applies to the staff who served its channel and
# business type within this many days.
RECENT_WORK_DAYS = 90


def can_manage(user) -> bool:
    """May ``user`` write and publish standards and service levels? They apply to the whole
    institution, so only an institution-wide holder of MANAGE_STANDARDS may."""
    return holds_institution_wide(user, perms.MANAGE_STANDARDS)


def in_force_q(at: datetime, prefix: str = "") -> Q:
    return Q(**{f"{prefix}state": VersionState.PUBLISHED, f"{prefix}effective_from__lte": at}) & (
        Q(**{f"{prefix}effective_to__isnull": True}) | Q(**{f"{prefix}effective_to__gt": at})
    )


# The library --------------------------------------------------------------------------------


def standard_list(*, q: str = "", channel: str = "", business_type: int | None = None):
    standards = Standard.objects.select_related("business_type")
    if q:
        standards = standards.filter(
            Q(code__icontains=q) | Q(name_en__icontains=q) | Q(name_zh__icontains=q)
        )
    if channel:
        standards = standards.filter(Q(channel=channel) | Q(channel=""))
    if business_type:
        standards = standards.filter(business_type_id=business_type)
    return standards.order_by("code")


def versions_in_force(standard_ids, at: datetime | None = None) -> dict[int, StandardVersion]:
    """standard id → its version in force at ``at`` (default now): one query."""
    at = at or timezone.now()
    versions = StandardVersion.objects.filter(in_force_q(at), standard_id__in=list(standard_ids))
    return {version.standard_id: version for version in versions}


def drafts_of(standard_ids) -> dict[int, StandardVersion]:
    drafts = StandardVersion.objects.filter(
        state=VersionState.DRAFT, standard_id__in=list(standard_ids)
    )
    return {draft.standard_id: draft for draft in drafts}


def acknowledged_version_ids(user, version_ids) -> set[int]:
    return set(
        StandardAcknowledgement.objects.filter(
            user=user, version_id__in=list(version_ids)
        ).values_list("version_id", flat=True)
    )


def standards_for_staff(user, at: datetime | None = None) -> list[Standard]:
    """The standards that apply to ``user``'s staff record: those naming their department (or
    one above it) as audience, and those without an audience whose channel and business type
    they served in the last ``RECENT_WORK_DAYS`` days. Empty for a user who is not staff."""
    staff = getattr(user, "staff", None)
    if staff is None:
        return []
    at = at or timezone.now()
    named = Q(departments__path__in=path_and_ancestors(staff.department.path))
    ids = set(Standard.objects.filter(named).values_list("pk", flat=True))
    served = _served_q(staff, at)
    if served is not None:
        without_audience = Standard.objects.filter(departments__isnull=True).filter(served)
        ids |= set(without_audience.values_list("pk", flat=True))
    return list(Standard.objects.filter(pk__in=ids).select_related("business_type"))


def _served_q(staff, at: datetime) -> Q | None:
    """Standards matching a (channel, business type) the member of staff served lately. The
    interactions are read by their own module's model through the relation on Staff, so this
    module imports nothing from below it."""
    served = (
        staff.interactions.filter(started_at__gte=at - timedelta(days=RECENT_WORK_DAYS))
        .values_list("channel", "business_type_id")
        .distinct()
    )
    parents = dict(BusinessType.objects.values_list("pk", "parent_id"))
    condition = None
    for channel, business_type_id in served:
        chain = []
        current = business_type_id
        while current is not None and current not in chain:
            chain.append(current)
            current = parents.get(current)
        for_type = Q(business_type__isnull=True) | Q(business_type_id__in=chain)
        one = for_type & (Q(channel="") | Q(channel=channel))
        condition = one if condition is None else condition | one
    return condition


def standard_get(*, pk: int) -> Standard:
    try:
        return Standard.objects.select_related("business_type").get(pk=pk)
    except Standard.DoesNotExist:
        raise Http404 from None


def standard_versions(*, user, standard: Standard) -> QuerySet:
    """Every version of ``standard``, newest first; drafts only for those who may edit them."""
    versions = standard.versions.select_related("published_by").annotate(
        acknowledged=Count("acknowledgements")
    )
    if not can_manage(user):
        versions = versions.exclude(state=VersionState.DRAFT)
    return versions.order_by("-number")


def standard_version_get(*, user, pk: int) -> StandardVersion:
    """A version with its standard and steps (ordered); a draft is 404 for non-managers."""
    versions = StandardVersion.objects.select_related(
        "standard", "standard__business_type", "published_by"
    ).prefetch_related(Prefetch("steps", queryset=StandardStep.objects.order_by("order", "pk")))
    if not can_manage(user):
        versions = versions.exclude(state=VersionState.DRAFT)
    try:
        return versions.get(pk=pk)
    except StandardVersion.DoesNotExist:
        raise Http404 from None


def standard_step_get(*, user, pk: int) -> StandardStep:
    step = StandardStep.objects.select_related("version", "version__standard").filter(pk=pk).first()
    if step is None or (step.version.state == VersionState.DRAFT and not can_manage(user)):
        raise Http404
    return step


# Service levels ------------------------------------------------------------------------------


def service_level_list(*, channel: str = "") -> QuerySet:
    levels = ServiceLevel.objects.all()
    if channel:
        levels = levels.filter(channel=channel)
    return levels.order_by("channel", "metric", "-effective_from")


def service_levels_in_force(*, channel: str, at: datetime | None = None) -> list[ServiceLevel]:
    at = at or timezone.now()
    return list(
        ServiceLevel.objects.filter(channel=channel, effective_from__lte=at)
        .filter(Q(effective_to__isnull=True) | Q(effective_to__gt=at))
        .order_by("metric")
    )


# In force, for judging ------------------------------------------------------------------------


def in_force() -> InForce:
    """Every published version with its steps, every service level and the business-type
    tree, as plain rules: three queries, whatever is judged with them afterwards."""
    steps: dict[int, list[StepRule]] = {}
    for row in StandardStep.objects.filter(version__state=VersionState.PUBLISHED).values_list(
        "version_id", "code", "phase", "order", "target_seconds", "mandatory", "is_disclosure"
    ):
        steps.setdefault(row[0], []).append(StepRule(*row[1:]))
    versions = StandardVersion.objects.filter(
        state=VersionState.PUBLISHED, effective_from__isnull=False
    ).values_list(
        "pk",
        "number",
        "standard_id",
        "standard__business_type_id",
        "standard__channel",
        "effective_from",
        "effective_to",
    )
    indexed = index_versions(
        (
            business_type_id,
            channel,
            Period(start, end),
            VersionRules(
                version_id=pk,
                standard_id=standard_id,
                number=number,
                steps=tuple(sorted(steps.get(pk, []), key=lambda step: step.order)),
            ),
        )
        for pk, number, standard_id, business_type_id, channel, start, end in versions
    )
    levels: dict[str, list] = {}
    for channel, metric, threshold, share, start, end in ServiceLevel.objects.values_list(
        "channel", "metric", "threshold", "target_share", "effective_from", "effective_to"
    ):
        levels.setdefault(channel, []).append(
            (Period(start, end), LevelRule(metric, threshold, share))
        )
    parents = dict(BusinessType.objects.values_list("pk", "parent_id"))
    return InForce(versions=indexed, levels=levels, parents=parents)


def standard_version_in_force(
    business_type, channel: str, at: datetime, *, rules: InForce | None = None
) -> StandardVersion | None:
    """The version that judges an interaction of ``business_type`` (a BusinessType, its id,
    or None) on ``channel`` at ``at``: the most specific standard with a version in force then.
    Pass ``rules`` (from ``in_force()``) to ask many times without querying each time."""
    rules = rules or in_force()
    business_type_id = getattr(business_type, "pk", business_type)
    found = rules.version(business_type_id, channel, at)
    if found is None:
        return None
    return StandardVersion.objects.select_related("standard").get(pk=found.version_id)
