from django.db import models
from django.utils.translation import gettext_lazy as _


class CaseKind(models.TextChoices):
    COMPLAINT = "complaint", _("Complaint")
    SUGGESTION = "suggestion", _("Suggestion")
    PRAISE = "praise", _("Praise")
    ENQUIRY = "enquiry", _("Enquiry")


class CaseState(models.TextChoices):
    RECEIVED = "received", _("Received")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    IN_PROGRESS = "in_progress", _("In progress")
    AWAITING_CUSTOMER = "awaiting_customer", _("Awaiting customer")
    ESCALATED = "escalated", _("Escalated")
    RESPONDED = "responded", _("Responded")
    REOPENED = "reopened", _("Reopened")
    CLOSED = "closed", _("Closed")


# States in which the case is still being handled and its clocks run (or are paused).
OPEN_STATES = frozenset(
    {
        CaseState.RECEIVED,
        CaseState.ACKNOWLEDGED,
        CaseState.IN_PROGRESS,
        CaseState.AWAITING_CUSTOMER,
        CaseState.ESCALATED,
        CaseState.REOPENED,
    }
)

# Badge colours for states (CSS classes of app.css).
STATE_BADGE = {
    CaseState.RECEIVED: "badge-info",
    CaseState.ACKNOWLEDGED: "badge-info",
    CaseState.IN_PROGRESS: "badge-primary",
    CaseState.AWAITING_CUSTOMER: "badge-muted",
    CaseState.ESCALATED: "badge-warning",
    CaseState.RESPONDED: "badge-success",
    CaseState.REOPENED: "badge-warning",
    CaseState.CLOSED: "badge-muted",
}


class Outcome(models.TextChoices):
    UPHELD = "upheld", _("Upheld")
    PARTLY_UPHELD = "partly_upheld", _("Partly upheld")
    NOT_UPHELD = "not_upheld", _("Not upheld")
    # Suggestions, praise and enquiries are answered, not judged.
    ANSWERED = "answered", _("Answered")
    WITHDRAWN = "withdrawn", _("Withdrawn by the customer")
    MERGED = "merged", _("Merged into another case")


# Outcomes a handler picks when responding; the others are set by withdrawal and merging.
RESPONSE_OUTCOMES = (Outcome.UPHELD, Outcome.PARTLY_UPHELD, Outcome.NOT_UPHELD, Outcome.ANSWERED)
UPHELD_OUTCOMES = frozenset({Outcome.UPHELD, Outcome.PARTLY_UPHELD})


class Severity(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")
    CRITICAL = "critical", _("Critical")


class EscalationTarget(models.TextChoices):
    INTERNAL = "internal", _("Internally")
    REGULATOR = "regulator", _("To the regulator")
    OMBUDSMAN = "ombudsman", _("To the ombudsman")


class Jurisdiction(models.TextChoices):
    CN = "CN", _("Mainland China")
    UK = "UK", _("United Kingdom")
    US = "US", _("United States")


class TaxonomyScheme(models.TextChoices):
    JRT0169 = "jrt0169", _("JR/T 0169-2018")
    CFPB = "cfpb", _("CFPB product and issue")


class CategoryAxis(models.TextChoices):
    BUSINESS_TYPE = "business_type", _("Business type")
    CAUSE = "cause", _("Cause")
    PRODUCT = "product", _("Product")
    ISSUE = "issue", _("Issue")


class TimelineKind(models.TextChoices):
    CREATED = "created", _("Received")
    TRANSITION = "transition", _("State changed")
    ASSIGNED = "assigned", _("Assigned")
    ROUTED = "routed", _("Routed")
    EXTENDED = "extended", _("Deadline extended")
    PAUSED = "paused", _("Clock paused")
    RESUMED = "resumed", _("Clock resumed")
    NEW_FACTS = "new_facts", _("New facts: clock restarted")
    MESSAGE = "message", _("Message")
    NOTE = "note", _("Internal note")
    ATTACHMENT = "attachment", _("Attachment added")
    CLASSIFIED = "classified", _("Classified")
    DUPLICATE = "duplicate", _("Possible duplicate flagged")
    MERGED = "merged", _("Merged")
    WARNED = "warned", _("Deadline warning sent")
    BREACHED = "breached", _("Deadline breached")
    CUSTOMER = "customer", _("Customer answered the response")


class MessageDirection(models.TextChoices):
    TO_CUSTOMER = "to_customer", _("To the customer")
    FROM_CUSTOMER = "from_customer", _("From the customer")
    INTERNAL = "internal", _("Internal note")
