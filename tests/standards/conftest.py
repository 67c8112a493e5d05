"""Standards personas and factories: business types, a published standard, and staff records."""

from datetime import date, datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from servicecharter.org.choices import Channel
from servicecharter.org.models import BusinessType, Staff
from servicecharter.standards import services
from servicecharter.standards.choices import Phase

T0 = timezone.make_aware(datetime(2025, 1, 1, 0, 0))


@pytest.fixture
def business_types(db):
    cards = BusinessType.objects.create(code="B03", name_en="Bank cards", name_zh="银行卡")
    credit = BusinessType.objects.create(
        code="B0302", name_en="Credit cards", name_zh="信用卡", parent=cards
    )
    wealth = BusinessType.objects.create(code="B09", name_en="Wealth management", name_zh="理财")
    return {"cards": cards, "credit": credit, "wealth": wealth}


def add_steps(manager, version, steps):
    """steps: (code, target seconds, mandatory, disclosure) tuples."""
    for code, target, mandatory, disclosure in steps:
        services.standard_step_add(
            actor=manager,
            version=version,
            code=code,
            phase=Phase.HANDLING,
            name_en=code.replace("_", " ").title(),
            name_zh=f"{code}（中文）",
            target_seconds=target,
            mandatory=mandatory,
            is_disclosure=disclosure,
        )


CARD_STEPS = (
    ("greeting", 10, True, False),
    ("identify", 60, True, False),
    ("fee_disclosure", None, True, True),
    ("survey_invite", None, False, False),
)


@pytest.fixture
def publish_standard(compliance_officer):
    """Returns a function making a published standard: (code, business type, channel, steps,
    effective from) → the standard's first version."""

    def make(code="CARD-PHONE", business_type=None, channel=Channel.PHONE, steps=CARD_STEPS,
             effective_from=T0, **extra):  # fmt: skip
        standard = services.standard_create(
            actor=compliance_officer,
            code=code,
            name_en=f"{code} standard",
            name_zh=f"{code} 标准",
            business_type=business_type,
            channel=channel,
            **extra,
        )
        version = standard.versions.get()
        add_steps(compliance_officer, version, steps)
        return services.standard_version_publish(
            actor=compliance_officer, version=version, effective_from=effective_from
        )

    return make


def make_staff(department, number="E90001", name="王芳") -> Staff:
    return Staff.objects.create(
        employee_number=number,
        name=name,
        department=department,
        base_wage=Decimal("8000"),
        hire_date=date(2020, 1, 1),
    )
