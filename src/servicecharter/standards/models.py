"""Versioned, effective-dated service standards per business type and channel: the steps of
each phase with target times, mandatory disclosures, channel service levels, and staff
acknowledgements. A published version is never edited: a change is a new version, so past
interactions stay judged by the version that was in force at their time."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from servicecharter.core.models import TimeStamped
from servicecharter.org.choices import Channel
from servicecharter.org.models import BilingualName
from servicecharter.standards.choices import Phase, ServiceLevelMetric, VersionState


class Standard(BilingualName, TimeStamped):
    """A standard for one business type on one channel (blank = every channel)."""

    code = models.CharField(_("code"), max_length=32, unique=True)
    business_type = models.ForeignKey(
        "org.BusinessType",
        verbose_name=_("business type"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="standards",
    )
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices, blank=True)
    # Whose staff must know it (these departments and those below). Empty: the staff who
    # served its channel and business type lately (see ``selectors.standards_for_staff``).
    departments = models.ManyToManyField(
        "org.Department",
        verbose_name=_("applies to the staff of"),
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["code"]
        verbose_name = _("service standard")
        verbose_name_plural = _("service standards")


class StandardVersion(TimeStamped):
    standard = models.ForeignKey(Standard, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(_("version"))
    state = models.CharField(
        _("state"), max_length=20, choices=VersionState.choices, default=VersionState.DRAFT
    )
    effective_from = models.DateTimeField(_("in force from"), null=True, blank=True)
    # Set when the next version takes effect; null while this one is in force.
    effective_to = models.DateTimeField(_("in force until"), null=True, blank=True)
    summary_en = models.TextField(_("summary (English)"), blank=True)
    summary_zh = models.TextField(_("summary (Chinese)"), blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True
    )

    class Meta:
        ordering = ["standard", "-number"]
        verbose_name = _("standard version")
        verbose_name_plural = _("standard versions")
        constraints = [
            models.UniqueConstraint(fields=["standard", "number"], name="standard_version_once")
        ]
        indexes = [models.Index(fields=["standard", "effective_from"], name="standard_in_force")]

    def __str__(self) -> str:
        return f"{self.standard.code} v{self.number}"

    @property
    def summary(self) -> str:
        if (get_language() or "").startswith("zh"):
            return self.summary_zh or self.summary_en
        return self.summary_en or self.summary_zh

    def in_force_at(self, at) -> bool:
        return (
            self.state == VersionState.PUBLISHED
            and self.effective_from is not None
            and self.effective_from <= at
            and (self.effective_to is None or at < self.effective_to)
        )


class StandardStep(BilingualName):
    version = models.ForeignKey(StandardVersion, on_delete=models.CASCADE, related_name="steps")
    order = models.PositiveSmallIntegerField(_("order"))
    code = models.CharField(_("code"), max_length=50)
    phase = models.CharField(_("phase"), max_length=20, choices=Phase.choices)
    # Seconds from the start of service (after any wait) by which the step must be done;
    # null = no target.
    target_seconds = models.PositiveIntegerField(_("target time (seconds)"), null=True, blank=True)
    mandatory = models.BooleanField(_("mandatory"), default=False)
    # A mandatory disclosure (e.g. the risk disclosure for wealth products).
    is_disclosure = models.BooleanField(_("mandatory disclosure"), default=False)
    description_en = models.TextField(_("description (English)"), blank=True)
    description_zh = models.TextField(_("description (Chinese)"), blank=True)

    class Meta:
        ordering = ["version", "order"]
        constraints = [
            models.UniqueConstraint(fields=["version", "code"], name="standard_step_code_once")
        ]

    @property
    def description(self) -> str:
        """The description in the active language, falling back to the other one."""
        if (get_language() or "").startswith("zh"):
            return self.description_zh or self.description_en
        return self.description_en or self.description_zh


class ServiceLevel(TimeStamped):
    """A channel service level (phone answered within 20 s for 80% of calls), effective-dated."""

    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices)
    metric = models.CharField(_("measure"), max_length=30, choices=ServiceLevelMetric.choices)
    threshold = models.PositiveIntegerField(_("threshold (seconds, or business days)"))
    target_share = models.PositiveSmallIntegerField(_("target share (%)"), default=80)
    effective_from = models.DateTimeField(_("in force from"))
    effective_to = models.DateTimeField(_("in force until"), null=True, blank=True)

    class Meta:
        ordering = ["channel", "-effective_from"]
        verbose_name = _("service level")
        verbose_name_plural = _("service levels")
        constraints = [
            models.CheckConstraint(
                condition=Q(target_share__lte=100), name="service_level_share_percent"
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.metric} {self.threshold}"


class StandardAcknowledgement(models.Model):
    """A member of staff read and acknowledged a standard version (M3)."""

    version = models.ForeignKey(
        StandardVersion, on_delete=models.CASCADE, related_name="acknowledgements"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    at = models.DateTimeField(_("acknowledged"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["version", "user"], name="standard_ack_once")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.version_id}"
