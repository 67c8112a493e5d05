from django.db import models
from django.utils.translation import gettext_lazy as _


class Kpi(models.TextChoices):
    CSAT = "csat", _("Customer satisfaction (CSAT)")
    NPS = "nps", _("Net promoter score (NPS)")
    COMPLAINTS_PER_1000 = "complaints_per_1000", _("Complaints per 1,000 interactions")
    COMPLAINT_TIMELINESS = "complaint_timeliness", _("Complaints answered inside the deadline")
    UPHELD_COMPLAINTS = "upheld_complaints", _("Upheld complaints against the employee")
    QA_SCORE = "qa_score", _("Quality assurance score")
    ATTITUDE = "attitude", _("Service attitude")
    STANDARD_ADHERENCE = "standard_adherence", _("Interactions without deviations")
    TRAINING = "training", _("Training compliance")


# KPIs where a smaller figure is better: normalisation turns them round.
LOWER_IS_BETTER = frozenset({Kpi.COMPLAINTS_PER_1000, Kpi.UPHELD_COMPLAINTS})


class PeriodKind(models.TextChoices):
    MONTH = "month", _("Month")
    QUARTER = "quarter", _("Quarter")


class PeriodState(models.TextChoices):
    OPEN = "open", _("Open")
    COMPUTED = "computed", _("Computed, under review")
    CLOSED = "closed", _("Closed")


class Tier(models.TextChoices):
    EXCELLENT = "excellent", _("Excellent")
    GOOD = "good", _("Good")
    MEETS = "meets", _("Meets expectations")
    NEEDS_IMPROVEMENT = "needs_improvement", _("Needs improvement")
    UNSATISFACTORY = "unsatisfactory", _("Unsatisfactory")
    INSUFFICIENT = "insufficient", _("Insufficient data")


# Best first: the order of charts and distributions.
TIER_ORDER = (
    Tier.EXCELLENT,
    Tier.GOOD,
    Tier.MEETS,
    Tier.NEEDS_IMPROVEMENT,
    Tier.UNSATISFACTORY,
    Tier.INSUFFICIENT,
)


class PeriodEventKind(models.TextChoices):
    CREATED = "created", _("Created")
    COMPUTE_QUEUED = "compute_queued", _("Computation queued")
    COMPUTED = "computed", _("Computed")
    COMPUTE_FAILED = "compute_failed", _("Computation failed")
    CLOSED = "closed", _("Closed")
