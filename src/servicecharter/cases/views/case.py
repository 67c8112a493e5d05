"""The case page: header, customer, deadlines, possible duplicate, timeline, messages,
attachments, and a form for every action the caller may take on the case in its state.

Every action posts to ``cases:case_action`` with its name. The view fetches the case through
``case_get_for_user`` with the access the action needs ("handle", or "assign" for assigning and
routing: out of scope is 404), checks the form, and calls the one service. A refusal
(``TransitionRefused``, ``DeadlineRuleError``, ``ValidationError``) is shown beside the form and
nothing is saved. HTMX gets the refreshed case panel; a plain post is redirected to the page.
"""

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from servicecharter.accounts import permissions as perms
from servicecharter.accounts.scoping import has_capability
from servicecharter.cases import selectors, services, staff_forms
from servicecharter.cases.choices import (
    OPEN_STATES,
    STATE_BADGE,
    CaseKind,
    CaseState,
    EscalationTarget,
    MessageDirection,
    Outcome,
    TimelineKind,
)
from servicecharter.cases.deadlines import ClockState, DeadlineRuleError
from servicecharter.cases.models import Attachment, Case
from servicecharter.cases.profiles import PauseReason
from servicecharter.cases.severity import reason_text
from servicecharter.cases.views.queue import SEVERITY_BADGE, countdown
from servicecharter.cases.workflow import ACTION_LABELS, TransitionRefused, allowed_actions
from servicecharter.core import pii
from servicecharter.core.audit import audit_record
from servicecharter.org.forms import apply_service_errors
from servicecharter.org.views import capability_required

# --- the actions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    label: object
    form: Callable  # (data, files, *, user, case, clocks, profile, initial) -> Form
    run: Callable  # (actor, case, cleaned_data, form) -> None
    done: object  # the message once it worked
    access: str = "handle"
    # The field a service's plain (field-less) ValidationError belongs to.
    error_field: str | None = None


def _plain(form_class):
    def make(data, files, **context):
        return form_class(data, files, prefix=context["name"], initial=context.get("initial"))

    return make


def _with(form_class, *keys):
    def make(data, files, **context):
        extra = {key: context[key] for key in keys}
        return form_class(
            data, files, prefix=context["name"], initial=context.get("initial"), **extra
        )

    return make


def _note(service):
    return lambda actor, case, data, form: service(actor=actor, case=case, note=data["note"])


def _respond(actor, case, data, form):
    services.case_respond(
        actor=actor,
        case=case,
        outcome=data["outcome"],
        response_text=data["response_text"],
        root_cause=data.get("root_cause"),
        redress_amount=data.get("redress_amount"),
        staff_involved=list(data.get("staff_involved") or []),
        concerns_attitude=data.get("concerns_attitude", False),
    )


def _extend(actor, case, data, form):
    clock, level = form.extension_parts()
    services.case_extend(
        actor=actor,
        case=case,
        clock=clock,
        level=level,
        note=data.get("note", ""),
        length=data.get("length"),
    )


ACTIONS: dict[str, Action] = {
    "acknowledge": Action(
        ACTION_LABELS["acknowledge"],
        _plain(staff_forms.NoteForm),
        _note(services.case_acknowledge),
        gettext_lazy("The case is acknowledged."),
    ),
    "start": Action(
        ACTION_LABELS["start"],
        _plain(staff_forms.NoteForm),
        _note(services.case_start),
        gettext_lazy("Work on the case has started."),
    ),
    "await_customer": Action(
        ACTION_LABELS["await_customer"],
        _plain(staff_forms.RequiredNoteForm),
        _note(services.case_await_customer),
        gettext_lazy("The case waits for the customer."),
    ),
    "customer_replied": Action(
        ACTION_LABELS["customer_replied"],
        _plain(staff_forms.NoteForm),
        _note(services.case_customer_replied),
        gettext_lazy("The customer's reply is recorded; work goes on."),
    ),
    "escalate": Action(
        ACTION_LABELS["escalate"],
        _plain(staff_forms.EscalateForm),
        lambda actor, case, data, form: services.case_escalate(
            actor=actor, case=case, target=data["target"], note=data["note"]
        ),
        gettext_lazy("The case is escalated."),
    ),
    "respond": Action(
        ACTION_LABELS["respond"],
        _with(staff_forms.RespondForm, "case"),
        _respond,
        gettext_lazy("The final response is sent."),
    ),
    "close": Action(
        ACTION_LABELS["close"],
        _plain(staff_forms.NoteForm),
        _note(services.case_close),
        gettext_lazy("The case is closed."),
    ),
    "reopen": Action(
        ACTION_LABELS["reopen"],
        _plain(staff_forms.ReopenForm),
        lambda actor, case, data, form: services.case_reopen(
            actor=actor, case=case, reason=data["reason"]
        ),
        gettext_lazy("The case is reopened."),
    ),
    "withdraw": Action(
        ACTION_LABELS["withdraw"],
        _plain(staff_forms.NoteForm),
        _note(services.case_withdraw),
        gettext_lazy("The withdrawal is recorded and the case closed."),
    ),
    "merge": Action(
        ACTION_LABELS["merge"],
        _with(staff_forms.MergeForm, "user", "case"),
        lambda actor, case, data, form: services.case_merge(
            actor=actor, case=case, into=data["into"], note=data.get("note", "")
        ),
        gettext_lazy("The case is merged and closed."),
        error_field="into",
    ),
    "extend": Action(
        gettext_lazy("Extend the deadline"),
        _with(staff_forms.ExtendForm, "clocks"),
        _extend,
        gettext_lazy("The deadline is extended."),
        error_field="extension",
    ),
    "pause": Action(
        gettext_lazy("Pause the clock"),
        _with(staff_forms.PauseForm, "profile"),
        lambda actor, case, data, form: services.case_pause_clock(
            actor=actor, case=case, reason=data["reason"], note=data["note"]
        ),
        gettext_lazy("The clock is paused."),
    ),
    "resume": Action(
        gettext_lazy("Resume the clock"),
        _plain(staff_forms.NoteForm),
        lambda actor, case, data, form: services.case_resume_clock(
            actor=actor, case=case, note=data.get("note", "")
        ),
        gettext_lazy("The clock runs again."),
    ),
    "new_facts": Action(
        gettext_lazy("New facts: restart the clock"),
        _plain(staff_forms.RequiredNoteForm),
        _note(services.case_new_facts),
        gettext_lazy("The new facts are recorded and the clock restarted."),
    ),
    "external_decision": Action(
        gettext_lazy("Record the regulator's or ombudsman's decision"),
        _plain(staff_forms.ExternalDecisionForm),
        lambda actor, case, data, form: services.case_record_external_decision(
            actor=actor, case=case, found_against_us=data["found_against_us"], note=data["note"]
        ),
        gettext_lazy("The external decision is recorded."),
    ),
    "assign": Action(
        gettext_lazy("Assign a handler"),
        _with(staff_forms.AssignForm, "case"),
        lambda actor, case, data, form: services.case_assign(
            actor=actor, case=case, handler=data["handler"]
        ),
        gettext_lazy("The handler is assigned."),
        access="assign",
    ),
    "route": Action(
        gettext_lazy("Move to another queue"),
        _with(staff_forms.RouteForm, "user", "case"),
        lambda actor, case, data, form: services.case_route(
            actor=actor, case=case, department=data["department"], note=data.get("note", "")
        ),
        gettext_lazy("The case is moved to the other queue."),
        access="assign",
    ),
    "message": Action(
        gettext_lazy("Write a message"),
        _plain(staff_forms.MessageForm),
        lambda actor, case, data, form: _message_with_file(actor, case, data),
        gettext_lazy("The message is saved."),
        error_field="file",
    ),
    "attach": Action(
        gettext_lazy("Add an attachment"),
        _plain(staff_forms.AttachmentForm),
        lambda actor, case, data, form: services.case_add_attachment(
            actor=actor, case=case, upload=data["file"]
        ),
        gettext_lazy("The attachment is added."),
        error_field="file",
    ),
}


@transaction.atomic
def _message_with_file(actor, case: Case, data: dict) -> None:
    """A message and its optional file are saved together or not at all. A file attached to a
    message to the customer is one the customer can download from the tracking page."""
    message = services.case_add_message(
        actor=actor, case=case, body=data["body"], direction=data["direction"]
    )
    if data.get("file"):
        services.case_add_attachment(actor=actor, case=case, upload=data["file"], message=message)


# Shown in their own sections of the page, not among the action forms.
SECTION_ACTIONS = ("message", "attach")
EXTERNAL_TARGETS = {EscalationTarget.REGULATOR, EscalationTarget.OMBUDSMAN}


def _clock_actions(case: Case, clocks, profile) -> list[str]:
    if case.kind != CaseKind.COMPLAINT or case.state not in OPEN_STATES or profile is None:
        return []
    names = []
    if staff_forms.extension_choices(clocks):
        names.append("extend")
    paused = any(status.state == ClockState.PAUSED for status in clocks)
    if not paused and staff_forms.pause_reasons(profile):
        names.append("pause")
    if paused and case.state != CaseState.AWAITING_CUSTOMER:
        names.append("resume")
    if any(status.clock.restarts_on_new_facts for status in clocks):
        names.append("new_facts")
    return names


def offered_actions(case: Case, *, can_handle: bool, can_assign: bool, clocks, profile):
    """The actions the page offers: what the state allows, what the clocks allow, assigning."""
    names: list[str] = []
    if can_handle:
        names += allowed_actions(case.state)
        names += _clock_actions(case, clocks, profile)
        if case.escalated_to in EXTERNAL_TARGETS:
            names.append("external_decision")
    if can_assign and case.state in OPEN_STATES:
        names += ["assign", "route"]
    return names


# --- what the page shows ------------------------------------------------------------------------

CLOCK_BADGE = {
    ClockState.RUNNING: "ok",
    ClockState.MET: "ok",
    ClockState.BREACHED: "bad",
    ClockState.PAUSED: "",
    ClockState.LAPSED: "",
    ClockState.WITHDRAWN: "",
}


def _profile_and_clocks(case: Case):
    """The case's regulatory profile and clock statuses; none for what is not a complaint."""
    if case.kind != CaseKind.COMPLAINT:
        return None, ()
    try:
        return services.resolve_profile(case.profile_key), services.case_clocks(case)
    except (ValidationError, DeadlineRuleError):
        return None, ()


def _clock_rows(case: Case, clocks, now) -> list[dict]:
    rows = []
    for status in clocks:
        running = (
            status.state in (ClockState.RUNNING, ClockState.BREACHED) and not status.stopped_at
        )
        css = CLOCK_BADGE.get(status.state, "")
        if status.state == ClockState.RUNNING and case.warn_at and case.warn_at <= now:
            css = "warn"
        extensions = [
            str(ext.label) for ext in status.clock.extensions if ext.level in status.levels
        ]
        rows.append(
            {
                "label": status.clock.label,
                "due": status.due.at,
                "state": ClockState(status.state).label,
                "css": css,
                "countdown": countdown(status.due.at, now) if running else "",
                "warnings": [warning.message for warning in status.due.warnings],
                "is_window": status.clock.is_window,
                "paused_days": status.paused_days,
                "extensions": extensions,
                "stopped_at": status.stopped_at,
            }
        )
    return rows


def _contact(case: Case, user) -> dict:
    customer = case.customer
    phone = pii.decrypt(case.contact_phone_cipher) if case.contact_phone_cipher else ""
    return {
        "name": case.contact_name or (customer.name if customer else ""),
        "email": staff_forms.mask_email(case.contact_email) if case.contact_email else "",
        "phone": pii.mask_phone(phone),
        "customer": customer,
        "can_open_customer": bool(
            customer and has_capability(user, perms.VIEW_CUSTOMERS, customer.home_department)
        ),
    }


def _extension_label(profile, level: str) -> str:
    for clock in profile.clocks if profile else ():
        extension = clock.extension(level)
        if extension is not None:
            return str(extension.label)
    return level


def _timeline_detail(entry, profile) -> str:
    data = entry.data or {}
    if entry.kind == TimelineKind.TRANSITION:
        before = CaseState(entry.from_state).label if entry.from_state else ""
        after = CaseState(entry.to_state).label if entry.to_state else ""
        text = f"{before} → {after}"
        if data.get("outcome") in Outcome.values:
            text += f" · {Outcome(data['outcome']).label}"
        if data.get("target") in EscalationTarget.values:
            text += f" · {EscalationTarget(data['target']).label}"
        if data.get("into"):
            text += f" · {data['into']}"
        return text
    if entry.kind == TimelineKind.ASSIGNED:
        return data.get("handler") or _("nobody")
    if entry.kind == TimelineKind.ROUTED:
        return data.get("queue", "")
    if entry.kind == TimelineKind.EXTENDED:
        return _extension_label(profile, data.get("level", ""))
    if entry.kind == TimelineKind.PAUSED and data.get("reason") in PauseReason.values:
        return str(PauseReason(data["reason"]).label)
    if entry.kind in (TimelineKind.DUPLICATE,):
        return data.get("of", "")
    if entry.kind == TimelineKind.MERGED:
        return data.get("case", "")
    if entry.kind == TimelineKind.ATTACHMENT:
        return data.get("name", "")
    if entry.kind in (TimelineKind.MESSAGE, TimelineKind.NOTE) and data.get("direction"):
        return str(MessageDirection(data["direction"]).label)
    if entry.kind == TimelineKind.CUSTOMER:
        return _("Accepted the response") if data.get("accepted") else _("Rejected the response")
    if data.get("external_decision"):
        return _("Found against us") if data.get("found_against_us") else _("Found in our favour")
    return ""


def _timeline(case: Case, profile) -> list[dict]:
    return [
        {
            "entry": entry,
            "label": TimelineKind(entry.kind).label if entry.kind in TimelineKind.values else "",
            "detail": _timeline_detail(entry, profile),
        }
        for entry in case.timeline.all()
    ]


def _letter_choices(params) -> dict:
    """The outcome, template and redress chosen in the respond form, to fill its letter."""
    text = params.get("respond-redress_amount", "").strip()
    try:
        redress = Decimal(text) if text else None
    except InvalidOperation:
        redress = None
    return {
        "outcome": params.get("respond-outcome", ""),
        "template": params.get("respond-template", ""),
        "redress_amount": redress if redress is not None and redress.is_finite() else None,
    }


def _respond_initial(request) -> dict:
    """What "fill in the letter" asked for, when it came without JavaScript."""
    return _letter_choices(request.GET) if "letter" in request.GET else {}


def case_context(request, case: Case, *, bound: tuple[str, object] | None = None) -> dict:
    """Everything the case panel shows. ``bound`` is (action, form) of a post that failed:
    that form is shown with its errors, even when the case's state no longer offers it."""
    user = request.user
    now = timezone.now()
    profile, clocks = _profile_and_clocks(case)
    can_handle = selectors.can(user, "handle", case)
    can_assign = selectors.can(user, "assign", case)
    names = offered_actions(
        case, can_handle=can_handle, can_assign=can_assign, clocks=clocks, profile=profile
    )
    failed, failed_form = bound or ("", None)
    if failed and failed not in names and failed not in SECTION_ACTIONS:
        names.append(failed)
    context = {"user": user, "case": case, "clocks": clocks, "profile": profile}

    def form_for(name: str):
        if name == failed:
            return failed_form
        initial = _respond_initial(request) if name == "respond" else None
        return ACTIONS[name].form(None, None, name=name, initial=initial, **context)

    duplicate = case.possible_duplicate_of
    return {
        "case": case,
        "now": now,
        "time_zone": timezone.get_current_timezone_name(),
        "state_badge": STATE_BADGE.get(case.state, ""),
        "severity_badge": SEVERITY_BADGE.get(case.severity, ""),
        "severity_reasons": [reason_text(reason) for reason in case.severity_reasons or []],
        "contact": _contact(case, user),
        "profile": profile,
        "clocks": _clock_rows(case, clocks, now),
        "duplicate": duplicate,
        "duplicate_visible": bool(duplicate and selectors.can(user, "view", duplicate)),
        "timeline": _timeline(case, profile),
        "case_messages": list(
            case.messages.select_related("author").prefetch_related("attachments")
        ),
        "attachments": list(case.attachments.all()),
        "actions": [
            {"name": name, "label": ACTIONS[name].label, "form": form_for(name)} for name in names
        ],
        "failed": failed,
        "can_handle": can_handle,
        "message_form": form_for("message") if can_handle else None,
        "attach_form": form_for("attach") if can_handle else None,
        "staff_involved": list(case.staff_involved.all()) if case.outcome else [],
        "letter_placeholders": staff_forms.letter_placeholders(),
    }


def _case(request, pk: int, access: str = "view") -> Case:
    return selectors.case_get_for_user(user=request.user, case_id=pk, action=access)


def _render_case(request, case: Case, *, bound=None, partial: bool = False):
    template = "cases/case_detail.html" + ("#panel" if partial else "")
    return render(request, template, case_context(request, case, bound=bound))


@capability_required(perms.VIEW_CASES)
@require_GET
def case_detail(request, pk: int):
    case = _case(request, pk)
    partial = bool(request.htmx) and not request.htmx.history_restore_request
    return _render_case(request, case, partial=partial)


@capability_required(perms.VIEW_CASES)
@require_POST
def case_action(request, pk: int, action: str):
    spec = ACTIONS.get(action)
    if spec is None:
        raise Http404
    case = _case(request, pk, spec.access)
    profile, clocks = _profile_and_clocks(case)
    form = spec.form(
        request.POST,
        request.FILES,
        name=action,
        user=request.user,
        case=case,
        clocks=clocks,
        profile=profile,
    )
    if form.is_valid() and _run(spec, request.user, case, form):
        messages.success(request, spec.done)
        if request.htmx:
            return _render_case(request, _case(request, pk), partial=True)
        return redirect("cases:case_detail", pk=case.pk)
    case = _case(request, pk)
    return _render_case(request, case, bound=(action, form), partial=bool(request.htmx))


def _run(spec: Action, actor, case: Case, form) -> bool:
    """Call the service; a refusal goes beside the form (the service's transaction has rolled
    back, so nothing is saved). True when it worked."""
    try:
        spec.run(actor, case, form.cleaned_data, form)
    except (TransitionRefused, DeadlineRuleError) as error:
        form.add_error(None, str(error))
        return False
    except ValidationError as error:
        if not hasattr(error, "error_dict") and spec.error_field:
            form.add_error(spec.error_field, error)
        else:
            apply_service_errors(form, error)
        return False
    return True


@capability_required(perms.HANDLE_CASES)
@require_GET
def response_letter(request, pk: int):
    """The letter field of the respond form, filled in from the template for the outcome
    and template chosen (HTMX swaps it in place; the handler edits it before sending)."""
    case = _case(request, pk, "handle")
    form = staff_forms.RespondForm(
        prefix="respond", case=case, initial=_letter_choices(request.GET)
    )
    return render(request, "cases/partials/case_letter.html", {"form": form, "case": case})


@capability_required(perms.VIEW_CASES)
@require_GET
def attachment_download(request, pk: int, attachment_id: int):
    """An attachment of a case in the caller's scope, as a download; never served from a
    public media URL. Every download is recorded."""
    case = _case(request, pk)
    attachment = get_object_or_404(Attachment, pk=attachment_id, case=case)
    audit_record(action="case.attachment_download", obj=case, changes={"file": attachment.name})
    response = FileResponse(
        attachment.file.open("rb"),
        as_attachment=True,
        filename=attachment.name,
        content_type=attachment.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


urlpatterns: list = [
    path("<int:pk>/", case_detail, name="case_detail"),
    path("<int:pk>/actions/<slug:action>/", case_action, name="case_action"),
    path("<int:pk>/letter/", response_letter, name="response_letter"),
    path(
        "<int:pk>/attachments/<int:attachment_id>/",
        attachment_download,
        name="attachment_download",
    ),
]
