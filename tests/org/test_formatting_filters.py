"""Locale-aware money, numbers and dates in templates (``{% load formatting %}``)."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.template import Context, Template
from django.test import override_settings
from django.utils import translation

from servicecharter.core.templatetags.formatting import group_digits, money, number, percent


def _render(source: str, language: str, **context) -> str:
    with translation.override(language):
        return Template("{% load formatting %}" + source).render(Context(context))


@pytest.mark.parametrize(
    ("language", "expected"), [("en", "CN¥12,345.00"), ("zh-hans", "¥12,345.00")]
)
def test_money_in_yuan_by_default(language, expected):
    assert _render("{{ v|money }}", language, v=Decimal("12345")) == expected


def test_money_in_another_currency_and_negative_amounts():
    with translation.override("en"):
        assert money(Decimal("-1234.5"), "usd") == "-$1,234.50"
        assert money(1000000, "JPY") == "¥1,000,000"
        assert money("7.005", "CHF") == "CHF\u00a07.01"
    with translation.override("zh-hans"):
        assert money(99, "USD") == "US$99.00"


@override_settings(CURRENCY="HKD")
def test_the_default_currency_comes_from_settings():
    with translation.override("en"):
        assert money(10) == "HK$10.00"


def test_money_leaves_text_alone_and_blank_for_none():
    assert money("n/a") == "n/a"
    assert money(None) == ""


def test_numbers_are_grouped_by_three_in_both_languages():
    for language in ("en", "zh-hans"):
        with translation.override(language):
            assert number(1234567) == "1,234,567"
            assert number(Decimal("1234.56"), 1) == "1,234.6"
            assert percent(Decimal("0.8534"), 1) == "85.3%"
    assert group_digits(Decimal("-999.995"), 2) == "-1,000.00"
    assert group_digits(Decimal("0"), 0) == "0"


def test_dates_follow_the_language():
    day = date(2026, 10, 1)
    assert _render("{{ d|localdate }}", "en", d=day) == "Oct. 1, 2026"
    assert _render("{{ d|localdate }}", "zh-hans", d=day) == "2026年10月1日"


@override_settings(TIME_ZONE="Asia/Shanghai")
def test_datetimes_are_shown_in_the_institutions_time_zone():
    moment = datetime(2026, 9, 30, 17, 30, tzinfo=UTC)  # 01:30 on 1 October in Beijing
    assert _render("{{ t|localdate }}", "zh-hans", t=moment) == "2026年10月1日"
    assert _render("{{ t|localdatetime }}", "zh-hans", t=moment) == "2026年10月1日 01:30"
