"""Forms of the staff's case pages: the queue filters, saved views, bulk assignment and one form
per case action. They check input and offer only what the user may pick; the writes are the
services in ``cases.services`` and the rules of the case itself are checked there."""

import re

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Case as When_
from django.db.models import F, IntegerField, Q, QuerySet, Value, When
from django.http import Http404
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from servicecharter.accounts import permissions as perms
from servicecharter.accounts.models import User
from servicecharter.accounts.scoping import restrict, scope_paths
from servicecharter.cases import rules_services, selectors
from servicecharter.cases.choices import (
    OPEN_STATES,
    RESPONSE_OUTCOMES,
    CaseKind,
    CaseState,
    CategoryAxis,
    EscalationTarget,
    MessageDirection,
    Outcome,
    Severity,
)
from servicecharter.cases.models import Case, Category, ResponseTemplate
from servicecharter.cases.profiles import PauseReason, RegulatoryProfile
from servicecharter.core import pii
from servicecharter.core.templatetags.formatting import money
from servicecharter.org.choices import Channel, StaffStatus
from servicecharter.org.forms import DepartmentChoiceField
from servicecharter.org.models import Department, Product, Staff, path_and_ancestors

# A reference as ``services.reference_for`` writes it: found through its unique index.
REFERENCE = re.compile(r"^C\d{4}-\d{7}$", re.IGNORECASE)


# Who may handle cases where -------------------------------------------------------------


def _handlers(where: Q) -> QuerySet:
    """Active users with a grant carrying HANDLE_CASES whose department matches ``where``.
    Role and department are tested in one ``filter`` so that they describe the same grant."""
    roles = sorted(perms.roles_with(perms.HANDLE_CASES))
    return (
        User.objects.filter(Q(role_grants__role__in=roles) & where, is_active=True)
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


def handlers_covering(department: Department) -> QuerySet:
    """The users who may handle a case in ``department``'s queue."""
    return _handlers(Q(role_grants__department__path__in=path_and_ancestors(department.path)))


def handlers_meeting(user, capability: str) -> QuerySet:
    """Users who handle cases somewhere in ``user``'s scope for ``capability``: their grant
    lies inside the scope or above it."""
    where = Q(pk__in=[])
    for root in scope_paths(user, capability):
        where |= Q(role_grants__department__path__startswith=root)
        where |= Q(role_grants__department__path__in=path_and_ancestors(root))
    return _handlers(where)


class HandlerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.get_full_name() or obj.get_username()


# Beyond this many handlers a list is too long to send with every page: type the user name.
HANDLER_LIST_LIMIT = 300


def offer_handlers(form: forms.Form, name: str, handlers: QuerySet) -> None:
    """Give the handler field ``name`` its choices: a list, or a user-name box when the
    choice is too long to list (a head office has thousands of handlers)."""
    field = form.fields[name]
    if handlers[: HANDLER_LIST_LIMIT + 1].count() > HANDLER_LIST_LIMIT:
        field = HandlerChoiceField(
            queryset=handlers,
            to_field_name="username",
            widget=forms.TextInput(attrs={"autocomplete": "off"}),
            label=field.label,
            required=field.required,
            help_text=_("Their user name."),
            error_messages=field.error_messages,
        )
        form.fields[name] = field
    field.queryset = handlers


def handler_refusal(handler, cases) -> str:
    """Why ``handler`` cannot take ``cases`` (one message for the lot), or ""."""
    if not handler.is_active:
        return str(_("%(name)s can no longer sign in.") % {"name": handler.get_username()})
    outside = [case.reference for case in cases if not selectors.can(handler, "handle", case)]
    if outside:
        return str(
            _("%(name)s does not handle the queue of %(cases)s.")
            % {
                "name": handler.get_full_name() or handler.get_username(),
                "cases": ", ".join(outside),
            }
        )
    return ""


# The queue -------------------------------------------------------------------------------

DUE_CHOICES = [
    ("", _("Any deadline")),
    ("today", _("Due today")),
    ("overdue", _("Overdue")),
    ("breached", _("Breached")),
]
# The query-string keys a saved view keeps.
FILTER_KEYS = ("q", "state", "due", "channel", "kind", "product", "severity", "handler")


class QueueFilterForm(forms.Form):
    q = forms.CharField(label=_("Reference, subject or name"), required=False, max_length=100)
    state = forms.ChoiceField(
        label=_("State"),
        required=False,
        choices=[("", _("Any state")), ("open", _("Open (not answered)")), *CaseState.choices],
    )
    due = forms.ChoiceField(label=_("Deadline"), required=False, choices=DUE_CHOICES)
    channel = forms.ChoiceField(
        label=_("Channel"), required=False, choices=[("", _("All channels")), *Channel.choices]
    )
    kind = forms.ChoiceField(
        label=_("Kind"), required=False, choices=[("", _("All kinds")), *CaseKind.choices]
    )
    product = forms.ModelChoiceField(
        label=_("Product"),
        required=False,
        queryset=Product.objects.order_by("code"),
        empty_label=_("All products"),
    )
    severity = forms.ChoiceField(
        label=_("Severity"), required=False, choices=[("", _("Any severity")), *Severity.choices]
    )
    handler = HandlerChoiceField(
        label=_("Handler"), required=False, queryset=User.objects.none(), empty_label=_("Anyone")
    )

    def __init__(self, *args, user, show_handler: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if show_handler:
            offer_handlers(self, "handler", handlers_meeting(user, perms.VIEW_CASES))
        else:
            del self.fields["handler"]

    def filters(self) -> dict:
        """Keyword arguments for ``selectors.case_filter`` (empty when the form is invalid)."""
        if not self.is_valid():
            return {}
        data = self.cleaned_data
        return {
            "q": data.get("q", "").strip(),
            "state": data.get("state", ""),
            "due": data.get("due", ""),
            "channel": data.get("channel", ""),
            "kind": data.get("kind", ""),
            "product": data["product"].pk if data.get("product") else None,
            "severity": data.get("severity", ""),
            "handler": data["handler"].pk if data.get("handler") else None,
        }


def filtered_cases(queryset: QuerySet, filters: dict) -> QuerySet:
    """``case_filter``, except that a search for a whole reference uses the reference's unique
    index instead of a scan of every subject."""
    filters = dict(filters)
    query = filters.get("q", "")
    if REFERENCE.match(query):
        queryset = queryset.filter(reference=query.upper())
        filters["q"] = ""
    return selectors.case_filter(queryset, **filters)


def open_first_due_soonest(cases: QuerySet) -> QuerySet:
    """Open cases before the others, the soonest deadline first, then the newest."""
    is_open = When_(
        When(state__in=sorted(OPEN_STATES), then=Value(0)),
        default=Value(1),
        output_field=IntegerField(),
    )
    return cases.annotate(closed_last=is_open).order_by(
        "closed_last", F("due_at").asc(nulls_last=True), "-received_at", "-id"
    )


def mask_email(value: str) -> str:
    """li.lei@example.com → l*****@example.com (what pages and masked exports show)."""
    local, at, domain = value.partition("@")
    if not at:
        return pii.mask_address(value)
    return f"{local[:1]}{'*' * max(len(local) - 1, 3)}@{domain}"


def filter_query(params) -> str:
    """The part of a query string that a saved view keeps: the filters, no page number."""
    kept = params.copy()
    for key in list(kept.keys()):
        if key not in FILTER_KEYS or not kept.get(key):
            del kept[key]
    return kept.urlencode()


class SavedViewForm(forms.Form):
    name = forms.CharField(label=_("Name of this view"), max_length=100)
    query = forms.CharField(required=False, max_length=1000, widget=forms.HiddenInput)


class BulkAssignForm(forms.Form):
    cases = forms.TypedMultipleChoiceField(
        label=_("Cases"),
        coerce=int,
        error_messages={"required": _("Tick the cases to assign.")},
    )
    handler = HandlerChoiceField(
        label=_("Assign the ticked cases to"),
        queryset=User.objects.none(),
        empty_label=_("Choose a handler"),
        error_messages={
            "required": _("Choose the handler."),
            "invalid_choice": _("This person does not handle cases in your queues."),
        },
    )
    query = forms.CharField(required=False, max_length=1000, widget=forms.HiddenInput)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        offer_handlers(self, "handler", handlers_meeting(user, perms.ASSIGN_CASES))
        # Any whole number is a valid choice here; the view keeps only cases in scope.
        picked = self.data.getlist("cases") if hasattr(self.data, "getlist") else []
        self.fields["cases"].choices = [(value, value) for value in picked if value.isdigit()]


# Case actions ------------------------------------------------------------------------------


class NoteForm(forms.Form):
    note = forms.CharField(
        label=_("Note (optional)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class RequiredNoteForm(forms.Form):
    note = forms.CharField(
        label=_("Note"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )


class ReopenForm(forms.Form):
    reason = forms.CharField(
        label=_("Why is the case reopened?"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class EscalateForm(forms.Form):
    target = forms.ChoiceField(label=_("Escalate"), choices=EscalationTarget.choices)
    note = forms.CharField(
        label=_("Why?"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )


class ExternalDecisionForm(forms.Form):
    found_against_us = forms.TypedChoiceField(
        label=_("The regulator or ombudsman found"),
        choices=[("no", _("in our favour")), ("yes", _("against us"))],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
    )
    note = forms.CharField(
        label=_("Summary of the decision"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class MessageForm(forms.Form):
    direction = forms.ChoiceField(
        label=_("Write"),
        choices=[
            (MessageDirection.TO_CUSTOMER, _("to the customer")),
            (MessageDirection.INTERNAL, _("an internal note")),
        ],
        widget=forms.RadioSelect,
        initial=MessageDirection.INTERNAL,
    )
    body = forms.CharField(
        label=_("Message"), max_length=10000, widget=forms.Textarea(attrs={"rows": 3})
    )
    file = forms.FileField(
        label=_("Attach a file (optional: PDF, JPEG, PNG or text, up to 5 MB)"), required=False
    )


class AttachmentForm(forms.Form):
    file = forms.FileField(label=_("File (PDF, JPEG, PNG or text, up to 5 MB)"))


class MergeForm(forms.Form):
    into = forms.CharField(label=_("Merge into the case with reference"), max_length=20)
    note = forms.CharField(
        label=_("Note (optional)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, user, case: Case, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        if case.possible_duplicate_of_id and not self.is_bound:
            self.initial["into"] = case.possible_duplicate_of.reference

    def clean_into(self) -> Case:
        reference = self.cleaned_data["into"].strip().upper()
        try:
            return selectors.case_get_by_reference_for_user(
                user=self.user, reference=reference, action="handle"
            )
        except Http404:
            raise ValidationError(
                _("There is no case %(reference)s in the queues you handle.")
                % {"reference": reference}
            ) from None


class ExtendForm(forms.Form):
    extension = forms.ChoiceField(label=_("Extension"))
    length = forms.IntegerField(
        label=_("Total length in days (optional: the level's full length)"),
        required=False,
        min_value=1,
        max_value=366,
    )
    note = forms.CharField(
        label=_("Reason (the customer is told)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, clocks, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["extension"].choices = extension_choices(clocks)

    def extension_parts(self) -> tuple[str, str]:
        clock, _sep, level = self.cleaned_data["extension"].partition(":")
        return clock, level


def extension_choices(clocks) -> list[tuple[str, str]]:
    """ "clock:level" for each extension level not yet granted on a running clock."""
    choices = []
    for status in clocks:
        if status.stopped_at is not None:
            continue
        for extension in status.clock.extensions:
            if extension.level not in status.levels:
                label = f"{status.clock.label} — {extension.label}"
                choices.append((f"{status.clock.key}:{extension.level}", label))
    return choices


def pause_reasons(profile: RegulatoryProfile) -> list[tuple[str, str]]:
    """Reasons this profile pauses a clock for, apart from waiting for the customer (that is
    the "wait for the customer" action, which pauses where the profile allows)."""
    reasons = {reason for clock in profile.clocks for reason in clock.pause_reasons}
    reasons.discard(PauseReason.AWAITING_CUSTOMER)
    return [(value, label) for value, label in PauseReason.choices if value in reasons]


class PauseForm(forms.Form):
    reason = forms.ChoiceField(label=_("Reason"))
    note = forms.CharField(
        label=_("Note"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, profile: RegulatoryProfile, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].choices = pause_reasons(profile)


class AssignForm(forms.Form):
    handler = HandlerChoiceField(label=_("Handler"), queryset=User.objects.none())

    def __init__(self, *args, case: Case, **kwargs):
        super().__init__(*args, **kwargs)
        self.case = case
        offer_handlers(self, "handler", handlers_covering(case.department))
        if case.handler_id and not self.is_bound:
            self.initial["handler"] = case.handler

    def clean_handler(self):
        handler = self.cleaned_data["handler"]
        problem = handler_refusal(handler, [self.case])
        if problem:
            raise ValidationError(problem)
        return handler


class RouteForm(forms.Form):
    department = DepartmentChoiceField(
        label=_("Move to the queue of"), queryset=Department.objects.none()
    )
    note = forms.CharField(
        label=_("Note (optional)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, user, case: Case, **kwargs):
        super().__init__(*args, **kwargs)
        departments = restrict(
            Department.objects.filter(is_active=True), user, perms.ASSIGN_CASES, ""
        )
        self.fields["department"].queryset = departments.exclude(pk=case.department_id).order_by(
            "path"
        )


# The final response ------------------------------------------------------------------------


def outcome_choices(case: Case) -> list[tuple[str, str]]:
    """A complaint is upheld, partly upheld or not upheld; anything else is answered."""
    if case.kind != CaseKind.COMPLAINT:
        return [(Outcome.ANSWERED, Outcome.ANSWERED.label)]
    wanted = [value for value in RESPONSE_OUTCOMES if value != Outcome.ANSWERED]
    return [("", _("Choose the outcome")), *[(value, Outcome(value).label) for value in wanted]]


def letter_templates(case: Case) -> QuerySet:
    return ResponseTemplate.objects.filter(language=case.language).order_by("outcome", "name")


def best_template(case: Case, outcome: str, template_id="") -> ResponseTemplate | None:
    """The template chosen (in the case's language), else the case language's letter for
    ``outcome``, else its letter for any outcome (see ``rules_services``)."""
    if str(template_id).isdigit():
        chosen = letter_templates(case).filter(pk=template_id).first()
        if chosen is not None:
            return chosen
    if not outcome:
        return letter_templates(case).filter(outcome="").first()
    return rules_services.response_templates_for(outcome=outcome, language=case.language).first()


def letter_text(template, case: Case, outcome: str = "", redress=None) -> str:
    """The letter with its {placeholders} filled in for ``case``, in the case's language, with
    the outcome and redress being chosen in the form (the case has neither yet)."""
    if template is None:
        return ""
    values = rules_services.letter_values(case, case.language)
    with translation.override(case.language):
        values["outcome"] = str(Outcome(outcome).label) if outcome in Outcome.values else ""
        if redress is not None:
            values["redress_amount"] = money(redress, case.currency)
    try:
        return rules_services.letter_render(template.body, values)
    except ValidationError:
        return template.body  # an unusable placeholder: the handler sees it and edits it


def letter_placeholders() -> str:
    return ", ".join(f"{{{name}}}" for name in rules_services.LETTER_FIELDS)


class StaffChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.name} ({obj.employee_number})"


# A queue with more staff than this asks for employee numbers instead of listing everyone.
STAFF_LIST_LIMIT = 300
_NUMBER_SEPARATORS = re.compile(r"[\s,;，、；]+")


class EmployeeNumbersField(forms.CharField):
    """Employee numbers separated by commas or spaces, each one of ``queryset``."""

    def __init__(self, *, queryset, **kwargs):
        super().__init__(**kwargs)
        self.queryset = queryset

    def clean(self, value):
        text = super().clean(value)
        numbers = [number for number in _NUMBER_SEPARATORS.split(text or "") if number]
        if not numbers:
            return []
        found = list(self.queryset.filter(employee_number__in=numbers))
        unknown = sorted(set(numbers) - {staff.employee_number for staff in found})
        if unknown:
            raise ValidationError(
                _("No active employee of this queue has the number %(numbers)s.")
                % {"numbers": ", ".join(unknown)}
            )
        return found


class RespondForm(forms.Form):
    outcome = forms.ChoiceField(label=_("Outcome"))
    root_cause = forms.ModelChoiceField(
        label=_("Root cause"),
        required=False,
        queryset=Category.objects.none(),
        empty_label=_("Not classified"),
    )
    redress_amount = forms.DecimalField(
        label=_("Redress paid or offered"),
        required=False,
        min_value=0,
        max_digits=14,
        decimal_places=2,
    )
    staff_involved = StaffChoiceField(
        label=_("Staff the complaint is about"),
        required=False,
        queryset=Staff.objects.none(),
        help_text=_("Upholding a complaint against someone is recorded for their accountability."),
    )
    concerns_attitude = forms.BooleanField(
        label=_("The complaint concerns service attitude"), required=False
    )
    template = forms.ModelChoiceField(
        label=_("Letter template"),
        required=False,
        queryset=ResponseTemplate.objects.none(),
        empty_label=_("Best match for the outcome"),
    )
    response_text = forms.CharField(
        label=_("Response letter (edit before sending)"),
        max_length=20000,
        widget=forms.Textarea(attrs={"rows": 12}),
    )

    def __init__(self, *args, case: Case, **kwargs):
        super().__init__(*args, **kwargs)
        self.case = case
        self.fields["outcome"].choices = outcome_choices(case)
        self.fields["root_cause"].queryset = Category.objects.filter(
            axis=CategoryAxis.CAUSE, is_active=True
        ).order_by("scheme", "code")
        staff = Staff.objects.filter(
            department__path__startswith=case.department.path, status=StaffStatus.ACTIVE
        ).order_by("name")
        if staff[: STAFF_LIST_LIMIT + 1].count() > STAFF_LIST_LIMIT:
            self.fields["staff_involved"] = EmployeeNumbersField(
                label=self.fields["staff_involved"].label,
                required=False,
                queryset=staff,
                help_text=_("Employee numbers, separated by commas."),
            )
        else:
            self.fields["staff_involved"].queryset = staff
        self.fields["template"].queryset = letter_templates(case)
        self.fields["template"].label_from_instance = lambda t: t.name
        if case.kind != CaseKind.COMPLAINT:
            self.initial.setdefault("outcome", Outcome.ANSWERED)
        if not self.is_bound:
            outcome = self.initial.get("outcome", "")
            template = best_template(case, outcome, self.initial.get("template", ""))
            redress = self.initial.get("redress_amount")
            self.initial.setdefault("response_text", letter_text(template, case, outcome, redress))
