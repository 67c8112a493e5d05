"""Scorecards (versioned), sampling plans and their picks, evaluations with per-criterion answers
and disputes, calibration sessions, and periodic quality reviews with findings and
rectification (整改). The maths (scores, agreement, intervals, sampling) is in ``stats``."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from servicecharter.core.models import TimeStamped
from servicecharter.org.models import BilingualName
from servicecharter.quality.choices import (
    CriterionCategory,
    EvaluationState,
    FindingSeverity,
    RectificationState,
    ReviewState,
    SampleReason,
    Scale,
    ScorecardState,
)

User = settings.AUTH_USER_MODEL


class Scorecard(BilingualName, TimeStamped):
    code = models.CharField(_("code"), max_length=32, unique=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("scorecard")
        verbose_name_plural = _("scorecards")


class ScorecardVersion(TimeStamped):
    """Editing a version that scored anything creates a new version; old scores keep theirs."""

    scorecard = models.ForeignKey(Scorecard, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(_("version"))
    state = models.CharField(
        _("state"), max_length=20, choices=ScorecardState.choices, default=ScorecardState.DRAFT
    )
    pass_mark = models.PositiveSmallIntegerField(_("pass mark (%)"), default=80)

    class Meta:
        ordering = ["scorecard", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["scorecard", "number"], name="scorecard_version_once")
        ]

    def __str__(self) -> str:
        return f"{self.scorecard.code} v{self.number}"


class Section(BilingualName):
    version = models.ForeignKey(ScorecardVersion, on_delete=models.CASCADE, related_name="sections")
    order = models.PositiveSmallIntegerField(_("order"))
    weight = models.DecimalField(_("weight"), max_digits=6, decimal_places=2)

    class Meta:
        ordering = ["version", "order"]


class Criterion(models.Model):
    section = models.ForeignKey(Section, on_delete=models.CASCADE, related_name="criteria")
    order = models.PositiveSmallIntegerField(_("order"))
    code = models.CharField(_("code"), max_length=50)
    text_en = models.CharField(_("criterion (English)"), max_length=300)
    text_zh = models.CharField(_("criterion (Chinese)"), max_length=300)
    weight = models.DecimalField(_("weight"), max_digits=6, decimal_places=2)
    scale = models.CharField(_("scale"), max_length=20, choices=Scale.choices)
    category = models.CharField(_("category"), max_length=20, choices=CriterionCategory.choices)
    critical = models.BooleanField(_("critical (fails the whole evaluation)"), default=False)

    class Meta:
        ordering = ["section", "order"]

    def __str__(self) -> str:
        return self.code


class SamplingPlan(TimeStamped):
    """Which interactions of a period are scored; the seed is kept so anyone can check the
    picks were fair (the same plan over the same data picks the same interactions)."""

    name = models.CharField(_("name"), max_length=100)
    department = models.ForeignKey(
        "org.Department", verbose_name=_("department"), on_delete=models.PROTECT
    )
    period_start = models.DateField(_("from"))
    period_end = models.DateField(_("to"))
    scorecard_version = models.ForeignKey(ScorecardVersion, on_delete=models.PROTECT)
    per_agent = models.PositiveSmallIntegerField(_("per agent"), null=True, blank=True)
    # {"phone": 2.5, "chat": 5} percent per channel, when sampling by share.
    share_per_channel = models.JSONField(_("share per channel (%)"), default=dict, blank=True)
    # Which targeted picks to add: a subset of SampleReason values other than random.
    targeted = models.JSONField(_("targeted picks"), default=list, blank=True)
    seed = models.BigIntegerField(_("seed"))
    auditors = models.ManyToManyField(User, verbose_name=_("auditors"), related_name="+")
    drawn_at = models.DateTimeField(_("drawn"), null=True, blank=True)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-period_start", "name"]
        verbose_name = _("sampling plan")
        verbose_name_plural = _("sampling plans")

    def __str__(self) -> str:
        return self.name


class Evaluation(TimeStamped):
    """One interaction scored on one scorecard version by one auditor."""

    interaction = models.ForeignKey(
        "interactions.Interaction", on_delete=models.PROTECT, related_name="evaluations"
    )
    plan = models.ForeignKey(
        SamplingPlan, on_delete=models.SET_NULL, null=True, blank=True, related_name="evaluations"
    )
    reason = models.CharField(
        _("why picked"), max_length=20, choices=SampleReason.choices, default=SampleReason.RANDOM
    )
    scorecard_version = models.ForeignKey(ScorecardVersion, on_delete=models.PROTECT)
    # No index of their own on auditor and staff: the composite indexes below start with them
    # and serve every lookup by either, and a draw writes tens of thousands of rows at once.
    auditor = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="evaluations_made", db_index=False
    )
    # Denormalised from the interaction: the employee and department judged.
    staff = models.ForeignKey(
        "org.Staff", on_delete=models.PROTECT, related_name="evaluations", db_index=False
    )
    department = models.ForeignKey("org.Department", on_delete=models.PROTECT)
    state = models.CharField(
        _("state"),
        max_length=20,
        choices=EvaluationState.choices,
        default=EvaluationState.ASSIGNED,
    )
    score = models.DecimalField(_("score (%)"), max_digits=5, decimal_places=2, null=True)
    auto_failed = models.BooleanField(_("auto-failed"), default=False)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)
    dispute_until = models.DateTimeField(_("may be disputed until"), null=True, blank=True)
    acknowledged_at = models.DateTimeField(_("acknowledged"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("evaluation")
        verbose_name_plural = _("evaluations")
        indexes = [
            models.Index(fields=["staff", "completed_at"], name="evaluation_staff_time"),
            models.Index(fields=["auditor", "state"], name="evaluation_auditor_queue"),
        ]

    def __str__(self) -> str:
        return f"{self.interaction_id} / {self.auditor_id}"


class Answer(models.Model):
    evaluation = models.ForeignKey(Evaluation, on_delete=models.CASCADE, related_name="answers")
    criterion = models.ForeignKey(Criterion, on_delete=models.PROTECT)
    # yes/no scale: 1 yes, 0 no; 1–5 scale: the value; null = not applicable.
    value = models.PositiveSmallIntegerField(null=True, blank=True)
    comment = models.TextField(_("comment"), blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["evaluation", "criterion"], name="answer_once")
        ]

    def __str__(self) -> str:
        return f"{self.criterion_id}={self.value}"


class Dispute(models.Model):
    evaluation = models.OneToOneField(Evaluation, on_delete=models.CASCADE, related_name="dispute")
    reason = models.TextField(_("reason"))
    raised_at = models.DateTimeField(_("raised"))
    decided_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    upheld = models.BooleanField(_("score upheld"), null=True, blank=True)
    decision_note = models.TextField(_("decision"), blank=True)

    def __str__(self) -> str:
        return f"dispute {self.evaluation_id}"


class CalibrationSession(TimeStamped):
    name = models.CharField(_("name"), max_length=100)
    scorecard_version = models.ForeignKey(ScorecardVersion, on_delete=models.PROTECT)
    interactions = models.ManyToManyField("interactions.Interaction", related_name="+")
    auditors = models.ManyToManyField(User, related_name="calibration_sessions")
    # Agreement below this (Krippendorff's alpha) or bias above it flags an auditor.
    alpha_tolerance = models.DecimalField(max_digits=4, decimal_places=3, default="0.800")
    bias_tolerance = models.DecimalField(max_digits=4, decimal_places=2, default="0.50")
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class CalibrationScore(models.Model):
    """A blind score: auditors see only their own until the session closes."""

    session = models.ForeignKey(CalibrationSession, on_delete=models.CASCADE, related_name="scores")
    auditor = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    interaction = models.ForeignKey("interactions.Interaction", on_delete=models.CASCADE)
    criterion = models.ForeignKey(Criterion, on_delete=models.CASCADE)
    value = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["session", "auditor", "interaction", "criterion"],
                name="calibration_score_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.session_id}:{self.auditor_id}:{self.criterion_id}"


class QualityReview(TimeStamped):
    """A periodic quality review (定期服务质量审查) of a department."""

    department = models.ForeignKey("org.Department", on_delete=models.PROTECT)
    period_start = models.DateField(_("from"))
    period_end = models.DateField(_("to"))
    plan = models.ForeignKey(SamplingPlan, on_delete=models.SET_NULL, null=True, blank=True)
    # The review fails when its computed score falls below this.
    threshold = models.PositiveSmallIntegerField(_("pass threshold (%)"), default=80)
    state = models.CharField(
        _("state"), max_length=20, choices=ReviewState.choices, default=ReviewState.PLANNED
    )
    score = models.DecimalField(_("score (%)"), max_digits=5, decimal_places=2, null=True)
    reviewer = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    concluded_at = models.DateTimeField(_("concluded"), null=True, blank=True)
    # What the score was computed from (``quality.reviews.review_compute``): each figure with
    # its interval, the weights and the formula, frozen when the review is concluded.
    figures = models.JSONField(_("figures"), default=dict, blank=True)

    class Meta:
        ordering = ["-period_start"]
        verbose_name = _("quality review")
        verbose_name_plural = _("quality reviews")

    def __str__(self) -> str:
        return f"{self.department_id} {self.period_start}"


class Finding(models.Model):
    review = models.ForeignKey(QualityReview, on_delete=models.CASCADE, related_name="findings")
    severity = models.CharField(_("severity"), max_length=20, choices=FindingSeverity.choices)
    text = models.TextField(_("finding"))
    source = models.CharField(_("source"), max_length=50, blank=True)  # sample, survey, standards
    staff = models.ManyToManyField("org.Staff", verbose_name=_("staff concerned"), blank=True)

    def __str__(self) -> str:
        return self.text[:50]


class Rectification(TimeStamped):
    """A rectification action (整改) with an owner and a deadline, followed up and verified."""

    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="rectifications")
    action = models.TextField(_("action"))
    owner = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    due_on = models.DateField(_("due"))
    state = models.CharField(
        _("state"),
        max_length=20,
        choices=RectificationState.choices,
        default=RectificationState.OPEN,
    )
    done_note = models.TextField(_("what was done"), blank=True)
    verified_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    verified_at = models.DateTimeField(_("verified"), null=True, blank=True)
    verification_note = models.TextField(_("verifier's note"), blank=True)

    def __str__(self) -> str:
        return self.action[:50]
