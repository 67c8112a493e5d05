"""Forms of the case-rules pages. They check the shape of the input; the rules themselves
(a rule that could never apply, a profile the clocks cannot follow) are the services' in
``cases.rules_services``, whose refusals the pages show beside the field they name."""

import json

from django import forms
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

from servicecharter.cases.choices import CategoryAxis, TaxonomyScheme
from servicecharter.cases.models import (
    CaseSettings,
    ProfileRule,
    ResponseTemplate,
    RoutingRule,
)
from servicecharter.cases.profiles import PROFILES, Approver, DayUnit, PauseReason
from servicecharter.cases.rules_services import LETTER_FIELDS, profile_choices
from servicecharter.org.models import BusinessType, Department


class BusinessTypeChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.code} · {obj.name}"


class DepartmentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{'— ' * obj.depth}{obj.code} · {obj.name}"


def _business_types():
    return BusinessType.objects.order_by("code")


class RoutingRuleForm(forms.ModelForm):
    business_type = BusinessTypeChoiceField(
        label=_("Business type"),
        queryset=BusinessType.objects.none(),
        required=False,
        empty_label=_("Any business type"),
        help_text=_("A business type also covers its subtypes."),
    )
    department = DepartmentChoiceField(
        label=_("Queue"), queryset=Department.objects.none(), empty_label=None
    )
    priority = forms.IntegerField(
        label=_("Priority"),
        required=False,
        min_value=0,
        max_value=1_000_000,
        help_text=_("Rules are tried from the lowest number; the first that matches wins. "
                    "Leave empty to put the rule last."),
    )  # fmt: skip

    class Meta:
        model = RoutingRule
        fields = [
            "name",
            "priority",
            "kind",
            "channel",
            "business_type",
            "min_severity",
            "department",
            "is_active",
        ]
        labels = {
            "kind": _("Kind of case"),
            "channel": _("Channel"),
            "min_severity": _("Severity at least"),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["business_type"].queryset = _business_types()
        self.fields["department"].queryset = Department.objects.filter(is_active=True)
        for name, label in (
            ("kind", _("Any kind")),
            ("channel", _("Any channel")),
            ("min_severity", _("Any severity")),
        ):
            self.fields[name].choices = [("", label), *self.fields[name].choices[1:]]


class ProfileRuleForm(forms.ModelForm):
    business_type = BusinessTypeChoiceField(
        label=_("Business type"),
        queryset=BusinessType.objects.none(),
        required=False,
        empty_label=_("Any business type"),
        help_text=_("A business type also covers its subtypes."),
    )
    priority = forms.IntegerField(
        label=_("Priority"),
        required=False,
        min_value=0,
        max_value=1_000_000,
        help_text=_("Rules are tried from the lowest number; the first that matches wins. "
                    "Leave empty to put the rule last."),
    )  # fmt: skip
    profile_key = forms.ChoiceField(label=_("Regulatory profile"))

    class Meta:
        model = ProfileRule
        fields = ["priority", "channel", "business_type", "jurisdiction", "profile_key"]
        labels = {"channel": _("Channel"), "jurisdiction": _("Jurisdiction")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["business_type"].queryset = _business_types()
        self.fields["profile_key"].choices = profile_choices()
        for name, label in (("channel", _("Any channel")), ("jurisdiction", _("Any jurisdiction"))):
            self.fields[name].choices = [("", label), *self.fields[name].choices[1:]]


PROFILE_KEY = RegexValidator(
    r"^[a-z][a-z0-9_]{0,49}$",
    _("Start with a lower-case letter; use only lower-case letters, digits and underscores."),
)


def definition_help() -> str:
    """What the JSON editor accepts, listed from the same choices the checker uses."""
    return _(
        "A JSON object: label_en, label_zh, source and clocks. Each clock: key, label_en, "
        "label_zh, length (days, 1–366), unit (%(units)s), calendar (a calendar code), "
        "ends_at_close_of_day, roll_forward, restarts_on_new_facts, is_window (true/false), "
        "pause_reasons (%(reasons)s) and extensions. Each extension: level, label_en, "
        "label_zh, length (the clock's total length once granted), approver (%(approvers)s), "
        "reason_required, customer_told and requires (a level granted before)."
    ) % {
        "units": ", ".join(DayUnit.values),
        "reasons": ", ".join(PauseReason.values),
        "approvers": ", ".join(value or '""' for value in Approver.values),
    }


class CustomProfileForm(forms.Form):
    key = forms.CharField(
        label=_("Key"),
        max_length=50,
        validators=[PROFILE_KEY],
        help_text=_("How profile rules and cases name the profile, e.g. hk_hkma."),
    )
    definition = forms.CharField(
        label=_("Definition (JSON)"),
        widget=forms.Textarea(attrs={"rows": 24, "class": "code", "spellcheck": "false"}),
    )
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["definition"].help_text = definition_help()

    def clean_definition(self) -> dict:
        text = self.cleaned_data["definition"]
        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            raise forms.ValidationError(
                _("This is not valid JSON: line %(line)s, column %(column)s: %(problem)s.")
                % {"line": error.lineno, "column": error.colno, "problem": error.msg}
            ) from None
        if not isinstance(value, dict):
            raise forms.ValidationError(_("The definition must be a JSON object { … }."))
        return value


def definition_text(definition: dict) -> str:
    return json.dumps(definition, ensure_ascii=False, indent=2)


class StartFromForm(forms.Form):
    """Which shipped profile a new custom profile starts from."""

    start_from = forms.ChoiceField(label=_("Start from"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["start_from"].choices = [
            ("", _("An empty profile")),
            *((key, str(profile.label)) for key, profile in PROFILES.items()),
        ]


class ResponseTemplateForm(forms.ModelForm):
    class Meta:
        model = ResponseTemplate
        fields = ["name", "language", "outcome", "body"]
        widgets = {"body": forms.Textarea(attrs={"rows": 18})}
        labels = {"outcome": _("For the outcome")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["outcome"].choices = [
            ("", _("Any outcome")),
            *self.fields["outcome"].choices[1:],
        ]
        self.fields["body"].help_text = _("Placeholders: %(fields)s.") % {
            "fields": ", ".join(f"{{{name}}} ({label})" for name, label in LETTER_FIELDS.items())
        }


class CaseSettingsForm(forms.ModelForm):
    class Meta:
        model = CaseSettings
        fields = ["warn_share", "duplicate_window_days", "reopen_window_days", "repeat_window_days"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["warn_share"].min_value = 1
        self.fields["warn_share"].max_value = 99
        self.fields["warn_share"].widget.attrs.update(min=1, max=99)
        for name in ("duplicate_window_days", "reopen_window_days", "repeat_window_days"):
            self.fields[name].widget.attrs.update(min=1, max=365)


class TaxonomyFilterForm(forms.Form):
    scheme = forms.ChoiceField(label=_("Taxonomy"), choices=TaxonomyScheme.choices, required=False)
    axis = forms.ChoiceField(
        label=_("Axis"), choices=[("", _("All axes")), *CategoryAxis.choices], required=False
    )
    q = forms.CharField(label=_("Search"), required=False, max_length=100)
