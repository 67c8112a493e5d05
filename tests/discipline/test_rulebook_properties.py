"""Property: identical facts always give an identical recommendation, whatever the order in
which the events that raised the violations, and their confirmations, were processed.

Two employees with the same wage in the same jurisdiction receive the same set of deadline
breaches, delivered in two different orders and confirmed in two different orders; every
violation of one then gets exactly the recommendation of its twin (the prior ids aside,
which are different rows)."""

from datetime import datetime, timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from servicecharter.core.events import emit
from servicecharter.core.services.events import deliver_due
from servicecharter.discipline.models import Violation
from servicecharter.discipline.rulebook_services import violation_recommend
from servicecharter.discipline.violations import violation_confirm

START = timezone.make_aware(datetime(2026, 1, 5, 9, 0))

breach = st.tuples(
    st.integers(min_value=0, max_value=500),  # days after START
    st.booleans(),  # confirmed after review
)


def _deliver(staff, items, order, case_base):
    for index in order:
        day, _confirm = items[index]
        at = START + timedelta(days=day, minutes=index)
        with transaction.atomic():
            event = emit(
                "case.deadline_breached",
                {
                    "case_id": case_base + index,
                    "reference": f"C-{index}",
                    "handler_staff_id": staff.pk,
                    "due_at": at.isoformat(),
                    "breached_at": at.isoformat(),
                },
            )
        deliver_due(worker_id="prop", event_id=event.pk)


def _by_index(staff, case_base):
    rows = Violation.objects.filter(staff=staff)
    return {int(v.source_key.split(":")[1]) - case_base: v for v in rows}


def _comparable(recommendation):
    steps = [{k: v for k, v in step.items() if k != "ids"} for step in recommendation.steps]
    return (recommendation.measure, recommendation.rule_code, recommendation.amount, steps)


@pytest.mark.django_db
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    items=st.lists(breach, min_size=1, max_size=7),
    data=st.data(),
)
def test_same_facts_same_recommendation_whatever_the_order(
    items, data, bj_staff, sh_staff, compliance_officer
):
    Violation.objects.all().delete()
    order_a = list(range(len(items)))
    order_b = data.draw(st.permutations(order_a))
    confirm_b = data.draw(st.permutations(order_a))
    _deliver(bj_staff, items, order_a, 1000)
    _deliver(sh_staff, items, order_b, 5000)
    a, b = _by_index(bj_staff, 1000), _by_index(sh_staff, 5000)
    for order, twins in ((order_a, a), (confirm_b, b)):
        for index in order:
            if items[index][1]:
                violation_confirm(actor=compliance_officer, violation=twins[index])
    for index in order_a:
        _va, rec_a = violation_recommend(violation=a[index])
        _vb, rec_b = violation_recommend(violation=b[index])
        assert _comparable(rec_a) == _comparable(rec_b)
