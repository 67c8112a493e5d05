"""The navigation menu: each role sees only what it may use."""

from dataclasses import dataclass

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from servicecharter.accounts import permissions as perms
from servicecharter.accounts.scoping import has_capability

# The menu's sections, in the order they are shown. An item names its section; a section that
# holds one item for the user shows as a plain link, otherwise as a drop-down.
ME = _("My work")
COMPLAINTS = _("Complaints")
QUALITY = _("Quality")
ACCOUNTABILITY = _("Accountability")
ORGANISATION = _("Organisation")
ADMINISTRATION = _("Administration")
SECTIONS = (ME, COMPLAINTS, QUALITY, ACCOUNTABILITY, ORGANISATION, ADMINISTRATION)


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    capability: str | None
    section: str | None = None  # None: a link of its own (Home)

    @property
    def url(self) -> str:
        return reverse(self.url_name)


# Modules add their entries here as they are built.
MENU: list[NavItem] = [
    NavItem(_("Home"), "home", None),
    NavItem(_("Departments"), "org:department_tree", perms.VIEW_ORG, ORGANISATION),
    NavItem(_("Staff"), "org:staff_list", perms.VIEW_ORG, ORGANISATION),
    NavItem(_("Customers"), "org:customer_list", perms.VIEW_CUSTOMERS, ORGANISATION),
    NavItem(_("Products"), "org:product_list", perms.VIEW_ORG, ORGANISATION),
    NavItem(_("Calendars"), "core:calendar_list", perms.MANAGE_CALENDARS, ADMINISTRATION),
    NavItem(_("Audit trail"), "core:audit", perms.VIEW_AUDIT, ADMINISTRATION),
    NavItem(_("Imports"), "core:imports", perms.IMPORT_ORG, ADMINISTRATION),
    NavItem(_("Users"), "accounts:user_list", perms.MANAGE_USERS, ADMINISTRATION),
    NavItem(_("Failed events"), "core:events_dead", perms.MANAGE_EVENTS, ADMINISTRATION),
    NavItem(_("My account"), "accounts:account", None, ME),
    NavItem(_("My cases"), "cases:my_cases", perms.HANDLE_CASES, ME),
    NavItem(_("Case queue"), "cases:queue", perms.VIEW_CASES, COMPLAINTS),
    NavItem(_("Record a case"), "cases:intake", perms.HANDLE_CASES, COMPLAINTS),
    NavItem(_("Standards"), "standards:library", None, ME),
    NavItem(_("Interactions"), "interactions:list", perms.VIEW_INTERACTIONS, QUALITY),
    NavItem(_("Case rules"), "cases:rules", perms.MANAGE_CASE_RULES, COMPLAINTS),
    NavItem(_("Quality workspace"), "quality:workspace", perms.EVALUATE, QUALITY),
    NavItem(_("My quality"), "quality:mine", None, ME),
    NavItem(_("Team quality"), "quality:team", perms.VIEW_QUALITY, QUALITY),
    NavItem(_("Scorecards"), "quality:scorecards", perms.MANAGE_QUALITY, QUALITY),
    NavItem(_("Survey results"), "surveys:results", perms.VIEW_SURVEYS, QUALITY),
    NavItem(_("Survey rules"), "surveys:rules", perms.MANAGE_SURVEYS, QUALITY),
    NavItem(_("Sampling plans"), "quality:sampling_list", perms.MANAGE_QUALITY, QUALITY),
    NavItem(_("Calibration"), "quality:calibration_list", perms.EVALUATE, QUALITY),
    NavItem(_("Quality reviews"), "quality:review_list", perms.VIEW_QUALITY, QUALITY),
    NavItem(_("My scorecard"), "assessment:mine", None, ME),
    NavItem(_("Assessment"), "assessment:periods", perms.VIEW_ASSESSMENT, ACCOUNTABILITY),
    NavItem(_("My violations"), "discipline:my_violations", None, ME),
    NavItem(_("Rulebook"), "discipline:rulebook_in_force", None, ME),
    NavItem(_("Violations"), "discipline:violation_queue", perms.VIEW_DISCIPLINE, ACCOUNTABILITY),
    NavItem(
        _("Rulebook versions"),
        "discipline:rulebook_versions",
        perms.MANAGE_RULEBOOK,
        ACCOUNTABILITY,
    ),
    NavItem(_("My decisions"), "discipline:my_decisions", None, ME),
    NavItem(_("Decisions"), "discipline:decision_list", perms.VIEW_DISCIPLINE, ACCOUNTABILITY),
    NavItem(
        _("Decisions to approve"),
        "discipline:decision_queue",
        perms.APPROVE_DECISIONS,
        ACCOUNTABILITY,
    ),
    NavItem(
        _("Appeals to decide"), "discipline:appeal_queue", perms.DECIDE_APPEALS, ACCOUNTABILITY
    ),
    NavItem(_("Fairness report"), "discipline:fairness", perms.VIEW_FAIRNESS, ACCOUNTABILITY),
    NavItem(_("Accountability summary"), "discipline:summary", perms.VIEW_FAIRNESS, ACCOUNTABILITY),
]


def menu_for(user) -> list[NavItem]:
    return [
        item for item in MENU if item.capability is None or has_capability(user, item.capability)
    ]


@dataclass(frozen=True)
class NavSection:
    label: str | None
    items: list[NavItem]
    current: bool  # holds the page being shown


def menu_sections_for(user, path: str = "") -> list[NavSection]:
    """The user's menu, grouped: links of their own first, then each non-empty section."""
    items = menu_for(user)
    loose = [[item] for item in items if item.section is None]
    grouped = [[item for item in items if item.section == section] for section in SECTIONS]
    return [
        NavSection(group[0].section, group, any(item.url == path for item in group))
        for group in loose + grouped
        if group
    ]
