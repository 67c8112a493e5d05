"""The inbox: list, read, mark read, mark all read; and the preferences page."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from servicecharter.core.choices import NotificationChannel
from servicecharter.core.notifications import (
    KINDS,
    inbox_for,
    notification_mark_read,
    notification_preferences_set,
    notifications_mark_all_read,
    preferences_of,
    unread_count,
)

PAGE_SIZE = 25


@login_required
def inbox(request):
    unread_only = request.GET.get("show") == "unread"
    page = Paginator(inbox_for(request.user, unread_only=unread_only), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    context = {"page": page, "unread_only": unread_only, "unread": unread_count(request.user)}
    return render(request, "core/notifications/inbox.html", context)


@login_required
def detail(request, pk: int):
    """Opening a notification reads it."""
    notification = notification_mark_read(user=request.user, notification_id=pk)
    return render(request, "core/notifications/detail.html", {"notification": notification})


@login_required
@require_POST
def mark_read(request, pk: int):
    notification = notification_mark_read(user=request.user, notification_id=pk)
    if request.htmx:
        return render(request, "core/notifications/inbox.html#row", {"notification": notification})
    return redirect("core:notifications")


@login_required
@require_POST
def mark_all_read(request):
    count = notifications_mark_all_read(user=request.user)
    messages.success(request, _("%(count)d notifications marked as read.") % {"count": count})
    return redirect("core:notifications")


@login_required
def preferences(request):
    current = preferences_of(request.user)
    if request.method == "POST":
        chosen = {key: f"{key[0]}|{key[1]}" in request.POST.getlist("on") for key in current}
        notification_preferences_set(user=request.user, enabled=chosen)
        messages.success(request, _("Your notification preferences are saved."))
        return redirect("core:notification_preferences")
    channels = NotificationChannel.choices
    rows = [
        {
            "kind": kind,
            "cells": [
                {
                    "value": f"{kind.code}|{channel}",
                    "label": label,
                    "on": current[(kind.code, channel)],
                }
                for channel, label in channels
            ],
        }
        for kind in sorted(KINDS.values(), key=lambda k: str(k.label))
    ]
    return render(
        request, "core/notifications/preferences.html", {"rows": rows, "channels": channels}
    )
