"""Forms of the standards pages. They check the shape of what is typed; the rules (a draft only,
a unique step code, a publication instant after the previous one) are the services'."""

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from servicecharter.org.choices import Channel
from servicecharter.org.models import BusinessType, Department
from servicecharter.standards.choices import Phase, ServiceLevelMetric
from servicecharter.standards.models import Standard, StandardStep


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%dT%H:%M", **kwargs)


class BusinessTypeChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.code} · {obj.name}"


class DepartmentsField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        return f"{'— ' * obj.depth}{obj.code} · {obj.name}"


def _channel_choices(blank_label):
    return [("", blank_label), *Channel.choices]


class StandardFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    channel = forms.ChoiceField(
        label=_("Channel"), required=False, choices=_channel_choices(_("Any channel"))
    )


class StandardForm(forms.Form):
    code = forms.CharField(
        label=_("Code"),
        max_length=32,
        help_text=_("A short name used in reports, e.g. CARD-PHONE."),
    )
    name_en = forms.CharField(label=_("Name (English)"), max_length=200)
    name_zh = forms.CharField(label=_("Name (Chinese)"), max_length=200)
    business_type = BusinessTypeChoiceField(
        label=_("Business type"),
        queryset=BusinessType.objects.order_by("code"),
        required=False,
        empty_label=_("Every business type"),
        help_text=_("The most specific standard judges an interaction."),
    )
    channel = forms.ChoiceField(
        label=_("Channel"), required=False, choices=_channel_choices(_("Every channel"))
    )
    departments = DepartmentsField(
        label=_("Applies to the staff of"),
        queryset=Department.objects.filter(is_active=True).order_by("path"),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 8}),
        help_text=_(
            "These departments and those below them. None: the staff who served this channel "
            "and business type in the last 90 days."
        ),
    )

    def __init__(self, *args, standard: Standard | None = None, locked: bool = False, **kwargs):
        if standard is not None:
            kwargs.setdefault(
                "initial",
                {
                    "code": standard.code,
                    "name_en": standard.name_en,
                    "name_zh": standard.name_zh,
                    "business_type": standard.business_type,
                    "channel": standard.channel,
                    "departments": list(standard.departments.all()),
                },
            )
        super().__init__(*args, **kwargs)
        if standard is not None:
            del self.fields["code"]
        if locked:
            # A published standard keeps what it judges.
            del self.fields["business_type"]
            del self.fields["channel"]


class VersionSummaryForm(forms.Form):
    summary_en = forms.CharField(
        label=_("What changed (English)"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    summary_zh = forms.CharField(
        label=_("What changed (Chinese)"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


class StepForm(forms.Form):
    code = forms.SlugField(
        label=_("Code"),
        max_length=50,
        help_text=_("As channel systems send it in step events, e.g. risk_disclosure."),
    )
    phase = forms.ChoiceField(label=_("Phase"), choices=Phase.choices)
    name_en = forms.CharField(label=_("Name (English)"), max_length=200)
    name_zh = forms.CharField(label=_("Name (Chinese)"), max_length=200)
    description_en = forms.CharField(
        label=_("Description (English)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    description_zh = forms.CharField(
        label=_("Description (Chinese)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    target_seconds = forms.IntegerField(
        label=_("Target time (seconds)"),
        required=False,
        min_value=1,
        max_value=7 * 24 * 3600,
        help_text=_("From the start of service. Blank: no target."),
    )
    mandatory = forms.BooleanField(label=_("Mandatory"), required=False)
    is_disclosure = forms.BooleanField(
        label=_("Mandatory disclosure"),
        required=False,
        help_text=_("A disclosure the customer must be given, e.g. the risk disclosure."),
    )

    def __init__(self, *args, step: StandardStep | None = None, **kwargs):
        if step is not None:
            kwargs.setdefault("initial", {name: getattr(step, name) for name in self.base_fields})
        super().__init__(*args, **kwargs)


class PublishForm(forms.Form):
    effective_from = forms.DateTimeField(
        label=_("In force from"),
        widget=DateTimeInput(),
        help_text=_(
            "The version before it stops at this instant. Interactions already recorded keep "
            "the version that judged them."
        ),
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {"effective_from": timezone.localtime()})
        super().__init__(*args, **kwargs)


class ServiceLevelForm(forms.Form):
    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.choices)
    metric = forms.ChoiceField(label=_("Measure"), choices=ServiceLevelMetric.choices)
    threshold = forms.IntegerField(
        label=_("Threshold"),
        min_value=1,
        max_value=10_000_000,
        help_text=_("Seconds; business days for “reply within business days”."),
    )
    target_share = forms.IntegerField(
        label=_("Target share (%)"),
        min_value=1,
        max_value=100,
        initial=80,
        help_text=_("The share of interactions that must meet it, e.g. 80."),
    )
    effective_from = forms.DateTimeField(label=_("In force from"), widget=DateTimeInput())

    def __init__(self, *args, **kwargs):
        initial = kwargs.setdefault("initial", {})
        initial.setdefault("effective_from", timezone.localtime())
        super().__init__(*args, **kwargs)
