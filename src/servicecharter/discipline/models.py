"""Violations, the versioned rulebook with its lawful limits, decisions (sanctions and rewards)
with four-eyes approvals, appeals, and the ledger of every state change.

The rules themselves (matching a violation to a rule, factors, caps) live in ``rulebook`` and
``limits``, plain modules that need no database; every write is in ``services``."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from servicecharter.core.models import TimeStamped
from servicecharter.discipline.choices import (
    AppealState,
    DecisionKind,
    DecisionState,
    FactorEffect,
    FinePolicy,
    ImpactScope,
    LedgerKind,
    Measure,
    RulebookState,
    Severity,
    ViolationCategory,
    ViolationSource,
    ViolationState,
)
from servicecharter.org.models import BilingualName

User = settings.AUTH_USER_MODEL


class ViolationType(BilingualName, TimeStamped):
    """The catalogue: what can go wrong, with the severity and scope a new violation starts at."""

    code = models.CharField(_("code"), max_length=40, unique=True)
    category = models.CharField(_("category"), max_length=20, choices=ViolationCategory.choices)
    default_severity = models.CharField(
        _("default severity"), max_length=20, choices=Severity.choices, default=Severity.MINOR
    )
    default_impact = models.CharField(
        _("default impact scope"),
        max_length=20,
        choices=ImpactScope.choices,
        default=ImpactScope.ONE_CUSTOMER,
    )
    # The event that raises this type automatically ("" for types raised only by hand).
    source = models.CharField(
        _("raised automatically by"), max_length=40, choices=ViolationSource.choices, blank=True
    )
    description_en = models.TextField(_("description (English)"), blank=True)
    description_zh = models.TextField(_("description (Chinese)"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["category", "code"]
        verbose_name = _("violation type")
        verbose_name_plural = _("violation types")


class Violation(TimeStamped):
    """One breach of a standard by one employee. Sanctioned only once confirmed."""

    staff = models.ForeignKey(
        "org.Staff", verbose_name=_("employee"), on_delete=models.PROTECT, related_name="violations"
    )
    # The employee's department when it happened: scoping and fairness counts use it.
    department = models.ForeignKey(
        "org.Department", verbose_name=_("department"), on_delete=models.PROTECT
    )
    type = models.ForeignKey(
        ViolationType, verbose_name=_("type"), on_delete=models.PROTECT, related_name="violations"
    )
    source = models.CharField(_("source"), max_length=40, choices=ViolationSource.choices)
    # Idempotency: "<event name>:<fact id>:<staff id>" for automatic ones; a second delivery of
    # the same event finds it and creates nothing. Null for manual ones.
    source_key = models.CharField(max_length=200, null=True, blank=True, unique=True)
    state = models.CharField(
        _("state"), max_length=20, choices=ViolationState.choices, default=ViolationState.OPEN
    )
    occurred_at = models.DateTimeField(_("occurred"))
    severity = models.CharField(_("severity"), max_length=20, choices=Severity.choices)
    impact_scope = models.CharField(_("impact scope"), max_length=20, choices=ImpactScope.choices)
    # Set by the rules; a person who changes severity or scope must give a reason.
    adjustment_reason = models.TextField(_("reason for the adjustment"), blank=True)
    money_lost = models.DecimalField(
        _("money lost"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    summary = models.CharField(_("summary"), max_length=300)
    details = models.TextField(_("details"), blank=True)
    # [{"kind": "case"|"evaluation"|"review"|"interaction"|"period"|"file"|"note",
    #   "id": ..., "label": "...", "url": "/cases/42/"}] — shown on every page that shows it.
    evidence = models.JSONField(_("evidence"), default=list, blank=True)
    raised_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="violations_raised"
    )
    reviewed_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="violations_reviewed"
    )
    reviewed_at = models.DateTimeField(_("reviewed"), null=True, blank=True)
    review_note = models.TextField(_("review note"), blank=True)

    class Meta:
        ordering = ["-occurred_at", "-pk"]
        verbose_name = _("violation")
        verbose_name_plural = _("violations")
        indexes = [
            models.Index(fields=["staff", "state", "occurred_at"], name="violation_staff_priors"),
            models.Index(fields=["state", "department"], name="violation_queue"),
        ]

    def __str__(self) -> str:
        return f"{self.type.code} — {self.staff}"


class LawfulLimits(TimeStamped):
    """Per jurisdiction: whether fines are allowed, the cap on all deductions of one month
    (share of the monthly wage) and the floor (the wage left may not fall below it)."""

    jurisdiction = models.CharField(_("jurisdiction"), max_length=20, unique=True)
    fine_policy = models.CharField(
        _("fines"), max_length=20, choices=FinePolicy.choices, default=FinePolicy.PAY_REDUCTION
    )
    deduction_cap_percent = models.DecimalField(
        # xgettext:no-python-format
        _("cap on deductions (% of the monthly wage)"),
        max_digits=5,
        decimal_places=2,
        default=20,
    )
    minimum_wage = models.DecimalField(_("local minimum wage"), max_digits=12, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    note = models.TextField(_("legal basis"), blank=True)

    class Meta:
        ordering = ["jurisdiction"]
        verbose_name = _("lawful limits")
        verbose_name_plural = _("lawful limits")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(deduction_cap_percent__gte=0, deduction_cap_percent__lte=100),
                name="limits_cap_is_a_share",
            ),
            models.CheckConstraint(
                condition=models.Q(minimum_wage__gte=0), name="limits_minimum_wage_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return self.jurisdiction


class Rulebook(BilingualName, TimeStamped):
    code = models.CharField(_("code"), max_length=32, unique=True)
    jurisdiction = models.CharField(_("jurisdiction"), max_length=20, default="CN")

    class Meta:
        ordering = ["code"]
        verbose_name = _("rulebook")
        verbose_name_plural = _("rulebooks")


class RulebookVersion(TimeStamped):
    """Data, not code. Editable only as a draft; approved (through the democratic procedure the
    note records), then published to staff, who acknowledge it. The version in force on the
    day a violation occurred decides it."""

    rulebook = models.ForeignKey(Rulebook, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(_("version"))
    state = models.CharField(
        _("state"), max_length=20, choices=RulebookState.choices, default=RulebookState.DRAFT
    )
    effective_from = models.DateField(_("in force from"), null=True, blank=True)
    lookback_days = models.PositiveIntegerField(_("look-back for priors (days)"), default=365)
    appeal_days = models.PositiveSmallIntegerField(_("days to appeal a decision"), default=15)
    approved_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(_("approved"), null=True, blank=True)
    approval_note = models.TextField(_("approval (e.g. staff congress resolution)"), blank=True)
    published_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    published_at = models.DateTimeField(_("published to staff"), null=True, blank=True)
    created_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["rulebook", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["rulebook", "number"], name="rulebook_version_once")
        ]

    def __str__(self) -> str:
        return f"{self.rulebook.code} v{self.number}"


class Rule(models.Model):
    """One line of the rulebook. The first rule (by ``order``) whose conditions all hold wins.
    Empty conditions match anything."""

    version = models.ForeignKey(RulebookVersion, on_delete=models.CASCADE, related_name="rules")
    order = models.PositiveSmallIntegerField(_("order"))
    code = models.CharField(_("code"), max_length=40)
    violation_type = models.ForeignKey(
        ViolationType, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    category = models.CharField(
        _("category"), max_length=20, choices=ViolationCategory.choices, blank=True
    )
    min_severity = models.CharField(
        _("severity at least"), max_length=20, choices=Severity.choices, blank=True
    )
    min_impact = models.CharField(
        _("impact at least"), max_length=20, choices=ImpactScope.choices, blank=True
    )
    min_priors = models.PositiveSmallIntegerField(_("confirmed priors at least"), default=0)
    max_priors = models.PositiveSmallIntegerField(
        _("confirmed priors at most"), null=True, blank=True
    )
    measure = models.CharField(_("measure"), max_length=20, choices=Measure.choices)
    # Fines and pay reductions: a share of the monthly wage, a fixed amount, or both (the larger),
    # never above ``amount_cap``; the lawful limits apply on top.
    wage_percent = models.DecimalField(
        # xgettext:no-python-format
        _("% of the monthly wage"),
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
    )
    fixed_amount = models.DecimalField(
        _("fixed amount"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    amount_cap = models.DecimalField(
        _("at most"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    demotion_grades = models.PositiveSmallIntegerField(_("grades down"), null=True, blank=True)
    training = models.CharField(_("remedial training"), max_length=200, blank=True)
    # How long a sanction under this rule counts as a prior.
    in_force_months = models.PositiveSmallIntegerField(
        _("counts as a prior for (months)"), default=12
    )
    explanation_en = models.TextField(_("explanation (English)"), blank=True)
    explanation_zh = models.TextField(_("explanation (Chinese)"), blank=True)

    class Meta:
        ordering = ["version", "order"]
        constraints = [
            models.UniqueConstraint(fields=["version", "code"], name="rule_code_once_per_version")
        ]

    def __str__(self) -> str:
        return self.code


class Factor(BilingualName):
    """An aggravating or mitigating circumstance a decider may tick; each moves the
    recommendation ``steps`` rungs along ``choices.SANCTION_LADDER``."""

    version = models.ForeignKey(RulebookVersion, on_delete=models.CASCADE, related_name="factors")
    code = models.CharField(_("code"), max_length=40)
    effect = models.CharField(_("effect"), max_length=20, choices=FactorEffect.choices)
    steps = models.PositiveSmallIntegerField(_("rungs"), default=1)

    class Meta:
        ordering = ["version", "effect", "code"]
        constraints = [
            models.UniqueConstraint(fields=["version", "code"], name="factor_code_once_per_version")
        ]


class RulebookAcknowledgement(models.Model):
    version = models.ForeignKey(
        RulebookVersion, on_delete=models.CASCADE, related_name="acknowledgements"
    )
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField(_("acknowledged"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["version", "user"], name="rulebook_ack_once")
        ]

    def __str__(self) -> str:
        return f"{self.version} — {self.user}"


class Decision(TimeStamped):
    """A sanction or a reward for one employee (or, with ``staff`` empty, a department).
    The rulebook's recommendation is stored beside what was decided; a difference needs a
    written reason and counts as a deviation of the proposer."""

    kind = models.CharField(_("kind"), max_length=20, choices=DecisionKind.choices)
    state = models.CharField(
        _("state"), max_length=20, choices=DecisionState.choices, default=DecisionState.PROPOSED
    )
    staff = models.ForeignKey(
        "org.Staff",
        verbose_name=_("employee"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="decisions",
    )
    department = models.ForeignKey(
        "org.Department", verbose_name=_("department"), on_delete=models.PROTECT
    )
    violation = models.ForeignKey(
        Violation, on_delete=models.PROTECT, null=True, blank=True, related_name="decisions"
    )
    # Rewards and department decisions: what they rest on (a period scorecard, praise cases…),
    # in the same shape as ``Violation.evidence``.
    basis = models.JSONField(_("basis"), default=list, blank=True)
    # Idempotency of proposals the system makes from events ("<event>:<fact id>:<staff id>"):
    # a second delivery finds it and proposes nothing. Null for proposals made by people.
    source_key = models.CharField(max_length=200, null=True, blank=True, unique=True)
    rulebook_version = models.ForeignKey(
        RulebookVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="decisions"
    )
    recommended_rule = models.ForeignKey(
        Rule, on_delete=models.PROTECT, null=True, blank=True, related_name="decisions"
    )
    recommended_measure = models.CharField(
        _("recommended"), max_length=20, choices=Measure.choices, blank=True
    )
    recommended_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    # The rulebook's reasoning, step by step, as shown to the employee:
    # {"rule": code, "priors": [violation ids], "factors": [codes], "steps": [text...]}.
    explanation = models.JSONField(default=dict, blank=True)
    factors = models.JSONField(_("factors"), default=list, blank=True)
    measure = models.CharField(_("measure"), max_length=20, choices=Measure.choices)
    amount = models.DecimalField(
        _("amount"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    # The wage month a fine or pay reduction is taken from; all of one month count together.
    deduction_month = models.DateField(_("deducted in the month of"), null=True, blank=True)
    demotion_grades = models.PositiveSmallIntegerField(_("grades down"), null=True, blank=True)
    training = models.CharField(_("remedial training"), max_length=200, blank=True)
    is_deviation = models.BooleanField(_("deviates from the rulebook"), default=False)
    deviation_reason = models.TextField(_("reason for deviating"), blank=True)
    reason = models.TextField(_("reason"), blank=True)
    proposed_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    proposed_at = models.DateTimeField(_("proposed"))
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    # Counts as a prior until then (sanctions only).
    in_force_until = models.DateField(_("counts as a prior until"), null=True, blank=True)
    notified_at = models.DateTimeField(_("employee notified"), null=True, blank=True)
    acknowledged_at = models.DateTimeField(_("acknowledged by the employee"), null=True, blank=True)
    appeal_until = models.DateTimeField(_("may be appealed until"), null=True, blank=True)

    class Meta:
        ordering = ["-proposed_at", "-pk"]
        verbose_name = _("decision")
        verbose_name_plural = _("decisions")
        indexes = [
            models.Index(fields=["state", "department"], name="decision_queue"),
            models.Index(fields=["staff", "deduction_month"], name="decision_staff_month"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount__isnull=True) | models.Q(amount__gte=0),
                name="decision_amount_not_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(is_deviation=False) | ~models.Q(deviation_reason=""),
                name="decision_deviation_has_reason",
            ),
        ]


class DecisionApproval(models.Model):
    """One approver's yes or no. Never the proposer; demotion and dismissal need one with the HR
    role and one with the compliance role."""

    decision = models.ForeignKey(Decision, on_delete=models.CASCADE, related_name="approvals")
    approver = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    role = models.CharField(_("as"), max_length=30)
    approved = models.BooleanField(_("approved"))
    note = models.TextField(_("note"), blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["decision", "at"]
        constraints = [
            models.UniqueConstraint(fields=["decision", "approver"], name="approval_once_each")
        ]

    def __str__(self) -> str:
        return f"{self.decision_id}: {self.approver} ({self.role})"


class Appeal(TimeStamped):
    decision = models.OneToOneField(Decision, on_delete=models.PROTECT, related_name="appeal")
    filed_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    filed_at = models.DateTimeField(_("filed"))
    grounds = models.TextField(_("grounds"))
    state = models.CharField(
        _("state"), max_length=20, choices=AppealState.choices, default=AppealState.OPEN
    )
    decided_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    outcome_reason = models.TextField(_("reason"), blank=True)
    # A reduced decision: the measure and amount that replace the original.
    reduced_measure = models.CharField(max_length=20, choices=Measure.choices, blank=True)
    reduced_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)

    class Meta:
        ordering = ["-filed_at"]
        verbose_name = _("appeal")
        verbose_name_plural = _("appeals")


class LedgerEntry(models.Model):
    """The discipline timeline: one row per state change, written in the same transaction."""

    at = models.DateTimeField(db_index=True)
    kind = models.CharField(max_length=30, choices=LedgerKind.choices)
    actor = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    violation = models.ForeignKey(
        Violation, on_delete=models.CASCADE, null=True, blank=True, related_name="ledger"
    )
    decision = models.ForeignKey(
        Decision, on_delete=models.CASCADE, null=True, blank=True, related_name="ledger"
    )
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.kind}"
