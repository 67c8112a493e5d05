"""Forms of the quality pages. They check the shape of what is typed; the rules (a draft only, a
valid weight, a critical item on a yes/no scale, the dispute window) are the services' and the
statistics module's, and their refusals are shown beside the field they concern."""

from datetime import datetime, time, timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from servicecharter.org.forms import DepartmentChoiceField
from servicecharter.org.models import Department
from servicecharter.quality.choices import CriterionCategory, Scale
from servicecharter.quality.models import Criterion, Scorecard, Section

NOT_APPLICABLE = "na"
YES_NO_CHOICES = [("1", _("Yes")), ("0", _("No")), (NOT_APPLICABLE, _("N/A"))]
ONE_TO_FIVE_CHOICES = [*((str(n), str(n)) for n in range(1, 6)), (NOT_APPLICABLE, _("N/A"))]
WEIGHT_WIDGET = forms.NumberInput(attrs={"step": "0.5", "min": "0"})


# Scorecards ----------------------------------------------------------------------------------


class ScorecardForm(forms.Form):
    code = forms.CharField(
        label=_("Code"), max_length=32, help_text=_("A short name used in reports, e.g. PHONE.")
    )
    name_en = forms.CharField(label=_("Name (English)"), max_length=200)
    name_zh = forms.CharField(label=_("Name (Chinese)"), max_length=200)
    pass_mark = forms.IntegerField(label=_("Pass mark (%)"), min_value=0, max_value=100, initial=80)

    def __init__(self, *args, scorecard: Scorecard | None = None, **kwargs):
        if scorecard is not None:
            kwargs.setdefault(
                "initial", {"name_en": scorecard.name_en, "name_zh": scorecard.name_zh}
            )
        super().__init__(*args, **kwargs)
        if scorecard is not None:
            # The code names the scorecard in reports; the pass mark belongs to each version.
            del self.fields["code"]
            del self.fields["pass_mark"]


class PassMarkForm(forms.Form):
    pass_mark = forms.IntegerField(label=_("Pass mark (%)"), min_value=0, max_value=100)


class SectionForm(forms.Form):
    name_en = forms.CharField(label=_("Name (English)"), max_length=200)
    name_zh = forms.CharField(label=_("Name (Chinese)"), max_length=200)
    weight = forms.DecimalField(
        label=_("Weight"),
        max_digits=6,
        decimal_places=2,
        widget=WEIGHT_WIDGET,
        help_text=_("Relative to the other sections; sections wholly not applicable drop out."),
    )

    def __init__(self, *args, section: Section | None = None, **kwargs):
        if section is not None:
            kwargs.setdefault(
                "initial",
                {"name_en": section.name_en, "name_zh": section.name_zh, "weight": section.weight},
            )
        super().__init__(*args, **kwargs)


class CriterionForm(forms.Form):
    code = forms.CharField(
        label=_("Code"), max_length=50, help_text=_("e.g. verify_identity; unique in the version.")
    )
    text_en = forms.CharField(label=_("Criterion (English)"), max_length=300)
    text_zh = forms.CharField(label=_("Criterion (Chinese)"), max_length=300)
    weight = forms.DecimalField(
        label=_("Weight"), max_digits=6, decimal_places=2, widget=WEIGHT_WIDGET, initial=1
    )
    scale = forms.ChoiceField(label=_("Scale"), choices=Scale.choices)
    category = forms.ChoiceField(label=_("Category"), choices=CriterionCategory.choices)
    critical = forms.BooleanField(
        label=_("Critical: a “no” fails the whole evaluation (score 0)"), required=False
    )

    def __init__(self, *args, criterion: Criterion | None = None, **kwargs):
        if criterion is not None:
            kwargs.setdefault(
                "initial",
                {
                    name: getattr(criterion, name)
                    for name in ("code", "text_en", "text_zh", "weight", "scale", "category")
                }
                | {"critical": criterion.critical},
            )
        super().__init__(*args, **kwargs)


# Scoring -------------------------------------------------------------------------------------


def answer_field_name(criterion: Criterion) -> str:
    return f"answer-{criterion.pk}"


def comment_field_name(criterion: Criterion) -> str:
    return f"comment-{criterion.pk}"


class ScoringForm(forms.Form):
    """An answer (and an optional comment) for every criterion of a version, in order. Every
    criterion needs an answer: "not applicable" has to be chosen, not implied."""

    def __init__(self, *args, criteria: list[Criterion], answers=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.criteria = criteria
        answers = answers or {}
        for criterion in criteria:
            choices = YES_NO_CHOICES if criterion.scale == Scale.YES_NO else ONE_TO_FIVE_CHOICES
            initial = answers.get(criterion.pk)
            self.fields[answer_field_name(criterion)] = forms.ChoiceField(
                label=criterion.text_en,
                choices=choices,
                widget=forms.RadioSelect,
                error_messages={"required": _("Answer this (or choose N/A).")},
                initial=None if initial is None else initial[0],
            )
            self.fields[comment_field_name(criterion)] = forms.CharField(
                label=_("Comment"),
                required=False,
                max_length=2000,
                widget=forms.Textarea(attrs={"rows": 1, "placeholder": _("Comment (optional)")}),
                initial=None if initial is None else initial[1],
            )

    def rows(self):
        """(criterion, its answer field, its comment field), in order, for the template."""
        return [
            (criterion, self[answer_field_name(criterion)], self[comment_field_name(criterion)])
            for criterion in self.criteria
        ]

    def answers(self) -> dict[str, int | None]:
        """By criterion code, as the services take them."""
        return {
            criterion.code: _answer_value(self.cleaned_data[answer_field_name(criterion)])
            for criterion in self.criteria
        }

    def partial_answers(self) -> dict[str, int | None]:
        """The criteria answered so far (for the live total), by code."""
        given = {}
        for criterion in self.criteria:
            raw = self.data.get(self.add_prefix(answer_field_name(criterion)))
            choices = {value for value, _label in self.fields[answer_field_name(criterion)].choices}
            if raw in choices:
                given[criterion.code] = _answer_value(raw)
        return given

    def comments(self) -> dict[str, str]:
        return {
            criterion.code: self.cleaned_data[comment_field_name(criterion)]
            for criterion in self.criteria
        }


def _answer_value(raw: str) -> int | None:
    return None if raw == NOT_APPLICABLE else int(raw)


def initial_answers(evaluation) -> dict[int, tuple[str, str]]:
    """criterion id → (the answer as the form writes it, the comment), from stored answers."""
    return {
        answer.criterion_id: (
            NOT_APPLICABLE if answer.value is None else str(answer.value),
            answer.comment,
        )
        for answer in evaluation.answers.all()
    }


class DisputeForm(forms.Form):
    reason = forms.CharField(
        label=_("Why do you dispute this evaluation?"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )


class DecisionForm(forms.Form):
    UPHOLD, REVISE = "uphold", "revise"
    decision = forms.ChoiceField(
        label=_("Decision"),
        widget=forms.RadioSelect,
        choices=[
            (UPHOLD, _("The score stands (uphold it)")),
            (REVISE, _("The dispute is right: score the interaction again below")),
        ],
    )
    note = forms.CharField(
        label=_("Reasons, for the employee"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )

    @property
    def upheld(self) -> bool:
        return self.cleaned_data["decision"] == self.UPHOLD


# Periods and filters ---------------------------------------------------------------------------

DEFAULT_PERIOD_DAYS = 90


class PeriodForm(forms.Form):
    since = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def period(self) -> tuple[datetime, datetime | None]:
        """[since, until) as aware instants; by default the last 90 days up to now."""
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        since = data.get("since") or timezone.localdate() - timedelta(days=DEFAULT_PERIOD_DAYS)
        until = data.get("until")
        start = timezone.make_aware(datetime.combine(since, time.min))
        end = (
            timezone.make_aware(datetime.combine(until + timedelta(days=1), time.min))
            if until
            else None
        )
        return start, end


class TeamFilterForm(PeriodForm):
    department = DepartmentChoiceField(
        label=_("Department"),
        queryset=Department.objects.none(),
        required=False,
        empty_label=_("Every department in scope"),
    )

    field_order = ["department", "since", "until"]

    def __init__(self, *args, departments, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = departments

    def chosen_department(self) -> Department | None:
        return self.cleaned_data.get("department") if self.is_bound and self.is_valid() else None
