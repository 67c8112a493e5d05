"""How scorecards read on a page: one line per KPI, tier badges, the trend chart."""

from decimal import Decimal

from django.utils.translation import gettext as _

from servicecharter.assessment import charts
from servicecharter.assessment.choices import TIER_ORDER, Kpi, Tier

UNITS = {
    Kpi.CSAT: "%",
    Kpi.COMPLAINT_TIMELINESS: "%",
    Kpi.ATTITUDE: "%",
    Kpi.STANDARD_ADHERENCE: "%",
}
TIER_BADGE = {
    Tier.EXCELLENT: "ok",
    Tier.GOOD: "ok",
    Tier.MEETS: "badge-info",
    Tier.NEEDS_IMPROVEMENT: "warn",
    Tier.UNSATISFACTORY: "bad",
    Tier.INSUFFICIENT: "badge-muted",
}


def _decimal(value) -> Decimal | None:
    return None if value in (None, "") else Decimal(value)


def kpi_rows(kpis: dict) -> list[dict]:
    rows = []
    for code, figure in kpis.items():
        rows.append(
            {
                "kpi": code,
                "label": Kpi(code).label,
                "value": _decimal(figure.get("value")),
                "unit": UNITS.get(code, ""),
                "n": figure.get("n", 0),
                "normalised": _decimal(figure.get("normalised")),
                "weight": _decimal(figure.get("weight")),
                "sufficient": figure.get("sufficient", True),
                "reason": figure.get("reason", ""),
            }
        )
    return rows


def trend_chart(cards, title: str) -> str:
    points = [(str(card.period), card.score) for card in cards]
    return charts.line(points, title=title) if points else ""


def tier_chart(counts: dict, title: str) -> str:
    items = [
        (str(Tier(tier).label), counts.get(str(tier), 0), charts.TIER_COLOURS[str(tier)])
        for tier in TIER_ORDER
    ]
    return charts.bars(items, title=title)


def tier_badge(tier: str) -> str:
    return TIER_BADGE.get(tier, "")


def no_data() -> str:
    return _("—")
