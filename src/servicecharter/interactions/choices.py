from django.db import models
from django.utils.translation import gettext_lazy as _


class InteractionOutcome(models.TextChoices):
    SERVED = "served", _("Served")
    ABANDONED = "abandoned", _("Abandoned")


class DeviationKind(models.TextChoices):
    MISSED_STEP = "missed_step", _("Mandatory step missed")
    MISSED_DISCLOSURE = "missed_disclosure", _("Mandatory disclosure missed")
    STEP_LATE = "step_late", _("Step later than its target")
    SERVICE_LEVEL = "service_level", _("Service level missed")
