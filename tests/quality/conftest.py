"""Quality personas and factories: auditors, an employee in each branch with their sign-in, a
phone scorecard in use with a critical item, interactions, and evaluations assigned or scored.

Other quality tests (sampling, calibration, reviews) may add their fixtures at the end."""

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from servicecharter.accounts.choices import Role
from servicecharter.interactions.models import Interaction
from servicecharter.org.choices import Channel
from servicecharter.quality import services
from servicecharter.quality.choices import CriterionCategory, Scale
from tests.conftest import make_user
from tests.standards.conftest import make_staff

T0 = timezone.make_aware(datetime(2025, 6, 2, 9, 0))


@pytest.fixture
def auditor(tree):
    """An institution-wide quality auditor: writes scorecards, manages and scores."""
    return make_user("auditor", Role.QUALITY_AUDITOR, tree["head"])


@pytest.fixture
def second_auditor(tree):
    return make_user("auditor2", Role.QUALITY_AUDITOR, tree["head"])


@pytest.fixture
def sh_auditor(tree):
    """An auditor of the Shanghai branch only."""
    return make_user("sh.auditor", Role.QUALITY_AUDITOR, tree["sh"])


@pytest.fixture
def bj_staff(tree):
    return make_staff(tree["bj_team"], "E10001", "李娜")


@pytest.fixture
def sh_staff(tree):
    return make_staff(tree["sh_team"], "E20001", "张伟")


@pytest.fixture
def bj_employee(bj_agent, bj_staff):
    """The Beijing agent's sign-in, linked to their staff record."""
    bj_agent.staff = bj_staff
    bj_agent.save(update_fields=["staff"])
    return bj_agent


@pytest.fixture
def sh_employee(tree, sh_staff):
    return make_user("sh.agent", Role.AGENT, tree["sh_team"], staff=sh_staff)


# (code, scale, category, weight, critical) per section (name, weight)
PHONE_CARD = (
    (
        ("Opening", "开场", 20),
        (
            ("greeting", Scale.YES_NO, CriterionCategory.ATTITUDE, 1, False),
            ("verify_identity", Scale.YES_NO, CriterionCategory.COMPLIANCE, 1, True),
        ),
    ),
    (
        ("Handling", "办理", 80),
        (
            ("accuracy", Scale.ONE_TO_FIVE, CriterionCategory.ACCURACY, 3, False),
            ("courtesy", Scale.ONE_TO_FIVE, CriterionCategory.ATTITUDE, 1, False),
        ),
    ),
)
ALL_GOOD = {"greeting": 1, "verify_identity": 1, "accuracy": 5, "courtesy": 5}
IDENTITY_MISSED = {**ALL_GOOD, "verify_identity": 0}


def build_scorecard(actor, code="PHONE", sections=PHONE_CARD, activate=True):
    """A scorecard whose version 1 has ``sections``; in use unless ``activate`` is False."""
    scorecard = services.scorecard_create(
        actor=actor, code=code, name_en=f"{code} calls", name_zh=f"{code} 通话"
    )
    version = scorecard.versions.get()
    for (name_en, name_zh, weight), criteria in sections:
        section = services.section_add(
            actor=actor, version=version, name_en=name_en, name_zh=name_zh, weight=weight
        )
        for criterion_code, scale, category, criterion_weight, critical in criteria:
            services.criterion_add(
                actor=actor,
                section=section,
                code=criterion_code,
                text_en=criterion_code.replace("_", " ").capitalize(),
                text_zh=f"{criterion_code}（中文）",
                weight=criterion_weight,
                scale=scale,
                category=category,
                critical=critical,
            )
    if activate:
        services.scorecard_version_activate(actor=actor, version=version)
    version.refresh_from_db()
    return version


@pytest.fixture
def phone_card(auditor):
    """Version 1 of the phone scorecard, in use."""
    return build_scorecard(auditor)


def make_interaction(staff, number: int = 1, **overrides) -> Interaction:
    fields = {
        "external_system": "ivr",
        "external_id": f"q-call-{number}",
        "channel": Channel.PHONE,
        "staff": staff,
        "department_id": staff.department_id if staff else overrides["department_id"],
        "started_at": T0 + timedelta(minutes=number),
        "wait_seconds": 12,
        "handle_seconds": 240,
        "outcome": "served",
        "steps": [{"step": "greeting", "at": 3}, {"step": "verify_identity", "at": 40}],
        "notes": "Customer asked about a card fee.",
    }
    fields.update(overrides)
    return Interaction.objects.create(**fields)


@pytest.fixture
def assign(auditor, phone_card):
    """Returns a function assigning an interaction of ``staff`` to an auditor (default: the
    institution-wide auditor) on the phone scorecard."""
    counter = iter(range(1, 10_000))

    def make(staff, to=None, **interaction_fields):
        interaction = make_interaction(staff, next(counter), **interaction_fields)
        return services.evaluation_assign(
            actor=auditor,
            interaction=interaction,
            scorecard_version=phone_card,
            auditor=to or auditor,
        )

    return make


@pytest.fixture
def scored(assign, auditor):
    """Returns a function making a scored evaluation of ``staff`` with ``answers``."""

    def make(staff, answers=ALL_GOOD, to=None, comments=None):
        evaluation = assign(staff, to=to)
        return services.evaluation_submit(
            actor=to or auditor, evaluation=evaluation, answers=answers, comments=comments
        )

    return make


def percent(value) -> Decimal:
    return Decimal(value).quantize(Decimal("0.01"))
