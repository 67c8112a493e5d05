from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    AGENT = "agent", _("Front-line agent")
    SUPERVISOR = "supervisor", _("Supervisor")
    COMPLAINTS_OFFICER = "complaints_officer", _("Complaints officer")
    QUALITY_AUDITOR = "quality_auditor", _("Quality auditor")
    COMPLIANCE = "compliance", _("Compliance officer")
    HR = "hr", _("HR")
    INVESTIGATOR = "investigator", _("Investigator")
    EXECUTIVE = "executive", _("Executive")
    ADMIN = "admin", _("Administrator")


# Roles whose holders must use a second factor (TOTP) to sign in.
ROLES_REQUIRING_TOTP = frozenset({Role.ADMIN, Role.COMPLIANCE, Role.HR, Role.INVESTIGATOR})
