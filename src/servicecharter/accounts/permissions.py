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
VIEW_CASES = "cases.view"  # complaints, suggestions, praise and enquiries of the queues in scope
HANDLE_CASES = "cases.handle"  # record intake, move a case through its workflow, write messages
ASSIGN_CASES = "cases.assign"  # assign handlers, move cases between queues
IMPORT_CASES = "cases.import"  # CFPB-format and native case files
EXPORT_CASES = "cases.export"
MANAGE_CASE_RULES = "cases.manage_rules"  # routing, profile rules, custom profiles, letters
MANAGE_STANDARDS = "standards.manage"  # write and publish service standards and service levels
VIEW_INTERACTIONS = "interactions.view"  # interactions and deviations of the staff in scope
INGEST_INTERACTIONS = "interactions.ingest"  # CSV import and API bulk ingest
VIEW_QUALITY = "quality.view"  # evaluations, team results, reviews in scope
EVALUATE = "quality.evaluate"  # score interactions, decide disputes, calibrate
MANAGE_QUALITY = "quality.manage"  # scorecards, sampling plans, calibration sessions, reviews
VIEW_SURVEYS = "surveys.view"  # survey results in scope
MANAGE_SURVEYS = "surveys.manage"  # survey rules
VIEW_ASSESSMENT = "assessment.view"  # staff and department scorecards in scope
MANAGE_ASSESSMENT = "assessment.manage"  # assessment schemes; compute, review and close periods
VIEW_DISCIPLINE = "discipline.view"  # violations, decisions and appeals of the staff in scope
RAISE_VIOLATIONS = "discipline.raise"  # record a violation by hand, with evidence
REVIEW_VIOLATIONS = "discipline.review"  # confirm or dismiss violations, adjust severity and scope
PROPOSE_DECISIONS = "discipline.propose"  # propose sanctions and rewards
APPROVE_DECISIONS = "discipline.approve"  # the second pair of eyes on a decision
DECIDE_APPEALS = "discipline.appeals"  # decide appeals against decisions one took no part in
MANAGE_RULEBOOK = "discipline.rulebook"  # rulebook versions, simulator, lawful limits
VIEW_FAIRNESS = "discipline.fairness"  # the fairness report

_EVERYONE = {VIEW_ORG}

ROLE_CAPABILITIES: dict[str, frozenset[str]] = {
    Role.AGENT: frozenset(_EVERYONE | {VIEW_CUSTOMERS, VIEW_CASES, HANDLE_CASES}),
    Role.SUPERVISOR: frozenset(
        _EVERYONE
        | {VIEW_CUSTOMERS, CHANGE_CUSTOMERS, VIEW_CASES, HANDLE_CASES, ASSIGN_CASES, EXPORT_CASES}
        | {VIEW_INTERACTIONS, VIEW_QUALITY, VIEW_SURVEYS}
        | {VIEW_ASSESSMENT, VIEW_DISCIPLINE, RAISE_VIOLATIONS, PROPOSE_DECISIONS}
    ),
    Role.COMPLAINTS_OFFICER: frozenset(
        _EVERYONE
        | {VIEW_CUSTOMERS, CHANGE_CUSTOMERS, REVEAL_PII}
        | {VIEW_CASES, HANDLE_CASES, ASSIGN_CASES, IMPORT_CASES, EXPORT_CASES, MANAGE_CASE_RULES}
        | {VIEW_INTERACTIONS, VIEW_SURVEYS}
    ),
    Role.QUALITY_AUDITOR: frozenset(
        _EVERYONE
        | {VIEW_CUSTOMERS, VIEW_CASES, VIEW_INTERACTIONS, VIEW_QUALITY, EVALUATE, MANAGE_QUALITY}
        | {VIEW_SURVEYS, MANAGE_SURVEYS}
    ),
    Role.COMPLIANCE: frozenset(
        _EVERYONE
        | {VIEW_CUSTOMERS, REVEAL_PII, EXPORT_PII, VIEW_AUDIT, VIEW_WAGES, VIEW_CASES, EXPORT_CASES}
        | {VIEW_INTERACTIONS, VIEW_QUALITY, VIEW_SURVEYS, MANAGE_STANDARDS}
        | {VIEW_ASSESSMENT, VIEW_DISCIPLINE, RAISE_VIOLATIONS, REVIEW_VIOLATIONS}
        | {PROPOSE_DECISIONS, APPROVE_DECISIONS, DECIDE_APPEALS, MANAGE_RULEBOOK, VIEW_FAIRNESS}
    ),
    Role.HR: frozenset(
        _EVERYONE
        | {CHANGE_ORG, IMPORT_ORG, VIEW_WAGES, VIEW_QUALITY}
        | {VIEW_ASSESSMENT, MANAGE_ASSESSMENT, VIEW_DISCIPLINE, RAISE_VIOLATIONS}
        | {PROPOSE_DECISIONS, APPROVE_DECISIONS, DECIDE_APPEALS, MANAGE_RULEBOOK, VIEW_FAIRNESS}
    ),
    Role.INVESTIGATOR: frozenset(_EVERYONE),
    # Executives see the cases and approve especially complex extensions as senior managers.
    Role.EXECUTIVE: frozenset(
        _EVERYONE
        | {VIEW_CUSTOMERS, VIEW_CASES, HANDLE_CASES, EXPORT_CASES}
        | {VIEW_INTERACTIONS, VIEW_QUALITY, VIEW_SURVEYS}
        | {VIEW_ASSESSMENT, VIEW_DISCIPLINE, APPROVE_DECISIONS, DECIDE_APPEALS, VIEW_FAIRNESS}
    ),
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
            IMPORT_CASES,
            MANAGE_CASE_RULES,
            MANAGE_STANDARDS,
            INGEST_INTERACTIONS,
            MANAGE_SURVEYS,
        }
    ),
}


def roles_with(capability: str) -> set[str]:
    return {role for role, caps in ROLE_CAPABILITIES.items() if capability in caps}
