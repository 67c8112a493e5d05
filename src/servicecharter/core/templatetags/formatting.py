"""Locale-aware money, numbers and dates for templates: ``{% load formatting %}``.

Django's own Chinese number format groups by four digits with no separator, which is not how
Chinese banks print amounts; both languages here group by three with a comma (as CLDR does),
so the filters format numbers themselves and only take the language from the request.
Currency symbols follow CLDR: the yuan is ``¥`` to a Chinese reader and ``CN¥`` to an English
one (where ``¥`` alone could be the yen).
"""

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import template
from django.conf import settings
from django.utils import formats, timezone
from django.utils.translation import get_language

register = template.Library()

# currency → (symbol in English, symbol in Chinese)
CURRENCY_SYMBOLS = {
    "CNY": ("CN¥", "¥"),
    "USD": ("$", "US$"),
    "GBP": ("£", "£"),
    "EUR": ("€", "€"),
    "HKD": ("HK$", "HK$"),
    "JPY": ("¥", "JP¥"),
}
# Currencies without minor units.
ZERO_DECIMAL_CURRENCIES = {"JPY", "KRW"}


def _is_chinese() -> bool:
    return (get_language() or "").startswith("zh")


def _to_decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def group_digits(value: Decimal, places: int) -> str:
    """1234567.891 with 2 places → '1,234,567.89' (half-up rounding, sign kept)."""
    quantum = Decimal(1).scaleb(-places)
    rounded = value.quantize(quantum, rounding=ROUND_HALF_UP)
    sign = "-" if rounded < 0 else ""
    whole, _, fraction = f"{abs(rounded):.{places}f}".partition(".")
    groups = []
    while whole:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    text = ",".join(groups) or "0"
    return f"{sign}{text}.{fraction}" if places else f"{sign}{text}"


def currency_symbol(code: str) -> str:
    symbols = CURRENCY_SYMBOLS.get(code.upper())
    if symbols is None:
        return f"{code.upper()}\u00a0"
    return symbols[1] if _is_chinese() else symbols[0]


@register.filter
def money(value, currency: str = ""):
    """12345 → 'CN¥12,345.00' in English, '¥12,345.00' in Chinese; currency from the
    argument or settings.CURRENCY. A value that is not a number is shown as it is."""
    amount = _to_decimal(value)
    if amount is None:
        return value if value not in (None, "") else ""
    code = (currency or settings.CURRENCY).upper()
    places = 0 if code in ZERO_DECIMAL_CURRENCIES else 2
    text = group_digits(amount, places)
    if text.startswith("-"):
        return f"-{currency_symbol(code)}{text[1:]}"
    return f"{currency_symbol(code)}{text}"


@register.filter
def number(value, places=0):
    """1234567 → '1,234,567'; ``|number:1`` keeps one decimal place."""
    amount = _to_decimal(value)
    if amount is None:
        return value if value not in (None, "") else ""
    try:
        places = max(0, int(places))
    except (TypeError, ValueError):
        places = 0
    return group_digits(amount, places)


@register.filter
def percent(value, places=0):
    """0.853 → '85%' (``|percent:1`` → '85.3%')."""
    amount = _to_decimal(value)
    if amount is None:
        return value if value not in (None, "") else ""
    return f"{number(amount * 100, places)}%"


@register.filter
def localdate(value):
    """A date (or an aware datetime, converted to the current time zone) in the language's
    date format: 'Nov. 28, 2026' / '2026年11月28日'."""
    if isinstance(value, datetime):
        value = timezone.localtime(value) if timezone.is_aware(value) else value
        value = value.date()
    if not isinstance(value, date):
        return value if value is not None else ""
    return formats.date_format(value, "DATE_FORMAT", use_l10n=True)


@register.filter
def localdatetime(value):
    """An aware datetime in the current time zone and the language's format."""
    if not isinstance(value, datetime):
        return localdate(value)
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return formats.date_format(value, "DATETIME_FORMAT", use_l10n=True)
