"""Account pages: signing in (password, then the second factor), signing out, enrolment, my
account, password change, the remembered language switch, and user administration."""

import time

import pyotp
import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm, SetPasswordForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render, resolve_url
from django.utils import timezone, translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import i18n as i18n_views
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from servicecharter.accounts import permissions as perms
from servicecharter.accounts import selectors, services
from servicecharter.accounts.forms import (
    RoleGrantForm,
    SignInForm,
    TotpCodeForm,
    UserCreateForm,
    UserSearchForm,
)
from servicecharter.accounts.middleware import SESSION_ENDED, SESSION_SEEN, SESSION_STARTED
from servicecharter.accounts.models import User
from servicecharter.accounts.scoping import has_capability
from servicecharter.core.context import Actor, set_actor
from servicecharter.core.middleware import client_ip
from servicecharter.org.choices import Language

PENDING_USER = "signin_pending_user"
PENDING_SINCE = "signin_pending_since"
PENDING_NEXT = "signin_pending_next"
PENDING_SECONDS = 5 * 60
USERS_PER_PAGE = 25
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def _generic_refusal() -> str:
    # One message for every refusal, so nobody learns whether a name exists or is locked.
    return _(
        "Sign-in failed. Check your user name and password. After repeated failures sign-in "
        "is paused for %(minutes)s minutes."
    ) % {"minutes": settings.LOGIN_LOCKOUT_MINUTES}


def _safe_next(request, candidate: str | None) -> str:
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def _clear_pending(request) -> None:
    for key in (PENDING_USER, PENDING_SINCE, PENDING_NEXT):
        request.session.pop(key, None)


def _pending_user(request) -> User | None:
    """The user who passed the password step in this session, for a few minutes."""
    user_id = request.session.get(PENDING_USER)
    since = request.session.get(PENDING_SINCE, 0)
    if user_id is None or time.time() - since > PENDING_SECONDS:
        _clear_pending(request)
        return None
    return User.objects.filter(pk=user_id, is_active=True).first()


def _complete_sign_in(request, user: User, *, second_factor: bool, next_url: str):
    login(request, user, backend=MODEL_BACKEND)
    _clear_pending(request)
    now = time.time()
    request.session[SESSION_STARTED] = now
    request.session[SESSION_SEEN] = now
    set_actor(Actor(user.pk, user.get_username(), client_ip(request), request.request_id))
    services.sign_in_succeeded(user=user, ip=client_ip(request), second_factor=second_factor)
    translation.activate(user.language)
    if selectors.totp_required_for(user) and not user.totp_confirmed_at:
        next_url = resolve_url("accounts:totp_enrol")
    response = redirect(next_url)
    # The sign-in page after signing out keeps speaking the user's language.
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        user.language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        samesite="Lax",
    )
    return response


@sensitive_post_parameters("password")
@never_cache
@require_http_methods(["GET", "POST"])
def sign_in(request):
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if request.user.is_authenticated:
        return redirect(_safe_next(request, next_url))
    if request.session.pop(SESSION_ENDED, None):
        messages.info(request, _("Your session has ended. Please sign in again."))
    form = SignInForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = services.sign_in_check_password(
            username=form.cleaned_data["username"],
            password=form.cleaned_data["password"],
            ip=client_ip(request),
        )
        if user is None:
            form.add_error(None, _generic_refusal())
        elif user.totp_confirmed_at:
            request.session.cycle_key()
            request.session[PENDING_USER] = user.pk
            request.session[PENDING_SINCE] = time.time()
            request.session[PENDING_NEXT] = _safe_next(request, next_url)
            return redirect("accounts:login_totp")
        else:
            return _complete_sign_in(
                request, user, second_factor=False, next_url=_safe_next(request, next_url)
            )
    return render(request, "accounts/login.html", {"form": form, "next": next_url})


@sensitive_post_parameters("code")
@never_cache
@require_http_methods(["GET", "POST"])
def sign_in_totp(request):
    user = _pending_user(request)
    if user is None:
        messages.info(request, _("Please sign in with your password first."))
        return redirect("accounts:login")
    form = TotpCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        outcome = services.sign_in_check_totp(
            user=user, code=form.cleaned_data["code"], ip=client_ip(request)
        )
        if outcome is services.SignInOutcome.ACCEPTED:
            next_url = request.session.get(PENDING_NEXT) or resolve_url("home")
            return _complete_sign_in(request, user, second_factor=True, next_url=next_url)
        if outcome is services.SignInOutcome.LOCKED:
            _clear_pending(request)
            messages.error(request, _generic_refusal())
            return redirect("accounts:login")
        form.add_error(
            "code", _("That code is not right, or it was used already. Try the next one.")
        )
    demo_code = pyotp.TOTP(services.totp_secret_of(user)).now() if settings.DEMO_MODE else None
    return render(request, "accounts/login_totp.html", {"form": form, "demo_code": demo_code})


@require_POST
def sign_out(request):
    if request.user.is_authenticated:
        services.sign_out_record(
            user_id=request.user.pk, username=request.user.get_username(), reason="requested"
        )
    logout(request)
    messages.info(request, _("You have signed out."))
    return redirect(settings.LOGOUT_REDIRECT_URL)


def set_language(request):
    """Django's language switch (same URL name, same safe ``next`` handling), which also
    remembers the choice on the signed-in user for every later session."""
    response = i18n_views.set_language(request)
    language = request.POST.get("language")
    if request.method == "POST" and request.user.is_authenticated and language in Language.values:
        services.user_set_language(user=request.user, language=language)
    return response


# --- the second factor -----------------------------------------------------------------------


def _qr_svg(uri: str) -> str:
    # segno writes the SVG itself from our own URI: the user name becomes QR modules, never markup.
    return mark_safe(segno.make(uri, error="m").svg_inline(scale=5, dark="#14324f"))


def _grouped(secret: str) -> str:
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def totp_enrol(request):
    user = request.user
    if user.totp_confirmed_at:
        messages.info(request, _("Your second factor is already set up."))
        return redirect("accounts:account")
    secret = services.totp_enrol_begin(user=user)
    form = TotpCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.totp_enrol_confirm(user=user, code=form.cleaned_data["code"])
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request, _("Your second factor is set up. You will need it to sign in.")
            )
            return redirect("accounts:account")
    uri = pyotp.TOTP(secret).provisioning_uri(
        name=user.get_username(), issuer_name=settings.TOTP_ISSUER
    )
    context = {
        "form": form,
        "secret": _grouped(secret),
        "qr_svg": _qr_svg(uri),
        "required": selectors.totp_required_for(user),
        "demo_code": pyotp.TOTP(secret).now() if settings.DEMO_MODE else None,
    }
    return render(request, "accounts/totp_enrol.html", context)


# --- my account ------------------------------------------------------------------------------


@login_required
def account(request):
    user = request.user
    context = {
        "grants": selectors.grants_of(user=user),
        "totp_required": selectors.totp_required_for(user),
        "languages": Language.choices,
    }
    return render(request, "accounts/account.html", context)


@login_required
@sensitive_post_parameters("old_password", "new_password1", "new_password2")
@require_http_methods(["GET", "POST"])
def password_change(request):
    form = PasswordChangeForm(user=request.user, data=request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.user_set_password(
                actor=request.user,
                user=request.user,
                password=form.cleaned_data["new_password1"],
            )
        except ValidationError as exc:
            form.add_error("new_password2", exc)
        else:
            update_session_auth_hash(request, user)
            messages.success(request, _("Your password has been changed."))
            return redirect("accounts:account")
    return render(request, "accounts/password_change.html", {"form": form})


# --- user administration ---------------------------------------------------------------------


def _require_user_admin(request) -> None:
    if not request.user.is_authenticated:
        raise PermissionDenied
    if not has_capability(request.user, perms.MANAGE_USERS):
        raise PermissionDenied


def _department_choices(request):
    return selectors.departments_grantable_by(actor=request.user)


@login_required
def user_list(request):
    _require_user_admin(request)
    search = UserSearchForm(request.GET or None)
    query = search.cleaned_data["q"] if search.is_valid() else ""
    users = selectors.user_list_for_admin(actor=request.user, search=query)
    page = Paginator(users, USERS_PER_PAGE).get_page(request.GET.get("page"))
    context = {"search": search, "page": page, "query": query}
    return render(request, "accounts/user_list.html", context)


@login_required
@sensitive_post_parameters("password")
@require_http_methods(["GET", "POST"])
def user_create(request):
    _require_user_admin(request)
    form = UserCreateForm(
        request.POST or None,
        departments=_department_choices(request),
        staff=selectors.staff_linkable_by(actor=request.user),
        initial={"language": Language.ZH_HANS},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = services.user_create(
                actor=request.user,
                username=data["username"],
                password=data["password"] or None,
                first_name=data["first_name"],
                last_name=data["last_name"],
                email=data["email"],
                language=data["language"],
                staff=data["employee_number"],
                role=data["role"] or None,
                department=data["department"],
            )
        except ValidationError as exc:
            _add_service_error(form, exc)
        else:
            messages.success(request, _("User %(name)s created.") % {"name": user.username})
            return redirect("accounts:user_detail", user_id=user.pk)
    return render(request, "accounts/user_form.html", {"form": form})


def _add_service_error(form, exc: ValidationError) -> None:
    """Put a service's error beside the field it names, or above the form."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    elif "password" in form.fields and _looks_like_password_error(exc):
        form.add_error("password", exc)
    else:
        form.add_error(None, exc)


def _looks_like_password_error(exc: ValidationError) -> bool:
    codes = {error.code for error in exc.error_list}
    return bool(
        codes
        & {
            "password_too_short",
            "password_too_common",
            "password_entirely_numeric",
            "password_too_similar",
        }
    )


def _detail_context(request, target: User, grant_form=None) -> dict:
    return {
        "target": target,
        "grants": list(target.role_grants.all()),
        "grant_form": grant_form or RoleGrantForm(departments=_department_choices(request)),
        "is_locked": bool(target.locked_until and target.locked_until > timezone.now()),
    }


@login_required
def user_detail(request, user_id: int):
    _require_user_admin(request)
    target = selectors.user_get_for_admin(actor=request.user, user_id=user_id)
    return render(request, "accounts/user_detail.html", _detail_context(request, target))


@login_required
@require_POST
def user_grant(request, user_id: int):
    _require_user_admin(request)
    target = selectors.user_get_for_admin(actor=request.user, user_id=user_id)
    form = RoleGrantForm(request.POST, departments=_department_choices(request))
    if form.is_valid():
        try:
            services.role_grant(
                actor=request.user,
                user=target,
                role=form.cleaned_data["role"],
                department=form.cleaned_data["department"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Role granted."))
            return redirect("accounts:user_detail", user_id=target.pk)
    context = _detail_context(request, target, grant_form=form)
    return render(request, "accounts/user_detail.html", context, status=400)


@login_required
@require_POST
def user_revoke(request, user_id: int, grant_id: int):
    _require_user_admin(request)
    target = selectors.user_get_for_admin(actor=request.user, user_id=user_id)
    grant = selectors.grant_get_for_admin(actor=request.user, user=target, grant_id=grant_id)
    services.role_revoke(actor=request.user, grant=grant)
    messages.success(request, _("Role revoked."))
    return redirect("accounts:user_detail", user_id=target.pk)


def _user_action(service, done_message):
    """A POST-only page that applies one audited service to a managed user."""

    @login_required
    @require_POST
    def view(request, user_id: int):
        _require_user_admin(request)
        target = selectors.user_get_for_admin(actor=request.user, user_id=user_id)
        try:
            service(actor=request.user, user=target)
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        else:
            messages.success(request, str(done_message))
        return redirect("accounts:user_detail", user_id=target.pk)

    return view


user_deactivate = _user_action(
    services.user_deactivate, gettext_lazy("User deactivated; their sessions have ended.")
)
user_reactivate = _user_action(services.user_reactivate, gettext_lazy("User reactivated."))
user_unlock = _user_action(services.user_unlock, gettext_lazy("Sign-in lock lifted."))
user_totp_reset = _user_action(
    services.user_totp_reset,
    gettext_lazy("Second factor removed. The user sets it up again at their next sign-in."),
)


@login_required
@sensitive_post_parameters("new_password1", "new_password2")
@require_http_methods(["GET", "POST"])
def user_set_password(request, user_id: int):
    _require_user_admin(request)
    target = selectors.user_get_for_admin(actor=request.user, user_id=user_id)
    form = SetPasswordForm(user=target, data=request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.user_set_password(
                actor=request.user, user=target, password=form.cleaned_data["new_password1"]
            )
        except ValidationError as exc:
            form.add_error("new_password2", exc)
        else:
            messages.success(request, _("Password set. The user's other sessions have ended."))
            return redirect("accounts:user_detail", user_id=target.pk)
    return render(request, "accounts/user_set_password.html", {"form": form, "target": target})
