"""Assessment schemes (versioned KPIs, weights, tiers), periods and frozen staff and department
scorecards.

A period's ``start`` and ``end`` are both dates and both INCLUSIVE: a month of June is
``start=2025-06-01, end=2025-06-30``. Facts count when they happened from ``start`` 00:00 up
to the day after ``end`` 00:00 in the institution's time zone (``compute.window``).

A scorecard row is a snapshot: the KPI figures, their sample sizes and their normalised
values are stored on it (``kpis``), so closing a period freezes what the page shows; facts
arriving later change nothing. The maths is in ``scoring``; the queries in ``compute``."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from servicecharter.assessment.choices import (
    Kpi,
    PeriodEventKind,
    PeriodKind,
    PeriodState,
    Tier,
)
from servicecharter.core.models import TimeStamped
from servicecharter.org.models import BilingualName


class Scheme(BilingualName, TimeStamped):
    code = models.SlugField(_("code"), max_length=32, unique=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("assessment scheme")
        verbose_name_plural = _("assessment schemes")

    def latest_version(self) -> "SchemeVersion | None":
        return self.versions.order_by("-number").first()


class SchemeVersion(TimeStamped):
    """Editing a version a period was computed with creates a new version: old scorecards keep
    the weights and thresholds they were computed by."""

    scheme = models.ForeignKey(Scheme, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(_("version"))
    # Score cut-offs (0–100, the weighted mean of the normalised KPIs): at or above.
    excellent_from = models.DecimalField(
        _("excellent from"), max_digits=5, decimal_places=2, default=85
    )
    good_from = models.DecimalField(_("good from"), max_digits=5, decimal_places=2, default=65)
    meets_from = models.DecimalField(_("meets from"), max_digits=5, decimal_places=2, default=35)
    needs_improvement_from = models.DecimalField(
        _("needs improvement from"), max_digits=5, decimal_places=2, default=15
    )
    # Fewer KPIs with enough data than this: the whole scorecard is "insufficient data".
    min_kpis = models.PositiveSmallIntegerField(_("minimum KPIs with data"), default=3)
    # A peer group with fewer members with data than this is compared with everyone instead.
    min_peers = models.PositiveSmallIntegerField(_("minimum peer group"), default=5)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["scheme", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["scheme", "number"], name="scheme_version_once")
        ]

    def __str__(self) -> str:
        return f"{self.scheme.code} v{self.number}"

    def thresholds(self):
        from servicecharter.assessment.scoring import Thresholds

        return Thresholds(
            excellent=self.excellent_from,
            good=self.good_from,
            meets=self.meets_from,
            needs_improvement=self.needs_improvement_from,
        )


class SchemeKpi(models.Model):
    version = models.ForeignKey(SchemeVersion, on_delete=models.CASCADE, related_name="kpis")
    kpi = models.CharField(_("KPI"), max_length=30, choices=Kpi.choices)
    weight = models.DecimalField(_("weight"), max_digits=6, decimal_places=2)
    min_sample = models.PositiveIntegerField(_("minimum sample"))

    class Meta:
        ordering = ["version", "id"]
        constraints = [
            models.UniqueConstraint(fields=["version", "kpi"], name="scheme_kpi_once"),
            models.CheckConstraint(condition=models.Q(weight__gt=0), name="scheme_kpi_weight"),
        ]

    def __str__(self) -> str:
        return f"{self.kpi}×{self.weight}"


class Period(TimeStamped):
    """A month or a quarter. ``start`` and ``end`` are inclusive dates (see the module)."""

    kind = models.CharField(_("kind"), max_length=10, choices=PeriodKind.choices)
    start = models.DateField(_("first day"))
    end = models.DateField(_("last day"))
    state = models.CharField(
        _("state"), max_length=10, choices=PeriodState.choices, default=PeriodState.OPEN
    )
    scheme = models.ForeignKey(Scheme, on_delete=models.PROTECT, related_name="periods")
    # The version the scorecards were computed with (set by every computation).
    scheme_version = models.ForeignKey(
        SchemeVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="periods"
    )
    # A computation running in the background: its share done (0–100) and what it is doing.
    computing = models.BooleanField(default=False)
    progress = models.PositiveSmallIntegerField(default=0)
    progress_note = models.CharField(max_length=200, blank=True)
    computed_at = models.DateTimeField(_("computed"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-start", "kind"]
        verbose_name = _("assessment period")
        verbose_name_plural = _("assessment periods")
        constraints = [
            models.UniqueConstraint(fields=["kind", "start"], name="assessment_period_once"),
            models.CheckConstraint(
                condition=models.Q(end__gte=models.F("start")), name="assessment_period_order"
            ),
        ]

    def __str__(self) -> str:
        if self.kind == PeriodKind.MONTH:
            return f"{self.start:%Y-%m}"
        return f"{self.start.year} Q{(self.start.month - 1) // 3 + 1}"


class PeriodEvent(models.Model):
    """The period's ledger: one row per state change, written in the same transaction."""

    period = models.ForeignKey(Period, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    kind = models.CharField(max_length=20, choices=PeriodEventKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.at:%Y-%m-%d %H:%M}"


class StaffScorecard(models.Model):
    """One employee's result for a period. ``kpis`` holds, per KPI code: ``value`` (the raw
    figure), ``n`` (its sample), ``num``/``den`` (what the value was computed from),
    ``sufficient``, ``reason`` (when not), ``normalised`` (0–100 within the peer group) and
    ``weight``."""

    period = models.ForeignKey(Period, on_delete=models.CASCADE, related_name="staff_scorecards")
    staff = models.ForeignKey(
        "org.Staff", on_delete=models.PROTECT, related_name="assessment_scorecards"
    )
    department = models.ForeignKey(
        "org.Department", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    peer_group = models.CharField(_("peer group"), max_length=100, blank=True)
    tier = models.CharField(_("tier"), max_length=20, choices=Tier.choices)
    score = models.DecimalField(_("score"), max_digits=5, decimal_places=2, null=True)
    rank = models.PositiveIntegerField(_("rank in peer group"), null=True)
    peer_count = models.PositiveIntegerField(_("peers ranked"), default=0)
    kpis = models.JSONField(default=dict)
    kpis_with_data = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["period", "rank", "staff"]
        verbose_name = _("staff scorecard")
        verbose_name_plural = _("staff scorecards")
        constraints = [
            models.UniqueConstraint(fields=["period", "staff"], name="staff_scorecard_once")
        ]
        indexes = [
            models.Index(fields=["staff", "period"], name="staff_scorecard_history"),
            models.Index(fields=["department", "period"], name="staff_scorecard_dept"),
        ]

    def __str__(self) -> str:
        return f"{self.period} {self.staff_id} {self.tier}"


class DepartmentScorecard(models.Model):
    """A department's result: the mean score of its staff with a result, their tier counts,
    and its KPI figures pooled from theirs (sums of numerators over sums of denominators)."""

    period = models.ForeignKey(
        Period, on_delete=models.CASCADE, related_name="department_scorecards"
    )
    department = models.ForeignKey("org.Department", on_delete=models.PROTECT, related_name="+")
    tier = models.CharField(_("tier"), max_length=20, choices=Tier.choices)
    score = models.DecimalField(_("score"), max_digits=5, decimal_places=2, null=True)
    rank = models.PositiveIntegerField(_("rank"), null=True)
    staff_count = models.PositiveIntegerField(default=0)
    scored_count = models.PositiveIntegerField(default=0)
    tier_counts = models.JSONField(default=dict)
    kpis = models.JSONField(default=dict)

    class Meta:
        ordering = ["period", "rank", "department"]
        verbose_name = _("department scorecard")
        verbose_name_plural = _("department scorecards")
        constraints = [
            models.UniqueConstraint(
                fields=["period", "department"], name="department_scorecard_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.period} {self.department_id} {self.tier}"
