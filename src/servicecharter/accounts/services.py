"""Every write about accounts: signing in and out, the second factor, users and their roles.

Each use case is one transaction and writes an audit row. Services that an administrator calls
take ``actor``: when given, the target user and department must lie inside the actor's
``MANAGE_USERS`` scope (``PermissionDenied`` otherwise); ``actor=None`` is the system itself
(seed data, management commands). Bad input raises ``ValidationError`` with a translated
message and nothing is written.
"""

import enum
import hmac
import re
from datetime import datetime, timedelta

import pyotp
from django.conf import settings
from django.contrib.auth import SESSION_KEY, authenticate
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from servicecharter.accounts import permissions as perms
from servicecharter.accounts.choices import Role
from servicecharter.accounts.models import RoleGrant, SignInAttempt, User
from servicecharter.accounts.scoping import forget_grants, has_capability
from servicecharter.accounts.selectors import user_is_manageable_by
from servicecharter.core import pii
from servicecharter.core.audit import audit_record
from servicecharter.org.choices import Language
from servicecharter.org.models import Department, Staff

TOTP_CODE = re.compile(r"^\d{6}$")
# Refusals decided before any secret was checked: they neither count towards nor extend a lock.
REFUSED_UNCHECKED = frozenset({"address_throttled", "locked", "inactive"})


class SignInOutcome(enum.Enum):
    ACCEPTED = "accepted"
    REFUSED = "refused"  # wrong user name, password or code: try again
    LOCKED = "locked"  # too many failures for this name or from this address


# --- signing in ------------------------------------------------------------------------------


def _username_key(username: str) -> str:
    """Attempts are counted case-insensitively so 'Admin' and 'admin' share one budget."""
    return (username or "").strip().lower()[:150]


def _window_start(now: datetime) -> datetime:
    return now - timedelta(minutes=settings.LOGIN_FAILURE_WINDOW_MINUTES)


def _address_throttled(ip: str | None, now: datetime) -> bool:
    """One address may fail only so often, so it cannot spray passwords over many names."""
    if not ip:
        return False
    failures = SignInAttempt.objects.filter(ip=ip, succeeded=False, at__gte=_window_start(now))
    return failures.count() >= settings.LOGIN_IP_FAILURE_LIMIT


def _failures_since(key: str, since: datetime) -> int:
    return SignInAttempt.objects.filter(username=key, succeeded=False, at__gt=since).count()


def _count_from(user: User | None, key: str, now: datetime) -> datetime:
    """Failures before the last success or the end of the last lock no longer count."""
    since = _window_start(now)
    if user is not None and user.locked_until and user.locked_until > since:
        since = user.locked_until
    last_success = (
        SignInAttempt.objects.filter(username=key, succeeded=True)
        .order_by("-at")
        .values_list("at", flat=True)
        .first()
    )
    return max(since, last_success) if last_success else since


def _lock_reason(user: User | None, key: str, ip: str | None, now: datetime) -> str:
    """Why a sign-in must be refused before the password is even checked ("" if it need not)."""
    if _address_throttled(ip, now):
        return "address_throttled"
    if user is not None:
        return "locked" if user.locked_until and user.locked_until > now else ""
    # A name that does not exist is "locked" by the same count, so the answers for existing
    # and unknown names cannot be told apart.
    failures = _failures_since(key, _count_from(None, key, now))
    return "locked" if failures >= settings.LOGIN_FAILURE_LIMIT else ""


def _audit_refusal(*, user: User | None, username: str, reason: str) -> None:
    audit_record(
        action="auth.sign_in_failed",
        object_type="accounts.user",
        object_id=user.pk if user else "",
        object_repr=username[:150],
        changes={"reason": reason},
    )


@transaction.atomic
def _record_failure(*, user: User | None, username: str, ip: str | None, reason: str) -> bool:
    """Store a failed attempt; lock the account when it reaches the limit. True if now locked."""
    now = timezone.now()
    key = _username_key(username)
    SignInAttempt.objects.create(username=key, ip=ip, at=now, succeeded=False)
    _audit_refusal(user=user, username=username, reason=reason)
    if reason in REFUSED_UNCHECKED:
        return True
    if user is None:
        return False
    user = User.objects.select_for_update().get(pk=user.pk)
    if _failures_since(key, _count_from(user, key, now)) < settings.LOGIN_FAILURE_LIMIT:
        return False
    user.locked_until = now + timedelta(minutes=settings.LOGIN_LOCKOUT_MINUTES)
    user.save(update_fields=["locked_until"])
    audit_record(
        action="auth.locked",
        obj=user,
        changes={"locked_until": [None, user.locked_until.isoformat()]},
    )
    return True


def sign_in_check_password(*, username: str, password: str, ip: str | None) -> User | None:
    """The first step of signing in. Returns the user when the password is right and neither
    the name nor the address is locked; otherwise ``None`` — callers show one generic message.

    The password is checked outside the transaction: hashing is slow on purpose and must not
    hold the database's write lock."""
    now = timezone.now()
    key = _username_key(username)
    # The lock belongs to the account whatever the case typed (see ``_username_key``).
    user = User.objects.filter(username__iexact=key).order_by("pk").first()
    refusal = _lock_reason(user, key, ip, now)
    if refusal:
        _record_failure(user=user, username=username, ip=ip, reason=refusal)
        return None
    authenticated = authenticate(None, username=(username or "").strip(), password=password)
    if authenticated is None:
        _record_failure(user=user, username=username, ip=ip, reason="bad_credentials")
        return None
    return authenticated


def sign_in_check_totp(*, user: User, code: str, ip: str | None) -> SignInOutcome:
    """The second step for users with a confirmed second factor. A wrong code counts as a
    failed sign-in, so codes cannot be guessed faster than passwords."""
    now = timezone.now()
    user = User.objects.get(pk=user.pk)
    if not user.is_active:
        _record_failure(user=user, username=user.username, ip=ip, reason="inactive")
        return SignInOutcome.LOCKED
    refusal = _lock_reason(user, _username_key(user.username), ip, now)
    if refusal:
        _record_failure(user=user, username=user.username, ip=ip, reason=refusal)
        return SignInOutcome.LOCKED
    if totp_accept(user=user, code=code, now=now):
        return SignInOutcome.ACCEPTED
    locked = _record_failure(user=user, username=user.username, ip=ip, reason="bad_code")
    return SignInOutcome.LOCKED if locked else SignInOutcome.REFUSED


@transaction.atomic
def sign_in_succeeded(*, user: User, ip: str | None, second_factor: bool) -> None:
    """Record a completed sign-in: it resets the failure count of the name."""
    SignInAttempt.objects.create(
        username=_username_key(user.username), ip=ip, at=timezone.now(), succeeded=True
    )
    audit_record(action="auth.sign_in", obj=user, changes={"second_factor": second_factor})


@transaction.atomic
def sign_out_record(*, user_id, username: str, reason: str) -> None:
    """Audit the end of a session: asked for, idle, past its absolute limit, or deactivated."""
    audit_record(
        action="auth.sign_out",
        object_type="accounts.user",
        object_id=user_id or "",
        object_repr=username[:150],
        changes={"reason": reason},
    )


# --- the second factor -----------------------------------------------------------------------


def totp_secret_of(user: User) -> str:
    return pii.decrypt(user.totp_secret_cipher)


def totp_accept(*, user: User, code: str, now: datetime | None = None) -> bool:
    """Check a code against the steps around now (clock drift of ±30 s) and claim its step, so
    the same code — or an older one — is refused afterwards. The claim is a conditional UPDATE:
    two requests racing with one code cannot both win."""
    code = re.sub(r"\s", "", code or "")
    if not user.totp_secret_cipher or not TOTP_CODE.match(code):
        return False
    totp = pyotp.TOTP(totp_secret_of(user))
    current = int((now or timezone.now()).timestamp()) // totp.interval
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            fresh = Q(totp_last_step__isnull=True) | Q(totp_last_step__lt=step)
            claimed = User.objects.filter(fresh, pk=user.pk).update(totp_last_step=step)
            if claimed:
                user.totp_last_step = step
            return bool(claimed)
    return False


@transaction.atomic
def totp_enrol_begin(*, user: User) -> str:
    """Give the user a new secret to scan, kept until confirmed. Returns the secret."""
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.totp_confirmed_at:
        raise ValidationError(_("Your second factor is already set up."))
    if user.totp_secret_cipher:
        return totp_secret_of(user)
    secret = pyotp.random_base32()
    user.totp_secret_cipher = pii.encrypt(secret)
    user.totp_last_step = None
    user.save(update_fields=["totp_secret_cipher", "totp_last_step"])
    audit_record(action="auth.totp_enrol_begin", obj=user)
    return secret


@transaction.atomic
def totp_enrol_confirm(*, user: User, code: str) -> User:
    """Confirm enrolment with a code from the authenticator app."""
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.totp_confirmed_at:
        raise ValidationError(_("Your second factor is already set up."))
    if not totp_accept(user=user, code=code):
        raise ValidationError(
            {"code": _("That code is not right. Check the time on your phone and try again.")}
        )
    user.totp_confirmed_at = timezone.now()
    user.save(update_fields=["totp_confirmed_at"])
    audit_record(action="auth.totp_enrolled", obj=user)
    return user


@transaction.atomic
def user_totp_set(*, user: User, secret: str) -> User:
    """Enrol a user with a known secret (demo data, tests, commands — never a page)."""
    try:
        pyotp.TOTP(secret).now()
    except Exception as exc:
        raise ValidationError(_("This is not a valid base32 TOTP secret.")) from exc
    user = User.objects.select_for_update().get(pk=user.pk)
    user.totp_secret_cipher = pii.encrypt(secret)
    user.totp_confirmed_at = timezone.now()
    user.totp_last_step = None
    user.save(update_fields=["totp_secret_cipher", "totp_confirmed_at", "totp_last_step"])
    audit_record(action="user.totp_set", obj=user)
    return user


# --- user administration ---------------------------------------------------------------------


def _require_department_in_scope(actor: User | None, department: Department) -> None:
    if actor is not None and not has_capability(actor, perms.MANAGE_USERS, department):
        raise PermissionDenied(_("That department is outside what you manage."))


def _require_manageable(actor: User | None, user: User) -> None:
    if actor is None:
        return
    if actor.pk == user.pk:
        raise PermissionDenied(_("Another administrator must change your own account."))
    if not user_is_manageable_by(actor=actor, user=user):
        raise PermissionDenied(_("That user is outside what you manage."))


def _end_sessions(user: User) -> int:
    """Delete every stored session of ``user``. Sessions are not indexed by user, so the live
    ones are decoded; deactivation is rare and the middleware also signs out inactive users."""
    doomed = [
        session.session_key
        for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator()
        if session.get_decoded().get(SESSION_KEY) == str(user.pk)
    ]
    Session.objects.filter(session_key__in=doomed).delete()
    return len(doomed)


def _grant(user: User, role: str, department: Department) -> RoleGrant:
    if role not in Role.values:
        raise ValidationError({"role": _("Choose a role from the list.")})
    if RoleGrant.objects.filter(user=user, role=role, department=department).exists():
        raise ValidationError(_("This role is already granted for that scope."))
    grant = RoleGrant.objects.create(user=user, role=role, department=department)
    forget_grants(user)
    audit_record(
        action="role.grant",
        obj=user,
        changes={"role": [None, role], "department": [None, department.code]},
    )
    return grant


@transaction.atomic
def user_create(
    *,
    actor: User | None = None,
    username: str,
    password: str | None = None,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    language: str = Language.EN,
    staff: Staff | None = None,
    role: str | None = None,
    department: Department | None = None,
) -> User:
    """Create a user, optionally linked to a staff record and given a first role. A user made
    from a page must get a role or a staff record in the actor's scope, or nobody could manage it."""
    username = (username or "").strip()
    if not username:
        raise ValidationError({"username": _("Enter a user name.")})
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": _("This user name is already taken.")})
    if bool(role) != bool(department):
        raise ValidationError(_("Give both a role and its department, or neither."))
    if actor is not None and not role and staff is None:
        raise ValidationError(
            _("Give the new user a role or link a staff record, so that someone can manage them.")
        )
    if department is not None:
        _require_department_in_scope(actor, department)
    if staff is not None:
        _require_department_in_scope(actor, staff.department)
        if User.objects.filter(staff=staff).exists():
            raise ValidationError({"staff": _("This staff member already has a user.")})
    user = User(
        username=username,
        first_name=first_name,
        last_name=last_name,
        email=email,
        language=language,
        staff=staff,
    )
    if password:
        validate_password(password, user)
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.full_clean(exclude=["password"])
    user.save()
    audit_record(
        action="user.create",
        obj=user,
        changes={
            "username": [None, username],
            "staff": [None, staff.employee_number if staff else None],
        },
    )
    if role:
        _grant(user, role, department)
    return user


@transaction.atomic
def role_grant(
    *, actor: User | None = None, user: User, role: str, department: Department
) -> RoleGrant:
    """Grant ``role`` for the subtree under ``department``; an administrator grants only inside
    their own scope and only to users they manage."""
    _require_department_in_scope(actor, department)
    _require_manageable(actor, user)
    return _grant(user, role, department)


@transaction.atomic
def role_revoke(*, actor: User | None = None, grant: RoleGrant) -> None:
    grant = RoleGrant.objects.select_related("user", "department").get(pk=grant.pk)
    _require_department_in_scope(actor, grant.department)
    _require_manageable(actor, grant.user)
    grant.delete()
    forget_grants(grant.user)
    audit_record(
        action="role.revoke",
        obj=grant.user,
        changes={"role": [grant.role, None], "department": [grant.department.code, None]},
    )


@transaction.atomic
def user_deactivate(*, actor: User | None = None, user: User) -> User:
    """Stop a user from signing in and end every session they have, at once."""
    _require_manageable(actor, user)
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.is_active:
        user.is_active = False
        user.save(update_fields=["is_active"])
    ended = _end_sessions(user)
    audit_record(
        action="user.deactivate",
        obj=user,
        changes={"is_active": [True, False], "sessions_ended": ended},
    )
    return user


@transaction.atomic
def user_reactivate(*, actor: User | None = None, user: User) -> User:
    _require_manageable(actor, user)
    user = User.objects.select_for_update().get(pk=user.pk)
    user.is_active = True
    user.locked_until = None
    user.save(update_fields=["is_active", "locked_until"])
    audit_record(action="user.reactivate", obj=user, changes={"is_active": [False, True]})
    return user


@transaction.atomic
def user_unlock(*, actor: User | None = None, user: User) -> User:
    """Lift a sign-in lockout before it runs out."""
    _require_manageable(actor, user)
    user = User.objects.select_for_update().get(pk=user.pk)
    user.locked_until = None
    user.save(update_fields=["locked_until"])
    # A success marker restarts the failure count, as a real sign-in would.
    SignInAttempt.objects.create(
        username=_username_key(user.username), ip=None, at=timezone.now(), succeeded=True
    )
    audit_record(action="user.unlock", obj=user)
    return user


@transaction.atomic
def user_totp_reset(*, actor: User | None = None, user: User) -> User:
    """Remove a user's second factor (a lost phone). Roles that require one send the user
    back to enrolment on their next request."""
    _require_manageable(actor, user)
    user = User.objects.select_for_update().get(pk=user.pk)
    had = bool(user.totp_confirmed_at)
    user.totp_secret_cipher = ""
    user.totp_confirmed_at = None
    user.totp_last_step = None
    user.save(update_fields=["totp_secret_cipher", "totp_confirmed_at", "totp_last_step"])
    audit_record(action="user.totp_reset", obj=user, changes={"totp_enrolled": [had, False]})
    return user


@transaction.atomic
def user_set_password(*, actor: User | None = None, user: User, password: str) -> User:
    """Set a new password (the password rules apply). Django then ends the user's other
    sessions, because their stored session hash no longer matches."""
    if actor is not None and actor.pk != user.pk:
        _require_manageable(actor, user)
    user = User.objects.select_for_update().get(pk=user.pk)
    validate_password(password, user)
    user.set_password(password)
    user.locked_until = None
    user.save(update_fields=["password", "locked_until"])
    by_self = actor is not None and actor.pk == user.pk
    audit_record(action="user.set_password", obj=user, changes={"by_self": by_self})
    return user


@transaction.atomic
def user_set_language(*, user: User, language: str) -> User:
    """Remember the user's language for every later session."""
    if language not in Language.values:
        raise ValidationError(_("Choose a language from the list."))
    if user.language != language:
        audit_record(
            action="user.set_language", obj=user, changes={"language": [user.language, language]}
        )
        User.objects.filter(pk=user.pk).update(language=language)
        user.language = language
    return user
