"""The demo decisions: made through the services for the demo accounts, once."""

import pytest

from servicecharter.accounts.models import User
from servicecharter.demo.decisions import decisions_seed
from servicecharter.demo.services import institution_seed
from servicecharter.discipline import decision_selectors as selectors
from servicecharter.discipline.choices import DecisionState

pytestmark = pytest.mark.django_db


def test_the_demo_agent_has_a_decision_in_force_and_compliance_a_queue(db):
    institution_seed(seed=3, customers=50)
    summary = decisions_seed()
    assert (summary.in_force, summary.awaiting_approval) == (1, 2)
    agent = User.objects.get(username="agent")
    compliance = User.objects.get(username="compliance")
    mine = list(selectors.my_decisions(user=agent))
    assert len(mine) == 1 and mine[0].state == DecisionState.APPROVED
    assert mine[0].explanation["steps"] and mine[0].appeal_until is not None
    assert selectors.approval_queue(user=compliance).count() == 2
    assert decisions_seed() is None  # once
