"""Forms of the violation and rulebook pages. They check the shape of what is typed; the rules
(a draft only, a reason to adjust, never one's own violation) are the services'."""

from django import forms
from django.utils.translation import gettext_lazy as _

from servicecharter.discipline.choices import (
    REWARDS,
    FactorEffect,
    FinePolicy,
    ImpactScope,
    Measure,
    Severity,
    ViolationCategory,
    ViolationSource,
    ViolationState,
)
from servicecharter.discipline.models import Rule, RulebookVersion, ViolationType
from servicecharter.discipline.rulebook_services import RULE_FIELDS
from servicecharter.org.forms import DepartmentChoiceField
from servicecharter.standards.forms import DateTimeInput

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _blank(choices, label):
    return [("", label), *choices]


class ViolationTypeChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.get_category_display()} · {obj.name_zh} / {obj.name_en}"


class ViolationFilterForm(forms.Form):
    state = forms.ChoiceField(
        label=_("State"), required=False, choices=_blank(ViolationState.choices, _("All"))
    )
    type = forms.ChoiceField(label=_("Type"), required=False)
    department = DepartmentChoiceField(
        label=_("Department"), required=False, queryset=None, empty_label=_("All in my scope")
    )
    source = forms.ChoiceField(
        label=_("Source"), required=False, choices=_blank(ViolationSource.choices, _("All"))
    )

    def __init__(self, *args, departments, types, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = departments
        self.fields["type"].choices = _blank(
            [(t.code, f"{t.name_zh} / {t.name_en}") for t in types], _("All")
        )


class EvidenceField(forms.CharField):
    """One piece of evidence a line: "label" or "label | /path/inside/the/system"."""

    widget = forms.Textarea(attrs={"rows": 3})

    def clean(self, value):
        text = super().clean(value) or ""
        items = []
        for line in text.splitlines():
            if not line.strip():
                continue
            label, _sep, url = line.partition("|")
            kind = "note"
            url = url.strip()
            if url.startswith("/cases/"):
                kind = "case"
            elif url.startswith("/quality/evaluations/"):
                kind = "evaluation"
            elif url.startswith("/quality/reviews/"):
                kind = "review"
            items.append({"kind": kind, "label": label.strip(), "url": url})
        return items


class ViolationRaiseForm(forms.Form):
    employee_number = forms.CharField(label=_("Employee number"), max_length=32)
    vtype = ViolationTypeChoiceField(label=_("Type"), queryset=ViolationType.objects.none())
    occurred_at = forms.DateTimeField(label=_("When it happened"), widget=DateTimeInput())
    summary = forms.CharField(label=_("Summary"), max_length=300)
    details = forms.CharField(label=_("What was observed"), required=False, widget=forms.Textarea)
    evidence = EvidenceField(
        label=_("Evidence"),
        required=False,
        help_text=_('One a line: a description, optionally "| /cases/42/" for a link.'),
    )
    severity = forms.ChoiceField(
        label=_("Severity"),
        required=False,
        choices=_blank(Severity.choices, _("The type's default")),
    )
    impact_scope = forms.ChoiceField(
        label=_("Impact scope"),
        required=False,
        choices=_blank(ImpactScope.choices, _("The type's default")),
    )
    money_lost = forms.DecimalField(
        label=_("Money lost"), required=False, max_digits=14, decimal_places=2
    )

    def __init__(self, *args, types, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["vtype"].queryset = types


class ViolationAdjustForm(forms.Form):
    severity = forms.ChoiceField(
        label=_("Severity"), required=False, choices=_blank(Severity.choices, _("Unchanged"))
    )
    impact_scope = forms.ChoiceField(
        label=_("Impact scope"),
        required=False,
        choices=_blank(ImpactScope.choices, _("Unchanged")),
    )
    money_lost = forms.DecimalField(
        label=_("Money lost"), required=False, max_digits=14, decimal_places=2
    )
    reason = forms.CharField(label=_("Reason for the adjustment"), widget=forms.Textarea)


class ReviewNoteForm(forms.Form):
    note = forms.CharField(label=_("Note"), required=False, widget=forms.Textarea)


class VersionSettingsForm(forms.ModelForm):
    class Meta:
        model = RulebookVersion
        fields = ["effective_from", "lookback_days", "appeal_days"]
        widgets = {"effective_from": DATE_WIDGET}


class RuleForm(forms.ModelForm):
    violation_type = ViolationTypeChoiceField(
        label=_("Violation type"),
        required=False,
        queryset=ViolationType.objects.filter(is_active=True),
        empty_label=_("Any"),
    )

    class Meta:
        model = Rule
        fields = list(RULE_FIELDS)  # what the service writes
        widgets = {
            "explanation_en": forms.Textarea(attrs={"rows": 2}),
            "explanation_zh": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = _blank(ViolationCategory.choices, _("Any"))
        self.fields["measure"].choices = [
            (value, label) for value, label in Measure.choices if value not in REWARDS
        ]

    def validate_unique(self):
        # The service checks the code against the version's other rules.
        pass

    def values(self) -> dict:
        return {name: self.cleaned_data.get(name) for name in self.Meta.fields}


class FactorForm(forms.Form):
    code = forms.SlugField(label=_("Code"), max_length=40)
    effect = forms.ChoiceField(label=_("Effect"), choices=FactorEffect.choices)
    steps = forms.IntegerField(label=_("Rungs"), min_value=1, max_value=3, initial=1)
    name_en = forms.CharField(label=_("Name (English)"), max_length=200)
    name_zh = forms.CharField(label=_("Name (Chinese)"), max_length=200)


class ApproveForm(forms.Form):
    note = forms.CharField(
        label=_("How it was adopted"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("For example: staff congress resolution no. 3, 28 April 2026."),
    )


class LimitsForm(forms.Form):
    fine_policy = forms.ChoiceField(label=_("Fines"), choices=FinePolicy.choices)
    cap_percent = forms.DecimalField(
        # xgettext:no-python-format
        label=_("Cap on all deductions of a month (% of the monthly wage)"),
        max_digits=5,
        decimal_places=2,
        min_value=0,
        max_value=100,
    )
    minimum_wage = forms.DecimalField(
        label=_("Local minimum wage (per month)"), max_digits=12, decimal_places=2, min_value=0
    )
    currency = forms.CharField(label=_("Currency"), max_length=3)
    note = forms.CharField(label=_("Legal basis and source of the figures"), widget=forms.Textarea)


class SimulatorForm(forms.Form):
    before = forms.ModelChoiceField(label=_("Version in force"), queryset=None)
    after = forms.ModelChoiceField(label=_("Compared with"), queryset=None)
    start = forms.DateField(label=_("Violations from"), widget=DATE_WIDGET)
    end = forms.DateField(label=_("to"), widget=DATE_WIDGET)
    department = DepartmentChoiceField(
        label=_("Department"), required=False, queryset=None, empty_label=_("All in my scope")
    )

    def __init__(self, *args, versions, departments, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["before"].queryset = versions
        self.fields["after"].queryset = versions
        self.fields["department"].queryset = departments

    def clean(self):
        data = super().clean()
        before, after = data.get("before"), data.get("after")
        if before and after and before.rulebook_id != after.rulebook_id:
            raise forms.ValidationError(_("Compare two versions of the same rulebook."))
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            raise forms.ValidationError(_("The period ends before it starts."))
        if data.get("start") and data.get("end") and (data["end"] - data["start"]).days > 731:
            raise forms.ValidationError(_("Simulate at most two years at a time."))
        return data
