from django.db import models
from django.utils.translation import gettext_lazy as _


class SurveyTrigger(models.TextChoices):
    INTERACTION = "interaction", _("After an interaction")
    CASE_CLOSED = "case_closed", _("After a case is closed")


class InvitationState(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENT = "sent", _("Sent")
    ANSWERED = "answered", _("Answered")
    EXPIRED = "expired", _("Expired")


class OutboxState(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
