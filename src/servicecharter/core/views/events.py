"""The dead-letter page: event deliveries that failed for good, and their retry (administrators)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from servicecharter.core.services.events import (
    DeliveryRefused,
    dead_deliveries,
    event_deliveries_retry_dead,
    event_delivery_retry,
    require_manage_events,
)

PAGE_SIZE = 50


@login_required
@require_GET
def dead_letters(request):
    page = Paginator(dead_deliveries(user=request.user), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "core/events/dead.html", {"page": page})


@login_required
@require_POST
def delivery_retry(request, pk: int):
    require_manage_events(request.user)
    try:
        delivery = event_delivery_retry(delivery_id=pk)
    except DeliveryRefused as exc:
        return _answer(request, error=str(exc), delivery_id=pk)
    return _answer(
        request, notice=_("Delivery %(id)s is queued again.") % {"id": pk}, delivery=delivery
    )


@login_required
@require_POST
def retry_all(request):
    require_manage_events(request.user)
    count = event_deliveries_retry_dead()
    messages.success(request, _("%(count)s deliveries are queued again.") % {"count": count})
    return redirect("core:events_dead")


def _answer(request, *, notice="", error="", delivery=None, delivery_id=None):
    """HTMX replaces the row with the outcome; a plain form post comes back to the list."""
    if request.htmx:
        context = {
            "notice": notice,
            "error": error,
            "delivery": delivery,
            "delivery_id": delivery_id,
        }
        return render(request, "core/events/dead.html#outcome", context)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, notice)
    return redirect("core:events_dead")
