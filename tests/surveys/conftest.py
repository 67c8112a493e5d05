"""Survey fixtures: a customer in each branch, an employee in each team, a rule factory, an
interaction factory, and a function that dispatches and answers a survey."""

from datetime import timedelta

import pytest
from django.utils import timezone

from servicecharter.interactions.models import Interaction
from servicecharter.org.choices import Channel, CustomerSegment, Language
from servicecharter.org.models import Customer
from servicecharter.surveys import services
from servicecharter.surveys.choices import SurveyTrigger
from servicecharter.surveys.models import Invitation, SurveyRule
from tests.cases import conftest as cases_conftest
from tests.standards.conftest import make_staff

# The cases tests' factory of a Beijing complaint, shared here.
new_case = cases_conftest.new_case


def make_customer(number: str, department, *, email="", language=Language.ZH_HANS) -> Customer:
    return Customer.objects.create(
        customer_number=number,
        name=f"客户{number}",
        home_department=department,
        segment=CustomerSegment.RETAIL,
        preferred_language=language,
        email=email,
    )


@pytest.fixture
def bj_customer(tree):
    return make_customer("C1", tree["bj"], email="wang.fang@example.com")


@pytest.fixture
def sh_customer(tree):
    return make_customer("C2", tree["sh"], email="jo@example.com", language=Language.EN)


@pytest.fixture
def bj_staff(tree):
    return make_staff(tree["bj_team"], "E10001", "李娜")


@pytest.fixture
def sh_staff(tree):
    return make_staff(tree["sh_team"], "E20001", "张伟")


@pytest.fixture
def make_rule(admin_user):
    """Returns a function making an active survey rule (every interaction by default)."""

    def make(**fields):
        values = {
            "name": "After every interaction",
            "trigger": SurveyTrigger.INTERACTION,
            "sampling_rate": 100,
            "fatigue_days": 30,
            "valid_days": 14,
            "ask_csat": True,
            "ask_nps": True,
            "ask_effort": True,
            "ask_comment": True,
        }
        values.update(fields)
        return services.survey_rule_create(actor=admin_user, **values)

    return make


@pytest.fixture
def make_interaction():
    """Returns a function recording an interaction of ``staff`` with ``customer``."""
    counter = iter(range(1, 100_000))

    def make(staff, customer, **fields):
        values = {
            "external_system": "test",
            "external_id": f"i-{next(counter)}",
            "channel": Channel.PHONE,
            "staff": staff,
            "department_id": staff.department_id if staff else fields.pop("department").pk,
            "customer": customer,
            "started_at": timezone.now() - timedelta(hours=1),
            "outcome": "served",
        }
        values.update(fields)
        return Interaction.objects.create(**values)

    return make


def dispatch(*interactions) -> int:
    ids = [interaction.pk for interaction in interactions]
    return services.survey_dispatch_interactions(first_id=min(ids), last_id=max(ids))


@pytest.fixture
def invite(make_rule, make_interaction):
    """Returns a function surveying one interaction of ``staff`` with ``customer``: the
    invitation and its token (rule: every question, every interaction)."""

    def make(staff, customer, *, rule=None, **fields):
        if rule is None and not SurveyRule.objects.exists():
            make_rule(fatigue_days=0)
        interaction = make_interaction(staff, customer, **fields)
        assert dispatch(interaction) == 1
        invitation = Invitation.objects.get(interaction=interaction)
        return invitation, services.invitation_token(invitation)

    return make
