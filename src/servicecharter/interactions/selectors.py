"""Reads of interactions, limited to the departments the caller may see (VIEW_INTERACTIONS).

Lists filter by the ids of the departments in scope (one small query) rather than joining the
department path on every row, so PostgreSQL and SQLite use the (department, started_at) and
started_at indexes of a table of millions. One interaction outside the scope answers 404,
exactly like one that does not exist.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Prefetch, QuerySet

from servicecharter.accounts import permissions as perms
from servicecharter.accounts.scoping import get_in_scope_or_404, scope_paths
from servicecharter.interactions.choices import DeviationKind
from servicecharter.interactions.models import Deviation, Interaction
from servicecharter.org.models import Department
from servicecharter.standards.models import StandardStep

LIST_RELATED = ("staff", "department", "business_type", "standard_version__standard")


def department_ids_in_scope(user, capability: str = perms.VIEW_INTERACTIONS) -> list[int]:
    roots = scope_paths(user, capability)
    if not roots:
        return []
    ids: list[int] = []
    for root in roots:
        ids.extend(Department.objects.filter(path__startswith=root).values_list("pk", flat=True))
    return ids


def interaction_list_for_user(*, user) -> QuerySet:
    """Every interaction of the departments in the caller's scope, newest first."""
    return (
        Interaction.objects.filter(department_id__in=department_ids_in_scope(user))
        .select_related(*LIST_RELATED)
        .defer("notes")
        .order_by("-started_at", "-id")
    )


def interaction_filter(
    interactions: QuerySet,
    *,
    channel: str = "",
    staff=None,
    outcome: str = "",
    with_deviations: bool | None = None,
    started_from: datetime | None = None,
    started_to: datetime | None = None,
    department: Department | None = None,
    standard_version: int | None = None,
) -> QuerySet:
    if channel:
        interactions = interactions.filter(channel=channel)
    if staff is not None:
        interactions = interactions.filter(staff=staff)
    if outcome:
        interactions = interactions.filter(outcome=outcome)
    if with_deviations is True:
        interactions = interactions.filter(deviation_count__gt=0)
    elif with_deviations is False:
        interactions = interactions.filter(deviation_count=0)
    if started_from is not None:
        interactions = interactions.filter(started_at__gte=started_from)
    if started_to is not None:
        interactions = interactions.filter(started_at__lt=started_to)
    if department is not None:
        interactions = interactions.filter(department__path__startswith=department.path)
    if standard_version is not None:
        interactions = interactions.filter(standard_version_id=standard_version)
    return interactions


def interaction_get_for_user(*, user, pk: int) -> Interaction:
    """One interaction with its deviations, in the caller's scope (404 otherwise; the guess of
    an id outside the scope is recorded)."""
    queryset = Interaction.objects.select_related(
        *LIST_RELATED, "customer", "staff__department"
    ).prefetch_related(Prefetch("deviations", queryset=Deviation.objects.order_by("pk")))
    return get_in_scope_or_404(queryset, user, perms.VIEW_INTERACTIONS, pk=pk)


# The judged steps, for the detail page and the API -----------------------------------------


@dataclass
class JudgedStep:
    """One step of the judging version beside what happened."""

    step: StandardStep
    at: int | None
    status: str  # ok, late, missed, skipped (an optional step not done), not_judged
    deviation: Deviation | None


@dataclass
class OtherEvent:
    """A step event the judging version does not name."""

    code: str
    at: int


def judged_steps(interaction: Interaction) -> tuple[list[JudgedStep], list[OtherEvent]]:
    """The steps of the version that judged ``interaction`` with the time each happened and
    the deviation it gave, and the events the version does not know. One query."""
    times: dict[str, int] = {}
    for event in interaction.steps or []:
        times.setdefault(event.get("step"), event.get("at"))
    if interaction.standard_version_id is None:
        return [], [OtherEvent(code, at) for code, at in times.items()]
    deviations = {
        deviation.step_code: deviation
        for deviation in interaction.deviations.all()
        if deviation.kind != DeviationKind.SERVICE_LEVEL
    }
    steps = list(
        StandardStep.objects.filter(version_id=interaction.standard_version_id).order_by(
            "order", "pk"
        )
    )
    judged = []
    abandoned = interaction.outcome == "abandoned"
    for step in steps:
        deviation = deviations.get(step.code)
        at = times.get(step.code)
        if abandoned:
            status = "not_judged"
        elif deviation is not None:
            status = "late" if deviation.kind == DeviationKind.STEP_LATE else "missed"
        elif at is None:
            status = "skipped"
        else:
            status = "ok"
        judged.append(JudgedStep(step, at, status, deviation))
    known = {step.code for step in steps}
    others = [OtherEvent(code, at) for code, at in times.items() if code not in known]
    return judged, others
