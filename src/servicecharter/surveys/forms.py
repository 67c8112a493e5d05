"""Forms of the surveys module: survey rules, the results filters, the customer's answer."""

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.translation import gettext_lazy as _

from servicecharter.org.choices import Channel
from servicecharter.org.forms import DepartmentChoiceField
from servicecharter.org.models import BusinessType, Department
from servicecharter.surveys.models import SurveyRule
from servicecharter.surveys.services import COMMENT_MAX_LENGTH, RULE_FIELDS


class SurveyRuleForm(forms.ModelForm):
    class Meta:
        model = SurveyRule
        fields = list(RULE_FIELDS)
        help_texts = {
            "channel": _("Empty: every channel."),
            "business_type": _("Empty: every business type. A type includes its sub-types."),
            "sampling_rate": _(
                "The share of matching interactions or cases surveyed, drawn from their ids: "
                "the same one is always in or out."
            ),
            "fatigue_days": _(
                "At most one survey per customer in this many days, whichever rule sent it "
                "(0: no limit)."
            ),
            "valid_days": _("The link can be used once, within this many days."),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["business_type"].queryset = BusinessType.objects.order_by("code")
        self.fields["business_type"].label = _("Business type")
        self.fields["channel"].choices = [("", _("Any channel")), *Channel.choices]
        for name, low, high in (
            ("sampling_rate", 0, 100),
            ("fatigue_days", 0, 365),
            ("valid_days", 1, 90),
        ):
            field = self.fields[name]
            field.validators += [MinValueValidator(low), MaxValueValidator(high)]
            field.widget.attrs.update(min=low, max=high)


MONTH_FORMATS = ["%Y-%m", "%Y-%m-%d"]


class ResultsFilterForm(forms.Form):
    department = DepartmentChoiceField(
        label=_("Department"),
        queryset=Department.objects.none(),
        required=False,
        empty_label=_("Every department in scope"),
    )
    channel = forms.ChoiceField(
        label=_("Channel"), required=False, choices=[("", _("Any channel")), *Channel.choices]
    )
    first_month = forms.DateField(
        label=_("From month"),
        required=False,
        input_formats=MONTH_FORMATS,
        widget=forms.DateInput(attrs={"type": "month"}, format="%Y-%m"),
    )
    last_month = forms.DateField(
        label=_("To month"),
        required=False,
        input_formats=MONTH_FORMATS,
        widget=forms.DateInput(attrs={"type": "month"}, format="%Y-%m"),
    )

    def __init__(self, *args, departments, with_department: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if with_department:
            self.fields["department"].queryset = departments
        else:
            del self.fields["department"]

    def clean(self):
        data = super().clean()
        first, last = data.get("first_month"), data.get("last_month")
        if first and last and last < first:
            self.add_error("last_month", _("The end comes before the start."))
        elif first and last and (last.year - first.year) * 12 + last.month - first.month >= 36:
            self.add_error("first_month", _("Choose at most three years."))
        return data

    def filters(self) -> dict:
        """Keyword arguments for ``selectors.survey_results_for_user`` (none when invalid)."""
        if not self.is_valid():
            return {}
        data = self.cleaned_data
        filters = {
            "channel": data.get("channel") or "",
            "first_month": data.get("first_month"),
            "last_month": data.get("last_month"),
        }
        if "department" in self.fields:
            filters["department"] = data.get("department")
        return filters


def _scale(low: int, high: int) -> list[tuple[int, str]]:
    return [(value, str(value)) for value in range(low, high + 1)]


class SurveyAnswerForm(forms.Form):
    """The customer's answers; only the questions the rule asks are shown and required."""

    csat = forms.TypedChoiceField(
        label=_("Overall, how satisfied are you with the service you received?"),
        choices=_scale(1, 5),
        coerce=int,
        widget=forms.RadioSelect,
        help_text=_("1 = very dissatisfied, 5 = very satisfied"),
    )
    nps = forms.TypedChoiceField(
        label=_("How likely are you to recommend us to a friend or colleague?"),
        choices=_scale(0, 10),
        coerce=int,
        widget=forms.RadioSelect,
        help_text=_("0 = not at all likely, 10 = extremely likely"),
    )
    effort = forms.TypedChoiceField(
        label=_("How much effort did you personally have to put in to get it done?"),
        choices=_scale(1, 5),
        coerce=int,
        widget=forms.RadioSelect,
        help_text=_("1 = very little effort, 5 = a great deal of effort"),
    )
    comment = forms.CharField(
        label=_("Anything you would like to tell us? (optional)"),
        required=False,
        max_length=COMMENT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4}),
    )

    def __init__(self, *args, rule: SurveyRule, **kwargs):
        super().__init__(*args, **kwargs)
        for name, asked in (
            ("csat", rule.ask_csat),
            ("nps", rule.ask_nps),
            ("effort", rule.ask_effort),
            ("comment", rule.ask_comment),
        ):
            if not asked:
                del self.fields[name]
        for name in ("csat", "nps", "effort"):
            if name in self.fields:
                self.fields[name].error_messages["required"] = _("Choose an answer.")

    def answers(self) -> dict:
        data = self.cleaned_data
        return {
            "csat": data.get("csat"),
            "nps": data.get("nps"),
            "effort": data.get("effort"),
            "comment": data.get("comment", ""),
        }
