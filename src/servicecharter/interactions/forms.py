"""The filters of the interaction list."""

from datetime import datetime, time, timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from servicecharter.interactions.choices import InteractionOutcome
from servicecharter.org.choices import Channel
from servicecharter.org.forms import DepartmentChoiceField
from servicecharter.org.models import Department, Staff


class InteractionFilterForm(forms.Form):
    channel = forms.ChoiceField(
        label=_("Channel"), required=False, choices=[("", _("Any channel")), *Channel.choices]
    )
    staff = forms.CharField(
        label=_("Employee number"),
        required=False,
        max_length=32,
        widget=forms.TextInput(attrs={"size": 10}),
    )
    outcome = forms.ChoiceField(
        label=_("Outcome"),
        required=False,
        choices=[("", _("Any outcome")), *InteractionOutcome.choices],
    )
    deviations = forms.ChoiceField(
        label=_("Deviations"),
        required=False,
        choices=[("", _("With or without")), ("yes", _("With deviations")), ("no", _("None"))],
    )
    department = DepartmentChoiceField(
        label=_("Department"),
        queryset=Department.objects.none(),
        required=False,
        empty_label=_("Every department in scope"),
    )
    started_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    started_to = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, departments, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = departments

    def clean_staff(self):
        number = self.cleaned_data["staff"].strip()
        if not number:
            return None
        staff = Staff.objects.filter(employee_number=number).first()
        if staff is None:
            raise forms.ValidationError(_("No member of staff has this employee number."))
        return staff

    def clean(self):
        data = super().clean()
        start, end = data.get("started_from"), data.get("started_to")
        if start and end and end < start:
            self.add_error("started_to", _("The end comes before the start."))
        return data

    def filters(self) -> dict:
        """Keyword arguments for ``selectors.interaction_filter`` (nothing when invalid)."""
        if not self.is_valid():
            return {}
        data = self.cleaned_data
        deviations = {"yes": True, "no": False}.get(data.get("deviations") or "")
        return {
            "channel": data.get("channel") or "",
            "staff": data.get("staff"),
            "outcome": data.get("outcome") or "",
            "with_deviations": deviations,
            "department": data.get("department"),
            "started_from": _start_of(data.get("started_from")),
            "started_to": _start_of(data["started_to"] + timedelta(days=1))
            if data.get("started_to")
            else None,
        }


def _start_of(day) -> datetime | None:
    if day is None:
        return None
    return timezone.make_aware(datetime.combine(day, time.min))
