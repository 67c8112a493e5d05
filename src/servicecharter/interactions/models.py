"""Records of service from every channel, their step timings, and their deviations from the
standard in force at their time. Interactions are the largest table: on PostgreSQL it is meant
to be range-partitioned by month (DESIGN, scale path); reads go through indexed columns.

The references of an interaction (and of a deviation to its interaction) are not database
foreign keys (``db_constraint=False``): checking them cost PostgreSQL about 25 µs a row on
ingest, more than writing the row (bench/_quality_ingest.py). They stay sound because only
``interactions.services`` writes these tables, from ids it has just read in the same
transaction, and the rows referred to are never deleted (staff leave, departments close,
standard versions are permanent); ``on_delete`` is still enforced by Django, so deleting a
referenced row through the ORM is refused (PROTECT) or cascades as declared."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from servicecharter.interactions.choices import DeviationKind, InteractionOutcome
from servicecharter.org.choices import Channel


class Interaction(models.Model):
    external_system = models.CharField(_("source system"), max_length=50, blank=True)
    external_id = models.CharField(_("external id"), max_length=100)
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices)
    # Indexed by (staff, started_at) and (department, started_at) below.
    staff = models.ForeignKey(
        "org.Staff",
        verbose_name=_("staff"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="interactions",
        db_constraint=False,
        db_index=False,
    )
    # The staff member's department at the time, so a later move does not rewrite history.
    department = models.ForeignKey(
        "org.Department",
        verbose_name=_("department"),
        on_delete=models.PROTECT,
        db_constraint=False,
        db_index=False,
    )
    customer = models.ForeignKey(
        "org.Customer",
        verbose_name=_("customer"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        db_constraint=False,
    )
    business_type = models.ForeignKey(
        "org.BusinessType",
        verbose_name=_("business type"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        db_constraint=False,
    )
    started_at = models.DateTimeField(_("started"))
    wait_seconds = models.PositiveIntegerField(_("waiting time (s)"), null=True, blank=True)
    handle_seconds = models.PositiveIntegerField(_("handling time (s)"), null=True, blank=True)
    outcome = models.CharField(_("outcome"), max_length=20, choices=InteractionOutcome.choices)
    # Step events: [{"step": code, "at": seconds from start}], in order.
    steps = models.JSONField(_("steps"), default=list, blank=True)
    notes = models.TextField(_("notes or transcript"), blank=True)
    # The standard version it was judged by, and how many deviations it had (denormalised).
    standard_version = models.ForeignKey(
        "standards.StandardVersion",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        db_constraint=False,
    )
    deviation_count = models.PositiveSmallIntegerField(_("deviations"), default=0)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("interaction")
        verbose_name_plural = _("interactions")
        constraints = [
            models.UniqueConstraint(
                fields=["external_system", "external_id"], name="interaction_external_id_once"
            )
        ]
        indexes = [
            models.Index(fields=["staff", "started_at"], name="interaction_staff_time"),
            models.Index(fields=["department", "started_at"], name="interaction_dept_time"),
            models.Index(fields=["started_at"], name="interaction_time"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.external_id}"


class Deviation(models.Model):
    interaction = models.ForeignKey(
        Interaction, on_delete=models.CASCADE, related_name="deviations", db_constraint=False
    )
    kind = models.CharField(_("kind"), max_length=30, choices=DeviationKind.choices)
    step_code = models.CharField(_("step"), max_length=50, blank=True)
    expected = models.CharField(_("expected"), max_length=100, blank=True)
    actual = models.CharField(_("actual"), max_length=100, blank=True)
    # Denormalised for per-staff and per-department counts over a period without a join.
    staff_id_at = models.BigIntegerField(null=True, blank=True)
    department_id_at = models.BigIntegerField()
    at = models.DateTimeField()

    class Meta:
        ordering = ["interaction", "id"]
        verbose_name = _("deviation")
        verbose_name_plural = _("deviations")
        # Counts are always over a period: (who, when) serves them, and one index fewer to
        # write than separate ones on who and on when.
        indexes = [
            models.Index(fields=["staff_id_at", "at"], name="deviation_staff_time"),
            models.Index(fields=["department_id_at", "at"], name="deviation_dept_time"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.step_code}"
