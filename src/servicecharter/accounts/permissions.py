"""What each role may do. A capability is always exercised inside the scope of the grant
(a department subtree) that carries it; see ``accounts.scoping``."""

from servicecharter.accounts.choices import Role

VIEW_ORG = "org.view"  # departments, staff, products in scope
CHANGE_ORG = "org.change"  # create and edit departments, staff, products
IMPORT_ORG = "org.import"  # CSV/XLSX import of departments and staff
VIEW_WAGES = "org.view_wages"
VIEW_CUSTOMERS = "customers.view"
CHANGE_CUSTOMERS = "customers.change"
IMPORT_CUSTOMERS = "customers.import"
REVEAL_PII = "pii.reveal"  # see identity numbers, phones, addresses in full (audited)
EXPORT_PII = "pii.export"  # export customer personal data (audited)
VIEW_AUDIT = "audit.view"
MANAGE_USERS = "users.manage"
MANAGE_CALENDARS = "calendars.manage"
MANAGE_EVENTS = "events.manage"  # see and retry dead-lettered events
MANAGE_API_TOKENS = "api_tokens.manage"  # service tokens; anyone may hold personal tokens

_EVERYONE = {VIEW_ORG}

ROLE_CAPABILITIES: dict[str, frozenset[str]] = {
    Role.AGENT: frozenset(_EVERYONE | {VIEW_CUSTOMERS}),
    Role.SUPERVISOR: frozenset(_EVERYONE | {VIEW_CUSTOMERS, CHANGE_CUSTOMERS}),
    Role.COMPLAINTS_OFFICER: frozenset(_EVERYONE | {VIEW_CUSTOMERS, CHANGE_CUSTOMERS, REVEAL_PII}),
    Role.QUALITY_AUDITOR: frozenset(_EVERYONE | {VIEW_CUSTOMERS}),
    Role.COMPLIANCE: frozenset(
        _EVERYONE | {VIEW_CUSTOMERS, REVEAL_PII, EXPORT_PII, VIEW_AUDIT, VIEW_WAGES}
    ),
    Role.HR: frozenset(_EVERYONE | {CHANGE_ORG, IMPORT_ORG, VIEW_WAGES}),
    Role.INVESTIGATOR: frozenset(_EVERYONE),
    Role.EXECUTIVE: frozenset(_EVERYONE | {VIEW_CUSTOMERS}),
    # Administrators run the structure, never read report contents or personal data in full.
    Role.ADMIN: frozenset(
        _EVERYONE
        | {
            CHANGE_ORG,
            IMPORT_ORG,
            VIEW_CUSTOMERS,
            CHANGE_CUSTOMERS,
            IMPORT_CUSTOMERS,
            MANAGE_USERS,
            MANAGE_CALENDARS,
            MANAGE_EVENTS,
            MANAGE_API_TOKENS,
        }
    ),
}


def roles_with(capability: str) -> set[str]:
    return {role for role, caps in ROLE_CAPABILITIES.items() if capability in caps}
