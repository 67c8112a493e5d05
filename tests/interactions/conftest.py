"""Interaction fixtures: a card standard on the phone, the phone service level, a member of
staff in each branch, and a function building resolved rows."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from servicecharter.accounts.choices import Role
from servicecharter.interactions.ingest import NewInteraction
from servicecharter.org.choices import Channel
from servicecharter.standards import services as standard_services
from servicecharter.standards.choices import ServiceLevelMetric
from tests.conftest import make_user
from tests.standards import conftest as standards_conftest
from tests.standards.conftest import T0, make_staff

# The standards tests' fixtures, shared here.
business_types = standards_conftest.business_types
publish_standard = standards_conftest.publish_standard


@pytest.fixture
def ingester(tree):
    """A channel system's account: ingests interactions for the whole institution."""
    return make_user("ingest", Role.ADMIN, tree["head"])


@pytest.fixture
def phone_level(compliance_officer):
    return standard_services.service_level_set(
        actor=compliance_officer,
        channel=Channel.PHONE,
        metric=ServiceLevelMetric.ANSWER_WITHIN,
        threshold=20,
        target_share=80,
        effective_from=T0,
    )


@pytest.fixture
def bj_staff(tree):
    return make_staff(tree["bj_team"], "E10001", "李娜")


@pytest.fixture
def sh_staff(tree):
    return make_staff(tree["sh_team"], "E20001", "张伟")


@pytest.fixture
def card_version(publish_standard, business_types, phone_level):
    return publish_standard(business_type=business_types["cards"])


ALL_STEPS = [
    {"step": "greeting", "at": 3},
    {"step": "identify", "at": 30},
    {"step": "fee_disclosure", "at": 90},
]


def row(staff, number: int = 1, **overrides) -> NewInteraction:
    fields = {
        "external_system": "ivr",
        "external_id": f"call-{number}",
        "channel": Channel.PHONE,
        "department_id": staff.department_id,
        "staff_id": staff.pk,
        "started_at": timezone.make_aware(datetime(2025, 6, 2, 9, 30)) + timedelta(minutes=number),
        "outcome": "served",
        "wait_seconds": 12,
        "handle_seconds": 240,
        "steps": list(ALL_STEPS),
    }
    fields.update(overrides)
    return NewInteraction(**fields)
