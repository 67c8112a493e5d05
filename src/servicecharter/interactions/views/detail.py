"""One interaction (VIEW_INTERACTIONS; out of scope is 404): who served whom, when, how long the
customer waited, the steps on a time line beside the version that judged them (its target, the
time it happened, ok / late / missed), and each deviation with the standard version and step
that judged it."""

from django.shortcuts import render
from django.urls import path

from servicecharter.accounts import permissions as perms
from servicecharter.interactions import selectors
from servicecharter.interactions.display import deviation_text, duration
from servicecharter.org.views import capability_required

STATUS_BADGE = {
    "ok": "ok",
    "late": "warn",
    "missed": "bad",
    "skipped": "badge-muted",
    "not_judged": "badge-muted",
}


def _timeline(interaction, judged, others) -> tuple[int, list[dict]]:
    """The scale of the time line (seconds) and its rows, in time order (steps never done last)."""
    times = [row.at for row in judged if row.at is not None] + [other.at for other in others]
    targets = [row.step.target_seconds for row in judged if row.step.target_seconds]
    scale = max([interaction.handle_seconds or 0, *times, *targets, 1])
    rows = [
        {
            "name": row.step.name,
            "code": row.step.code,
            "phase": row.step.get_phase_display(),
            "mandatory": row.step.mandatory,
            "disclosure": row.step.is_disclosure,
            "target": row.step.target_seconds,
            "at": row.at,
            "status": row.status,
            "badge": STATUS_BADGE[row.status],
        }
        for row in judged
    ]
    rows += [
        {"name": other.code, "code": other.code, "at": other.at, "status": "other", "badge": ""}
        for other in others
    ]
    rows.sort(key=lambda row: (row["at"] is None, row["at"] or 0))
    return scale, rows


@capability_required(perms.VIEW_INTERACTIONS)
def interaction_detail(request, pk: int):
    interaction = selectors.interaction_get_for_user(user=request.user, pk=pk)
    judged, others = selectors.judged_steps(interaction)
    names = {row.step.code: row.step.name for row in judged}
    scale, timeline = _timeline(interaction, judged, others)
    deviations = [
        {"deviation": deviation, **deviation_text(deviation, names)}
        for deviation in interaction.deviations.all()
    ]
    return render(
        request,
        "interactions/detail.html",
        {
            "interaction": interaction,
            "version": interaction.standard_version,
            "timeline": timeline,
            "scale": scale,
            "deviations": deviations,
            "wait": duration(interaction.wait_seconds)
            if interaction.wait_seconds is not None
            else "",
            "handle": duration(interaction.handle_seconds)
            if interaction.handle_seconds is not None
            else "",
        },
    )


urlpatterns = [path("<int:pk>/", interaction_detail, name="detail")]
