"""The rulebook against the database: which version is in force, which priors count, the lawful
limits of a jurisdiction, and the recommendation for one violation. Writes to rulebook
versions (draft, edit, approve, publish, acknowledge) are at the end of this module."""

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from servicecharter.accounts.models import User
from servicecharter.accounts.permissions import MANAGE_RULEBOOK, VIEW_DISCIPLINE
from servicecharter.core.audit import audit_record
from servicecharter.core.notifications import notify, register_kind
from servicecharter.discipline.choices import (
    DEDUCTIONS,
    REWARDS,
    AppealState,
    DecisionKind,
    DecisionState,
    FactorEffect,
    FinePolicy,
    Measure,
    RulebookState,
    ViolationState,
)
from servicecharter.discipline.limits import Limits
from servicecharter.discipline.models import (
    Appeal,
    Decision,
    Factor,
    LawfulLimits,
    Rule,
    Rulebook,
    RulebookAcknowledgement,
    RulebookVersion,
    Violation,
    ViolationType,
)
from servicecharter.discipline.rulebook import (
    FactorSpec,
    Facts,
    Recommendation,
    factor_spec,
    ordered,
    recommend,
    rule_spec,
    simulate,
)
from servicecharter.org.models import Department, Staff

RULEBOOK_PUBLISHED = "discipline.rulebook_published"
register_kind(
    RULEBOOK_PUBLISHED,
    gettext_lazy("A new version of the rulebook is published"),
    mandatory=True,
)

# Without a version in force, priors are looked for this far back.
DEFAULT_LOOKBACK_DAYS = 365
# A jurisdiction nobody configured gets the strictest common reading: no fines as such, the
# 20% cap, and no floor until someone enters the local minimum wage.
DEFAULT_LIMITS = Limits(
    fine_policy=FinePolicy.PAY_REDUCTION, cap_percent=Decimal(20), minimum_wage=Decimal(0)
)


def jurisdiction_of(staff) -> str:
    """The jurisdiction whose rulebook and limits apply to ``staff``: their department's
    business calendar ("CN", "UK", …)."""
    return staff.department.calendar_code


def rulebook_version_in_force(*, jurisdiction: str, on: date) -> RulebookVersion | None:
    """The published version with the latest ``effective_from`` on or before ``on``."""
    return (
        RulebookVersion.objects.filter(
            rulebook__jurisdiction=jurisdiction,
            state=RulebookState.PUBLISHED,
            effective_from__lte=on,
        )
        .select_related("rulebook")
        .order_by("-effective_from", "-published_at", "-pk")
        .first()
    )


def limits_for(jurisdiction: str) -> Limits:
    row = LawfulLimits.objects.filter(jurisdiction=jurisdiction).first()
    if row is None:
        return DEFAULT_LIMITS
    return limits_of(row)


def limits_of(row: LawfulLimits) -> Limits:
    return Limits(
        fine_policy=row.fine_policy,
        cap_percent=row.deduction_cap_percent,
        minimum_wage=row.minimum_wage,
        currency=row.currency,
    )


def occurred_on(violation: Violation) -> date:
    return timezone.localdate(violation.occurred_at)


def version_for(violation: Violation) -> RulebookVersion | None:
    """The version in force on the day the violation occurred."""
    return rulebook_version_in_force(
        jurisdiction=jurisdiction_of(violation.staff), on=occurred_on(violation)
    )


def not_counting_as_prior_q(*, on: date) -> Q:
    """Confirmed violations that no longer count as priors on ``on``: their approved sanction
    expired before that day, or an appeal against it was overturned."""
    expired = Decision.objects.filter(
        violation=OuterRef("pk"),
        kind=DecisionKind.SANCTION,
        state=DecisionState.APPROVED,
        in_force_until__lt=on,
    )
    overturned = Appeal.objects.filter(
        decision__violation=OuterRef("pk"), state=AppealState.OVERTURNED
    )
    return Q(Exists(expired)) | Q(Exists(overturned))


def confirmed_priors(*, violation: Violation, lookback_days: int | None = None) -> list[Violation]:
    """The employee's confirmed violations inside the look-back window before this one (the
    window of the version in force when it occurred), oldest first."""
    if lookback_days is None:
        version = version_for(violation)
        lookback_days = version.lookback_days if version else DEFAULT_LOOKBACK_DAYS
    start = violation.occurred_at - timedelta(days=lookback_days)
    return list(
        Violation.objects.filter(
            staff_id=violation.staff_id,
            state=ViolationState.CONFIRMED,
            occurred_at__gte=start,
            occurred_at__lt=violation.occurred_at,
        )
        .exclude(pk=violation.pk)
        .exclude(not_counting_as_prior_q(on=occurred_on(violation)))
        .order_by("occurred_at", "pk")
    )


def version_rules(version: RulebookVersion | None) -> list:
    if version is None:
        return []
    return [rule_spec(rule) for rule in version.rules.order_by("order", "code")]


def resolve_factors(
    version: RulebookVersion | None, factors: Iterable[str | FactorSpec]
) -> list[FactorSpec]:
    """Factor codes ticked by a decider, as the version's factor specs. A code the version does
    not know is refused, so a recommendation never rests on a factor nobody approved."""
    factors = list(factors)
    specs = [factor for factor in factors if isinstance(factor, FactorSpec)]
    codes = sorted({factor for factor in factors if isinstance(factor, str)})
    if codes:
        known = {}
        if version is not None:
            known = {f.code: factor_spec(f) for f in version.factors.filter(code__in=codes)}
        unknown = [code for code in codes if code not in known]
        if unknown:
            raise ValidationError(
                _("The rulebook in force knows no factor %(codes)s.")
                % {"codes": ", ".join(unknown)}
            )
        specs.extend(known[code] for code in codes)
    return specs


def violation_facts(violation: Violation, *, priors: int) -> Facts:
    return Facts(
        violation_type_id=violation.type_id,
        category=violation.type.category,
        severity=violation.severity,
        impact_scope=violation.impact_scope,
        priors=priors,
        monthly_wage=violation.staff.base_wage,
    )


def violation_recommend(
    *, violation: Violation, factors: Iterable[str | FactorSpec] = ()
) -> tuple[RulebookVersion | None, Recommendation]:
    """What the rulebook in force when the violation occurred recommends for it, with the
    given factor codes (or specs) ticked. The steps name the priors that were counted."""
    version = version_for(violation)
    specs = resolve_factors(version, factors)
    lookback = version.lookback_days if version else DEFAULT_LOOKBACK_DAYS
    priors = confirmed_priors(violation=violation, lookback_days=lookback)
    recommendation = recommend(
        violation_facts(violation, priors=len(priors)), version_rules(version), specs
    )
    prior_step = {
        "code": "priors",
        "count": len(priors),
        "ids": [prior.pk for prior in priors],
        "lookback_days": lookback,
        "version": str(version) if version else "",
    }
    steps = (recommendation.steps[0], prior_step, *recommendation.steps[1:])
    return version, _with_steps(recommendation, steps)


def _with_steps(recommendation: Recommendation, steps: tuple[dict, ...]) -> Recommendation:
    return replace(recommendation, steps=steps)


# --- many violations at once (the simulator, the bench, reports) ---------------------------


class Target(NamedTuple):
    """What the rulebook needs of one violation, read in one query for many (a tuple: a
    hundred thousand of them are made at a time)."""

    pk: int
    staff_id: int
    occurred_at: datetime
    on: date
    jurisdiction: str
    facts_without_priors: Facts


def targets_of(queryset) -> list[Target]:
    """The violations of ``queryset`` as targets: one query over the violations alone (types
    and staff are read once each, not joined per row), no model instances. Identical facts
    share one ``Facts`` object."""
    rows = queryset.order_by().values_list(
        "pk", "staff_id", "occurred_at", "type_id", "severity", "impact_scope"
    )
    categories = dict(ViolationType.objects.values_list("pk", "category"))
    staff = {
        pk: (wage, jurisdiction)
        for pk, wage, jurisdiction in Staff.objects.filter(
            pk__in=queryset.order_by().values("staff_id")
        )
        .values_list("pk", "base_wage", "department__calendar_code")
        .iterator(chunk_size=10000)
    }
    zone = timezone.get_current_timezone()
    shared: dict[tuple, Facts] = {}
    targets = []
    for pk, staff_id, at, type_id, severity, impact in rows.iterator(chunk_size=10000):
        wage, jurisdiction = staff[staff_id]
        key = (type_id, severity, impact, wage)
        facts = shared.get(key)
        if facts is None:
            facts = shared[key] = Facts(
                violation_type_id=type_id,
                category=categories[type_id],
                severity=severity,
                impact_scope=impact,
                priors=0,
                monthly_wage=wage,
            )
        targets.append(Target(pk, staff_id, at, at.astimezone(zone).date(), jurisdiction, facts))
    return targets


def _prior_exclusions(start: datetime, end: datetime) -> tuple[dict[int, date], set[int]]:
    """For confirmed violations in [start, end): the earliest day an approved sanction stops
    counting them ({violation id: in_force_until}), and those an appeal overturned."""
    expiry: dict[int, date] = {}
    for violation_id, until in (
        Decision.objects.filter(
            kind=DecisionKind.SANCTION,
            state=DecisionState.APPROVED,
            in_force_until__isnull=False,
            violation__occurred_at__gte=start,
            violation__occurred_at__lt=end,
        )
        .order_by("violation_id", "in_force_until")
        .values_list("violation_id", "in_force_until")
    ):
        expiry.setdefault(violation_id, until)
    overturned = set(
        Appeal.objects.filter(
            state=AppealState.OVERTURNED,
            decision__violation__occurred_at__gte=start,
            decision__violation__occurred_at__lt=end,
        ).values_list("decision__violation_id", flat=True)
    )
    return expiry, overturned


def count_priors(targets: list[Target], *, lookback_days: int) -> dict[int, int]:
    """Confirmed priors of each target, counted like ``confirmed_priors`` but set-based: one
    query reads the confirmed violations inside the widest window, two more the sanctions that
    expire and the appeals that overturned; then each target's window is found by bisection
    in its employee's sorted list."""
    if not targets:
        return {}
    window = timedelta(days=lookback_days)
    wanted = {target.staff_id for target in targets}
    start = min(target.occurred_at for target in targets) - window
    end = max(target.occurred_at for target in targets)
    expiry, overturned = _prior_exclusions(start, end)
    rows = Violation.objects.filter(
        state=ViolationState.CONFIRMED, occurred_at__gte=start, occurred_at__lt=end
    )
    if len(wanted) <= 2000:
        rows = rows.filter(staff_id__in=wanted)  # a big set: the window alone
    times: dict[int, list] = defaultdict(list)
    ids: dict[int, list] = defaultdict(list)
    for staff_id, at, pk in (
        rows.order_by("staff_id", "occurred_at", "pk")
        .values_list("staff_id", "occurred_at", "pk")
        .iterator(chunk_size=10000)
    ):
        if staff_id in wanted and pk not in overturned:
            times[staff_id].append(at)
            ids[staff_id].append(pk)
    counts = {}
    for target in targets:
        staff_times = times.get(target.staff_id)
        if not staff_times:
            counts[target.pk] = 0
            continue
        low = bisect_left(staff_times, target.occurred_at - window)
        high = bisect_left(staff_times, target.occurred_at)
        staff_ids = ids[target.staff_id]
        counted = high - low
        for position in range(low, high):
            pk = staff_ids[position]
            until = expiry.get(pk)
            if pk == target.pk or (until is not None and until < target.on):
                counted -= 1
        counts[target.pk] = counted
    return counts


def published_versions() -> dict[str, list[RulebookVersion]]:
    """Every published version with its rules, by jurisdiction, oldest first (one query each
    for versions and rules)."""
    versions = (
        RulebookVersion.objects.filter(state=RulebookState.PUBLISHED, effective_from__isnull=False)
        .select_related("rulebook")
        .prefetch_related("rules")
        .order_by("effective_from", "published_at", "pk")
    )
    by_jurisdiction: dict[str, list[RulebookVersion]] = defaultdict(list)
    for version in versions:
        version.specs = ordered([rule_spec(rule) for rule in version.rules.all()])
        by_jurisdiction[version.rulebook.jurisdiction].append(version)
    return by_jurisdiction


def _in_force(versions: list[RulebookVersion], on: date) -> RulebookVersion | None:
    index = bisect_right([version.effective_from for version in versions], on)
    return versions[index - 1] if index else None


def decide_many(queryset) -> dict[int, tuple[RulebookVersion | None, Recommendation]]:
    """The recommendation for every violation of ``queryset``, each under the version in
    force when it occurred, without factors: rules loaded once, priors counted set-based,
    then the pure ``recommend``."""
    targets = targets_of(queryset)
    versions = published_versions()
    chosen = {
        target.pk: _in_force(versions.get(target.jurisdiction, []), target.on) for target in targets
    }
    by_lookback: dict[int, list[Target]] = defaultdict(list)
    for target in targets:
        version = chosen[target.pk]
        by_lookback[version.lookback_days if version else DEFAULT_LOOKBACK_DAYS].append(target)
    priors: dict[int, int] = {}
    for lookback, group in by_lookback.items():
        priors.update(count_priors(group, lookback_days=lookback))
    return recommend_targets(targets, chosen, priors)


def recommend_targets(
    targets: list[Target], chosen: dict, priors: dict[int, int]
) -> dict[int, tuple[RulebookVersion | None, Recommendation]]:
    """The pure part of ``decide_many``: each target's facts with its priors through the rules
    of its version. Identical facts under one version give one recommendation, computed once."""
    results = {}
    memo: dict[tuple, Recommendation] = {}
    for target in targets:
        version = chosen[target.pk]
        key = (version.pk if version else None, target.facts_without_priors, priors[target.pk])
        recommendation = memo.get(key)
        if recommendation is None:
            facts = replace(target.facts_without_priors, priors=priors[target.pk])
            recommendation = memo[key] = recommend(facts, version.specs if version else ())
        results[target.pk] = (version, recommendation)
    return results


def simulation_run(
    *,
    user,
    before: RulebookVersion,
    after: RulebookVersion,
    start: date,
    end: date,
    department=None,
):
    """Replay the violations (open or confirmed) that occurred from ``start`` to ``end`` in the
    user's scope (and ``department``'s subtree) through two versions of a rulebook. Returns
    (Simulation, {violation id: violation})."""
    from servicecharter.discipline.selectors import violation_list_for_user

    rows = (
        violation_list_for_user(user=user)
        .filter(
            occurred_at__date__gte=start,
            occurred_at__date__lte=end,
            staff__department__calendar_code=before.rulebook.jurisdiction,
        )
        .exclude(state=ViolationState.DISMISSED)
    )
    if department is not None:
        rows = rows.filter(department__path__startswith=department.path)
    targets = targets_of(rows)
    priors_before = count_priors(targets, lookback_days=before.lookback_days)
    priors_after = (
        priors_before
        if after.lookback_days == before.lookback_days
        else count_priors(targets, lookback_days=after.lookback_days)
    )
    items = [
        (
            target.pk,
            replace(target.facts_without_priors, priors=priors_before[target.pk]),
            replace(target.facts_without_priors, priors=priors_after[target.pk]),
        )
        for target in targets
    ]
    result = simulate(items, version_rules(before), version_rules(after))
    shown = [case.key for case in result.changed[:SIMULATION_ROWS]]
    violations = Violation.objects.select_related("staff", "type", "department").in_bulk(shown)
    return result, violations


SIMULATION_ROWS = 200


# --- writing versions ----------------------------------------------------------------------


class RulebookRefused(ValidationError):
    """The version's state or the person forbids the step (editing a published version,
    approving one's own draft). A ValidationError, so forms show it."""


def may_manage_rulebook(user) -> bool:
    """The rulebook binds the whole institution: managing it needs MANAGE_RULEBOOK over a
    top-level department, not only over a branch."""
    from servicecharter.accounts.scoping import scope_paths

    roots = scope_paths(user, MANAGE_RULEBOOK)
    return Department.objects.filter(parent__isnull=True, path__in=roots).exists()


def _require_manage(actor) -> None:
    if not may_manage_rulebook(actor):
        raise PermissionDenied


def _require_draft(version: RulebookVersion) -> None:
    if version.state != RulebookState.DRAFT:
        raise RulebookRefused(
            _("Only a draft can be changed; this version is %(state)s. Draft a new version.")
            % {"state": version.get_state_display()}
        )


def _locked_version(version: RulebookVersion) -> RulebookVersion:
    return (
        RulebookVersion.objects.select_for_update(of=("self",))
        .select_related("rulebook")
        .get(pk=version.pk)
    )


@transaction.atomic
def rulebook_version_draft(*, actor, rulebook: Rulebook) -> RulebookVersion:
    """A new draft, a copy of the latest version (its rules and factors), to edit."""
    _require_manage(actor)
    Rulebook.objects.select_for_update().get(pk=rulebook.pk)
    if rulebook.versions.filter(state__in=(RulebookState.DRAFT, RulebookState.APPROVED)).exists():
        raise RulebookRefused(
            _("A draft or approved version of this rulebook is waiting already: finish it first.")
        )
    latest = rulebook.versions.order_by("-number").first()
    version = RulebookVersion.objects.create(
        rulebook=rulebook,
        number=(latest.number + 1) if latest else 1,
        state=RulebookState.DRAFT,
        lookback_days=latest.lookback_days if latest else DEFAULT_LOOKBACK_DAYS,
        appeal_days=latest.appeal_days if latest else 15,
        created_by=actor,
    )
    if latest is not None:
        rules = list(latest.rules.all())
        for rule in rules:
            rule.pk = None
            rule.version = version
        Rule.objects.bulk_create(rules)
        factors = list(latest.factors.all())
        for factor in factors:
            factor.pk = None
            factor.version = version
        Factor.objects.bulk_create(factors)
    audit_record(
        action="rulebook.draft",
        obj=version,
        changes={"number": [None, version.number], "copied_from": [None, latest and latest.number]},
    )
    return version


VERSION_FIELDS = ("effective_from", "lookback_days", "appeal_days")


@transaction.atomic
def rulebook_version_update(*, actor, version: RulebookVersion, **fields) -> RulebookVersion:
    _require_manage(actor)
    version = _locked_version(version)
    _require_draft(version)
    changes = {}
    for name, value in fields.items():
        if name not in VERSION_FIELDS:
            raise ValueError(name)
        if getattr(version, name) != value:
            changes[name] = [getattr(version, name), value]
            setattr(version, name, value)
    errors = {}
    if version.lookback_days is not None and not 1 <= version.lookback_days <= 3650:
        errors["lookback_days"] = _("The look-back is between 1 day and 10 years.")
    if version.appeal_days is not None and not 1 <= version.appeal_days <= 365:
        errors["appeal_days"] = _("The time to appeal is between 1 and 365 days.")
    if errors:
        raise ValidationError(errors)
    if changes:
        version.save(update_fields=[*changes, "updated_at"])
        audit_record(action="rulebook.update", obj=version, changes=changes)
    return version


RULE_FIELDS = (
    "order",
    "code",
    "violation_type",
    "category",
    "min_severity",
    "min_impact",
    "min_priors",
    "max_priors",
    "measure",
    "wage_percent",
    "fixed_amount",
    "amount_cap",
    "demotion_grades",
    "training",
    "in_force_months",
    "explanation_en",
    "explanation_zh",
)


def _check_rule(rule: Rule) -> None:
    errors = {}
    if rule.measure in DEDUCTIONS and rule.wage_percent is None and rule.fixed_amount is None:
        errors["wage_percent"] = _(
            "A fine or pay reduction needs a share of the wage, a fixed amount, or both."
        )
    if rule.wage_percent is not None and not 0 <= rule.wage_percent <= 100:
        errors["wage_percent"] = _("A share of the wage is between 0 and 100%.")
    if rule.max_priors is not None and rule.max_priors < rule.min_priors:
        errors["max_priors"] = _("The most priors cannot be fewer than the least.")
    if rule.measure == Measure.DEMOTION and not rule.demotion_grades:
        errors["demotion_grades"] = _("Say by how many grades.")
    if rule.measure in REWARDS:
        errors["measure"] = _("The rulebook maps violations to sanctions, not to rewards.")
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def rule_save(*, actor, version: RulebookVersion, rule: Rule | None = None, **fields) -> Rule:
    """Add a rule to a draft, or change one of its rules."""
    _require_manage(actor)
    version = _locked_version(version)
    _require_draft(version)
    if rule is not None and rule.version_id != version.pk:
        raise PermissionDenied
    before = {name: getattr(rule, name) for name in RULE_FIELDS} if rule else {}
    rule = rule or Rule(version=version)
    for name, value in fields.items():
        if name not in RULE_FIELDS:
            raise ValueError(name)
        setattr(rule, name, value)
    _check_rule(rule)
    rule.full_clean(validate_constraints=False)
    clash = version.rules.filter(code=rule.code).exclude(pk=rule.pk).exists()
    if clash:
        raise ValidationError({"code": _("Another rule of this version has this code.")})
    rule.save()
    changes = {
        name: [str(before.get(name)) if before else None, str(getattr(rule, name))]
        for name in fields
        if not before or before.get(name) != getattr(rule, name)
    }
    audit_record(action="rulebook.rule_save", obj=version, changes={"rule": rule.code, **changes})
    return rule


@transaction.atomic
def rule_delete(*, actor, rule: Rule) -> None:
    _require_manage(actor)
    version = _locked_version(rule.version)
    _require_draft(version)
    code = rule.code
    rule.delete()
    audit_record(action="rulebook.rule_delete", obj=version, changes={"rule": [code, None]})


@transaction.atomic
def factor_save(
    *,
    actor,
    version: RulebookVersion,
    code: str,
    effect: str,
    steps: int,
    name_en: str,
    name_zh: str,
) -> Factor:
    """Add a factor to a draft, or change the one with the same code."""
    _require_manage(actor)
    version = _locked_version(version)
    _require_draft(version)
    errors = {}
    if not (code or "").strip():
        errors["code"] = _("Give the factor a code.")
    if effect not in FactorEffect.values:
        errors["effect"] = _("Choose aggravating or mitigating.")
    if not steps or not 1 <= steps <= 3:
        errors["steps"] = _("A factor moves the measure by 1 to 3 rungs.")
    if not (name_en or "").strip() or not (name_zh or "").strip():
        errors["name_en"] = _("Name the factor in both languages.")
    if errors:
        raise ValidationError(errors)
    factor, created = Factor.objects.update_or_create(
        version=version,
        code=code.strip(),
        defaults={"effect": effect, "steps": steps, "name_en": name_en, "name_zh": name_zh},
    )
    audit_record(
        action="rulebook.factor_save",
        obj=version,
        changes={"factor": code, "effect": effect, "steps": steps, "created": created},
    )
    return factor


@transaction.atomic
def factor_delete(*, actor, factor: Factor) -> None:
    _require_manage(actor)
    version = _locked_version(factor.version)
    _require_draft(version)
    code = factor.code
    factor.delete()
    audit_record(action="rulebook.factor_delete", obj=version, changes={"factor": [code, None]})


@transaction.atomic
def rulebook_version_approve(*, actor, version: RulebookVersion, note: str) -> RulebookVersion:
    """Record that the draft was adopted through the democratic procedure (the note says how:
    staff congress resolution, date). Never by the person who drafted it."""
    _require_manage(actor)
    version = _locked_version(version)
    _require_draft(version)
    if version.created_by_id == actor.pk:
        raise RulebookRefused(_("You drafted this version: someone else must approve it."))
    errors = {}
    if not (note or "").strip():
        errors["note"] = _(
            "Record how the version was adopted (e.g. the staff congress resolution and its date)."
        )
    if version.effective_from is None:
        errors["effective_from"] = _("Set the day the version comes into force first.")
    elif version.effective_from < timezone.localdate():
        errors["effective_from"] = _(
            "A version cannot come into force in the past: it would change how violations "
            "that already happened are judged."
        )
    if not version.rules.exists():
        errors["note"] = _("A rulebook version without rules cannot be approved.")
    if errors:
        raise ValidationError(errors)
    version.state = RulebookState.APPROVED
    version.approved_by = actor
    version.approved_at = timezone.now()
    version.approval_note = note.strip()
    version.save(
        update_fields=["state", "approved_by", "approved_at", "approval_note", "updated_at"]
    )
    audit_record(
        action="rulebook.approve",
        obj=version,
        changes={"state": [RulebookState.DRAFT, RulebookState.APPROVED], "note": [None, note]},
    )
    return version


def staff_users_in(jurisdiction: str):
    """Active users with a staff record in the jurisdiction: who must read a new version."""
    return User.objects.filter(
        is_active=True, staff__isnull=False, staff__department__calendar_code=jurisdiction
    )


@transaction.atomic
def rulebook_version_publish(*, actor, version: RulebookVersion) -> RulebookVersion:
    """Publish an approved version to the staff of its jurisdiction, each of whom is notified
    and asked to acknowledge it."""
    _require_manage(actor)
    version = _locked_version(version)
    if version.state != RulebookState.APPROVED:
        raise RulebookRefused(_("Only an approved version can be published."))
    version.state = RulebookState.PUBLISHED
    version.published_by = actor
    version.published_at = timezone.now()
    version.save(update_fields=["state", "published_by", "published_at", "updated_at"])
    url = reverse("discipline:rulebook_in_force")
    recipients = list(staff_users_in(version.rulebook.jurisdiction))
    for user in recipients:
        notify(
            recipient=user,
            kind=RULEBOOK_PUBLISHED,
            subject=gettext_lazy("A new version of the rulebook is published"),
            body=_published_body(version),
            url=url,
        )
    audit_record(
        action="rulebook.publish",
        obj=version,
        changes={
            "state": [RulebookState.APPROVED, RulebookState.PUBLISHED],
            "notified": [None, len(recipients)],
        },
    )
    return version


def _published_body(version: RulebookVersion):
    def body():
        from servicecharter.core.templatetags.formatting import localdate

        return _(
            "Version %(number)s of %(rulebook)s comes into force on %(day)s. Please read it "
            "and acknowledge it."
        ) % {
            "number": version.number,
            "rulebook": version.rulebook.name_zh
            if (get_language() or "").startswith("zh")
            else version.rulebook.name_en,
            "day": localdate(version.effective_from),
        }

    return body


@transaction.atomic
def rulebook_acknowledge(*, actor, version: RulebookVersion) -> RulebookAcknowledgement:
    """The employee has read the published version (once; a second time changes nothing)."""
    if version.state != RulebookState.PUBLISHED:
        raise RulebookRefused(_("Only a published version can be acknowledged."))
    if actor.staff_id is None:
        raise RulebookRefused(_("Your account is not linked to a staff record."))
    ack, created = RulebookAcknowledgement.objects.get_or_create(
        version=version, user=actor, defaults={"at": timezone.now()}
    )
    if created:
        audit_record(action="rulebook.acknowledge", obj=version, changes={"user": actor.pk})
    return ack


def acknowledgement_rate(*, version: RulebookVersion, user=None) -> tuple[int, int]:
    """(acknowledged, expected) among the staff of the version's jurisdiction, within
    ``user``'s VIEW_DISCIPLINE scope when given."""
    expected = staff_users_in(version.rulebook.jurisdiction)
    if user is not None:
        from servicecharter.accounts.scoping import scope_q

        expected = expected.filter(scope_q(user, VIEW_DISCIPLINE, "staff__department"))
    acknowledged = expected.filter(
        pk__in=RulebookAcknowledgement.objects.filter(version=version).values("user_id")
    ).count()
    return acknowledged, expected.count()


@transaction.atomic
def lawful_limits_save(
    *,
    actor,
    jurisdiction: str,
    fine_policy: str,
    cap_percent: Decimal,
    minimum_wage: Decimal,
    currency: str,
    note: str,
) -> LawfulLimits:
    _require_manage(actor)
    errors = {}
    if fine_policy not in FinePolicy.values:
        errors["fine_policy"] = _("Choose how fines are treated.")
    if cap_percent is None or not 0 <= cap_percent <= 100:
        errors["cap_percent"] = _("The cap is a share of the wage, between 0 and 100%.")
    if minimum_wage is None or minimum_wage < 0:
        errors["minimum_wage"] = _("The minimum wage cannot be negative.")
    if not (note or "").strip():
        errors["note"] = _("Say where the figures come from (the law and the local rate).")
    if errors:
        raise ValidationError(errors)
    row = LawfulLimits.objects.select_for_update().filter(jurisdiction=jurisdiction).first()
    before = (
        {
            "fine_policy": row.fine_policy,
            "cap_percent": str(row.deduction_cap_percent),
            "minimum_wage": str(row.minimum_wage),
        }
        if row
        else {}
    )
    row = row or LawfulLimits(jurisdiction=jurisdiction)
    row.fine_policy = fine_policy
    row.deduction_cap_percent = cap_percent
    row.minimum_wage = minimum_wage
    row.currency = currency
    row.note = note.strip()
    row.save()
    after = {
        "fine_policy": fine_policy,
        "cap_percent": str(cap_percent),
        "minimum_wage": str(minimum_wage),
    }
    audit_record(
        action="discipline.limits_save",
        obj=row,
        changes={k: [before.get(k), v] for k, v in after.items() if before.get(k) != v},
    )
    return row
