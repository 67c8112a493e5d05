"""The rulebook's reasoning, with no database: facts and rules in, a recommendation out.

``recommend`` takes the first rule (by ``order``, then ``code``) whose conditions all hold for
the facts, computes the amount of a fine or pay reduction from the rule's formula, and moves
the measure along ``SANCTION_LADDER`` for each aggravating or mitigating factor. Every step of
the reasoning is returned as data (a code and its parameters), not as text, so each page can
render it in its viewer's language (``explain_step``).

Identical facts, rules and factors always give an identical recommendation: nothing here
depends on time, order of arrival or the database.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from servicecharter.discipline.choices import (
    DEDUCTIONS,
    IMPACT_RANK,
    SANCTION_LADDER,
    SEVERITY_RANK,
    FactorEffect,
    Measure,
)

CENT = Decimal("0.01")
HUNDRED = Decimal(100)

# Where measures that are not rungs of the ladder sit on it when a factor moves them.
LADDER_POSITION = {measure: rank for rank, measure in enumerate(SANCTION_LADDER)}
LADDER_POSITION[Measure.REMEDIAL_TRAINING] = LADDER_POSITION[Measure.WRITTEN_WARNING]
LADDER_POSITION[Measure.FINE] = LADDER_POSITION[Measure.PAY_REDUCTION]


@dataclass(frozen=True)
class RuleSpec:
    """One rule, as plain data (``Rule`` without the database)."""

    id: int | None
    code: str
    order: int
    measure: str
    violation_type_id: int | None = None
    category: str = ""
    min_severity: str = ""
    min_impact: str = ""
    min_priors: int = 0
    max_priors: int | None = None
    wage_percent: Decimal | None = None
    fixed_amount: Decimal | None = None
    amount_cap: Decimal | None = None
    demotion_grades: int | None = None
    training: str = ""
    in_force_months: int = 12
    explanation_en: str = ""
    explanation_zh: str = ""


@dataclass(frozen=True)
class FactorSpec:
    code: str
    effect: str  # FactorEffect
    steps: int = 1


@dataclass(frozen=True)
class Facts:
    violation_type_id: int
    category: str
    severity: str
    impact_scope: str
    priors: int
    monthly_wage: Decimal


@dataclass(frozen=True)
class Recommendation:
    measure: str
    rule_id: int | None
    rule_code: str
    amount: Decimal | None = None
    demotion_grades: int | None = None
    training: str = ""
    in_force_months: int = 0
    # [{"code": "rule_matched", "rule": "R3", ...}, ...] — see ``explain_step``.
    steps: tuple[dict, ...] = field(default_factory=tuple)

    @property
    def explanation(self) -> dict:
        """The JSON stored on a decision (``Decision.explanation``)."""
        return {"rule": self.rule_code, "steps": [dict(step) for step in self.steps]}


def rule_spec(rule) -> RuleSpec:
    """A ``Rule`` row (or any object with its fields) as a ``RuleSpec``."""
    return RuleSpec(
        id=rule.pk,
        code=rule.code,
        order=rule.order,
        measure=rule.measure,
        violation_type_id=rule.violation_type_id,
        category=rule.category or "",
        min_severity=rule.min_severity or "",
        min_impact=rule.min_impact or "",
        min_priors=rule.min_priors or 0,
        max_priors=rule.max_priors,
        wage_percent=rule.wage_percent,
        fixed_amount=rule.fixed_amount,
        amount_cap=rule.amount_cap,
        demotion_grades=rule.demotion_grades,
        training=rule.training or "",
        in_force_months=rule.in_force_months,
        explanation_en=rule.explanation_en or "",
        explanation_zh=rule.explanation_zh or "",
    )


def factor_spec(factor) -> FactorSpec:
    return FactorSpec(code=factor.code, effect=factor.effect, steps=factor.steps)


# --- matching ----------------------------------------------------------------------------


def rule_matches(rule: RuleSpec, facts: Facts) -> bool:
    if rule.violation_type_id is not None and rule.violation_type_id != facts.violation_type_id:
        return False
    if rule.category and rule.category != facts.category:
        return False
    if rule.min_severity and SEVERITY_RANK[facts.severity] < SEVERITY_RANK[rule.min_severity]:
        return False
    if rule.min_impact and IMPACT_RANK[facts.impact_scope] < IMPACT_RANK[rule.min_impact]:
        return False
    if facts.priors < rule.min_priors:
        return False
    return rule.max_priors is None or facts.priors <= rule.max_priors


class OrderedRules(tuple):
    """Rules already in the order they are tried: ``recommend`` need not sort them again."""

    __slots__ = ()


def ordered(rules: Iterable[RuleSpec]) -> OrderedRules:
    if isinstance(rules, OrderedRules):
        return rules
    return OrderedRules(sorted(rules, key=lambda rule: (rule.order, rule.code)))


def first_match(facts: Facts, rules: Sequence[RuleSpec]) -> RuleSpec | None:
    """The first rule whose conditions hold. ``rules`` must already be ``ordered``."""
    for rule in rules:
        if rule_matches(rule, facts):
            return rule
    return None


def rule_amount(rule: RuleSpec, monthly_wage: Decimal) -> tuple[Decimal | None, dict | None]:
    """max(wage_percent × wage, fixed_amount), at most ``amount_cap``; None without a formula."""
    if rule.wage_percent is None and rule.fixed_amount is None:
        return None, None
    by_wage = (
        (monthly_wage * rule.wage_percent / HUNDRED) if rule.wage_percent is not None else None
    )
    candidates = [value for value in (by_wage, rule.fixed_amount) if value is not None]
    amount = max(candidates)
    capped = rule.amount_cap is not None and amount > rule.amount_cap
    if capped:
        amount = rule.amount_cap
    amount = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    step = {
        "code": "amount",
        "wage": str(monthly_wage),
        "wage_percent": None if rule.wage_percent is None else str(rule.wage_percent),
        "by_wage": None if by_wage is None else str(by_wage.quantize(CENT, ROUND_HALF_UP)),
        "fixed_amount": None if rule.fixed_amount is None else str(rule.fixed_amount),
        "cap": None if rule.amount_cap is None else str(rule.amount_cap),
        "capped": capped,
        "amount": str(amount),
    }
    return amount, step


# --- factors -----------------------------------------------------------------------------


def net_factor_steps(factors: Iterable[FactorSpec]) -> int:
    net = 0
    for factor in factors:
        sign = 1 if factor.effect == FactorEffect.AGGRAVATING else -1
        net += sign * factor.steps
    return net


def move_measure(measure: str, net_steps: int) -> str:
    """``measure`` moved ``net_steps`` rungs along the ladder. Factors never produce a dismissal
    the rule did not name: aggravation stops at demotion, because dismissal needs the rule's
    own finding of a serious breach."""
    if net_steps == 0:
        return measure
    position = LADDER_POSITION[measure] + net_steps
    highest = (
        len(SANCTION_LADDER) - 1
        if measure == Measure.DISMISSAL
        else LADDER_POSITION[Measure.DEMOTION]
    )
    position = max(0, min(position, highest))
    moved = SANCTION_LADDER[position]
    # A move that lands back on the rung the measure already occupies keeps the rule's measure
    # (a fine stays a fine, training stays training).
    return measure if LADDER_POSITION[measure] == position else moved


# --- the recommendation --------------------------------------------------------------------


def _facts_step(facts: Facts) -> dict:
    return {
        "code": "facts",
        "category": facts.category,
        "severity": facts.severity,
        "impact_scope": facts.impact_scope,
        "priors": facts.priors,
    }


def recommend(
    facts: Facts, rules: Iterable[RuleSpec], factors: Iterable[FactorSpec] = ()
) -> Recommendation:
    rules = ordered(rules)
    factors = sorted(factors, key=lambda factor: factor.code) if factors else ()
    steps: list[dict] = [_facts_step(facts)]
    rule = first_match(facts, rules)
    if rule is None:
        steps.append({"code": "no_rule"})
        return Recommendation(measure=Measure.NONE, rule_id=None, rule_code="", steps=tuple(steps))
    steps.append(
        {
            "code": "rule_matched",
            "rule": rule.code,
            "order": rule.order,
            "measure": rule.measure,
            "explanation_en": rule.explanation_en,
            "explanation_zh": rule.explanation_zh,
        }
    )
    measure = rule.measure
    for factor in factors:
        steps.append(
            {
                "code": "factor",
                "factor": factor.code,
                "effect": factor.effect,
                "steps": factor.steps,
            }
        )
    net = net_factor_steps(factors)
    if net:
        moved = move_measure(measure, net)
        steps.append({"code": "moved", "from": measure, "to": moved, "net_steps": net})
        measure = moved
    amount = None
    if measure in DEDUCTIONS:
        amount, amount_step = rule_amount(rule, facts.monthly_wage)
        steps.append(amount_step or {"code": "amount_by_decider"})
    grades = None
    if measure == Measure.DEMOTION:
        grades = rule.demotion_grades or 1
        steps.append({"code": "demotion", "grades": grades})
    training = rule.training if measure != Measure.NONE else ""
    if training:
        steps.append({"code": "training", "training": training})
    in_force = rule.in_force_months if measure != Measure.NONE else 0
    steps.append({"code": "result", "measure": measure, "in_force_months": in_force})
    return Recommendation(
        measure=measure,
        rule_id=rule.id,
        rule_code=rule.code,
        amount=amount,
        demotion_grades=grades,
        training=training,
        in_force_months=in_force,
        steps=tuple(steps),
    )


# --- explanation in the viewer's language -------------------------------------------------


def _label(choices, value) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return value or "—"


def explain_step(step: dict) -> str:
    """One step of a recommendation as a sentence in the active language."""
    from django.utils.translation import get_language
    from django.utils.translation import gettext as _

    from servicecharter.core.templatetags.formatting import money
    from servicecharter.discipline.choices import ImpactScope, Severity, ViolationCategory

    code = step.get("code")
    if code == "facts":
        return _(
            "Facts: %(category)s, severity %(severity)s, impact %(impact)s, %(priors)s "
            "confirmed prior(s)."
        ) % {
            "category": _label(ViolationCategory, step["category"]),
            "severity": _label(Severity, step["severity"]),
            "impact": _label(ImpactScope, step["impact_scope"]),
            "priors": step["priors"],
        }
    if code == "priors":
        return _("%(count)s confirmed prior(s) in the %(days)s days before, under %(version)s.") % {
            "count": step["count"],
            "days": step["lookback_days"],
            "version": step["version"],
        }
    if code == "no_rule":
        return _("No rule of the rulebook matches these facts: no measure is recommended.")
    if code == "rule_matched":
        text = (get_language() or "").startswith("zh") and step.get("explanation_zh")
        text = text or step.get("explanation_en") or ""
        sentence = _("Rule %(rule)s applies: %(measure)s.") % {
            "rule": step["rule"],
            "measure": _label(Measure, step["measure"]),
        }
        return f"{sentence} {text}".strip()
    if code == "factor":
        if step["effect"] == FactorEffect.AGGRAVATING:
            return _("Aggravating factor %(factor)s: %(steps)s rung(s) up.") % step
        return _("Mitigating factor %(factor)s: %(steps)s rung(s) down.") % step
    if code == "moved":
        return _("The factors move the measure from %(from)s to %(to)s.") % {
            "from": _label(Measure, step["from"]),
            "to": _label(Measure, step["to"]),
        }
    if code == "amount":
        parts = {
            "amount": money(step["amount"]),
            "percent": step["wage_percent"] or "0",
            "wage": money(step["wage"]),
            "fixed": money(step["fixed_amount"]) if step["fixed_amount"] else "—",
            "cap": money(step["cap"]) if step["cap"] else "—",
        }
        return (
            _(
                "Amount %(amount)s: the larger of %(percent)s%% of the monthly wage %(wage)s and "
                "the fixed amount %(fixed)s, at most %(cap)s."
            )
            % parts
        )
    if code == "amount_by_decider":
        return _("The rule gives no amount: the decider sets it, within the lawful limits.")
    if code == "demotion":
        return _("Demotion by %(grades)s grade(s).") % step
    if code == "training":
        return _("Remedial training: %(training)s.") % step
    if code == "result":
        return _("Recommended: %(measure)s, counting as a prior for %(months)s month(s).") % {
            "measure": _label(Measure, step["measure"]),
            "months": step["in_force_months"],
        }
    return str(step)


# --- the simulator -------------------------------------------------------------------------


@dataclass(frozen=True)
class SimulatedCase:
    key: int
    before: Recommendation
    after: Recommendation


@dataclass(frozen=True)
class Simulation:
    # measure → how many violations each version recommends it for
    counts_before: dict
    counts_after: dict
    changed: tuple[SimulatedCase, ...]
    total: int

    @property
    def measures(self) -> list[str]:
        """Every measure either version recommends, in ladder order."""
        seen = set(self.counts_before) | set(self.counts_after)
        return [measure for measure in Measure.values if measure in seen]


def simulate(
    items: Iterable[tuple[int, Facts, Facts]],
    rules_before: Iterable[RuleSpec],
    rules_after: Iterable[RuleSpec],
) -> Simulation:
    """Replay violations through two rule sets. ``items`` are (key, facts under the first
    version, facts under the second): the facts differ only when the versions' look-back
    windows count different priors. No factors: they are a decider's judgement, not a fact."""
    before_rules, after_rules = ordered(rules_before), ordered(rules_after)
    counts_before: dict[str, int] = {}
    counts_after: dict[str, int] = {}
    changed = []
    total = 0
    for key, facts_before, facts_after in items:
        total += 1
        before = recommend(facts_before, before_rules)
        after = recommend(facts_after, after_rules)
        counts_before[before.measure] = counts_before.get(before.measure, 0) + 1
        counts_after[after.measure] = counts_after.get(after.measure, 0) + 1
        if (before.measure, before.amount, before.demotion_grades, before.training) != (
            after.measure,
            after.amount,
            after.demotion_grades,
            after.training,
        ):
            changed.append(SimulatedCase(key=key, before=before, after=after))
    return Simulation(
        counts_before=counts_before,
        counts_after=counts_after,
        changed=tuple(changed),
        total=total,
    )
