"""Facts from other modules that become reward proposals (idempotent handlers).

- ``assessment.period_closed``: every employee whose frozen scorecard of the period is in the
  *excellent* tier gets a commendation proposal resting on that scorecard.
- ``case.closed``: a closed *praise* case gives each employee it names a commendation proposal
  resting on the case.

The system is not a person: these proposals are made by the inactive service account
(``decisions.SYSTEM_USERNAME``) and so need two human approvers (``decisions.required_count``),
like any other decision, through the same approval queue. ``Decision.source_key``
("<event>:<fact id>:<staff id>") makes a second delivery propose nothing.

The assessment models are imported inside the handler: the assessment module does not depend
on this one, and this one reads its frozen scorecards only when a period closes.
"""

import logging

from django.db import transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from servicecharter.core.audit import audit_record_many
from servicecharter.core.events import subscriber
from servicecharter.discipline.choices import DecisionKind, LedgerKind, Measure
from servicecharter.discipline.decisions import system_user
from servicecharter.discipline.models import Decision, LedgerEntry

logger = logging.getLogger(__name__)

EXCELLENT = "excellent"
PERIOD_CLOSED = "assessment.period_closed"
CASE_CLOSED = "case.closed"


def _url(name: str, *args) -> str:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return ""


@transaction.atomic
def propose_commendations(*, source: str, fact_id, staff_list, reason: str, basis: list) -> int:
    """One commendation proposal per employee not yet proposed for this fact; returns how many
    were made. Three statements whatever the number of employees, plus the audit rows."""
    keys = {f"{source}:{fact_id}:{staff.pk}": staff for staff in staff_list}
    if not keys:
        return 0
    taken = set(
        Decision.objects.filter(source_key__in=list(keys)).values_list("source_key", flat=True)
    )
    proposer = system_user()
    now = timezone.now()
    new = [
        Decision(
            kind=DecisionKind.REWARD,
            staff=staff,
            department_id=staff.department_id,
            basis=basis,
            source_key=key,
            measure=Measure.COMMENDATION,
            recommended_measure=Measure.COMMENDATION,
            currency=staff.currency,
            reason=reason,
            proposed_by=proposer,
            proposed_at=now,
        )
        for key, staff in keys.items()
        if key not in taken
    ]
    if not new:
        return 0
    Decision.objects.bulk_create(new)
    LedgerEntry.objects.bulk_create(
        LedgerEntry(
            at=now,
            kind=LedgerKind.PROPOSED,
            decision=decision,
            data={"measure": Measure.COMMENDATION, "source": source},
        )
        for decision in new
    )
    audit_record_many(
        {
            "action": "decision.propose",
            "obj": decision,
            "changes": {"kind": DecisionKind.REWARD, "measure": [None, Measure.COMMENDATION]},
        }
        for decision in new
    )
    return len(new)


@subscriber(PERIOD_CLOSED)
def commend_excellent_staff(event) -> None:
    from servicecharter.assessment.models import StaffScorecard
    from servicecharter.org.models import Staff

    period_id = event.payload["period_id"]
    staff_ids = StaffScorecard.objects.filter(period_id=period_id, tier=EXCELLENT).values(
        "staff_id"
    )
    staff = Staff.objects.filter(pk__in=staff_ids).only("pk", "department_id", "currency")
    label = f"{event.payload.get('start', '')} – {event.payload.get('end', '')}"
    made = propose_commendations(
        source=PERIOD_CLOSED,
        fact_id=period_id,
        staff_list=list(staff),
        reason=_("Excellent tier in the assessment period %(period)s.") % {"period": label},
        basis=[{"kind": "period", "id": period_id, "label": label}],
    )
    logger.info("period %s closed: %s commendation proposals", period_id, made)


@subscriber(CASE_CLOSED)
def commend_praised_staff(event) -> None:
    from servicecharter.cases.choices import CaseKind
    from servicecharter.cases.models import Case

    case = Case.objects.filter(pk=event.payload.get("case_id"), kind=CaseKind.PRAISE).first()
    if case is None:
        return
    staff = list(case.staff_involved.only("pk", "department_id", "currency"))
    propose_commendations(
        source=CASE_CLOSED,
        fact_id=case.pk,
        staff_list=staff,
        reason=_("Praised by a customer (case %(reference)s).") % {"reference": case.reference},
        basis=[
            {
                "kind": "case",
                "id": case.pk,
                "label": case.reference,
                "url": _url("cases:case_detail", case.pk),
            }
        ],
    )
