"""The navigation menu: each role sees only what it may use."""

from dataclasses import dataclass

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from servicecharter.accounts import permissions as perms
from servicecharter.accounts.scoping import has_capability


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    capability: str | None

    @property
    def url(self) -> str:
        return reverse(self.url_name)


# Modules add their entries here as they are built.
MENU: list[NavItem] = [
    NavItem(_("Home"), "home", None),
    NavItem(_("Departments"), "org:department_tree", perms.VIEW_ORG),
    NavItem(_("Staff"), "org:staff_list", perms.VIEW_ORG),
    NavItem(_("Customers"), "org:customer_list", perms.VIEW_CUSTOMERS),
    NavItem(_("Products"), "org:product_list", perms.VIEW_ORG),
    NavItem(_("Calendars"), "core:calendar_list", perms.MANAGE_CALENDARS),
    NavItem(_("Audit trail"), "core:audit", perms.VIEW_AUDIT),
    NavItem(_("Imports"), "core:imports", perms.IMPORT_ORG),
    NavItem(_("Users"), "accounts:user_list", perms.MANAGE_USERS),
    NavItem(_("Failed events"), "core:events_dead", perms.MANAGE_EVENTS),
    NavItem(_("My account"), "accounts:account", None),
    NavItem(_("My cases"), "cases:my_cases", perms.HANDLE_CASES),
    NavItem(_("Case queue"), "cases:queue", perms.VIEW_CASES),
    NavItem(_("Record a case"), "cases:intake", perms.HANDLE_CASES),
    NavItem(_("Standards"), "standards:library", None),
    NavItem(_("Interactions"), "interactions:list", perms.VIEW_INTERACTIONS),
    NavItem(_("Case rules"), "cases:rules", perms.MANAGE_CASE_RULES),
    NavItem(_("Quality workspace"), "quality:workspace", perms.EVALUATE),
    NavItem(_("My quality"), "quality:mine", None),
    NavItem(_("Team quality"), "quality:team", perms.VIEW_QUALITY),
    NavItem(_("Scorecards"), "quality:scorecards", perms.MANAGE_QUALITY),
    NavItem(_("Survey results"), "surveys:results", perms.VIEW_SURVEYS),
    NavItem(_("Survey rules"), "surveys:rules", perms.MANAGE_SURVEYS),
    NavItem(_("Sampling plans"), "quality:sampling_list", perms.MANAGE_QUALITY),
    NavItem(_("Calibration"), "quality:calibration_list", perms.EVALUATE),
    NavItem(_("Quality reviews"), "quality:review_list", perms.VIEW_QUALITY),
    NavItem(_("My scorecard"), "assessment:mine", None),
    NavItem(_("Assessment"), "assessment:periods", perms.VIEW_ASSESSMENT),
    NavItem(_("My violations"), "discipline:my_violations", None),
    NavItem(_("Rulebook"), "discipline:rulebook_in_force", None),
    NavItem(_("Violations"), "discipline:violation_queue", perms.VIEW_DISCIPLINE),
    NavItem(_("Rulebook versions"), "discipline:rulebook_versions", perms.MANAGE_RULEBOOK),
    NavItem(_("My decisions"), "discipline:my_decisions", None),
    NavItem(_("Decisions"), "discipline:decision_list", perms.VIEW_DISCIPLINE),
    NavItem(_("Decisions to approve"), "discipline:decision_queue", perms.APPROVE_DECISIONS),
    NavItem(_("Appeals to decide"), "discipline:appeal_queue", perms.DECIDE_APPEALS),
    NavItem(_("Fairness report"), "discipline:fairness", perms.VIEW_FAIRNESS),
    NavItem(_("Accountability summary"), "discipline:summary", perms.VIEW_FAIRNESS),
]


def menu_for(user) -> list[NavItem]:
    return [
        item for item in MENU if item.capability is None or has_capability(user, item.capability)
    ]
