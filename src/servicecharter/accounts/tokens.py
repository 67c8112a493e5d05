"""API tokens: who may hold them, how they are issued, checked and revoked, and the two ways a
caller signs in to the JSON API (a Bearer token, or the browser session with CSRF).

A token reads ``sct_<prefix>_<secret>``. Only the prefix (to find the row) and the SHA-256
digest of the whole token are stored, so a copy of the database reveals no usable token; the
secret is shown once, when the token is issued.

- A *personal* token acts as the user who created it.
- A *service* token belongs to a service account (a user who cannot sign in with a password)
  (no usable password, no staff record) and is issued by an administrator holding
  ``MANAGE_API_TOKENS`` over every department the service account holds a role for.

Scopes narrow what a token may do; they never widen it: the token's user still only reaches
what their roles allow (``accounts.scoping``).
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.utils.translation.trans_real import parse_accept_lang_header
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from servicecharter.accounts import permissions as perms
from servicecharter.accounts.models import ApiToken, RoleGrant, User
from servicecharter.accounts.scoping import has_capability, scope_q
from servicecharter.core.audit import audit_record
from servicecharter.core.context import Actor, current_actor, set_actor
from servicecharter.core.notifications import notify
from servicecharter.core.rowsql import column, select_objects


class TokenScope(models.TextChoices):
    ORG_READ = "org:read", gettext_lazy("Read departments, staff and products")
    ORG_WRITE = "org:write", gettext_lazy("Create and change departments, staff and products")
    CUSTOMERS_READ = "customers:read", gettext_lazy("Read customers (personal data masked)")
    CUSTOMERS_WRITE = "customers:write", gettext_lazy("Create and change customers")
    PII_REVEAL = "pii:reveal", gettext_lazy("Reveal customers' personal data (recorded)")
    CASES_READ = "cases:read", gettext_lazy("Read complaints and other cases (contacts masked)")
    CASES_WRITE = "cases:write", gettext_lazy("Record cases and move them through their workflow")
    INTERACTIONS_READ = "interactions:read", gettext_lazy("Read interactions and their deviations")
    INTERACTIONS_WRITE = "interactions:write", gettext_lazy("Send interactions in bulk")
    QUALITY_READ = "quality:read", gettext_lazy("Read evaluations and scorecards")
    QUALITY_WRITE = "quality:write", gettext_lazy("Score and decide evaluations, or answer my own")
    SURVEYS_READ = "surveys:read", gettext_lazy("Read survey responses and results")
    ASSESSMENT_READ = "assessment:read", gettext_lazy("Read staff and department scorecards")
    DISCIPLINE_READ = "discipline:read", gettext_lazy("Read violations, decisions and appeals")
    DISCIPLINE_WRITE = (
        "discipline:write",
        gettext_lazy("Raise and review violations, propose and approve decisions, appeal"),
    )


TOKEN_MARK = "sct"
MAX_LIFETIME_DAYS = 365
# last_used_at is a hint for people reviewing tokens, not a log: writing it at most every few
# minutes keeps a busy client from turning every read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=5)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str  # the full token string; shown once, never stored


class InvalidToken(Exception):
    """A Bearer token that is unknown, expired, revoked, or whose user is deactivated."""


class InsufficientScope(PermissionDenied):
    code = "insufficient_scope"


class CsrfFailed(PermissionDenied):
    code = "csrf_failed"


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def _new_prefix() -> str:
    while True:
        prefix = secrets.token_hex(5)
        if not ApiToken.objects.filter(prefix=prefix).exists():
            return prefix


# Who may hold which token ---------------------------------------------------------------


def is_service_account(user: User) -> bool:
    """An account for a program: it cannot sign in with a password and is nobody's staff
    record. (Administrators create one on the users page, without a password.)"""
    return not user.has_usable_password() and user.staff_id is None


def manageable_service_accounts(actor: User) -> QuerySet:
    """Service accounts whose every role lies inside the actor's MANAGE_API_TOKENS scope."""
    if not has_capability(actor, perms.MANAGE_API_TOKENS):
        return User.objects.none()
    outside = RoleGrant.objects.exclude(scope_q(actor, perms.MANAGE_API_TOKENS))
    return (
        User.objects.filter(
            is_active=True, staff=None, password__startswith=UNUSABLE_PASSWORD_PREFIX
        )
        .exclude(role_grants__in=outside)
        .order_by("username")
    )


def _may_manage_service_token(actor: User, owner: User) -> bool:
    return manageable_service_accounts(actor).filter(pk=owner.pk).exists()


def tokens_of(user: User) -> QuerySet:
    """The user's own personal tokens."""
    return ApiToken.objects.filter(user=user, is_service=False).order_by("-created_at")


def service_tokens_for(actor: User) -> QuerySet:
    return (
        ApiToken.objects.filter(is_service=True, user__in=manageable_service_accounts(actor))
        .select_related("user")
        .order_by("user__username", "-created_at")
    )


def token_get_for_user(*, user: User, token_id: int) -> ApiToken:
    """A token the user may revoke: their own, or a service token they manage. Anything else
    is reported as not found."""
    from django.http import Http404

    token = ApiToken.objects.select_related("user").filter(pk=token_id).first()
    if token is None:
        raise Http404
    if token.user_id == user.pk and not token.is_service:
        return token
    if token.is_service and _may_manage_service_token(user, token.user):
        return token
    raise Http404


# Services -----------------------------------------------------------------------------------


def _validate(name: str, scopes: list[str], lifetime_days: int) -> None:
    errors: dict[str, list[str]] = {}
    if not name.strip():
        errors["name"] = [_("Give the token a name, so you know later what it is for.")]
    elif len(name) > 100:
        errors["name"] = [_("A token name has at most 100 characters.")]
    if not scopes:
        errors["scopes"] = [_("Choose at least one scope.")]
    elif set(scopes) - set(TokenScope.values):
        errors["scopes"] = [_("Unknown scope.")]
    if not 1 <= lifetime_days <= MAX_LIFETIME_DAYS:
        errors["lifetime_days"] = [
            _("A token lives between 1 and %(max)d days.") % {"max": MAX_LIFETIME_DAYS}
        ]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def token_create(
    *, actor: User, owner: User, name: str, scopes: list[str], lifetime_days: int
) -> IssuedToken:
    """Issue a token for ``owner``: a personal token when the actor is the owner, a service
    token when an administrator issues it for a service account in their scope."""
    is_service = actor.pk != owner.pk
    if is_service and not _may_manage_service_token(actor, owner):
        raise PermissionDenied(_("You may not issue tokens for this account."))
    if not is_service and is_service_account(owner):
        raise PermissionDenied(_("Tokens for service accounts are issued by an administrator."))
    scopes = sorted(set(scopes))
    _validate(name, scopes, lifetime_days)
    prefix = _new_prefix()
    secret = f"{TOKEN_MARK}_{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken.objects.create(
        name=name.strip(),
        user=owner,
        is_service=is_service,
        prefix=prefix,
        digest=_digest(secret),
        scopes=scopes,
        expires_at=timezone.now() + timedelta(days=lifetime_days),
    )
    audit_record(
        action="api_token.create",
        obj=token,
        changes={
            "owner": [None, owner.get_username()],
            "service": [None, is_service],
            "scopes": [None, scopes],
            "expires_at": [None, token.expires_at.isoformat()],
        },
    )
    _tell_owner(token)
    return IssuedToken(token=token, secret=secret)


def _tell_owner(token: ApiToken) -> None:
    """A token is a key to the account: its owner hears about every new one, so a token issued
    from a stolen session does not go unnoticed."""
    notify(
        recipient=token.user,
        kind="api_token.created",
        subject=gettext_lazy("An API token was issued for your account"),
        body=lambda: (
            _(
                "Token “%(name)s” (%(prefix)s…) with scopes %(scopes)s, valid until %(expires)s. "
                "If you did not expect this, revoke it and tell your administrator."
            )
            % {
                "name": token.name,
                "prefix": token.prefix,
                "scopes": ", ".join(token.scopes),
                "expires": date_format(timezone.localtime(token.expires_at), "DATE_FORMAT"),
            }
        ),
        url=reverse("accounts:tokens"),
    )


@transaction.atomic
def token_revoke(*, actor: User, token: ApiToken) -> ApiToken:
    """Revoke at once; revoking twice changes nothing."""
    token = token_get_for_user(user=actor, token_id=token.pk)
    token = ApiToken.objects.select_for_update().get(pk=token.pk)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(
            action="api_token.revoke",
            obj=token,
            changes={"revoked_at": [None, token.revoked_at.isoformat()]},
        )
    return token


# Authentication -------------------------------------------------------------------------


def authenticate_token(raw: str) -> ApiToken | None:
    """The live token matching ``raw``, or None. Marks it used (at most every few minutes)."""
    parts = raw.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_MARK:
        return None
    token = _token_with_user(parts[1])
    if token is None or not hmac.compare_digest(token.digest, _digest(raw.strip())):
        return None
    now = timezone.now()
    if token.revoked_at is not None or not token.user.is_active:
        return None
    if token.is_service and not is_service_account(token.user):
        return None  # the account became a person's (a password was set): its tokens stop
    if token.expires_at is not None and token.expires_at <= now:
        return None
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


_USER_JOIN = (("user", User, "u", tuple(f.name for f in User._meta.concrete_fields), "JOIN"),)


def _token_with_user(prefix: str) -> ApiToken | None:
    """The token of ``prefix`` with its user loaded alongside (SQL written once per process:
    every API call starts here)."""
    found = select_objects(
        ApiToken, f"m.{column(ApiToken, 'prefix')} = %s", [prefix], joins=_USER_JOIN
    )
    return found[0] if found else None


def caller_language(request, user) -> str:
    """An explicit, supported Accept-Language wins; otherwise the user's own language."""
    supported = {code for code, _label in settings.LANGUAGES}
    for code, _quality in parse_accept_lang_header(request.headers.get("Accept-Language", "")):
        code = code.lower()
        if code in supported:
            return code
        if code.startswith("zh") and "zh-hans" in supported:
            return "zh-hans"
        if code.split("-")[0] in supported:
            return code.split("-")[0]
    return getattr(user, "language", "") or settings.LANGUAGE_CODE


def _enter(request, user, label: str) -> None:
    """From here on, the request speaks the caller's language and audits as the caller."""
    language = caller_language(request, user)
    translation.activate(language)
    request.LANGUAGE_CODE = language
    actor = current_actor()
    set_actor(Actor(user.pk, label, actor.ip, actor.request_id))


class BearerTokenAuth(HttpBearer):
    def authenticate(self, request, token):
        api_token = authenticate_token(token)
        if api_token is None:
            # A presented token that does not work is an error, never a fall-back to the session.
            raise InvalidToken
        request.api_token = api_token
        request.user = api_token.user
        _enter(
            request, api_token.user, f"{api_token.user.get_username()} (token {api_token.prefix})"
        )
        return api_token.user


class SessionAuth(APIKeyCookie):
    """The browser session. CSRF is checked for unsafe methods, once we know who is calling
    (so an anonymous call gets 401, not a CSRF complaint)."""

    param_name = settings.SESSION_COOKIE_NAME

    def _get_key(self, request):
        return request.COOKIES.get(self.param_name)

    def authenticate(self, request, key):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        if request.method not in SAFE_METHODS and check_csrf(request):
            raise CsrfFailed(_("The CSRF check failed. Reload the page and try again."))
        _enter(request, user, user.get_username())
        return user


def api_auth() -> list:
    return [BearerTokenAuth(), SessionAuth()]


def require_scope(request, scope: str) -> None:
    """Refuse a token that was not given ``scope``. The session carries every scope: a person
    at the keyboard is limited by their roles alone."""
    token = getattr(request, "api_token", None)
    if token is not None and scope not in token.scopes:
        raise InsufficientScope(
            _("This token does not have the scope “%(scope)s”.") % {"scope": scope}
        )
