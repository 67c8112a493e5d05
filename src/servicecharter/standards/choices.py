from django.db import models
from django.utils.translation import gettext_lazy as _


class Phase(models.TextChoices):
    """The four phases every business process covers (S2: 咨询, 业务办理, 问题解决, 反馈处理)."""

    CONSULTATION = "consultation", _("Consultation")
    HANDLING = "handling", _("Business handling")
    RESOLUTION = "resolution", _("Problem resolution")
    FEEDBACK = "feedback", _("Feedback handling")


class ServiceLevelMetric(models.TextChoices):
    ANSWER_WITHIN = "answer_within", _("Answered within")  # phone: answered within 20 s
    FIRST_REPLY_WITHIN = "first_reply_within", _("First reply within")  # chat: 30 s
    WAIT_WITHIN = "wait_within", _("Waiting time within")  # counter: 15 min
    REPLY_WITHIN_BUSINESS_DAYS = "reply_within_bdays", _("Reply within business days")  # email


class VersionState(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PUBLISHED = "published", _("Published")
    RETIRED = "retired", _("Retired")
