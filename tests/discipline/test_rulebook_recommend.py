"""The pure rulebook: hand-worked cases of ``recommend``."""

from decimal import Decimal

from servicecharter.discipline.choices import FactorEffect, ImpactScope, Measure, Severity
from servicecharter.discipline.rulebook import (
    FactorSpec,
    Facts,
    RuleSpec,
    move_measure,
    recommend,
    rule_amount,
)

WAGE = Decimal("8000")


def facts(priors=0, severity=Severity.MINOR, impact=ImpactScope.ONE_CUSTOMER, type_id=1):
    return Facts(
        violation_type_id=type_id,
        category="attitude",
        severity=severity,
        impact_scope=impact,
        priors=priors,
        monthly_wage=WAGE,
    )


RULES = [
    RuleSpec(
        id=4,
        code="REPEAT",
        order=40,
        measure=Measure.PAY_REDUCTION,
        min_priors=2,
        wage_percent=Decimal(10),
        fixed_amount=Decimal(500),
        amount_cap=Decimal(700),
    ),
    RuleSpec(
        id=1, code="SEVERE", order=10, measure=Measure.DISMISSAL, min_severity=Severity.SEVERE
    ),
    RuleSpec(id=2, code="FIRST", order=20, measure=Measure.VERBAL_WARNING, max_priors=0),
    RuleSpec(
        id=3, code="SECOND", order=30, measure=Measure.WRITTEN_WARNING, min_priors=1, max_priors=1
    ),
]
SELF = FactorSpec("self_reported", FactorEffect.MITIGATING, 1)
VULNERABLE = FactorSpec("vulnerable_customer", FactorEffect.AGGRAVATING, 1)


def test_first_rule_by_order_wins_whatever_the_list_order():
    rec = recommend(facts(severity=Severity.SEVERE, priors=3), RULES)
    assert (rec.measure, rec.rule_code, rec.rule_id) == (Measure.DISMISSAL, "SEVERE", 1)


def test_priors_pick_the_rung():
    assert recommend(facts(priors=0), RULES).rule_code == "FIRST"
    assert recommend(facts(priors=1), RULES).measure == Measure.WRITTEN_WARNING
    rec = recommend(facts(priors=2), RULES)
    assert rec.measure == Measure.PAY_REDUCTION


def test_amount_is_larger_of_share_and_fixed_then_capped():
    # 10% of 8,000 = 800 > 500 fixed; the cap 700 applies.
    rec = recommend(facts(priors=2), RULES)
    assert rec.amount == Decimal("700.00")
    amount_step = next(s for s in rec.steps if s["code"] == "amount")
    assert amount_step["capped"] is True and amount_step["by_wage"] == "800.00"
    # Without the cap: 800.
    rule = RuleSpec(
        id=9,
        code="X",
        order=1,
        measure=Measure.FINE,
        wage_percent=Decimal(10),
        fixed_amount=Decimal(500),
    )
    assert rule_amount(rule, WAGE)[0] == Decimal("800.00")
    # A small wage: the fixed amount is larger.
    assert rule_amount(rule, Decimal(3000))[0] == Decimal("500.00")


def test_no_rule_means_no_measure_and_says_so():
    rec = recommend(facts(priors=0), [RULES[0]])
    assert rec.measure == Measure.NONE and rec.rule_id is None
    assert rec.steps[-1] == {"code": "no_rule"}


def test_conditions_on_type_category_and_impact():
    rules = [
        RuleSpec(id=1, code="OTHER_TYPE", order=1, measure=Measure.DEMOTION, violation_type_id=2),
        RuleSpec(id=2, code="PROCESS", order=2, measure=Measure.DEMOTION, category="process"),
        RuleSpec(
            id=3,
            code="WIDE",
            order=3,
            measure=Measure.WRITTEN_WARNING,
            min_impact=ImpactScope.DEPARTMENT,
        ),
        RuleSpec(id=4, code="ANY", order=4, measure=Measure.VERBAL_WARNING),
    ]
    assert recommend(facts(), rules).rule_code == "ANY"
    assert recommend(facts(impact=ImpactScope.PUBLIC), rules).rule_code == "WIDE"
    assert recommend(facts(type_id=2), rules).rule_code == "OTHER_TYPE"


def test_aggravating_factor_moves_up_one_rung_and_mitigating_down():
    rec = recommend(facts(priors=1), RULES, [VULNERABLE])
    assert rec.measure == Measure.PAY_REDUCTION
    # The rule has no amount formula: the decider sets the amount.
    assert any(step["code"] == "amount_by_decider" for step in rec.steps)
    assert rec.amount is None
    assert recommend(facts(priors=1), RULES, [SELF]).measure == Measure.VERBAL_WARNING
    # Both cancel out: the rule's own measure.
    assert recommend(facts(priors=1), RULES, [SELF, VULNERABLE]).measure == Measure.WRITTEN_WARNING


def test_factors_never_create_a_dismissal_and_stop_at_no_measure():
    big = FactorSpec("big", FactorEffect.AGGRAVATING, 5)
    assert move_measure(Measure.VERBAL_WARNING, 5) == Measure.DEMOTION
    rec = recommend(facts(priors=2), RULES, [big])
    assert (rec.measure, rec.demotion_grades) == (Measure.DEMOTION, 1)
    assert move_measure(Measure.WRITTEN_WARNING, -5) == Measure.NONE
    # A dismissal the rule named can be mitigated.
    assert move_measure(Measure.DISMISSAL, -1) == Measure.DEMOTION


def test_off_ladder_measures_keep_their_kind_unless_moved():
    assert move_measure(Measure.FINE, 0) == Measure.FINE
    assert move_measure(Measure.FINE, 1) == Measure.DEMOTION
    assert move_measure(Measure.REMEDIAL_TRAINING, -1) == Measure.VERBAL_WARNING


def test_steps_are_data_not_text():
    rec = recommend(facts(priors=2), RULES, [SELF])
    codes = [step["code"] for step in rec.steps]
    assert codes == ["facts", "rule_matched", "factor", "moved", "result"]
    assert rec.steps[3] == {
        "code": "moved",
        "from": Measure.PAY_REDUCTION,
        "to": Measure.WRITTEN_WARNING,
        "net_steps": -1,
    }
    assert rec.explanation["rule"] == "REPEAT"


def test_identical_inputs_identical_output_whatever_the_factor_order():
    one = recommend(facts(priors=2), RULES, [SELF, VULNERABLE])
    two = recommend(facts(priors=2), list(reversed(RULES)), [VULNERABLE, SELF])
    assert one == two


def test_every_step_reads_as_a_sentence_in_both_languages():
    from django.utils import translation

    from servicecharter.discipline.rulebook import explain_step

    rec = recommend(facts(priors=2), RULES, [SELF, VULNERABLE, VULNERABLE])
    steps = [*rec.steps, {"code": "no_rule"}, {"code": "amount_by_decider"}]
    with translation.override("en"):
        texts = [explain_step(step) for step in steps]
        assert "Rule REPEAT applies: Demotion." not in texts
        assert any(text.startswith("Rule REPEAT applies") for text in texts)
        assert all(not text.startswith("{") for text in texts)
    with translation.override("zh-hans"):
        assert all(explain_step(step) for step in steps)


def test_simulator_counts_each_version_and_lists_what_changes():
    from servicecharter.discipline.rulebook import simulate

    stricter = [
        RuleSpec(id=10, code="ANY_PRIOR", order=1, measure=Measure.WRITTEN_WARNING, min_priors=1),
        RuleSpec(id=11, code="FIRST", order=2, measure=Measure.VERBAL_WARNING),
    ]
    items = [
        (1, facts(priors=0), facts(priors=0)),
        (2, facts(priors=1), facts(priors=1)),
        (3, facts(priors=2), facts(priors=2)),
    ]
    result = simulate(items, RULES, stricter)
    assert result.total == 3
    assert result.counts_before == {
        Measure.VERBAL_WARNING: 1,
        Measure.WRITTEN_WARNING: 1,
        Measure.PAY_REDUCTION: 1,
    }
    assert result.counts_after == {Measure.VERBAL_WARNING: 1, Measure.WRITTEN_WARNING: 2}
    [changed] = result.changed
    assert changed.key == 3
    assert (changed.before.rule_code, changed.after.rule_code) == ("REPEAT", "ANY_PRIOR")
    assert result.measures == [
        Measure.VERBAL_WARNING,
        Measure.WRITTEN_WARNING,
        Measure.PAY_REDUCTION,
    ]
