"""Inline SVG charts drawn on the server: horizontal bars (tier distributions, departments
ranked) and a line over periods (trends). Every label is escaped; the charts carry a title
and an aria-label so a screen reader gets the figures too."""

from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import mark_safe

from servicecharter.core.templatetags.formatting import number

TIER_COLOURS = {
    "excellent": "#1b7f3b",
    "good": "#4f9d5d",
    "meets": "#8a8f98",
    "needs_improvement": "#d08a1c",
    "unsatisfactory": "#b3261e",
    "insufficient": "#c8ccd2",
}
BAR_HEIGHT = 22
LABEL_WIDTH = 220
BAR_WIDTH = 360


def bars(items: list[tuple[str, Decimal | int | None, str]], *, title: str, maximum=None) -> str:
    """``items``: (label, value, colour); a value None draws no bar and says "—"."""
    values = [float(v) for _l, v, _c in items if v is not None]
    top = float(maximum) if maximum is not None else max(values, default=0) or 1
    height = BAR_HEIGHT * len(items) + 8
    width = LABEL_WIDTH + BAR_WIDTH + 70
    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" '
        f'viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMinYMin meet" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    for index, (label, value, colour) in enumerate(items):
        y = 4 + index * BAR_HEIGHT
        parts.append(
            f'<text x="{LABEL_WIDTH - 6}" y="{y + 15}" text-anchor="end" '
            f'font-size="12">{escape(label)}</text>'
        )
        if value is None:
            parts.append(f'<text x="{LABEL_WIDTH + 4}" y="{y + 15}" font-size="12">—</text>')
            continue
        length = max(1.0, BAR_WIDTH * float(value) / top) if value else 0
        parts.append(
            f'<rect x="{LABEL_WIDTH}" y="{y + 3}" width="{length:.1f}" height="{BAR_HEIGHT - 6}" '
            f'fill="{escape(colour)}"/>'
            f'<text x="{LABEL_WIDTH + length + 4:.1f}" y="{y + 15}" font-size="12">'
            f"{escape(_figure(value))}</text>"
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))


def line(points: list[tuple[str, Decimal | None]], *, title: str, maximum=100) -> str:
    """A line over labelled points (a period each); a missing value breaks the line."""
    width, height, left, bottom = 600, 200, 36, 24
    step = (width - left - 10) / max(1, len(points) - 1)
    scale = (height - bottom - 10) / float(maximum)
    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" '
        f'viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMinYMin meet" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    for tick in (0, 25, 50, 75, 100):
        y = height - bottom - tick * scale * float(maximum) / 100
        parts.append(
            f'<line x1="{left}" x2="{width - 10}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e6ea"/>'
            f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="10">'
            f"{tick * maximum // 100}</text>"
        )
    segment: list[str] = []
    for index, (label, value) in enumerate(points):
        x = left + index * step if len(points) > 1 else left + (width - left) / 2
        parts.append(
            f'<text x="{x:.1f}" y="{height - 6}" text-anchor="middle" font-size="10">'
            f"{escape(label)}</text>"
        )
        if value is None:
            parts.append(_polyline(segment))
            segment = []
            continue
        y = height - bottom - float(value) * scale
        segment.append(f"{x:.1f},{y:.1f}")
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="#14324f">'
            f"<title>{escape(label)}: {escape(_figure(value))}</title></circle>"
        )
    parts.append(_polyline(segment))
    parts.append("</svg>")
    return mark_safe("".join(parts))


def _polyline(points: list[str]) -> str:
    if len(points) < 2:
        return ""
    return f'<polyline points="{" ".join(points)}" fill="none" stroke="#14324f" stroke-width="2"/>'


def _figure(value) -> str:
    if isinstance(value, int):
        return number(value)
    return number(value, 2) if Decimal(str(value)) % 1 else number(value)
