"""Forms of the institution pages. They check input and offer only the departments the user
may act on; the writes themselves are the services in ``org.services``."""

import re
from decimal import Decimal

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from servicecharter.accounts import permissions as perms
from servicecharter.core import pii
from servicecharter.org import selectors
from servicecharter.org.choices import CustomerSegment, CustomerTier, DepartmentKind, StaffStatus
from servicecharter.org.models import BusinessType, Customer, Department, Product, Staff


def apply_service_errors(form: forms.Form, error: ValidationError) -> None:
    """Show a service's ValidationError beside the field it names (or above the form)."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)


def _department_choices(user, capability: str):
    return selectors.department_list(user=user, capability=capability)


class DepartmentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{'— ' * obj.depth}{obj.code} · {obj.name}"


# Filters -------------------------------------------------------------------------------


class DepartmentFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    kind = forms.ChoiceField(
        label=_("Kind"), required=False, choices=[("", _("All kinds")), *DepartmentKind.choices]
    )


class StaffFilterForm(forms.Form):
    q = forms.CharField(label=_("Name or employee number"), required=False, max_length=100)
    department = DepartmentChoiceField(
        label=_("Department"),
        required=False,
        queryset=Department.objects.none(),
        empty_label=_("All departments"),
    )
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("Any status")), *StaffStatus.choices]
    )
    grade = forms.IntegerField(label=_("Grade"), required=False, min_value=1, max_value=99)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = _department_choices(user, perms.VIEW_ORG)


class CustomerFilterForm(forms.Form):
    q = forms.CharField(
        label=_("Name, customer number, identity number or phone"),
        required=False,
        max_length=100,
        help_text=_("Identity numbers and phones are found by their exact, complete value."),
    )
    segment = forms.ChoiceField(
        label=_("Segment"),
        required=False,
        choices=[("", _("All segments")), *CustomerSegment.choices],
    )
    tier = forms.ChoiceField(
        label=_("Tier"), required=False, choices=[("", _("All tiers")), *CustomerTier.choices]
    )
    vulnerable = forms.ChoiceField(
        label=_("Vulnerable"),
        required=False,
        choices=[("", _("Everyone")), ("yes", _("Vulnerable only")), ("no", _("Not vulnerable"))],
    )

    def vulnerable_value(self) -> bool | None:
        return {"yes": True, "no": False}.get(self.cleaned_data.get("vulnerable") or "")


class ProductFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    business_type = forms.ModelChoiceField(
        label=_("Business type"),
        required=False,
        queryset=BusinessType.objects.order_by("code"),
        empty_label=_("All business types"),
    )


# Departments ---------------------------------------------------------------------------


class DepartmentForm(forms.ModelForm):
    parent = DepartmentChoiceField(
        label=_("Parent department"), required=False, queryset=Department.objects.none()
    )

    class Meta:
        model = Department
        fields = ["code", "name_en", "name_zh", "kind", "parent", "calendar_code", "is_active"]

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        choices = _department_choices(user, perms.CHANGE_ORG)
        if self.instance.parent_id:
            # Someone whose scope is this very department may rename it without moving it.
            choices = Department.objects.filter(
                Q(pk__in=choices.values("pk")) | Q(pk=self.instance.parent_id)
            ).order_by("path")
        self.fields["parent"].queryset = choices
        if self.instance.pk is None:
            del self.fields["is_active"]

    def clean_parent(self):
        parent = self.cleaned_data.get("parent")
        if parent is None and not selectors.holds_institution_wide(self.user, perms.CHANGE_ORG):
            raise ValidationError(_("Choose the department this one belongs to."))
        return parent


# Staff ---------------------------------------------------------------------------------


class StaffForm(forms.ModelForm):
    department = DepartmentChoiceField(label=_("Department"), queryset=Department.objects.none())
    base_wage = forms.DecimalField(
        label=_("Monthly base wage"), min_value=Decimal("0"), max_digits=12, decimal_places=2
    )

    class Meta:
        model = Staff
        fields = [
            "employee_number",
            "name",
            "name_latin",
            "email",
            "department",
            "position",
            "grade",
            "base_wage",
            "currency",
            "hire_date",
            "status",
        ]
        widgets = {"hire_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")}

    def __init__(self, *args, user, show_wage: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = _department_choices(user, perms.CHANGE_ORG)
        self.fields["grade"].min_value = 1
        self.fields["grade"].widget.attrs.update(min=1, max=99)
        self.fields["grade"].validators.append(_grade_in_range)
        if self.instance.pk is None:
            self.fields["currency"].initial = settings.CURRENCY
        if not show_wage:
            # Someone who may not see wages edits everything else and leaves the wage alone.
            del self.fields["base_wage"]

    def clean_currency(self):
        currency = (self.cleaned_data.get("currency") or "").strip().upper()
        if not re.fullmatch(r"[A-Z]{3}", currency):
            raise ValidationError(_("Enter a three-letter currency code such as CNY."))
        return currency


def _grade_in_range(value):
    if value is not None and not 1 <= value <= 99:
        raise ValidationError(_("A grade is a whole number from 1 to 99."))


# Customers -----------------------------------------------------------------------------

CN_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CN_ID_CHECK = "10X98765432"


def clean_id_number(value: str) -> str:
    value = pii.normalise(value)
    if not value:
        return ""
    if not re.fullmatch(r"[0-9A-Z]{6,32}", value):
        raise ValidationError(_("An identity number has 6 to 32 letters and digits."))
    if re.fullmatch(r"\d{17}[\dX]", value):
        total = sum(int(d) * w for d, w in zip(value[:17], CN_ID_WEIGHTS, strict=True))
        if CN_ID_CHECK[total % 11] != value[-1]:
            raise ValidationError(
                _("This resident identity number is not valid: its check digit does not match.")
            )
    return value


def clean_phone(value: str) -> str:
    value = pii.normalise(value)
    if not value:
        return ""
    if not re.fullmatch(r"\+?\d{5,20}", value):
        raise ValidationError(_("A phone number has 5 to 20 digits, optionally after a +."))
    return value


class CustomerForm(forms.ModelForm):
    home_department = DepartmentChoiceField(
        label=_("Home branch"), queryset=Department.objects.none()
    )
    id_number = forms.CharField(label=_("Identity number"), required=False, max_length=40)
    phone = forms.CharField(label=_("Phone"), required=False, max_length=30)
    address = forms.CharField(label=_("Address"), required=False, max_length=300)

    class Meta:
        model = Customer
        fields = [
            "customer_number",
            "name",
            "home_department",
            "segment",
            "tier",
            "is_vulnerable",
            "vulnerability_note",
            "preferred_language",
            "preferred_channel",
            "email",
        ]

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["home_department"].queryset = _department_choices(user, perms.CHANGE_CUSTOMERS)
        if self.instance.pk is not None:
            # The stored values are never put into the page; a blank field keeps them.
            keep = _("Leave blank to keep the stored value.")
            masked = selectors.customer_masked_pii(self.instance)
            for name in ("id_number", "phone", "address"):
                self.fields[name].help_text = keep
                self.fields[name].widget.attrs["placeholder"] = masked[name]

    def clean_id_number(self):
        return clean_id_number(self.cleaned_data.get("id_number", ""))

    def clean_phone(self):
        return clean_phone(self.cleaned_data.get("phone", ""))

    def clean_address(self):
        return (self.cleaned_data.get("address") or "").strip()

    def personal_data(self) -> dict[str, str]:
        """The personal-data fields to write: all of them on create, only those filled in on
        edit."""
        values = {name: self.cleaned_data[name] for name in ("id_number", "phone", "address")}
        if self.instance.pk is None:
            return values
        return {name: value for name, value in values.items() if value}

    def plain_data(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}


# Products and business types -----------------------------------------------------------


class BusinessTypeForm(forms.ModelForm):
    class Meta:
        model = BusinessType
        fields = ["code", "name_en", "name_zh", "parent"]


class ProductForm(forms.ModelForm):
    class Meta:
        model = Product
        fields = ["code", "name_en", "name_zh", "business_type", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["business_type"].queryset = BusinessType.objects.order_by("code")
        if self.instance.pk is None:
            del self.fields["is_active"]
