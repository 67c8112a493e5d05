"""Sampling plans: reproducible draws with the seed recorded, targeted picks (complaint, low
survey score, abandoned, very long), work spread across auditors, one draw per plan, scope."""

from collections import Counter
from datetime import date, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from servicecharter.cases.choices import CaseKind
from servicecharter.cases.services import case_create
from servicecharter.core.models import AuditEntry, Event
from servicecharter.org.choices import Channel
from servicecharter.org.models import Customer
from servicecharter.quality import sampling
from servicecharter.quality.choices import EvaluationState, SampleReason
from servicecharter.quality.models import Evaluation
from servicecharter.surveys.models import Invitation, Response, SurveyRule
from tests.quality.conftest import T0, build_scorecard, make_interaction
from tests.standards.conftest import make_staff

JUNE = {"period_start": date(2025, 6, 1), "period_end": date(2025, 6, 30)}
NOWHERE = {"email": 50}  # a share of a channel with no interactions: no random picks at all


@pytest.fixture
def bj_agents(tree, bj_staff):
    return [
        bj_staff,
        make_staff(tree["bj_team"], "E10002", "王强"),
        make_staff(tree["bj"], "E10003", "赵敏"),
    ]


@pytest.fixture
def calls(bj_agents, sh_staff):
    """Ten calls a day-minute apart for each Beijing agent and five for the Shanghai one."""
    numbers = iter(range(1, 10_000))
    made = {}
    for staff in [*bj_agents, sh_staff]:
        count = 5 if staff is sh_staff else 10
        made[staff.pk] = [make_interaction(staff, next(numbers)) for _ in range(count)]
    return made


@pytest.fixture
def new_plan(tree, auditor, second_auditor, phone_card):
    def make(**overrides):
        fields = {
            "actor": auditor,
            "name": "June spot check",
            "department": tree["bj"],
            "scorecard_version": phone_card,
            "auditors": [auditor, second_auditor],
            "per_agent": 3,
            "seed": 20250601,
            **JUNE,
        }
        fields.update(overrides)
        return sampling.sampling_plan_create(**fields)

    return make


def picks_of(plan) -> set[tuple]:
    return set(
        Evaluation.objects.filter(plan=plan).values_list("interaction_id", "reason", "auditor_id")
    )


def as_set(draw) -> set[tuple]:
    return {(p.interaction_id, p.reason, p.auditor) for p in draw.sample.picks}


# Reproducible --------------------------------------------------------------------------------


def test_the_same_plan_over_the_same_data_picks_the_same_interactions(new_plan, calls):
    first, second = new_plan(), new_plan(name="Same again")

    preview = sampling.sampling_plan_preview(plan=first)

    assert as_set(preview) == as_set(sampling.sampling_plan_preview(plan=second))
    draw = sampling.sampling_plan_draw(actor=first.created_by, plan=first)
    assert as_set(draw) == as_set(preview) == picks_of(first)


def test_the_check_recomputes_the_draw_from_the_recorded_seed(new_plan, calls):
    plan = new_plan()
    sampling.sampling_plan_draw(actor=plan.created_by, plan=plan)
    plan.refresh_from_db()

    check = sampling.sampling_plan_check(plan=plan)

    assert check.identical
    assert check.recorded == len(check.recomputed.sample.picks) == 9
    assert check.recomputed.sample.seed == "20250601"


def test_the_check_notices_a_pick_that_was_tampered_with(new_plan, calls):
    plan = new_plan()
    sampling.sampling_plan_draw(actor=plan.created_by, plan=plan)
    plan.refresh_from_db()
    evaluation = Evaluation.objects.filter(plan=plan).first()
    Evaluation.objects.filter(pk=evaluation.pk).update(reason=SampleReason.COMPLAINT)

    check = sampling.sampling_plan_check(plan=plan)

    assert not check.identical
    assert check.extra == [(evaluation.interaction_id, "complaint", evaluation.auditor_id)]
    assert check.missing == [(evaluation.interaction_id, "random", evaluation.auditor_id)]


def test_another_seed_picks_differently(new_plan, calls):
    one = sampling.sampling_plan_preview(plan=new_plan(seed=1))
    other = sampling.sampling_plan_preview(plan=new_plan(seed=2))

    assert as_set(one) != as_set(other)


def test_a_plan_without_a_seed_is_given_one_and_it_is_recorded(new_plan):
    plan = new_plan(seed=None)

    assert 0 <= plan.seed < 2**62
    entry = AuditEntry.objects.get(action="sampling_plan.create", object_id=str(plan.pk))
    assert entry.changes["seed"] == [None, str(plan.seed)]


def test_per_agent_picks_that_many_of_each_agent_in_the_department(new_plan, calls, bj_agents):
    plan = new_plan(per_agent=4)

    sampling.sampling_plan_draw(actor=plan.created_by, plan=plan)

    evaluations = Evaluation.objects.filter(plan=plan)
    assert Counter(evaluations.values_list("staff_id", flat=True)) == {s.pk: 4 for s in bj_agents}
    assert {e.state for e in evaluations} == {EvaluationState.ASSIGNED}
    assert {e.reason for e in evaluations} == {SampleReason.RANDOM}
    one = evaluations.select_related("interaction").first()
    assert one.department_id == one.interaction.department_id
    assert one.scorecard_version_id == plan.scorecard_version_id


def test_a_share_per_channel_is_rounded_up(new_plan, calls):
    plan = new_plan(per_agent=None, share_per_channel={"phone": 10})

    draw = sampling.sampling_plan_draw(actor=plan.created_by, plan=plan)

    assert draw.population == 30
    assert len(draw.sample.picks) == 3  # 10% of 30 phone calls of the Beijing subtree


# Targeted picks ------------------------------------------------------------------------------


@pytest.fixture
def customer(tree):
    def make(number: str) -> Customer:
        return Customer.objects.create(
            customer_number=number,
            name=f"Customer {number}",
            home_department=tree["bj"],
            segment="retail",
        )

    return make


@pytest.fixture
def complain(bj_agent, tree):
    def make(customer, at):
        return case_create(
            actor=bj_agent,
            kind=CaseKind.COMPLAINT,
            channel=Channel.PHONE,
            subject="Rude answer",
            description="The agent hung up on me.",
            customer=customer,
            department=tree["bj_team"],
            received_at=at,
        ).case

    return make


def test_a_complaint_within_the_following_seven_days_targets_the_interaction(
    new_plan, bj_staff, customer, complain
):
    within, too_late, before = (customer(f"C{n}") for n in range(3))
    targeted = make_interaction(bj_staff, 1, customer=within)
    make_interaction(bj_staff, 2, customer=too_late)
    make_interaction(bj_staff, 3, customer=before)
    make_interaction(bj_staff, 4)  # no known customer: never linked
    complain(within, T0 + timedelta(days=6, hours=23))
    complain(too_late, T0 + timedelta(days=7, minutes=3))
    complain(before, T0 - timedelta(days=1))
    plan = new_plan(per_agent=None, share_per_channel=NOWHERE, targeted=["complaint"])

    draw = sampling.sampling_plan_draw(actor=plan.created_by, plan=plan)

    assert [(p.interaction_id, p.reason) for p in draw.sample.picks] == [(targeted.pk, "complaint")]


def test_only_complaints_count_and_only_those_known_at_the_draw(
    new_plan, bj_staff, bj_agent, customer, complain
):
    praised, later = customer("P1"), customer("L1")
    make_interaction(bj_staff, 1, customer=praised)
    make_interaction(bj_staff, 2, customer=later)
    case_create(
        actor=bj_agent,
        kind=CaseKind.PRAISE,
        channel=Channel.PHONE,
        subject="Kind agent",
        description="Thank you.",
        customer=praised,
        department=bj_staff.department,
        received_at=T0 + timedelta(days=1),
    )
    plan = new_plan(per_agent=None, share_per_channel=NOWHERE, targeted=["complaint"])
    sampling.sampling_plan_draw(actor=plan.created_by, plan=plan)
    plan.refresh_from_db()
    # Filed after the draw, though dated inside the window: the check still agrees.
    complain(later, T0 + timedelta(days=1))

    assert picks_of(plan) == set()
    assert sampling.sampling_plan_check(plan=plan).identical


def _survey(interaction, *, csat=None, nps=None, answered_at=None):
    rule = SurveyRule.objects.get_or_create(name="After calls", trigger="interaction")[0]
    customer = interaction.customer
    invitation = Invitation.objects.create(
        rule=rule,
        token_digest=f"t{interaction.pk}",
        customer=customer,
        interaction=interaction,
        staff=interaction.staff,
        department=interaction.department,
        channel=interaction.channel,
        language="zh-hans",
        created_at=interaction.started_at,
        expires_at=interaction.started_at + timedelta(days=14),
    )
    return Response.objects.create(
        invitation=invitation,
        csat=csat,
        nps=nps,
        staff=interaction.staff,
        department=interaction.department,
        channel=interaction.channel,
        answered_at=answered_at or interaction.started_at + timedelta(hours=1),
    )


def test_a_low_survey_score_targets_the_interaction(new_plan, bj_staff, customer):
    answers = [
        {"csat": 2},
        {"csat": 3, "nps": 7},
        {"nps": 6},
        {"csat": 5, "nps": 10},
    ]
    made = []
    for number, answer in enumerate(answers, start=1):
        interaction = make_interaction(bj_staff, number, customer=customer(f"S{number}"))
        _survey(interaction, **answer)
        made.append(interaction)
    plan = new_plan(per_agent=None, share_per_channel=NOWHERE, targeted=["low_survey"])

    draw = sampling.sampling_plan_draw(actor=plan.created_by, plan=plan)

    assert sorted((p.interaction_id, p.reason) for p in draw.sample.picks) == [
        (made[0].pk, "low_survey"),
        (made[2].pk, "low_survey"),
    ]


def test_abandoned_and_very_long_calls_are_targeted(new_plan, bj_staff):
    normal = [make_interaction(bj_staff, n, handle_seconds=100 + n) for n in range(1, 20)]
    longest = make_interaction(bj_staff, 20, handle_seconds=2_000)
    abandoned = make_interaction(bj_staff, 21, outcome="abandoned", handle_seconds=None)
    assert normal
    plan = new_plan(
        per_agent=None, share_per_channel=NOWHERE, targeted={"abandoned": None, "long": None}
    )

    draw = sampling.sampling_plan_draw(actor=plan.created_by, plan=plan)

    # 20 timed calls: the 95th percentile (nearest rank) is the 19th, 119 s; only one is above.
    assert draw.long_thresholds == {"phone": 119}
    assert sorted((p.interaction_id, p.reason) for p in draw.sample.picks) == [
        (longest.pk, "long"),
        (abandoned.pk, "abandoned"),
    ]


def test_targeted_picks_respect_their_number_per_agent_and_skip_random_picks(new_plan, bj_staff):
    for number in range(1, 11):
        make_interaction(bj_staff, number, outcome="abandoned", handle_seconds=None)
    plan = new_plan(per_agent=2, targeted={"abandoned": 3})

    draw = sampling.sampling_plan_draw(actor=plan.created_by, plan=plan)

    reasons = Counter(p.reason for p in draw.sample.picks)
    assert reasons == {"random": 2, "abandoned": 3}
    assert len({p.interaction_id for p in draw.sample.picks}) == 5


def test_the_percentile_threshold_is_per_channel(new_plan, bj_staff):
    assert sampling.long_thresholds({"phone": [5, 1, 4, 2, 3], "chat": [7]}) == {
        "phone": 5,
        "chat": 7,
    }
    assert sampling.long_thresholds({"phone": list(range(1, 101))}) == {"phone": 95}


# Work spread across auditors ----------------------------------------------------------------


def test_the_work_is_spread_evenly_across_the_auditors(
    new_plan, calls, auditor, second_auditor, tree
):
    from servicecharter.accounts.choices import Role
    from tests.conftest import make_user

    third = make_user("auditor3", Role.QUALITY_AUDITOR, tree["bj"])
    plan = new_plan(per_agent=5, auditors=[auditor, second_auditor, third])

    sampling.sampling_plan_draw(actor=plan.created_by, plan=plan)

    loads = Counter(Evaluation.objects.filter(plan=plan).values_list("auditor_id", flat=True))
    assert sum(loads.values()) == 15
    assert set(loads.values()) == {5}


def test_an_auditor_is_never_given_their_own_interactions(
    new_plan, calls, auditor, second_auditor, bj_staff
):
    second_auditor.staff = bj_staff
    second_auditor.save(update_fields=["staff"])
    plan = new_plan(per_agent=5)

    sampling.sampling_plan_draw(actor=plan.created_by, plan=plan)

    own = Evaluation.objects.filter(plan=plan, staff=bj_staff)
    assert own.count() == 5
    assert set(own.values_list("auditor_id", flat=True)) == {auditor.pk}


# One draw, audited --------------------------------------------------------------------------


def test_drawing_a_plan_twice_is_refused(new_plan, calls):
    plan = new_plan()
    sampling.sampling_plan_draw(actor=plan.created_by, plan=plan)

    with pytest.raises(ValidationError, match="drawn only once"):
        sampling.sampling_plan_draw(actor=plan.created_by, plan=plan)

    assert Evaluation.objects.filter(plan=plan).count() == 9


def test_a_draw_is_audited_in_one_row_and_announced(new_plan, calls):
    plan = new_plan()

    sampling.sampling_plan_draw(actor=plan.created_by, plan=plan)

    entry = AuditEntry.objects.get(action="sampling_plan.draw")
    assert entry.changes["seed"] == "20250601"
    assert entry.changes["picks"] == 9
    assert entry.changes["population"] == 30
    assert entry.changes["by_reason"] == {"random": 9}
    event = Event.objects.get(name="sampling_plan.drawn")
    assert event.payload["plan_id"] == plan.pk


def test_interactions_already_evaluated_on_the_scorecard_are_left_out(new_plan, calls, bj_agents):
    first = new_plan(per_agent=8)
    sampling.sampling_plan_draw(actor=first.created_by, plan=first)
    second = new_plan(per_agent=8, name="Second look")

    draw = sampling.sampling_plan_draw(actor=second.created_by, plan=second)

    assert draw.population == 30 - 24
    assert not {p[0] for p in picks_of(first)} & {p[0] for p in picks_of(second)}
    second.refresh_from_db()
    first.refresh_from_db()
    assert sampling.sampling_plan_check(plan=first).identical
    assert sampling.sampling_plan_check(plan=second).identical


# Scope and validation ------------------------------------------------------------------------


def test_the_population_is_the_department_subtree_and_the_period(
    new_plan, calls, sh_staff, bj_staff
):
    make_interaction(bj_staff, 500, started_at=T0.replace(month=7))
    plan = new_plan(per_agent=50)

    draw = sampling.sampling_plan_draw(actor=plan.created_by, plan=plan)

    assert draw.population == 30
    assert sh_staff.pk not in {p.agent_id for p in draw.sample.picks}


def test_a_manager_of_another_branch_cannot_plan_or_draw_here(new_plan, sh_auditor, calls):
    with pytest.raises(PermissionDenied):
        new_plan(actor=sh_auditor)
    plan = new_plan()
    with pytest.raises(PermissionDenied):
        sampling.sampling_plan_draw(actor=sh_auditor, plan=plan)


def test_an_auditor_who_cannot_evaluate_the_department_is_refused(new_plan, sh_auditor, auditor):
    with pytest.raises(ValidationError) as error:
        new_plan(auditors=[auditor, sh_auditor])

    assert "sh.auditor" in str(error.value.message_dict["auditors"])


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"per_agent": 3, "share_per_channel": {"phone": 5}}, "per_agent"),
        ({"per_agent": None}, "per_agent"),
        ({"per_agent": 0}, "per_agent"),
        ({"per_agent": None, "share_per_channel": {"phone": 0}}, "share_per_channel"),
        ({"per_agent": None, "share_per_channel": {"fax": 5}}, "share_per_channel"),
        ({"period_end": date(2025, 5, 31)}, "period_end"),
        ({"targeted": ["random"]}, "targeted"),
        ({"targeted": {"complaint": 0}}, "targeted"),
        ({"auditors": []}, "auditors"),
        ({"seed": -1}, "seed"),
        ({"name": "  "}, "name"),
    ],
)
def test_bad_plans_are_refused_beside_the_field(new_plan, overrides, field):
    with pytest.raises(ValidationError) as error:
        new_plan(**overrides)

    assert field in error.value.message_dict


def test_a_scorecard_version_not_in_use_is_refused(new_plan, auditor):
    draft = build_scorecard(auditor, code="DRAFT", activate=False)

    with pytest.raises(ValidationError) as error:
        new_plan(scorecard_version=draft)

    assert "scorecard_version" in error.value.message_dict
