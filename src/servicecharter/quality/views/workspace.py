"""The auditor's workspace (EVALUATE): the evaluations waiting for them, oldest first; the
disputes they may decide (scored by someone else, in their departments, not about themselves),
longest waiting first; and what they scored lately.

The queue never counts the table: it fetches one row more than it shows (``OpenEndedPage``), so
the page costs the same few queries whatever the length of the queue. HTMX paging gets only the
queue block.
"""

from django.shortcuts import render
from django.urls import path

from servicecharter.accounts import permissions as perms
from servicecharter.org.views import OpenEndedPage, capability_required
from servicecharter.quality import selectors

PAGE_SIZE = 25
DISPUTES_SHOWN = 25


@capability_required(perms.EVALUATE)
def workspace(request):
    user = request.user
    page = OpenEndedPage(selectors.auditor_queue(user=user), request.GET.get("page"), PAGE_SIZE)
    partial = request.htmx and not request.htmx.history_restore_request
    if partial:
        return render(request, "quality/workspace.html#queue", {"page": page})
    disputes = list(selectors.disputes_to_decide(user=user)[: DISPUTES_SHOWN + 1])
    return render(
        request,
        "quality/workspace.html",
        {
            "page": page,
            "disputes": disputes[:DISPUTES_SHOWN],
            "more_disputes": len(disputes) > DISPUTES_SHOWN,
            "recent": selectors.recently_scored(user=user),
        },
    )


urlpatterns = [path("workspace/", workspace, name="workspace")]
