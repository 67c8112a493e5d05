"""Every write to the rules that shape how cases are handled: routing rules, profile rules,
custom regulatory profiles, response letters and the case settings. Kept beside ``services``
(which writes cases) so that module stays readable; the same conventions hold: keyword-only,
one transaction each, audited, a refusal is a ``ValidationError`` naming the field.

Who may call these is checked by the pages (an institution-wide holder of MANAGE_CASE_RULES).
"""

import string
from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, Model
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from servicecharter.cases import services
from servicecharter.cases.choices import (
    OPEN_STATES,
    CaseKind,
    Jurisdiction,
    Outcome,
    Severity,
)
from servicecharter.cases.deadlines import DeadlineRuleError
from servicecharter.cases.models import (
    Case,
    CaseSettings,
    CustomProfile,
    ProfileRule,
    ResponseTemplate,
    RoutingRule,
)
from servicecharter.cases.profiles import (
    PROFILES,
    Bilingual,
    ProfileError,
    RegulatoryProfile,
    profile_from_dict,
)
from servicecharter.core.audit import audit_record
from servicecharter.core.calendars import calendar_codes
from servicecharter.core.events import emit
from servicecharter.org.choices import Channel, Language

PRIORITY_STEP = 10
SETTINGS_CHANGED_EVENT = "cases.settings_changed"


def _jsonable(value):
    if isinstance(value, (Decimal, date)):
        return str(value)
    if isinstance(value, Model):
        return value.pk
    return value


def _assign(obj, changes: dict) -> dict:
    """Set ``changes`` on ``obj``; return {field: [old, new]} of what really changed."""
    diff = {}
    for field, new in changes.items():
        old = getattr(obj, field)
        if old != new:
            diff[field] = [_jsonable(old), _jsonable(new)]
        setattr(obj, field, new)
    return diff


def _created(obj, fields: tuple[str, ...]) -> dict:
    return {field: [None, _jsonable(getattr(obj, field))] for field in fields}


def _next_priority(model) -> int:
    top = model.objects.aggregate(top=Max("priority"))["top"] or 0
    return top + PRIORITY_STEP


def _check_choice(errors: dict, field: str, value: str, choices) -> None:
    if value and value not in choices.values:
        errors[field] = _("Choose one of the listed values.")


def _renumber(model, ordered: list) -> None:
    """Priorities 10, 20, 30… in the given order, so the order shown is the order applied."""
    for position, row in enumerate(ordered, start=1):
        priority = position * PRIORITY_STEP
        if row.priority != priority:
            model.objects.filter(pk=row.pk).update(priority=priority)
            row.priority = priority


def _move(model, row, *, up: bool, action: str) -> list:
    """Swap ``row`` with its neighbour in the order rules are tried; returns the new order."""
    ordered = list(model.objects.select_for_update().order_by("priority", "id"))
    index = next(i for i, other in enumerate(ordered) if other.pk == row.pk)
    other = index - 1 if up else index + 1
    if 0 <= other < len(ordered):
        ordered[index], ordered[other] = ordered[other], ordered[index]
        before = row.priority
        _renumber(model, ordered)
        row.priority = ordered[other].priority
        audit_record(action=action, obj=row, changes={"priority": [before, row.priority]})
    return ordered


# --- routing rules -----------------------------------------------------------------------------

_ROUTING_FIELDS = (
    "name",
    "priority",
    "kind",
    "channel",
    "business_type",
    "min_severity",
    "department",
    "is_active",
)
_ROUTING_CONDITIONS = ("kind", "channel", "business_type_id", "min_severity")


def _check_routing(rule: RoutingRule) -> None:
    errors = {}
    if not rule.name.strip():
        errors["name"] = _("Give the rule a name.")
    _check_choice(errors, "kind", rule.kind, CaseKind)
    _check_choice(errors, "channel", rule.channel, Channel)
    _check_choice(errors, "min_severity", rule.min_severity, Severity)
    if rule.department_id is None:
        errors["department"] = _("Choose the queue the cases go to.")
    elif not rule.department.is_active:
        errors["department"] = _("This department is closed: choose an active queue.")
    if rule.is_active and not errors:
        same = RoutingRule.objects.filter(
            is_active=True, **{field: getattr(rule, field) for field in _ROUTING_CONDITIONS}
        ).exclude(pk=rule.pk)
        twin = same.order_by("priority").first()
        if twin is not None:
            errors["priority"] = _(
                "The rule “%(name)s” (priority %(priority)s) has the same conditions, so one "
                "of the two would never apply: change a condition or switch one off."
            ) % {"name": twin.name, "priority": twin.priority}
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def routing_rule_create(
    *,
    name: str,
    department,
    priority: int | None = None,
    kind: str = "",
    channel: str = "",
    business_type=None,
    min_severity: str = "",
    is_active: bool = True,
) -> RoutingRule:
    """A rule sending new cases that match every filled-in condition to ``department``."""
    rule = RoutingRule(
        name=name.strip(),
        priority=_next_priority(RoutingRule) if priority is None else priority,
        kind=kind,
        channel=channel,
        business_type=business_type,
        min_severity=min_severity,
        department=department,
        is_active=is_active,
    )
    _check_routing(rule)
    rule.save()
    audit_record(action="routing_rule.create", obj=rule, changes=_created(rule, _ROUTING_FIELDS))
    return rule


@transaction.atomic
def routing_rule_update(*, rule: RoutingRule, **changes) -> RoutingRule:
    unknown = set(changes) - set(_ROUTING_FIELDS)
    if unknown:
        raise TypeError(f"Unknown routing-rule fields: {sorted(unknown)}")
    rule = RoutingRule.objects.select_for_update().get(pk=rule.pk)
    if "name" in changes:
        changes["name"] = changes["name"].strip()
    diff = _assign(rule, changes)
    _check_routing(rule)
    if diff:
        rule.save()
        audit_record(action="routing_rule.update", obj=rule, changes=diff)
    return rule


@transaction.atomic
def routing_rule_delete(*, rule: RoutingRule) -> None:
    audit_record(action="routing_rule.delete", obj=rule, changes={"name": [rule.name, None]})
    rule.delete()


@transaction.atomic
def routing_rule_move(*, rule: RoutingRule, up: bool) -> list[RoutingRule]:
    """Try the rule one place earlier (``up``) or later; the rules are renumbered 10, 20…"""
    return _move(RoutingRule, rule, up=up, action="routing_rule.move")


# --- profile rules -----------------------------------------------------------------------------

_PROFILE_RULE_FIELDS = ("priority", "channel", "business_type", "jurisdiction", "profile_key")
_PROFILE_RULE_CONDITIONS = ("channel", "business_type_id", "jurisdiction")


def profile_choices() -> list[tuple[str, str]]:
    """(key, label) of every profile a case may take: shipped, then active custom ones."""
    shipped = [(key, str(profile.label)) for key, profile in PROFILES.items()]
    custom = [
        (custom.key, str(_custom_label(custom)))
        for custom in CustomProfile.objects.filter(is_active=True)
    ]
    return shipped + custom


def _custom_label(custom: CustomProfile) -> Bilingual:
    definition = custom.definition if isinstance(custom.definition, dict) else {}
    return Bilingual(
        str(definition.get("label_en", "") or custom.key), str(definition.get("label_zh", ""))
    )


def _check_profile_rule(rule: ProfileRule) -> None:
    errors = {}
    _check_choice(errors, "channel", rule.channel, Channel)
    _check_choice(errors, "jurisdiction", rule.jurisdiction, Jurisdiction)
    if rule.profile_key not in dict(profile_choices()):
        errors["profile_key"] = _("Choose a shipped profile or an active custom one.")
    if not errors:
        same = ProfileRule.objects.filter(
            **{field: getattr(rule, field) for field in _PROFILE_RULE_CONDITIONS}
        ).exclude(pk=rule.pk)
        twin = same.order_by("priority").first()
        if twin is not None:
            errors["priority"] = _(
                "A rule with the same conditions exists (priority %(priority)s), so one of "
                "the two would never apply."
            ) % {"priority": twin.priority}
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def profile_rule_create(
    *,
    profile_key: str,
    priority: int | None = None,
    channel: str = "",
    business_type=None,
    jurisdiction: str = "",
) -> ProfileRule:
    """New cases matching the rule take ``profile_key``. Cases already open keep theirs."""
    rule = ProfileRule(
        priority=_next_priority(ProfileRule) if priority is None else priority,
        channel=channel,
        business_type=business_type,
        jurisdiction=jurisdiction,
        profile_key=profile_key,
    )
    _check_profile_rule(rule)
    rule.save()
    audit_record(
        action="profile_rule.create", obj=rule, changes=_created(rule, _PROFILE_RULE_FIELDS)
    )
    return rule


@transaction.atomic
def profile_rule_update(*, rule: ProfileRule, **changes) -> ProfileRule:
    unknown = set(changes) - set(_PROFILE_RULE_FIELDS)
    if unknown:
        raise TypeError(f"Unknown profile-rule fields: {sorted(unknown)}")
    rule = ProfileRule.objects.select_for_update().get(pk=rule.pk)
    diff = _assign(rule, changes)
    _check_profile_rule(rule)
    if diff:
        rule.save()
        audit_record(action="profile_rule.update", obj=rule, changes=diff)
    return rule


@transaction.atomic
def profile_rule_delete(*, rule: ProfileRule) -> None:
    audit_record(
        action="profile_rule.delete", obj=rule, changes={"profile_key": [rule.profile_key, None]}
    )
    rule.delete()


@transaction.atomic
def profile_rule_move(*, rule: ProfileRule, up: bool) -> list[ProfileRule]:
    return _move(ProfileRule, rule, up=up, action="profile_rule.move")


# --- custom regulatory profiles --------------------------------------------------------------


def profile_to_dict(profile: RegulatoryProfile) -> dict:
    """A profile as the plain data ``profile_from_dict`` reads: to start a custom profile from
    a shipped one. Labels are written out in both languages."""

    def both(label) -> dict:
        if isinstance(label, Bilingual):
            return {"label_en": label.en, "label_zh": label.zh}
        with translation.override("en"):
            en = str(label)
        with translation.override("zh-hans"):
            zh = str(label)
        return {"label_en": en, "label_zh": zh}

    clocks = []
    for clock in profile.clocks:
        clocks.append(
            {
                "key": clock.key,
                **both(clock.label),
                "length": clock.length,
                "unit": str(clock.unit),
                "calendar": clock.calendar,
                "ends_at_close_of_day": clock.ends_at_close_of_day,
                "roll_forward": clock.roll_forward,
                "restarts_on_new_facts": clock.restarts_on_new_facts,
                "is_window": clock.is_window,
                "pause_reasons": sorted(str(reason) for reason in clock.pause_reasons),
                "extensions": [
                    {
                        "level": ext.level,
                        **both(ext.label),
                        "length": ext.length,
                        "approver": str(ext.approver),
                        "reason_required": ext.reason_required,
                        "customer_told": ext.customer_told,
                        **({"requires": ext.requires} if ext.requires else {}),
                    }
                    for ext in clock.extensions
                ],
            }
        )
    source = profile.source if isinstance(profile.source, str) else str(profile.source)
    return {**both(profile.label), "source": source, "clocks": clocks}


def _check_custom_profile(key: str, definition: object, instance: CustomProfile | None):
    """The profile ``definition`` describes, or ValidationError listing every problem."""
    if key in PROFILES:
        raise ValidationError(
            {"key": _("“%(key)s” is a shipped profile: choose another key.") % {"key": key}}
        )
    clash = CustomProfile.objects.filter(key=key)
    if instance is not None:
        clash = clash.exclude(pk=instance.pk)
    if clash.exists():
        raise ValidationError({"key": _("A custom profile with this key already exists.")})
    if instance is not None and instance.key != key and _profile_in_use(instance.key):
        raise ValidationError(
            {"key": _("Cases or profile rules use this profile: its key cannot change.")}
        )
    if not isinstance(definition, dict):
        raise ValidationError({"definition": _("A profile must be a mapping of fields.")})
    try:
        profile = profile_from_dict({**definition, "key": key})
    except ProfileError as error:
        raise ValidationError({"definition": error.messages}) from None
    known = set(calendar_codes())
    unknown = [
        _("The clock “%(clock)s” uses the calendar %(code)s, which does not exist.")
        % {"clock": clock.key, "code": clock.calendar}
        for clock in profile.clocks
        if clock.calendar not in known
    ]
    if unknown:
        raise ValidationError({"definition": unknown})
    return profile


def _open_cases_with(key: str):
    return Case.objects.filter(
        profile_key=key, kind=CaseKind.COMPLAINT, state__in=sorted(OPEN_STATES)
    )


def _profile_in_use(key: str) -> bool:
    return _open_cases_with(key).exists() or ProfileRule.objects.filter(profile_key=key).exists()


def _recheck_open_cases(key: str, profile: RegulatoryProfile) -> None:
    """An edited profile must still accept the clock history of every open case on it."""
    from servicecharter.cases.deadlines import clock_statuses

    now = timezone.now()
    refused = []
    for case in _open_cases_with(key).prefetch_related("clock_events"):
        try:
            clock_statuses(
                profile=profile,
                received_at=case.received_at,
                events=services._clock_events(case),
                as_of=now,
            )
        except DeadlineRuleError as error:
            refused.append(f"{case.reference}: {error}")
    if refused:
        raise ValidationError(
            {
                "definition": [
                    _("Open cases on this profile would no longer follow its rules:"),
                    *refused[:10],
                ]
            }
        )


@transaction.atomic
def custom_profile_save(
    *,
    key: str,
    definition: dict,
    is_active: bool = True,
    profile: CustomProfile | None = None,
) -> CustomProfile:
    """Create (``profile`` None) or change a custom profile. The definition is checked by
    ``profiles.profile_from_dict`` and every problem is reported at once. When the profile is
    changed, the open cases on it must still fit it; their deadlines are then recomputed."""
    key = (key or "").strip()
    if profile is not None:
        profile = CustomProfile.objects.select_for_update().get(pk=profile.pk)
    definition = {name: value for name, value in (definition or {}).items() if name != "key"}
    regulatory = _check_custom_profile(key, definition, profile)
    if profile is not None and not is_active and _profile_in_use(profile.key):
        raise ValidationError(
            {"is_active": _("Open cases or profile rules use this profile: it must stay active.")}
        )
    if profile is None:
        profile = CustomProfile.objects.create(key=key, definition=definition, is_active=is_active)
        audit_record(
            action="custom_profile.create",
            obj=profile,
            changes={"key": [None, key], "definition": [None, definition]},
        )
        return profile
    _recheck_open_cases(profile.key, regulatory)
    diff = _assign(profile, {"key": key, "definition": definition, "is_active": is_active})
    if diff:
        profile.save()
        audit_record(action="custom_profile.update", obj=profile, changes=diff)
        if "definition" in diff:
            services.case_deadlines_recompute_for_profiles(profile_keys={profile.key})
    return profile


@transaction.atomic
def custom_profile_delete(*, profile: CustomProfile) -> None:
    if _profile_in_use(profile.key) or Case.objects.filter(profile_key=profile.key).exists():
        raise ValidationError(
            _("Cases or profile rules use this profile: deactivate it instead of deleting it.")
        )
    audit_record(action="custom_profile.delete", obj=profile, changes={"key": [profile.key, None]})
    profile.delete()


# --- response letters ------------------------------------------------------------------------

# The {placeholders} a response letter may use, with what each becomes.
LETTER_FIELDS: dict[str, object] = {
    "reference": gettext_lazy("the case reference"),
    "customer_name": gettext_lazy("the customer's name"),
    "received_date": gettext_lazy("the date the case was received"),
    "subject": gettext_lazy("the subject of the case"),
    "outcome": gettext_lazy("the outcome"),
    "redress_amount": gettext_lazy("the redress amount, with its currency"),
    "handler_name": gettext_lazy("the handler's name"),
    "department": gettext_lazy("the department handling the case"),
    "today": gettext_lazy("today's date"),
}


def letter_problems(body: str) -> list[str]:
    """What is wrong with a letter's placeholders (empty when it can be used)."""
    try:
        parts = list(string.Formatter().parse(body))
    except ValueError:
        return [_("A brace is not closed. Write {{ or }} for a brace that is meant as text.")]
    problems = []
    for _literal, field, spec, conversion in parts:
        if field is None:
            continue
        if field not in LETTER_FIELDS or spec or conversion:
            problems.append(
                _("{%(field)s} is not a placeholder. Use one of: %(fields)s.")
                % {"field": field, "fields": ", ".join(f"{{{name}}}" for name in LETTER_FIELDS)}
            )
    return problems


def letter_values(case: Case, language: str) -> dict[str, str]:
    """The placeholders' values for ``case``, written in ``language``."""
    from servicecharter.core.templatetags.formatting import localdate, money

    with translation.override(language):
        redress = money(case.redress_amount, case.currency) if case.redress_amount else ""
        handler = ""
        if case.handler is not None:
            handler = case.handler.get_full_name() or case.handler.get_username()
        return {
            "reference": case.reference,
            "customer_name": case.contact_name or (case.customer.name if case.customer else ""),
            "received_date": localdate(case.received_at),
            "subject": case.subject,
            "outcome": str(Outcome(case.outcome).label) if case.outcome else "",
            "redress_amount": redress,
            "handler_name": handler,
            "department": case.department.name if case.department_id else "",
            "today": localdate(timezone.now()),
        }


def letter_render(body: str, values: dict[str, str]) -> str:
    """The letter with its placeholders filled in; ValidationError if the body is not usable."""
    problems = letter_problems(body)
    if problems:
        raise ValidationError({"body": problems})
    return body.format_map(values)


def sample_letter_values(language: str, outcome: str = "") -> dict[str, str]:
    """Made-up values for previewing a letter before any case uses it."""
    from servicecharter.core.templatetags.formatting import localdate, money

    with translation.override(language):
        chinese = language.startswith("zh")
        return {
            "reference": "C2611-0000042",
            "customer_name": "李雷" if chinese else "Alex Smith",
            "received_date": localdate(timezone.now()),
            "subject": "信用卡年费重复收取" if chinese else "Card fee charged twice",
            "outcome": str(Outcome(outcome).label) if outcome else "",
            "redress_amount": money(Decimal("200.00"), "CNY"),
            "handler_name": "王芳" if chinese else "Wang Fang",
            "department": "北京分行" if chinese else "Beijing Branch",
            "today": localdate(timezone.now()),
        }


def _check_letter(template: ResponseTemplate) -> None:
    errors = {}
    if not template.name.strip():
        errors["name"] = _("Give the letter a name.")
    _check_choice(errors, "language", template.language, Language)
    if not template.language:
        errors["language"] = _("Choose the letter's language.")
    _check_choice(errors, "outcome", template.outcome, Outcome)
    if not template.body.strip():
        errors["body"] = [_("Write the letter.")]
    else:
        problems = letter_problems(template.body)
        if problems:
            errors["body"] = problems
    if errors:
        raise ValidationError(errors)


_LETTER_FIELDS = ("name", "language", "outcome", "body")


@transaction.atomic
def response_template_create(
    *, name: str, language: str, body: str, outcome: str = ""
) -> ResponseTemplate:
    """A response letter for ``outcome`` (blank: any outcome) in ``language``."""
    template = ResponseTemplate(name=name.strip(), language=language, outcome=outcome, body=body)
    _check_letter(template)
    template.save()
    audit_record(
        action="response_template.create",
        obj=template,
        changes=_created(template, _LETTER_FIELDS),
    )
    return template


@transaction.atomic
def response_template_update(*, template: ResponseTemplate, **changes) -> ResponseTemplate:
    unknown = set(changes) - set(_LETTER_FIELDS)
    if unknown:
        raise TypeError(f"Unknown response-letter fields: {sorted(unknown)}")
    template = ResponseTemplate.objects.select_for_update().get(pk=template.pk)
    if "name" in changes:
        changes["name"] = changes["name"].strip()
    diff = _assign(template, changes)
    _check_letter(template)
    if diff:
        template.save()
        audit_record(action="response_template.update", obj=template, changes=diff)
    return template


@transaction.atomic
def response_template_delete(*, template: ResponseTemplate) -> None:
    audit_record(
        action="response_template.delete", obj=template, changes={"name": [template.name, None]}
    )
    template.delete()


def response_templates_for(*, outcome: str, language: str):
    """The letters a handler may start from: those for the outcome, then those for any."""
    return ResponseTemplate.objects.filter(language=language, outcome__in=[outcome, ""]).order_by(
        "-outcome", "name"
    )


DEFAULT_LETTERS: tuple[tuple[str, str, str, str], ...] = (
    (
        "en",
        Outcome.UPHELD,
        "Complaint upheld",
        "Dear {customer_name},\n\n"
        "Thank you for your complaint of {received_date} about “{subject}” (reference "
        "{reference}). We have looked into it carefully and we agree that we got this wrong. "
        "We are sorry.\n\n"
        "To put things right we will pay you {redress_amount}. We have also reviewed what "
        "happened with the people involved so that it does not happen again.\n\n"
        "If you are not satisfied with this response you can tell us, quoting your reference, "
        "and you may also refer your complaint to the regulator or the ombudsman.\n\n"
        "Yours sincerely,\n{handler_name}\n{department}\n{today}",
    ),
    (
        "en",
        Outcome.PARTLY_UPHELD,
        "Complaint partly upheld",
        "Dear {customer_name},\n\n"
        "Thank you for your complaint of {received_date} about “{subject}” (reference "
        "{reference}). Having looked into it, we agree with part of it and not with the rest; "
        "we explain each point below.\n\n"
        "[Explain which points are upheld, which are not, and why.]\n\n"
        "For the part we got wrong we will pay you {redress_amount}.\n\n"
        "If you are not satisfied with this response you can tell us, quoting your reference, "
        "and you may also refer your complaint to the regulator or the ombudsman.\n\n"
        "Yours sincerely,\n{handler_name}\n{department}\n{today}",
    ),
    (
        "en",
        Outcome.NOT_UPHELD,
        "Complaint not upheld",
        "Dear {customer_name},\n\n"
        "Thank you for your complaint of {received_date} about “{subject}” (reference "
        "{reference}). We have looked into it carefully and, for the reasons below, we do not "
        "think we made a mistake.\n\n"
        "[Explain what was checked and why the complaint is not upheld.]\n\n"
        "If you are not satisfied with this response you can tell us, quoting your reference, "
        "and you may also refer your complaint to the regulator or the ombudsman.\n\n"
        "Yours sincerely,\n{handler_name}\n{department}\n{today}",
    ),
    (
        "en",
        Outcome.ANSWERED,
        "Reply to a suggestion, praise or enquiry",
        "Dear {customer_name},\n\n"
        "Thank you for writing to us on {received_date} about “{subject}” (reference "
        "{reference}).\n\n[Your answer.]\n\n"
        "Yours sincerely,\n{handler_name}\n{department}\n{today}",
    ),
    (
        "zh-hans",
        Outcome.UPHELD,
        "投诉成立",
        "尊敬的{customer_name}：\n\n"
        "感谢您于{received_date}就“{subject}”提出的投诉（编号{reference}）。经认真核查，"
        "我们确认您反映的问题属实，对此深表歉意。\n\n"
        "我们将向您支付{redress_amount}作为补偿，并已对相关人员和流程进行溯源整改，"
        "避免类似问题再次发生。\n\n"
        "如您对本答复不满意，可凭投诉编号向我们提出，也可以向金融监管部门反映或申请调解。\n\n"
        "{handler_name}\n{department}\n{today}",
    ),
    (
        "zh-hans",
        Outcome.PARTLY_UPHELD,
        "投诉部分成立",
        "尊敬的{customer_name}：\n\n"
        "感谢您于{received_date}就“{subject}”提出的投诉（编号{reference}）。经核查，"
        "您反映的问题部分属实，现逐项说明如下：\n\n"
        "［说明哪些诉求成立、哪些不成立及理由。］\n\n"
        "对于我们的过失部分，我们将向您支付{redress_amount}。\n\n"
        "如您对本答复不满意，可凭投诉编号向我们提出，也可以向金融监管部门反映或申请调解。\n\n"
        "{handler_name}\n{department}\n{today}",
    ),
    (
        "zh-hans",
        Outcome.NOT_UPHELD,
        "投诉不成立",
        "尊敬的{customer_name}：\n\n"
        "感谢您于{received_date}就“{subject}”提出的投诉（编号{reference}）。经认真核查，"
        "基于以下理由，我们认为相关业务处理并无不当：\n\n"
        "［说明核查内容及投诉不成立的理由。］\n\n"
        "如您对本答复不满意，可凭投诉编号向我们提出，也可以向金融监管部门反映或申请调解。\n\n"
        "{handler_name}\n{department}\n{today}",
    ),
    (
        "zh-hans",
        Outcome.ANSWERED,
        "建议、表扬或咨询的答复",
        "尊敬的{customer_name}：\n\n"
        "感谢您于{received_date}就“{subject}”与我们联系（编号{reference}）。\n\n"
        "［答复内容。］\n\n"
        "{handler_name}\n{department}\n{today}",
    ),
)


def response_templates_seed(*, template_model=None) -> int:
    """Create the default letters (English and Chinese, one per outcome) that are missing, by
    name and language; returns how many were made. A data migration passes its model."""
    model = template_model or ResponseTemplate
    existing = set(model.objects.values_list("language", "name"))
    missing = [
        model(language=language, outcome=str(outcome), name=name, body=body)
        for language, outcome, name, body in DEFAULT_LETTERS
        if (language, name) not in existing
    ]
    model.objects.bulk_create(missing)
    return len(missing)


# --- case settings -----------------------------------------------------------------------------

_SETTINGS_LIMITS = {
    "warn_share": (1, 99),
    "duplicate_window_days": (1, 365),
    "reopen_window_days": (1, 365),
    "repeat_window_days": (1, 365),
}


@transaction.atomic
def case_settings_save(
    *,
    warn_share: int,
    duplicate_window_days: int,
    reopen_window_days: int,
    repeat_window_days: int,
) -> CaseSettings:
    """Change the institution's case settings. A new warn share moves the warning time of the
    open complaints too (``cases.settings_changed``, recomputed by the worker)."""
    values = {
        "warn_share": warn_share,
        "duplicate_window_days": duplicate_window_days,
        "reopen_window_days": reopen_window_days,
        "repeat_window_days": repeat_window_days,
    }
    errors = {
        field: _("Enter a whole number from %(low)s to %(high)s.") % {"low": low, "high": high}
        for field, (low, high) in _SETTINGS_LIMITS.items()
        if not isinstance(values[field], int) or not low <= values[field] <= high
    }
    if errors:
        raise ValidationError(errors)
    settings, _created_now = CaseSettings.objects.select_for_update().get_or_create(pk=1)
    diff = _assign(settings, values)
    if diff:
        settings.save()
        audit_record(action="case_settings.update", obj=settings, changes=diff)
        if "warn_share" in diff:
            emit(SETTINGS_CHANGED_EVENT, {"changes": diff})
    return settings
