"""Severity of a new case, scored from the facts that make a complaint more serious, with the
reasons kept so the screen can say why. Pure: no database."""

from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext_lazy as _

from servicecharter.cases.choices import Severity

# Money at stake in the case's currency, converted roughly to CNY so thresholds compare.
_CNY_PER_UNIT = {"CNY": Decimal(1), "USD": Decimal(7), "GBP": Decimal(9), "EUR": Decimal(8)}
_MONEY_STEPS = ((Decimal(100_000), 30), (Decimal(10_000), 20), (Decimal(1_000), 10))

POINTS_VULNERABLE = 25
POINTS_REGULATOR = 30
POINTS_REPEAT = 15
POINTS_SOCIAL = 20

# Lowest score of each level, highest first.
LEVELS = ((70, Severity.CRITICAL), (45, Severity.HIGH), (20, Severity.MEDIUM), (0, Severity.LOW))

REASON_LABELS = {
    "money": _("Money at stake: %(amount)s %(currency)s"),
    "vulnerable": _("Vulnerable customer"),
    "regulator": _("Referred by a regulator"),
    "repeat": _("Repeat complainant: %(count)s earlier cases in %(days)s days"),
    "social": _("Raised on social media"),
}


@dataclass(frozen=True)
class SeverityScore:
    score: int
    level: str
    # [{"code": …, "points": …, "params": {…}}], JSON-safe for the case row.
    reasons: list[dict]


def score_severity(
    *,
    money_at_stake: Decimal | None,
    currency: str,
    is_vulnerable: bool,
    regulator_referral: bool,
    earlier_cases: int,
    repeat_window_days: int,
    social_media: bool,
) -> SeverityScore:
    reasons: list[dict] = []
    if money_at_stake:
        in_cny = money_at_stake * _CNY_PER_UNIT.get(currency, Decimal(1))
        points = next((pts for floor, pts in _MONEY_STEPS if in_cny >= floor), 0)
        if points:
            params = {"amount": str(money_at_stake), "currency": currency}
            reasons.append({"code": "money", "points": points, "params": params})
    if is_vulnerable:
        reasons.append({"code": "vulnerable", "points": POINTS_VULNERABLE, "params": {}})
    if regulator_referral:
        reasons.append({"code": "regulator", "points": POINTS_REGULATOR, "params": {}})
    if earlier_cases:
        params = {"count": earlier_cases, "days": repeat_window_days}
        reasons.append({"code": "repeat", "points": POINTS_REPEAT, "params": params})
    if social_media:
        reasons.append({"code": "social", "points": POINTS_SOCIAL, "params": {}})
    score = min(100, sum(reason["points"] for reason in reasons))
    level = next(level for floor, level in LEVELS if score >= floor)
    return SeverityScore(score=score, level=level, reasons=reasons)


def reason_text(reason: dict) -> str:
    label = REASON_LABELS.get(reason.get("code"), "")
    return str(label) % reason.get("params", {}) if label else str(reason.get("code", ""))
