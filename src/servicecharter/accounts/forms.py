"""Forms of the account pages. They check shape only; rules live in the services."""

from django import forms
from django.utils.translation import gettext_lazy as _

from servicecharter.accounts.choices import Role
from servicecharter.org.choices import Language


class SignInForm(forms.Form):
    username = forms.CharField(
        label=_("User name"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        max_length=4096,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class TotpCodeForm(forms.Form):
    code = forms.CharField(
        label=_("Six-digit code"),
        max_length=12,
        help_text=_("The code your authenticator app shows now."),
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "pattern": r"[0-9 ]*",
                "autofocus": True,
            }
        ),
    )


class UserSearchForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=100)


def _department_choice_label(department) -> str:
    return f"{'— ' * department.depth}{department.code} {department.name}"


class ScopedDepartmentField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return _department_choice_label(obj)


class UserCreateForm(forms.Form):
    username = forms.CharField(label=_("User name"), max_length=150)
    first_name = forms.CharField(label=_("Given name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Family name"), max_length=150, required=False)
    email = forms.EmailField(label=_("Email"), required=False)
    language = forms.ChoiceField(label=_("Language"), choices=Language.choices)
    password = forms.CharField(
        label=_("Initial password"),
        strip=False,
        required=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_(
            "At least 8 characters; long passphrases are welcome. Leave empty to set it later."
        ),
    )
    employee_number = forms.CharField(
        label=_("Staff record (employee number)"),
        max_length=32,
        required=False,
        help_text=_("Optional: link the user to a staff member in your scope."),
    )
    role = forms.ChoiceField(
        label=_("First role"), choices=[("", "—"), *Role.choices], required=False
    )
    department = ScopedDepartmentField(label=_("Scope of the role"), queryset=None, required=False)

    def __init__(self, *args, departments, staff, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = departments
        self._staff = staff

    def clean_employee_number(self):
        number = self.cleaned_data["employee_number"].strip()
        if not number:
            return None
        staff = self._staff.filter(employee_number=number).select_related("department").first()
        if staff is None:
            raise forms.ValidationError(
                _("No staff member without a user has this number in your scope.")
            )
        return staff


class RoleGrantForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)
    department = ScopedDepartmentField(label=_("Scope"), queryset=None)

    def __init__(self, *args, departments, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = departments
