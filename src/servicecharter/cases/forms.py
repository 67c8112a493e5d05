"""Forms of the case pages. They check input and offer only what the user may choose; the
writes themselves are the services in ``cases.services``.

Each part of the case pages keeps its forms in its own marked section below.
"""

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext_lazy as _

from servicecharter.accounts import permissions as perms
from servicecharter.cases.choices import CaseKind, Jurisdiction
from servicecharter.cases.services import check_attachment
from servicecharter.org import selectors as org_selectors
from servicecharter.org.choices import Channel, Language
from servicecharter.org.forms import DepartmentChoiceField, clean_phone
from servicecharter.org.models import Customer, Department, Product

# =============================================================================================
# Intake and public forms: the staff's fast intake form, the customer's public form and the
# customer's follow-up (tracking, adding information, answering the final response).
# =============================================================================================

# Phone and counter first: they are what staff record by hand; channel systems use the API.
STAFF_CHANNELS = [
    Channel.PHONE,
    Channel.BRANCH,
    Channel.EMAIL,
    Channel.LETTER,
    Channel.CHAT,
    Channel.SOCIAL,
    Channel.APP,
    Channel.REGULATOR,
]
STAFF_MAX_ATTACHMENTS = 5
PUBLIC_MAX_ATTACHMENTS = 3
ATTACHMENT_ACCEPT = ".pdf,.jpg,.jpeg,.png,.txt,application/pdf,image/jpeg,image/png,text/plain"


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class AttachmentsField(forms.FileField):
    """Up to ``max_files`` files, each refused unless its content really is one of the allowed
    types and it is small enough (``services.check_attachment`` sniffs the first bytes)."""

    def __init__(self, *, max_files: int, **kwargs):
        self.max_files = max_files
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": ATTACHMENT_ACCEPT}))
        super().__init__(**kwargs)

    def clean(self, data, initial=None):
        uploads = [
            upload for upload in (data if isinstance(data, list | tuple) else [data]) if upload
        ]
        if len(uploads) > self.max_files:
            raise ValidationError(
                ngettext(
                    "Attach at most %(count)d file.",
                    "Attach at most %(count)d files.",
                    self.max_files,
                )
                % {"count": self.max_files}
            )
        errors = []
        for upload in uploads:
            try:
                super().clean(upload, initial)
                check_attachment(upload)
            except ValidationError as error:
                errors.extend(error.messages)
        if errors:
            raise ValidationError(errors)
        return uploads


class ProductChoiceField(forms.ModelChoiceField):
    """A product, labelled with its business type (which the case takes from it)."""

    def __init__(self, *, show_business_type: bool = True, **kwargs):
        self.show_business_type = show_business_type
        queryset = Product.objects.filter(is_active=True).select_related("business_type")
        super().__init__(queryset=queryset.order_by("code"), **kwargs)

    def label_from_instance(self, obj):
        if self.show_business_type:
            return f"{obj.name} · {obj.business_type.name}"
        return obj.name


def _language_now() -> str:
    return Language.ZH_HANS if (get_language() or "").startswith("zh") else Language.EN


class IntakeForm(forms.Form):
    """The staff's fast form for a case received by phone, at the counter, or on paper."""

    kind = forms.ChoiceField(label=_("Kind"), choices=CaseKind.choices, initial=CaseKind.COMPLAINT)
    channel = forms.ChoiceField(
        label=_("Channel"),
        choices=[(channel.value, channel.label) for channel in STAFF_CHANNELS],
        initial=Channel.PHONE,
    )
    customer_q = forms.CharField(
        label=_("Find the customer"),
        required=False,
        max_length=100,
        help_text=_("Name, customer number, or the complete phone or identity number."),
    )
    customer = forms.ModelChoiceField(
        label=_("Customer"), queryset=Customer.objects.none(), required=False
    )
    contact_name = forms.CharField(label=_("Name"), required=False, max_length=100)
    contact_phone = forms.CharField(label=_("Phone"), required=False, max_length=30)
    contact_email = forms.EmailField(label=_("Email"), required=False)
    language = forms.ChoiceField(label=_("Language of the case"), choices=Language.choices)
    product = ProductChoiceField(
        label=_("Product"), required=False, empty_label=_("No particular product")
    )
    money_at_stake = forms.DecimalField(
        label=_("Money at stake"), required=False, min_value=0, max_digits=14, decimal_places=2
    )
    subject = forms.CharField(label=_("Subject"), max_length=200)
    description = forms.CharField(
        label=_("What the customer says"), widget=forms.Textarea(attrs={"rows": 6})
    )
    queue = DepartmentChoiceField(
        label=_("Queue"),
        queryset=Department.objects.none(),
        help_text=_("Routing rules may send the case to another queue."),
    )
    jurisdiction = forms.ChoiceField(
        label=_("Jurisdiction"), choices=Jurisdiction.choices, initial=Jurisdiction.CN
    )
    attachments = AttachmentsField(label=_("Attachments"), max_files=STAFF_MAX_ATTACHMENTS)

    def __init__(self, *args, user, home_queue: Department | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["customer"].queryset = org_selectors.customer_list(user=user)
        self.fields["queue"].queryset = org_selectors.department_list(
            user=user, capability=perms.HANDLE_CASES
        )
        self.fields["queue"].initial = home_queue
        self.fields["language"].initial = _language_now()
        self.fields["money_at_stake"].help_text = _("In %(currency)s.") % {
            "currency": settings.CURRENCY
        }

    def clean_contact_phone(self):
        return clean_phone(self.cleaned_data.get("contact_phone", ""))

    def clean(self):
        data = super().clean()
        if not data.get("customer") and not (data.get("contact_name") or "").strip():
            self.add_error(
                "contact_name", _("Choose the customer, or type the name of the person.")
            )
        return data

    def case_fields(self) -> dict:
        """The keyword arguments of ``case_create`` this form supplies."""
        data = self.cleaned_data
        return {
            "kind": data["kind"],
            "channel": data["channel"],
            "customer": data["customer"],
            "contact_name": data["contact_name"].strip(),
            "contact_phone": data["contact_phone"],
            "contact_email": data["contact_email"],
            "language": data["language"],
            "product": data["product"],
            "money_at_stake": data["money_at_stake"],
            "currency": settings.CURRENCY,
            "subject": data["subject"].strip(),
            "description": data["description"].strip(),
            "department": data["queue"],
            "jurisdiction": data["jurisdiction"],
        }


class PublicCaseForm(forms.Form):
    """The customer's form on the web: no account, so no customer record is linked."""

    kind = forms.ChoiceField(
        label=_("What would you like to tell us?"),
        choices=CaseKind.choices,
        initial=CaseKind.COMPLAINT,
        widget=forms.RadioSelect,
    )
    product = ProductChoiceField(
        label=_("Which product or service is it about?"),
        required=False,
        show_business_type=False,
        empty_label=_("Not about a particular product"),
    )
    contact_name = forms.CharField(label=_("Your name"), max_length=100)
    contact_email = forms.EmailField(
        label=_("Email"),
        required=False,
        help_text=_("We send the reference and a link to follow your case to this address."),
    )
    contact_phone = forms.CharField(label=_("Phone"), required=False, max_length=30)
    subject = forms.CharField(label=_("Subject"), max_length=200)
    description = forms.CharField(
        label=_("Tell us what happened"), widget=forms.Textarea(attrs={"rows": 7})
    )
    attachments = AttachmentsField(
        label=_("Attachments"),
        max_files=PUBLIC_MAX_ATTACHMENTS,
        help_text=_("Up to 3 files: PDF, JPEG, PNG or plain text, 5 MB each."),
    )
    # A field people never see: only a robot fills it in (see views.public).
    website = forms.CharField(label=_("Leave this field empty"), required=False, max_length=200)

    def clean_contact_phone(self):
        return clean_phone(self.cleaned_data.get("contact_phone", ""))

    def is_robot(self) -> bool:
        return bool((self.cleaned_data.get("website") or "").strip())

    def case_fields(self) -> dict:
        data = self.cleaned_data
        return {
            "kind": data["kind"],
            "product": data["product"],
            "contact_name": data["contact_name"].strip(),
            "contact_email": data["contact_email"],
            "contact_phone": data["contact_phone"],
            "subject": data["subject"].strip(),
            "description": data["description"].strip(),
            "language": _language_now(),
        }


class TrackingForm(forms.Form):
    reference = forms.CharField(
        label=_("Reference"), max_length=20, widget=forms.TextInput(attrs={"autocomplete": "off"})
    )
    code = forms.CharField(
        label=_("Tracking code"),
        max_length=40,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters"}),
    )


class CustomerMessageForm(forms.Form):
    body = forms.CharField(
        label=_("Your message"), max_length=5000, widget=forms.Textarea(attrs={"rows": 5})
    )
    attachments = AttachmentsField(
        label=_("Attachments"),
        max_files=PUBLIC_MAX_ATTACHMENTS,
        help_text=_("Up to 3 files: PDF, JPEG, PNG or plain text, 5 MB each."),
    )


class CustomerAnswerForm(forms.Form):
    """Accept or reject the final response; a rejection says why."""

    accepted = forms.TypedChoiceField(
        label=_("Your answer"),
        choices=[("yes", _("I accept the response")), ("no", _("I do not accept it"))],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        label=_("Why not? What would resolve it for you?"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )

    def clean(self):
        data = super().clean()
        if data.get("accepted") is False and not (data.get("comment") or "").strip():
            self.add_error("comment", _("Tell us why you do not accept the response."))
        return data


# ======================================= end of intake and public forms ======================
