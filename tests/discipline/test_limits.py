"""The lawful limits, hand-worked: cap, floor, fines policy, deductions of a month together."""

from decimal import Decimal

from django.utils import translation

from servicecharter.discipline.choices import FinePolicy, Measure
from servicecharter.discipline.limits import Limits, check_deduction

CN = Limits(
    fine_policy=FinePolicy.PAY_REDUCTION, cap_percent=Decimal(20), minimum_wage=Decimal("2690")
)


def check(amount, *, wage="8000", already="0", measure=Measure.PAY_REDUCTION, limits=CN):
    return check_deduction(
        limits=limits,
        monthly_wage=Decimal(wage),
        already_deducted=Decimal(already),
        measure=measure,
        amount=Decimal(amount),
    )


def test_inside_the_cap_nothing_breaks():
    assert check("1600") == []


def test_cap_counts_all_deductions_of_the_month():
    # 20% of 8,000 = 1,600; 1,000 already + 800 = 1,800 → 200 over.
    [breach] = check("800", already="1000")
    assert (breach.code, breach.limit, breach.total, breach.excess) == (
        "cap",
        Decimal("1600.00"),
        Decimal("1800.00"),
        Decimal("200.00"),
    )
    with translation.override("en"):
        assert breach.message == (
            "All deductions of the month would total CN¥1,800.00, above the cap of 20% of the "
            "monthly wage (CN¥1,600.00) by CN¥200.00."
        )


def test_floor_the_wage_left_must_stay_above_the_minimum_wage():
    # 3,000 wage: cap 600; 500 leaves 2,500 < 2,690 → 190 short.
    [breach] = check("500", wage="3000")
    assert (breach.code, breach.total, breach.excess) == (
        "floor",
        Decimal("2500.00"),
        Decimal("190.00"),
    )
    with translation.override("en"):
        assert "below the local minimum wage (CN¥2,690.00) by CN¥190.00" in breach.message


def test_both_limits_can_break_at_once():
    assert [b.code for b in check("900", wage="3000")] == ["cap", "floor"]


def test_fines_policy():
    assert [b.code for b in check("100", measure=Measure.FINE)] == ["fine_replaced"]
    disabled = Limits(
        fine_policy=FinePolicy.DISABLED, cap_percent=Decimal(20), minimum_wage=Decimal(0)
    )
    assert [b.code for b in check("100", measure=Measure.FINE, limits=disabled)] == [
        "fines_disabled"
    ]
    allowed = Limits(
        fine_policy=FinePolicy.ALLOWED, cap_percent=Decimal(20), minimum_wage=Decimal(0)
    )
    assert check("100", measure=Measure.FINE, limits=allowed) == []


def test_measures_without_money_are_not_checked():
    assert check("99999", measure=Measure.WRITTEN_WARNING) == []


def test_message_in_chinese():
    [breach] = check("800", already="1000")
    with translation.override("zh-hans"):
        assert "¥200.00" in breach.message
