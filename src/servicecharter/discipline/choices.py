from django.db import models
from django.utils.translation import gettext_lazy as _


class ViolationCategory(models.TextChoices):
    ATTITUDE = "attitude", _("Attitude")
    PROCESS = "process", _("Process")
    TIMELINESS = "timeliness", _("Timeliness")
    COMPLIANCE = "compliance", _("Compliance")
    QUALITY = "quality", _("Service quality")
    MISCONDUCT = "misconduct", _("Misconduct")


class Severity(models.TextChoices):
    """Ordered from least to most serious: ``SEVERITY_RANK`` compares them."""

    MINOR = "minor", _("Minor")
    MODERATE = "moderate", _("Moderate")
    SERIOUS = "serious", _("Serious")
    SEVERE = "severe", _("Severe")


SEVERITY_RANK = {value: rank for rank, value in enumerate(Severity.values)}


class ImpactScope(models.TextChoices):
    """Ordered from narrowest to widest: ``IMPACT_RANK`` compares them."""

    ONE_CUSTOMER = "one_customer", _("One customer")
    SEVERAL_CUSTOMERS = "several_customers", _("Several customers")
    DEPARTMENT = "department", _("A department")
    INSTITUTION = "institution", _("Institution-wide")
    PUBLIC = "public", _("Public or media")


IMPACT_RANK = {value: rank for rank, value in enumerate(ImpactScope.values)}


class ViolationSource(models.TextChoices):
    MANUAL = "manual", _("Raised by hand")
    CASE_DEADLINE_BREACHED = "case.deadline_breached", _("Complaint deadline breached")
    CASE_UPHELD = "case.upheld_against_staff", _("Complaint upheld against the employee")
    CASE_REOPENED = "case.reopened", _("Complaint reopened")
    CASE_OVERTURNED = "case.overturned", _("Complaint decision overturned")
    EVALUATION_AUTO_FAILED = "evaluation.auto_failed", _("Quality evaluation auto-failed")
    REVIEW_FAILED = "review.failed", _("Quality review failed")
    UNSATISFACTORY_TIER = "assessment.unsatisfactory", _("Unsatisfactory in consecutive periods")


class ViolationState(models.TextChoices):
    OPEN = "open", _("Awaiting review")
    CONFIRMED = "confirmed", _("Confirmed")
    DISMISSED = "dismissed", _("Dismissed")


class RulebookState(models.TextChoices):
    DRAFT = "draft", _("Draft")
    APPROVED = "approved", _("Approved, not yet published")
    PUBLISHED = "published", _("Published")
    RETIRED = "retired", _("Retired")


class Measure(models.TextChoices):
    """What a decision does: the sanction ladder, then rewards. ``NONE`` records a decision
    to take no measure (a violation confirmed, but the rulebook or the decider sees no sanction)."""

    NONE = "none", _("No measure")
    VERBAL_WARNING = "verbal_warning", _("Verbal warning")
    WRITTEN_WARNING = "written_warning", _("Written warning")
    REMEDIAL_TRAINING = "remedial_training", _("Remedial training")
    FINE = "fine", _("Fine")
    PAY_REDUCTION = "pay_reduction", _("Performance-pay reduction")
    DEMOTION = "demotion", _("Demotion")
    DISMISSAL = "dismissal", _("Dismissal")
    COMMENDATION = "commendation", _("Commendation")
    BONUS = "bonus", _("Bonus")


SANCTIONS = frozenset(
    {
        Measure.VERBAL_WARNING,
        Measure.WRITTEN_WARNING,
        Measure.REMEDIAL_TRAINING,
        Measure.FINE,
        Measure.PAY_REDUCTION,
        Measure.DEMOTION,
        Measure.DISMISSAL,
    }
)
REWARDS = frozenset({Measure.COMMENDATION, Measure.BONUS})
# Money taken from the monthly wage: counted together against the lawful limits.
DEDUCTIONS = frozenset({Measure.FINE, Measure.PAY_REDUCTION})
# Need both an HR and a compliance approver (besides the proposer).
NEEDS_HR_AND_COMPLIANCE = frozenset({Measure.DEMOTION, Measure.DISMISSAL})
# The ladder used to step a recommendation up (aggravating) or down (mitigating).
SANCTION_LADDER = (
    Measure.NONE,
    Measure.VERBAL_WARNING,
    Measure.WRITTEN_WARNING,
    Measure.PAY_REDUCTION,
    Measure.DEMOTION,
    Measure.DISMISSAL,
)


class DecisionKind(models.TextChoices):
    SANCTION = "sanction", _("Sanction")
    REWARD = "reward", _("Reward")


class DecisionState(models.TextChoices):
    PROPOSED = "proposed", _("Awaiting approval")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class AppealState(models.TextChoices):
    OPEN = "open", _("Awaiting decision")
    UPHELD = "upheld", _("Upheld: the decision stands")
    REDUCED = "reduced", _("Reduced")
    OVERTURNED = "overturned", _("Overturned")


class FinePolicy(models.TextChoices):
    """Fines lost their explicit legal basis in China in 2008; some provinces penalise them."""

    ALLOWED = "allowed", _("Fines allowed, within the caps")
    PAY_REDUCTION = "pay_reduction", _("Replaced by a reduction of performance pay")
    DISABLED = "disabled", _("No fines")


class FactorEffect(models.TextChoices):
    AGGRAVATING = "aggravating", _("Aggravating")
    MITIGATING = "mitigating", _("Mitigating")


class LedgerKind(models.TextChoices):
    """One row per state change of a violation, a decision or an appeal."""

    VIOLATION_RAISED = "violation_raised", _("Violation recorded")
    VIOLATION_ADJUSTED = "violation_adjusted", _("Severity or scope adjusted")
    VIOLATION_CONFIRMED = "violation_confirmed", _("Violation confirmed")
    VIOLATION_DISMISSED = "violation_dismissed", _("Violation dismissed")
    PROPOSED = "proposed", _("Decision proposed")
    APPROVAL = "approval", _("Approval given")
    APPROVED = "approved", _("Decision approved")
    REJECTED = "rejected", _("Decision rejected")
    WITHDRAWN = "withdrawn", _("Decision withdrawn")
    NOTIFIED = "notified", _("Employee notified")
    ACKNOWLEDGED = "acknowledged", _("Employee acknowledged")
    APPEALED = "appealed", _("Appeal filed")
    APPEAL_DECIDED = "appeal_decided", _("Appeal decided")
