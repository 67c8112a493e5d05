"""Survey rules and the outbox.

Anyone holding MANAGE_SURVEYS may read the rules and the outbox; only an institution-wide
holder (a grant on a root department) may change rules or send a failed message again, since
rules apply to every department. Writes go through ``surveys.services``; a refusal is shown
beside the field it concerns and nothing is saved.
"""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from servicecharter.accounts import permissions as perms
from servicecharter.accounts.scoping import has_capability
from servicecharter.org.forms import apply_service_errors
from servicecharter.org.selectors import holds_institution_wide
from servicecharter.org.views import OpenEndedPage
from servicecharter.surveys import selectors, services
from servicecharter.surveys.choices import OutboxState
from servicecharter.surveys.forms import SurveyRuleForm
from servicecharter.surveys.models import OutboxMessage, SurveyRule

OUTBOX_PAGE_SIZE = 50


def can_change_rules(user) -> bool:
    return holds_institution_wide(user, perms.MANAGE_SURVEYS)


def rules_reader(view):
    """Signed in and holding MANAGE_SURVEYS somewhere; otherwise 403."""

    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not has_capability(request.user, perms.MANAGE_SURVEYS):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


def rules_editor(view):
    """Holding MANAGE_SURVEYS for the whole institution; otherwise 403."""

    @rules_reader
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not can_change_rules(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


def _page(request, template: str, section: str, **context):
    return render(
        request,
        template,
        {"section": section, "can_change": can_change_rules(request.user), **context},
    )


@rules_reader
def rule_list(request):
    return _page(request, "surveys/rules.html", "rules", rules=selectors.survey_rule_list())


def _save_rule(request, form, write, success: str) -> bool:
    try:
        write()
    except ValidationError as error:
        apply_service_errors(form, error)
        return False
    messages.success(request, success)
    return True


@rules_editor
def rule_create(request):
    form = SurveyRuleForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        write = lambda: services.survey_rule_create(actor=request.user, **data)  # noqa: E731
        if _save_rule(request, form, write, _("Survey rule created.")):
            return redirect("surveys:rules")
    return _page(request, "surveys/rule_form.html", "rules", form=form, title=_("New survey rule"))


@rules_editor
def rule_edit(request, pk: int):
    rule = get_object_or_404(SurveyRule, pk=pk)
    title = _("Edit the survey rule “%(name)s”") % {"name": rule.name}
    form = SurveyRuleForm(request.POST or None, instance=rule)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        write = lambda: services.survey_rule_update(actor=request.user, rule=rule, **data)  # noqa: E731
        if _save_rule(request, form, write, _("Survey rule saved.")):
            return redirect("surveys:rules")
    return _page(request, "surveys/rule_form.html", "rules", form=form, title=title)


def masked_address(address: str) -> str:
    """li.lei@example.com → l•••@example.com: enough to tell messages apart, not to read."""
    local, _sep, domain = address.partition("@")
    return f"{local[:1]}•••@{domain}" if domain else "•••"


@rules_reader
def outbox(request):
    state = request.GET.get("state", "")
    if state not in OutboxState.values:
        state = ""
    page = OpenEndedPage(
        selectors.outbox_list(state=state), request.GET.get("page"), size=OUTBOX_PAGE_SIZE
    )
    for message in page:
        message.masked_to = masked_address(message.to)
    return _page(
        request,
        "surveys/outbox.html",
        "outbox",
        page=page,
        state=state,
        states=OutboxState.choices,
    )


@rules_editor
@require_POST
def outbox_retry(request, pk: int):
    message = get_object_or_404(OutboxMessage, pk=pk)
    try:
        services.outbox_message_retry(actor=request.user, message=message)
    except ValidationError as error:
        for text in error.messages:
            messages.error(request, text)
    else:
        messages.success(request, _("The message will be sent again at the next run."))
    return redirect("surveys:outbox")


urlpatterns = [
    path("rules/", rule_list, name="rules"),
    path("rules/new/", rule_create, name="rule_create"),
    path("rules/<int:pk>/", rule_edit, name="rule_edit"),
    path("outbox/", outbox, name="outbox"),
    path("outbox/<int:pk>/retry/", outbox_retry, name="outbox_retry"),
]
