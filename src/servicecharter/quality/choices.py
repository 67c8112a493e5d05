from django.db import models
from django.utils.translation import gettext_lazy as _


class Scale(models.TextChoices):
    YES_NO = "yes_no", _("Yes / no / not applicable")
    ONE_TO_FIVE = "one_to_five", _("1 to 5")


class CriterionCategory(models.TextChoices):
    ATTITUDE = "attitude", _("Attitude")
    ACCURACY = "accuracy", _("Accuracy")
    COMPLIANCE = "compliance", _("Compliance")
    PROCESS = "process", _("Process")


class ScorecardState(models.TextChoices):
    DRAFT = "draft", _("Draft")
    ACTIVE = "active", _("In use")
    RETIRED = "retired", _("Retired")


class SampleReason(models.TextChoices):
    RANDOM = "random", _("Random pick")
    COMPLAINT = "complaint", _("Has a complaint")
    LOW_SURVEY = "low_survey", _("Low survey score")
    ABANDONED = "abandoned", _("Abandoned")
    LONG = "long", _("Very long")


class EvaluationState(models.TextChoices):
    ASSIGNED = "assigned", _("To score")
    COMPLETED = "completed", _("Completed")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    DISPUTED = "disputed", _("Disputed")
    UPHELD = "upheld", _("Dispute rejected: score upheld")
    REVISED = "revised", _("Dispute accepted: score revised")


class FindingSeverity(models.TextChoices):
    MINOR = "minor", _("Minor")
    MODERATE = "moderate", _("Moderate")
    SERIOUS = "serious", _("Serious")


class ReviewState(models.TextChoices):
    PLANNED = "planned", _("Planned")
    IN_PROGRESS = "in_progress", _("In progress")
    PASSED = "passed", _("Passed")
    FAILED = "failed", _("Failed")


class RectificationState(models.TextChoices):
    OPEN = "open", _("Open")
    DONE = "done", _("Done, awaiting verification")
    VERIFIED = "verified", _("Verified")
    REJECTED = "rejected", _("Not accepted")
