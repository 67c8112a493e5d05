"""People who sign in, the roles they hold for a department subtree, and API tokens."""

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from servicecharter.accounts.choices import Role
from servicecharter.org.choices import Language


class User(AbstractUser):
    language = models.CharField(
        _("language"), max_length=10, choices=Language.choices, default=Language.EN
    )
    staff = models.OneToOneField(
        "org.Staff",
        verbose_name=_("staff record"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="user",
    )
    totp_secret_cipher = models.TextField(blank=True, editable=False)
    totp_confirmed_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The last TOTP time step accepted, so a code cannot be replayed inside its window.
    totp_last_step = models.BigIntegerField(null=True, blank=True, editable=False)
    locked_until = models.DateTimeField(_("locked until"), null=True, blank=True)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")


class RoleGrant(models.Model):
    """A role held for a scope: the department ``department`` and everything under it."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="role_grants")
    role = models.CharField(_("role"), max_length=30, choices=Role.choices)
    department = models.ForeignKey(
        "org.Department", verbose_name=_("scope"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("role grant")
        verbose_name_plural = _("role grants")
        constraints = [
            models.UniqueConstraint(fields=["user", "role", "department"], name="role_grant_once")
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.role} @ {self.department_id}"


class SignInAttempt(models.Model):
    """Every sign-in attempt, for throttling by user name and by address."""

    username = models.CharField(max_length=150, db_index=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    at = models.DateTimeField(db_index=True)
    succeeded = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["ip", "at"])]

    def __str__(self) -> str:
        return f"{self.username} {self.at:%Y-%m-%d %H:%M}"


class ApiToken(models.Model):
    """A personal or service token. Only a hash of the secret is stored."""

    name = models.CharField(_("name"), max_length=100)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    is_service = models.BooleanField(_("service token"), default=False)
    prefix = models.CharField(max_length=12, unique=True)
    digest = models.CharField(max_length=64)
    scopes = models.JSONField(_("scopes"), default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
