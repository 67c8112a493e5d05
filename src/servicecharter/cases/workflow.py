"""Which transition a case may take from which state. Pure data; services enforce it.

received → acknowledged → in progress ⇄ awaiting customer → responded → closed, plus reopened
(the customer rejected the response or came back), escalated (internally, to the regulator or
the ombudsman), withdrawal and merging (both close the case). Extensions, pauses and new facts
change the clocks, not the state, and are allowed in any open state.
"""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from servicecharter.cases.choices import OPEN_STATES, CaseState

S = CaseState
_WORKING = {S.ACKNOWLEDGED, S.IN_PROGRESS, S.REOPENED, S.ESCALATED}

# action → (states it may start from, state it leads to)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "acknowledge": (frozenset({S.RECEIVED}), S.ACKNOWLEDGED),
    "start": (frozenset({S.RECEIVED, S.ACKNOWLEDGED, S.REOPENED}), S.IN_PROGRESS),
    "await_customer": (frozenset(_WORKING), S.AWAITING_CUSTOMER),
    "customer_replied": (frozenset({S.AWAITING_CUSTOMER}), S.IN_PROGRESS),
    "escalate": (frozenset({*_WORKING, S.AWAITING_CUSTOMER} - {S.ESCALATED}), S.ESCALATED),
    "respond": (frozenset(_WORKING), S.RESPONDED),
    "close": (frozenset({S.RESPONDED}), S.CLOSED),
    "reopen": (frozenset({S.RESPONDED, S.CLOSED}), S.REOPENED),
    "withdraw": (frozenset(OPEN_STATES | {S.RESPONDED}), S.CLOSED),
    "merge": (frozenset(OPEN_STATES), S.CLOSED),
}

ACTION_LABELS = {
    "acknowledge": gettext_lazy("Acknowledge"),
    "start": gettext_lazy("Start work"),
    "await_customer": gettext_lazy("Wait for the customer"),
    "customer_replied": gettext_lazy("Customer replied"),
    "escalate": gettext_lazy("Escalate"),
    "respond": gettext_lazy("Send the final response"),
    "close": gettext_lazy("Close"),
    "reopen": gettext_lazy("Reopen"),
    "withdraw": gettext_lazy("Record withdrawal"),
    "merge": gettext_lazy("Merge into another case"),
}


class TransitionRefused(ValueError):
    """The case's state does not allow the action; the message is translated."""


def allowed_actions(state: str) -> list[str]:
    return [action for action, (sources, _target) in TRANSITIONS.items() if state in sources]


def target_of(action: str, state: str) -> str:
    """The state ``action`` leads to from ``state``, or TransitionRefused with a clear message."""
    if action not in TRANSITIONS:
        raise TransitionRefused(_("Unknown action “%(action)s”.") % {"action": action})
    sources, target = TRANSITIONS[action]
    if state not in sources:
        raise TransitionRefused(
            _("A case that is “%(state)s” cannot be given the action “%(action)s”.")
            % {"state": CaseState(state).label, "action": ACTION_LABELS[action]}
        )
    return target
