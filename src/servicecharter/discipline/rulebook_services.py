"""The rulebook against the database: which version is in force, which priors count, the lawful
limits of a jurisdiction, and the recommendation for one violation. Writes to rulebook
versions (draft, edit, approve, publish, acknowledge) are at the end of this module."""

from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from servicecharter.discipline.choices import (
    AppealState,
    DecisionKind,
    DecisionState,
    FinePolicy,
    RulebookState,
    ViolationState,
)
from servicecharter.discipline.limits import Limits
from servicecharter.discipline.models import (
    Appeal,
    Decision,
    LawfulLimits,
    RulebookVersion,
    Violation,
)
from servicecharter.discipline.rulebook import (
    FactorSpec,
    Facts,
    Recommendation,
    factor_spec,
    recommend,
    rule_spec,
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
    from dataclasses import replace

    return replace(recommendation, steps=steps)
