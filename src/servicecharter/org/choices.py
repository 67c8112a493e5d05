from django.db import models
from django.utils.translation import gettext_lazy as _


class DepartmentKind(models.TextChoices):
    HEAD_OFFICE = "head_office", _("Head office")
    BRANCH = "branch", _("Branch")
    SUB_BRANCH = "sub_branch", _("Sub-branch")
    TEAM = "team", _("Team")
    FUNCTION = "function", _("Function")


class StaffStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")
    LEFT = "left", _("Left")


class CustomerSegment(models.TextChoices):
    RETAIL = "retail", _("Retail")
    AFFLUENT = "affluent", _("Affluent")
    PRIVATE = "private", _("Private banking")
    SMALL_BUSINESS = "small_business", _("Small business")
    CORPORATE = "corporate", _("Corporate")
    SENIOR = "senior", _("Senior")
    STUDENT = "student", _("Student")


class CustomerTier(models.TextChoices):
    STANDARD = "standard", _("Standard")
    SILVER = "silver", _("Silver")
    GOLD = "gold", _("Gold")
    PLATINUM = "platinum", _("Platinum")


class Channel(models.TextChoices):
    """Service and complaint channels (the channel axis of JR/T 0169-2018, simplified)."""

    PHONE = "phone", _("Phone")
    CHAT = "chat", _("Online chat")
    SOCIAL = "social", _("Social media")
    BRANCH = "branch", _("Branch counter")
    EMAIL = "email", _("Email")
    LETTER = "letter", _("Letter")
    APP = "app", _("Mobile app")
    REGULATOR = "regulator", _("Regulator referral")


class Language(models.TextChoices):
    EN = "en", _("English")
    ZH_HANS = "zh-hans", _("Simplified Chinese")
