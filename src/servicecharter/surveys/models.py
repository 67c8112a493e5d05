"""CSAT (1–5), NPS (0–10) and effort surveys: dispatch rules with fatigue limits, single-use
expiring invitations, responses attributed to interaction, employee, department and channel,
daily rollups for the result pages, and the outbox the invitations leave through."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from servicecharter.core.models import TimeStamped
from servicecharter.org.choices import Channel, Language
from servicecharter.surveys.choices import InvitationState, OutboxState, SurveyTrigger


class SurveyRule(TimeStamped):
    name = models.CharField(_("name"), max_length=100)
    trigger = models.CharField(_("sent"), max_length=20, choices=SurveyTrigger.choices)
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices, blank=True)
    business_type = models.ForeignKey(
        "org.BusinessType", on_delete=models.CASCADE, null=True, blank=True
    )
    sampling_rate = models.PositiveSmallIntegerField(_("sampling rate (%)"), default=100)
    # At most one survey per customer in this many days, across all rules.
    fatigue_days = models.PositiveSmallIntegerField(_("fatigue limit (days)"), default=30)
    valid_days = models.PositiveSmallIntegerField(_("link valid for (days)"), default=14)
    ask_csat = models.BooleanField(_("ask CSAT"), default=True)
    ask_nps = models.BooleanField(_("ask NPS"), default=True)
    ask_effort = models.BooleanField(_("ask effort"), default=False)
    ask_comment = models.BooleanField(_("ask for comments"), default=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("survey rule")
        verbose_name_plural = _("survey rules")
        constraints = [
            models.CheckConstraint(
                condition=Q(sampling_rate__lte=100), name="survey_rule_rate_percent"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Invitation(models.Model):
    rule = models.ForeignKey(SurveyRule, on_delete=models.PROTECT, related_name="invitations")
    token_digest = models.CharField(max_length=64, unique=True)
    customer = models.ForeignKey("org.Customer", on_delete=models.CASCADE, related_name="+")
    interaction = models.ForeignKey(
        "interactions.Interaction", on_delete=models.SET_NULL, null=True, blank=True
    )
    case = models.ForeignKey("cases.Case", on_delete=models.SET_NULL, null=True, blank=True)
    staff = models.ForeignKey("org.Staff", on_delete=models.SET_NULL, null=True, blank=True)
    department = models.ForeignKey("org.Department", on_delete=models.PROTECT)
    channel = models.CharField(max_length=20, choices=Channel.choices)
    language = models.CharField(max_length=10, choices=Language.choices)
    state = models.CharField(
        max_length=20, choices=InvitationState.choices, default=InvitationState.QUEUED
    )
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["customer", "created_at"], name="invitation_fatigue"),
            # rollup_rebuild reads the invitations of a range of days.
            models.Index(fields=["created_at"], name="invitation_created"),
            # The hourly expiry sweep reads only the invitations still open.
            models.Index(
                fields=["expires_at"],
                condition=Q(state__in=[InvitationState.QUEUED, InvitationState.SENT]),
                name="invitation_open_expiry",
            ),
        ]
        constraints = [
            # One survey per interaction and per case, however often dispatch looks at them.
            models.UniqueConstraint(
                fields=["interaction"],
                condition=Q(interaction__isnull=False),
                name="invitation_once_per_interaction",
            ),
            models.UniqueConstraint(
                fields=["case"], condition=Q(case__isnull=False), name="invitation_once_per_case"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.pk} {self.state}"


class Response(models.Model):
    invitation = models.OneToOneField(Invitation, on_delete=models.PROTECT, related_name="response")
    csat = models.PositiveSmallIntegerField(_("satisfaction (1–5)"), null=True, blank=True)
    nps = models.PositiveSmallIntegerField(
        _("likelihood to recommend (0–10)"), null=True, blank=True
    )
    effort = models.PositiveSmallIntegerField(_("effort (1–5)"), null=True, blank=True)
    comment = models.TextField(_("comment"), blank=True)
    # Attribution, copied from the invitation so results need no join.
    staff = models.ForeignKey("org.Staff", on_delete=models.SET_NULL, null=True, blank=True)
    department = models.ForeignKey("org.Department", on_delete=models.PROTECT)
    channel = models.CharField(max_length=20, choices=Channel.choices)
    answered_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["department", "answered_at"], name="response_dept_time"),
            models.Index(fields=["staff", "answered_at"], name="response_staff_time"),
            # "Recent comments": the newest answers with a comment, read newest first and
            # stopped at the tenth, whatever the number of departments in scope.
            models.Index(
                fields=["-answered_at"], condition=~Q(comment=""), name="response_comments"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(csat__isnull=True) | Q(csat__gte=1, csat__lte=5), name="response_csat"
            ),
            models.CheckConstraint(
                condition=Q(nps__isnull=True) | Q(nps__lte=10), name="response_nps"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.invitation_id}"


class DailyRollup(models.Model):
    """Counts per day × department × staff × channel, kept up to date as responses arrive,
    so result pages never scan the responses. An invitation and its answer count on the day
    the invitation was sent. With many employees each has about one answer a day, so this
    table is nearly as long as the responses: the pages over months read the monthly rollups
    below, and this one serves periods in days (an employee's own feedback) and rebuilds."""

    day = models.DateField()
    department = models.ForeignKey("org.Department", on_delete=models.CASCADE)
    # The employee's id, 0 for responses about no one in particular: a plain column so the
    # unique key works on SQLite too (which cannot treat NULLs as equal in a constraint).
    staff_key = models.BigIntegerField(default=0)
    channel = models.CharField(max_length=20, choices=Channel.choices)
    invited = models.PositiveIntegerField(default=0)
    answered = models.PositiveIntegerField(default=0)
    csat_n = models.PositiveIntegerField(default=0)
    csat_sum = models.PositiveIntegerField(default=0)
    csat_satisfied = models.PositiveIntegerField(default=0)  # answers of 4 or 5
    nps_n = models.PositiveIntegerField(default=0)
    nps_promoters = models.PositiveIntegerField(default=0)
    nps_detractors = models.PositiveIntegerField(default=0)
    effort_n = models.PositiveIntegerField(default=0)
    effort_sum = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "department", "staff_key", "channel"], name="survey_rollup_once"
            )
        ]
        indexes = [
            models.Index(fields=["department", "day"], name="rollup_dept_day"),
            models.Index(fields=["staff_key", "day"], name="rollup_staff_day"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.department_id} {self.staff_key} {self.channel}"


class RollupCounters(models.Model):
    invited = models.PositiveIntegerField(default=0)
    answered = models.PositiveIntegerField(default=0)
    csat_n = models.PositiveIntegerField(default=0)
    csat_sum = models.PositiveIntegerField(default=0)
    csat_satisfied = models.PositiveIntegerField(default=0)  # answers of 4 or 5
    nps_n = models.PositiveIntegerField(default=0)
    nps_promoters = models.PositiveIntegerField(default=0)
    nps_detractors = models.PositiveIntegerField(default=0)
    effort_n = models.PositiveIntegerField(default=0)
    effort_sum = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True


class MonthlyRollup(RollupCounters):
    """Counts per month × department × channel, whoever served: what the results pages'
    figures, trends and department and channel breakdowns read. A year of an institution of
    a few hundred departments is a few thousand rows, however many responses."""

    month = models.DateField()  # the first day of the month
    department = models.ForeignKey("org.Department", on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=20, choices=Channel.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["month", "department", "channel"], name="survey_month_rollup_once"
            )
        ]
        indexes = [models.Index(fields=["department", "month"], name="month_rollup_dept")]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.department_id} {self.channel}"


class MonthlyStaffRollup(RollupCounters):
    """Counts per month × department × employee × channel (answers about someone only): the
    "by employee" breakdown reads about one row per employee and month."""

    month = models.DateField()  # the first day of the month
    department = models.ForeignKey("org.Department", on_delete=models.CASCADE, related_name="+")
    staff_key = models.BigIntegerField()
    channel = models.CharField(max_length=20, choices=Channel.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["month", "department", "staff_key", "channel"],
                name="survey_staff_month_once",
            )
        ]
        indexes = [
            models.Index(fields=["department", "month"], name="staff_month_dept"),
            # The "by employee" breakdown sums the months of the employees it ranked first.
            models.Index(fields=["staff_key", "month"], name="staff_month_key"),
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.department_id} {self.staff_key} {self.channel}"


class OutboxMessage(models.Model):
    """A message to a customer, sent by the worker through the configured backend (console by
    default, SMTP by setting), retried on failure."""

    to = models.CharField(max_length=254)
    subject = models.CharField(max_length=300)
    body = models.TextField()
    state = models.CharField(
        max_length=20, choices=OutboxState.choices, default=OutboxState.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # When the worker may try (again): now for a new message, later after a failure.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    invitation = models.ForeignKey(Invitation, on_delete=models.SET_NULL, null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["state", "created_at"], name="outbox_pending"),
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(state=OutboxState.PENDING),
                name="outbox_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.to} {self.state}"
