"""Pages to issue, list and revoke API tokens: anyone's personal tokens, and the service tokens
of the service accounts an administrator manages."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from servicecharter.accounts import permissions as perms
from servicecharter.accounts.scoping import has_capability
from servicecharter.accounts.tokens import (
    MAX_LIFETIME_DAYS,
    TokenScope,
    manageable_service_accounts,
    service_tokens_for,
    token_create,
    token_get_for_user,
    token_revoke,
    tokens_of,
)


class TokenForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)
    scopes = forms.MultipleChoiceField(
        label=gettext_lazy("Scopes"),
        choices=TokenScope.choices,
        widget=forms.CheckboxSelectMultiple,
    )
    lifetime_days = forms.IntegerField(
        label=gettext_lazy("Valid for (days)"),
        min_value=1,
        max_value=MAX_LIFETIME_DAYS,
        initial=90,
    )
    owner = forms.ModelChoiceField(
        label=gettext_lazy("Service account"),
        queryset=None,
        required=False,
        help_text=gettext_lazy("Leave empty for a personal token that acts as you."),
    )

    def __init__(self, *args, actor, **kwargs):
        super().__init__(*args, **kwargs)
        service_accounts = manageable_service_accounts(actor)
        self.fields["owner"].queryset = service_accounts
        if not service_accounts.exists():
            del self.fields["owner"]


def _page(request, form, issued=None):
    context = {
        "form": form,
        "personal": tokens_of(request.user),
        "service": service_tokens_for(request.user),
        "issued": issued,
        "now": timezone.now(),
        "manages_service_tokens": has_capability(request.user, perms.MANAGE_API_TOKENS),
    }
    return render(request, "accounts/tokens/list.html", context)


@login_required
def token_list(request):
    return _page(request, TokenForm(actor=request.user))


@login_required
@require_POST
def token_new(request):
    form = TokenForm(request.POST, actor=request.user)
    if not form.is_valid():
        return _page(request, form)
    try:
        issued = token_create(
            actor=request.user,
            owner=form.cleaned_data.get("owner") or request.user,
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
            lifetime_days=form.cleaned_data["lifetime_days"],
        )
    except ValidationError as exc:
        form.add_error(None, exc)
        return _page(request, form)
    except PermissionDenied as exc:
        form.add_error(None, str(exc) or _("You are not allowed to do this."))
        return _page(request, form)
    # The secret is shown on this response only and never stored: no redirect, no session.
    response = _page(request, TokenForm(actor=request.user), issued=issued)
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def token_revoke_view(request, pk: int):
    token = token_get_for_user(user=request.user, token_id=pk)
    token_revoke(actor=request.user, token=token)
    messages.success(request, _("The token “%(name)s” is revoked.") % {"name": token.name})
    return redirect("accounts:tokens")
