"""Regulatory profiles: the complaint-handling deadlines of each regulator, as data.

A profile is a set of *clocks* that start when a complaint is received (the final response, the
UK summary-resolution window, the US 15-day response). Each clock says how long it runs, in
calendar or business days, on which calendar, which extensions may lengthen it (and who must
approve them), which reasons may pause it, and whether new facts restart it. The arithmetic
that turns a profile and a case's history into due instants is in ``cases.deadlines``.

Shipped profiles follow ../shared/REGULATIONS.md ("Complaint handling deadlines"). Days are
calendar days unless a profile says business days. Mainland-China periods are counted the way
the Civil Code counts them (arts. 201–203): the day of receipt is not counted, a period ends at
the close (24:00) of its last day, and a last day that is a holiday or rest day moves to the next
working day — on the CN calendar, so a make-up working Saturday (调休) is a working day.

Administrators define custom profiles as a dict (``profile_from_dict``), checked here with a
clear, translated message for every mistake. This module stores nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from django.db import models
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

# A clock longer than this is a typing mistake, not a regulation.
MAX_CLOCK_DAYS = 366
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,49}$")


class DayUnit(models.TextChoices):
    CALENDAR = "calendar_days", gettext_lazy("calendar days")
    BUSINESS = "business_days", gettext_lazy("business days")


class PauseReason(models.TextChoices):
    EXTERNAL_APPRAISAL = "external_appraisal", gettext_lazy("external appraisal or testing")
    AWAITING_CUSTOMER = "awaiting_customer", gettext_lazy("awaiting the customer")


class Approver(models.TextChoices):
    """Who must approve an extension, lowest first: a higher role may approve a lower one's."""

    NONE = "", gettext_lazy("no approval needed")
    SUPERVISOR = "supervisor", gettext_lazy("the handler's supervisor")
    COMPLAINTS_HEAD = "complaints_head", gettext_lazy("the head of complaints handling")
    SENIOR_MANAGER = "senior_manager", gettext_lazy("a senior manager")


APPROVER_RANK: dict[str, int] = {value: rank for rank, value in enumerate(Approver.values)}


def approver_suffices(given: str, required: str) -> bool:
    return APPROVER_RANK.get(given, -1) >= APPROVER_RANK[required]


@dataclass(frozen=True)
class Bilingual:
    """A label an administrator typed in both languages; shown in the current one."""

    en: str
    zh: str

    def __str__(self) -> str:
        if (get_language() or "").startswith("zh") and self.zh:
            return self.zh
        return self.en or self.zh


@dataclass(frozen=True)
class Extension:
    """A level by which a clock may be lengthened.

    ``length`` is the clock's total length in its unit once this level is granted, counted from
    the clock's start (CN: complex → 30; especially complex → 60, i.e. another 30). A grant may
    ask for less, never more. ``requires`` names a level that must have been granted first."""

    level: str
    label: object
    length: int
    approver: str = Approver.NONE
    reason_required: bool = True
    customer_told: bool = True  # the customer must be told of the extension and why
    requires: str = ""


@dataclass(frozen=True)
class Clock:
    key: str
    label: object
    length: int
    unit: str = DayUnit.CALENDAR
    calendar: str = "CN"
    # Due at the close (end) of the last day rather than at the wall-clock time of receipt.
    ends_at_close_of_day: bool = False
    # A calendar-day period whose last day is not a working day ends on the next working day.
    roll_forward: bool = False
    extensions: tuple[Extension, ...] = ()
    pause_reasons: frozenset[str] = frozenset()
    restarts_on_new_facts: bool = False
    # A window, not a duty: passing it is no breach (UK summary resolution), it just lapses.
    is_window: bool = False

    @property
    def max_length(self) -> int:
        return max([self.length, *(ext.length for ext in self.extensions)])

    def extension(self, level: str) -> Extension | None:
        return next((ext for ext in self.extensions if ext.level == level), None)


@dataclass(frozen=True)
class RegulatoryProfile:
    key: str
    label: object
    source: object  # the regulation it implements
    clocks: tuple[Clock, ...]

    def clock(self, key: str) -> Clock | None:
        return next((clock for clock in self.clocks if clock.key == key), None)


# --- shipped profiles -----------------------------------------------------------------------


def _cn_final_response(extensions: tuple[Extension, ...], pauses: frozenset[str]) -> Clock:
    return Clock(
        key="final_response",
        label=gettext_lazy("Decision and reply to the complainant"),
        length=15,
        calendar="CN",
        ends_at_close_of_day=True,
        roll_forward=True,
        extensions=extensions,
        pause_reasons=pauses,
        restarts_on_new_facts=True,
    )


CN_BANKING_INSURANCE = RegulatoryProfile(
    key="cn_banking_insurance",
    label=gettext_lazy("China — banking and insurance complaints"),
    source=gettext_lazy(
        "Measures on handling consumer complaints in banking and insurance (CBIRC order 2020 no. 3)"
    ),
    clocks=(
        _cn_final_response(
            extensions=(
                Extension(
                    level="complex",
                    label=gettext_lazy("Complex: up to 30 days"),
                    length=30,
                ),
                Extension(
                    level="especially_complex",
                    label=gettext_lazy("Especially complex: another 30 days (60 in all)"),
                    length=60,
                    approver=Approver.SENIOR_MANAGER,
                    requires="complex",
                ),
            ),
            # Time spent on external appraisal or testing is not counted (complainant told).
            pauses=frozenset({PauseReason.EXTERNAL_APPRAISAL}),
        ),
    ),
)

CN_PBOC_REFERRAL = RegulatoryProfile(
    key="cn_pboc_referral",
    label=gettext_lazy("China — complaints referred by the People's Bank of China"),
    source=gettext_lazy("PBOC implementing measures on financial consumer protection (2020)"),
    clocks=(
        _cn_final_response(
            extensions=(
                Extension(
                    level="complex",
                    label=gettext_lazy("Complex: up to 60 days"),
                    length=60,
                    approver=Approver.COMPLAINTS_HEAD,
                ),
            ),
            pauses=frozenset(),
        ),
    ),
)


def _uk_summary_resolution() -> Clock:
    return Clock(
        key="summary_resolution",
        label=gettext_lazy("Summary resolution (by close of the third business day)"),
        length=3,
        unit=DayUnit.BUSINESS,
        calendar="UK",
        ends_at_close_of_day=True,
        is_window=True,
    )


UK_FCA_DISP = RegulatoryProfile(
    key="uk_fca_disp",
    label=gettext_lazy("United Kingdom — FCA complaints (DISP)"),
    source=gettext_lazy("FCA Handbook DISP 1.5 and 1.6"),
    clocks=(
        _uk_summary_resolution(),
        Clock(
            key="final_response",
            label=gettext_lazy("Final response (eight weeks)"),
            length=56,
            calendar="UK",
        ),
    ),
)

UK_FCA_PAYMENT_SERVICES = RegulatoryProfile(
    key="uk_fca_payment_services",
    label=gettext_lazy("United Kingdom — payment services and e-money complaints (DISP)"),
    source=gettext_lazy("FCA Handbook DISP 1.6.2A"),
    clocks=(
        _uk_summary_resolution(),
        Clock(
            key="final_response",
            label=gettext_lazy("Final response (15 business days)"),
            length=15,
            unit=DayUnit.BUSINESS,
            calendar="UK",
            ends_at_close_of_day=True,
            extensions=(
                Extension(
                    level="exceptional",
                    label=gettext_lazy(
                        "Exceptional circumstances beyond the firm's control: up to 35 business "
                        "days (holding reply with the reasons)"
                    ),
                    length=35,
                ),
            ),
        ),
    ),
)

US_CFPB = RegulatoryProfile(
    key="us_cfpb",
    label=gettext_lazy("United States — CFPB complaints"),
    source=gettext_lazy("CFPB company complaint portal"),
    clocks=(
        Clock(
            key="response",
            label=gettext_lazy("Response (15 calendar days)"),
            length=15,
            calendar="US",
        ),
        Clock(
            key="final_response",
            label=gettext_lazy("Final response after “in progress” (60 days)"),
            length=60,
            calendar="US",
        ),
    ),
)

PROFILES: Mapping[str, RegulatoryProfile] = MappingProxyType(
    {
        profile.key: profile
        for profile in (
            CN_BANKING_INSURANCE,
            CN_PBOC_REFERRAL,
            UK_FCA_DISP,
            UK_FCA_PAYMENT_SERVICES,
            US_CFPB,
        )
    }
)


class ProfileError(ValueError):
    """A profile that cannot be used; ``messages`` lists every problem, translated."""

    def __init__(self, messages: list[str]):
        self.messages = list(messages)
        super().__init__(" ".join(self.messages))


def get_profile(key: str) -> RegulatoryProfile:
    try:
        return PROFILES[key]
    except KeyError:
        raise ProfileError(
            [_("There is no regulatory profile “%(key)s”.") % {"key": key}]
        ) from None


# --- custom profiles --------------------------------------------------------------------------


def profile_from_dict(data: object) -> RegulatoryProfile:
    """Build an administrator's profile from plain data, e.g.::

        {"key": "whistleblowing", "label_en": "Whistleblowing", "label_zh": "举报",
         "clocks": [{"key": "acknowledge", "label_en": "Acknowledge", "length": 7,
                     "unit": "calendar_days", "calendar": "UK",
                     "extensions": [{"level": "complex", "length": 30,
                                     "approver": "complaints_head"}],
                     "pause_reasons": ["awaiting_customer"]}]}

    Every problem is collected and raised together as a ``ProfileError``."""
    errors: list[str] = []
    if not isinstance(data, Mapping):
        raise ProfileError([_("A profile must be a mapping of fields.")])
    key = _key(data.get("key"), _("profile"), errors)
    label = _label(data, _("profile"), errors)
    raw_clocks = data.get("clocks")
    clocks: list[Clock] = []
    if not isinstance(raw_clocks, list) or not raw_clocks:
        errors.append(_("A profile needs at least one clock."))
    else:
        for number, raw in enumerate(raw_clocks, start=1):
            clock = _clock(raw, number, errors)
            if clock is None:
                continue
            if any(other.key == clock.key for other in clocks):
                errors.append(_("Two clocks are named “%(key)s”.") % {"key": clock.key})
            clocks.append(clock)
    if errors:
        raise ProfileError(errors)
    return RegulatoryProfile(
        key=key, label=label, source=str(data.get("source", "")), clocks=tuple(clocks)
    )


def _clock(raw: object, number: int, errors: list[str]) -> Clock | None:
    where = _("clock %(number)s") % {"number": number}
    if not isinstance(raw, Mapping):
        errors.append(_("%(where)s must be a mapping of fields.") % {"where": where})
        return None
    before = len(errors)
    key = _key(raw.get("key"), where, errors)
    label = _label(raw, where, errors)
    length = _length(raw.get("length"), where, errors)
    unit = _choice(raw.get("unit", DayUnit.CALENDAR), DayUnit, _("unit"), where, errors)
    calendar = raw.get("calendar", "CN")
    if not isinstance(calendar, str) or not calendar.strip() or len(calendar) > 20:
        errors.append(_("%(where)s: the calendar must be a calendar code.") % {"where": where})
    reasons = raw.get("pause_reasons", [])
    if not isinstance(reasons, list):
        errors.append(_("%(where)s: pause reasons must be a list.") % {"where": where})
        reasons = []
    for reason in reasons:
        _choice(reason, PauseReason, _("pause reason"), where, errors)
    extensions = _extensions(raw.get("extensions", []), length, where, errors)
    flags = {
        name: raw.get(name, False)
        for name in ("ends_at_close_of_day", "roll_forward", "restarts_on_new_facts", "is_window")
    }
    for name, value in flags.items():
        if not isinstance(value, bool):
            errors.append(
                _("%(where)s: “%(field)s” must be true or false.") % {"where": where, "field": name}
            )
    if len(errors) > before:
        return None
    return Clock(
        key=key,
        label=label,
        length=length,
        unit=unit,
        calendar=calendar.strip(),
        extensions=extensions,
        pause_reasons=frozenset(reasons),
        **flags,
    )


def _extensions(raw: object, length: int, where: str, errors: list[str]) -> tuple[Extension, ...]:
    if not isinstance(raw, list):
        errors.append(_("%(where)s: extensions must be a list.") % {"where": where})
        return ()
    found: list[Extension] = []
    for number, item in enumerate(raw, start=1):
        place = _("%(where)s, extension %(number)s") % {"where": where, "number": number}
        if not isinstance(item, Mapping):
            errors.append(_("%(where)s must be a mapping of fields.") % {"where": place})
            continue
        level = _key(item.get("level"), place, errors)
        total = _length(item.get("length"), place, errors)
        approver = _choice(item.get("approver", ""), Approver, _("approver"), place, errors)
        requires = item.get("requires", "")
        if total and length and total <= length:
            errors.append(
                _("%(where)s: an extension must make the clock longer than %(days)s days.")
                % {"where": place, "days": length}
            )
        if requires and requires not in {ext.level for ext in found}:
            errors.append(
                _("%(where)s: it requires “%(level)s”, which is not an earlier extension.")
                % {"where": place, "level": requires}
            )
        if level in {ext.level for ext in found}:
            errors.append(
                _("%(where)s: the level “%(level)s” is repeated.")
                % {"where": place, "level": level}
            )
        found.append(
            Extension(
                level=level,
                label=Bilingual(str(item.get("label_en", level)), str(item.get("label_zh", ""))),
                length=total,
                approver=approver,
                reason_required=bool(item.get("reason_required", True)),
                customer_told=bool(item.get("customer_told", True)),
                requires=str(requires),
            )
        )
    return tuple(found)


def _key(value: object, where: str, errors: list[str]) -> str:
    if isinstance(value, str) and _KEY.match(value):
        return value
    errors.append(
        _(
            "%(where)s: the key must start with a lower-case letter and use only lower-case "
            "letters, digits and underscores (at most 50)."
        )
        % {"where": where}
    )
    return ""


def _label(data: Mapping, where: str, errors: list[str]) -> Bilingual:
    en, zh = data.get("label_en", ""), data.get("label_zh", "")
    if not isinstance(en, str) or not isinstance(zh, str) or not (en.strip() or zh.strip()):
        errors.append(_("%(where)s: give a label in English or Chinese.") % {"where": where})
        return Bilingual("", "")
    return Bilingual(en.strip(), zh.strip())


def _length(value: object, where: str, errors: list[str]) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_CLOCK_DAYS:
        return value
    errors.append(
        _("%(where)s: the length must be a whole number of days from 1 to %(max)s.")
        % {"where": where, "max": MAX_CLOCK_DAYS}
    )
    return 0


def _choice(value: object, choices, name: str, where: str, errors: list[str]) -> str:
    if isinstance(value, str) and value in choices.values:
        return value
    allowed = ", ".join(v for v in choices.values if v) or "—"
    errors.append(
        _("%(where)s: “%(value)s” is not a valid %(name)s (use %(allowed)s).")
        % {"where": where, "value": value, "name": name, "allowed": allowed}
    )
    return ""
