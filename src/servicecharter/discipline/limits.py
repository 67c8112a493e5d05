"""The lawful limits on money taken from a wage, with no database.

All deductions of one wage month count together: the cap is a share of the monthly wage
(20% by default, as China's Provisions on Wage Payment allow for compensation deducted from
pay), and the floor says the wage left must not fall below the local minimum wage. Whether a
fine may be imposed at all depends on the jurisdiction (``FinePolicy``).
"""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.utils.translation import gettext as _

from servicecharter.discipline.choices import DEDUCTIONS, FinePolicy, Measure

CENT = Decimal("0.01")
ZERO = Decimal(0)


@dataclass(frozen=True)
class Limits:
    fine_policy: str
    cap_percent: Decimal
    minimum_wage: Decimal
    currency: str = "CNY"


@dataclass(frozen=True)
class LimitBreach:
    """``code``: "fines_disabled", "fine_replaced", "cap" or "floor".

    For "cap", ``limit`` is the cap in money and ``total`` all deductions of the month; for
    "floor", ``limit`` is the minimum wage and ``total`` the wage left. ``excess`` is by how
    much the limit is broken."""

    code: str
    limit: Decimal
    total: Decimal
    excess: Decimal
    currency: str = "CNY"
    cap_percent: Decimal | None = None

    @property
    def message(self) -> str:
        from servicecharter.core.templatetags.formatting import money, number

        values = {
            "limit": money(self.limit, self.currency),
            "total": money(self.total, self.currency),
            "excess": money(self.excess, self.currency),
            "percent": number(self.cap_percent or 0, 2 if (self.cap_percent or 0) % 1 else 0),
        }
        if self.code == "fines_disabled":
            return _("Fines are not allowed in this jurisdiction.")
        if self.code == "fine_replaced":
            return _(
                "Fines are not allowed in this jurisdiction; decide a reduction of "
                "performance pay instead."
            )
        if self.code == "cap":
            return (
                _(
                    "All deductions of the month would total %(total)s, above the cap of "
                    "%(percent)s%% of the monthly wage (%(limit)s) by %(excess)s."
                )
                % values
            )
        return (
            _(
                "The wage left (%(total)s) would fall below the local minimum wage (%(limit)s) "
                "by %(excess)s."
            )
            % values
        )


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def check_deduction(
    *,
    limits: Limits,
    monthly_wage: Decimal,
    already_deducted: Decimal,
    measure: str,
    amount: Decimal | None,
) -> list[LimitBreach]:
    """The limits a deduction of ``amount`` would break, on top of ``already_deducted`` in the
    same wage month. Empty when the measure takes no money or nothing is broken."""
    if measure not in DEDUCTIONS:
        return []
    breaches: list[LimitBreach] = []
    currency = limits.currency
    amount = amount or ZERO
    if measure == Measure.FINE and limits.fine_policy != FinePolicy.ALLOWED:
        code = "fines_disabled" if limits.fine_policy == FinePolicy.DISABLED else "fine_replaced"
        breaches.append(
            LimitBreach(
                code=code,
                limit=ZERO,
                total=_cents(amount),
                excess=_cents(amount),
                currency=currency,
            )
        )
    total = (already_deducted or ZERO) + amount
    cap = _cents(monthly_wage * limits.cap_percent / 100)
    if total > cap:
        breaches.append(
            LimitBreach(
                code="cap",
                limit=cap,
                total=_cents(total),
                excess=_cents(total - cap),
                currency=currency,
                cap_percent=limits.cap_percent,
            )
        )
    left = monthly_wage - total
    if left < limits.minimum_wage:
        breaches.append(
            LimitBreach(
                code="floor",
                limit=_cents(limits.minimum_wage),
                total=_cents(left),
                excess=_cents(limits.minimum_wage - left),
                currency=currency,
            )
        )
    return breaches
