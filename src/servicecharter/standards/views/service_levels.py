"""The channel service levels (phone answered within 20 s for 80% of calls, …): everyone signed
in may read them; those who may change standards set a new level from an instant on (the one
before it stops then; levels are never edited, so past interactions keep their judgement)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _

from servicecharter.org.forms import apply_service_errors
from servicecharter.standards import selectors, services
from servicecharter.standards.forms import ServiceLevelForm
from servicecharter.standards.views import manager_required


def level_status(level, now) -> tuple[str, str]:
    if level.effective_from > now:
        return _("Scheduled"), "badge-info"
    if level.effective_to is not None and level.effective_to <= now:
        return _("Superseded"), "badge-muted"
    return _("In force"), "ok"


@login_required
def service_level_list(request):
    now = timezone.now()
    levels = selectors.service_level_list()
    return render(
        request,
        "standards/service_levels.html",
        {
            "rows": [(level, *level_status(level, now)) for level in levels],
            "can_manage": selectors.can_manage(request.user),
        },
    )


@manager_required
def service_level_create(request):
    initial = {key: request.GET[key] for key in ("channel", "metric") if key in request.GET}
    form = ServiceLevelForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.service_level_set(actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, _("Service level saved."))
            return redirect("standards:service_levels")
    return render(
        request,
        "standards/form.html",
        {"form": form, "title": _("New service level"), "cancel_url": "../"},
    )


urlpatterns = [
    path("service-levels/", service_level_list, name="service_levels"),
    path("service-levels/new/", service_level_create, name="service_level_create"),
]
