"""Evaluations through the services: assignment rules, scoring through the statistics module with
auto-fail and its events, the employee's acknowledgement and dispute window, the different
auditor who decides a dispute, and per-employee results with their intervals."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from servicecharter.core.models import AuditEntry, Event, Notification
from servicecharter.quality import selectors, services, stats
from servicecharter.quality.choices import EvaluationState, SampleReason
from servicecharter.quality.models import Answer, Evaluation
from servicecharter.quality.services import EvaluationPick, EvaluationRefused
from tests.quality.conftest import (
    ALL_GOOD,
    IDENTITY_MISSED,
    T0,
    build_scorecard,
    make_interaction,
)

PARTIAL = {"greeting": 1, "verify_identity": 1, "accuracy": 4, "courtesy": 3}


def _events(name: str) -> list[dict]:
    return [event.payload for event in Event.objects.filter(name=name).order_by("pk")]


# Assignment -----------------------------------------------------------------------------------


def test_assigning_denormalises_the_employee_and_department(assign, bj_staff, auditor):
    evaluation = assign(bj_staff)

    assert evaluation.state == EvaluationState.ASSIGNED
    assert (evaluation.staff, evaluation.department_id) == (bj_staff, bj_staff.department_id)
    assert evaluation.auditor == auditor


def test_an_auditor_is_never_given_their_own_interaction(assign, auditor, bj_staff):
    auditor.staff = bj_staff
    auditor.save(update_fields=["staff"])

    with pytest.raises(ValidationError) as error:
        assign(bj_staff)

    assert "own" in " ".join(error.value.messages)
    assert not Evaluation.objects.exists()


def test_an_auditor_outside_the_department_is_refused(assign, sh_auditor, bj_staff):
    with pytest.raises(ValidationError):
        assign(bj_staff, to=sh_auditor)


def test_an_interaction_without_an_employee_is_not_evaluated(auditor, phone_card, tree):
    interaction = make_interaction(None, department_id=tree["bj_team"].pk, outcome="abandoned")

    with pytest.raises(ValidationError):
        services.evaluation_assign(
            actor=auditor, interaction=interaction, scorecard_version=phone_card, auditor=auditor
        )


def test_only_a_version_in_use_is_assigned(auditor, bj_staff):
    draft = build_scorecard(auditor, code="DRAFT", activate=False)

    with pytest.raises(ValidationError):
        services.evaluation_assign(
            actor=auditor,
            interaction=make_interaction(bj_staff),
            scorecard_version=draft,
            auditor=auditor,
        )


def test_only_a_quality_manager_of_the_department_assigns(sh_auditor, phone_card, bj_staff):
    with pytest.raises(ValidationError):
        services.evaluation_assign(
            actor=sh_auditor,
            interaction=make_interaction(bj_staff),
            scorecard_version=phone_card,
            auditor=sh_auditor,
        )


def test_assigning_many_is_all_or_nothing_and_skips_those_already_evaluated(
    auditor, second_auditor, sh_auditor, phone_card, bj_staff, sh_staff
):
    first, second = make_interaction(bj_staff, 1), make_interaction(sh_staff, 2)
    services.evaluation_assign(
        actor=auditor, interaction=first, scorecard_version=phone_card, auditor=auditor
    )
    bad = [EvaluationPick(second.pk, second_auditor.pk), EvaluationPick(first.pk, sh_auditor.pk)]

    with pytest.raises(ValidationError):
        services.evaluation_assign_many(actor=auditor, scorecard_version=phone_card, picks=bad)
    assert Evaluation.objects.count() == 1

    picks = [
        EvaluationPick(first.pk, second_auditor.pk),
        EvaluationPick(second.pk, sh_auditor.pk, SampleReason.COMPLAINT),
    ]
    result = services.evaluation_assign_many(
        actor=auditor, scorecard_version=phone_card, picks=picks
    )

    assert result.skipped == [first.pk]
    assert [(e.interaction_id, e.auditor_id, e.reason) for e in result.created] == [
        (second.pk, sh_auditor.pk, SampleReason.COMPLAINT)
    ]


# Scoring ---------------------------------------------------------------------------------------


def test_submitting_scores_through_the_statistics_module(scored, bj_staff, phone_card):
    evaluation = scored(bj_staff, PARTIAL, comments={"courtesy": " Rushed the ending. "})

    card = selectors.version_scorecard(selectors.scorecard_version_with_criteria(phone_card.pk))
    expected = stats.score_scorecard(card, PARTIAL)
    assert evaluation.score == expected.percent == Decimal("75.00")
    assert evaluation.state == EvaluationState.COMPLETED
    assert not evaluation.auto_failed
    assert Answer.objects.get(evaluation=evaluation, criterion__code="courtesy").comment == (
        "Rushed the ending."
    )
    assert Answer.objects.filter(evaluation=evaluation).count() == 4


def test_the_dispute_window_runs_from_completion(scored, bj_staff, settings):
    settings.QUALITY_DISPUTE_DAYS = 3
    with time_machine.travel(T0, tick=False):
        evaluation = scored(bj_staff)

    assert evaluation.completed_at == T0
    assert evaluation.dispute_until == T0 + timedelta(days=3)


def test_the_dispute_window_is_seven_days_by_default(scored, bj_staff):
    evaluation = scored(bj_staff)

    assert evaluation.dispute_until - evaluation.completed_at == timedelta(days=7)


def test_completion_is_announced_and_the_employee_told(scored, bj_staff, bj_employee, auditor):
    evaluation = scored(bj_staff, PARTIAL)

    (completed,) = _events("evaluation.completed")
    assert completed["evaluation_id"] == evaluation.pk
    assert completed["staff_id"] == bj_staff.pk
    assert completed["department_id"] == bj_staff.department_id
    assert completed["auditor_id"] == auditor.pk
    assert (completed["score"], completed["passed"], completed["auto_failed"]) == (
        "75.00",
        False,
        False,
    )
    assert _events("evaluation.auto_failed") == []
    notice = Notification.objects.get(recipient=bj_employee)
    assert notice.kind == "quality.evaluation_completed"
    assert notice.url == f"/quality/evaluations/{evaluation.pk}/"
    assert "75.00%" in notice.body


def test_a_critical_item_missed_fails_the_evaluation(scored, bj_staff, auditor, bj_employee):
    evaluation = scored(bj_staff, IDENTITY_MISSED)

    assert evaluation.score == Decimal("0.00")
    assert evaluation.auto_failed
    (failed,) = _events("evaluation.auto_failed")
    assert failed["evaluation_id"] == evaluation.pk
    assert failed["staff_id"] == bj_staff.pk
    assert failed["department_id"] == bj_staff.department_id
    assert failed["auditor_id"] == auditor.pk
    assert failed["criterion_code"] == "verify_identity"
    assert failed["failed_criteria"] == ["verify_identity"]
    assert _events("evaluation.completed")[0]["auto_failed"] is True
    assert "critical" in Notification.objects.get(recipient=bj_employee).body


@pytest.mark.parametrize(
    "answers",
    [
        {"greeting": 1, "verify_identity": 1, "accuracy": 5},  # one missing
        {**ALL_GOOD, "accuracy": 6},  # outside its scale
        {**ALL_GOOD, "unknown": 1},  # not on the scorecard
        dict.fromkeys(ALL_GOOD),  # everything not applicable
    ],
)
def test_answers_the_statistics_refuse_save_nothing(assign, auditor, bj_staff, answers):
    evaluation = assign(bj_staff)

    with pytest.raises(ValidationError):
        services.evaluation_submit(actor=auditor, evaluation=evaluation, answers=answers)

    evaluation.refresh_from_db()
    assert evaluation.state == EvaluationState.ASSIGNED
    assert not Answer.objects.exists()
    assert not Event.objects.filter(name__startswith="evaluation.").exists()


def test_only_the_assigned_auditor_scores(assign, second_auditor, bj_staff):
    evaluation = assign(bj_staff)

    with pytest.raises(PermissionDenied):
        services.evaluation_submit(actor=second_auditor, evaluation=evaluation, answers=ALL_GOOD)


def test_an_evaluation_is_scored_once(scored, auditor, bj_staff):
    evaluation = scored(bj_staff)

    with pytest.raises(EvaluationRefused):
        services.evaluation_submit(actor=auditor, evaluation=evaluation, answers=PARTIAL)


def test_an_auditor_who_became_the_employee_cannot_score_it(assign, auditor, bj_staff):
    evaluation = assign(bj_staff)
    auditor.staff = bj_staff
    auditor.save(update_fields=["staff"])

    with pytest.raises(EvaluationRefused):
        services.evaluation_submit(actor=auditor, evaluation=evaluation, answers=ALL_GOOD)


# The employee's answer --------------------------------------------------------------------------


def test_the_employee_acknowledges(scored, bj_staff, bj_employee):
    evaluation = scored(bj_staff)

    services.evaluation_acknowledge(actor=bj_employee, evaluation=evaluation)

    evaluation.refresh_from_db()
    assert evaluation.state == EvaluationState.ACKNOWLEDGED
    assert evaluation.acknowledged_at is not None


def test_nobody_else_acknowledges_or_disputes(scored, bj_staff, bj_supervisor, sh_employee):
    evaluation = scored(bj_staff)

    for person in (bj_supervisor, sh_employee):
        with pytest.raises(PermissionDenied):
            services.evaluation_acknowledge(actor=person, evaluation=evaluation)
        with pytest.raises(PermissionDenied):
            services.evaluation_dispute(actor=person, evaluation=evaluation, reason="x")


def test_the_employee_disputes_within_the_window(scored, bj_staff, bj_employee):
    with time_machine.travel(T0, tick=False):
        evaluation = scored(bj_staff, IDENTITY_MISSED)
    with time_machine.travel(T0 + timedelta(days=7), tick=False):
        dispute = services.evaluation_dispute(
            actor=bj_employee, evaluation=evaluation, reason="I verified by voice print."
        )

    evaluation.refresh_from_db()
    assert evaluation.state == EvaluationState.DISPUTED
    assert dispute.raised_at == T0 + timedelta(days=7)
    assert _events("evaluation.disputed")[0]["evaluation_id"] == evaluation.pk


def test_a_dispute_after_the_window_is_refused(scored, bj_staff, bj_employee):
    with time_machine.travel(T0, tick=False):
        evaluation = scored(bj_staff)
    late = time_machine.travel(T0 + timedelta(days=7, seconds=1), tick=False)
    with late, pytest.raises(EvaluationRefused) as refusal:
        services.evaluation_dispute(actor=bj_employee, evaluation=evaluation, reason="Late")

    assert "ended" in " ".join(refusal.value.messages)
    evaluation.refresh_from_db()
    assert evaluation.state == EvaluationState.COMPLETED


def test_a_dispute_needs_a_reason(scored, bj_staff, bj_employee):
    evaluation = scored(bj_staff)

    with pytest.raises(ValidationError) as error:
        services.evaluation_dispute(actor=bj_employee, evaluation=evaluation, reason="  ")

    assert "reason" in error.value.message_dict


def test_an_acknowledged_evaluation_may_still_be_disputed_but_only_once(
    scored, bj_staff, bj_employee
):
    evaluation = scored(bj_staff)
    services.evaluation_acknowledge(actor=bj_employee, evaluation=evaluation)

    services.evaluation_dispute(actor=bj_employee, evaluation=evaluation, reason="Unfair")

    with pytest.raises(EvaluationRefused):
        services.evaluation_dispute(actor=bj_employee, evaluation=evaluation, reason="Again")


# Deciding a dispute -------------------------------------------------------------------------------


@pytest.fixture
def disputed(scored, bj_staff, bj_employee):
    evaluation = scored(bj_staff, IDENTITY_MISSED)
    services.evaluation_dispute(
        actor=bj_employee, evaluation=evaluation, reason="I verified the caller by SMS code."
    )
    evaluation.refresh_from_db()
    return evaluation


def test_the_auditor_who_scored_it_cannot_decide(disputed, auditor):
    with pytest.raises(EvaluationRefused) as refusal:
        services.dispute_decide(actor=auditor, evaluation=disputed, upheld=True, note="Fine")

    assert "another auditor" in " ".join(refusal.value.messages)


def test_an_auditor_outside_the_department_cannot_decide(disputed, sh_auditor):
    with pytest.raises(PermissionDenied):
        services.dispute_decide(actor=sh_auditor, evaluation=disputed, upheld=True, note="x")


def test_a_supervisor_without_evaluate_cannot_decide(disputed, bj_supervisor):
    with pytest.raises(PermissionDenied):
        services.dispute_decide(actor=bj_supervisor, evaluation=disputed, upheld=True, note="x")


def test_another_auditor_upholds_the_score(disputed, second_auditor, bj_employee):
    services.dispute_decide(
        actor=second_auditor, evaluation=disputed, upheld=True, note="The recording has no check."
    )

    disputed.refresh_from_db()
    assert disputed.state == EvaluationState.UPHELD
    assert disputed.score == Decimal("0.00") and disputed.auto_failed
    dispute = disputed.dispute
    assert (dispute.decided_by, dispute.upheld) == (second_auditor, True)
    assert _events("evaluation.dispute_decided")[0]["upheld"] is True
    # No second completion: the score stands as announced.
    assert len(_events("evaluation.completed")) == 1
    assert Notification.objects.filter(
        recipient=bj_employee, kind="quality.dispute_decided"
    ).exists()


def test_a_decision_needs_reasons(disputed, second_auditor):
    with pytest.raises(ValidationError) as error:
        services.dispute_decide(actor=second_auditor, evaluation=disputed, upheld=True, note="")

    assert "note" in error.value.message_dict


def test_revising_needs_a_new_score(disputed, second_auditor):
    with pytest.raises(ValidationError):
        services.dispute_decide(
            actor=second_auditor, evaluation=disputed, upheld=False, note="Right"
        )

    disputed.refresh_from_db()
    assert disputed.state == EvaluationState.DISPUTED


def test_a_revision_rescores_and_announces_again(disputed, second_auditor):
    services.dispute_decide(
        actor=second_auditor,
        evaluation=disputed,
        upheld=False,
        note="The SMS check is in the log.",
        answers=PARTIAL,
        comments={"verify_identity": "SMS code verified at 0:35."},
    )

    disputed.refresh_from_db()
    assert disputed.state == EvaluationState.REVISED
    assert (disputed.score, disputed.auto_failed) == (Decimal("75.00"), False)
    first, revised = _events("evaluation.completed")
    assert (first["revised"], revised["revised"]) == (False, True)
    assert revised["previous_score"] == "0.00" and revised["previous_auto_failed"] is True
    assert revised["scored_by_id"] == second_auditor.pk
    assert len(_events("evaluation.auto_failed")) == 1
    answer = Answer.objects.get(evaluation=disputed, criterion__code="verify_identity")
    assert (answer.value, answer.comment) == (1, "SMS code verified at 0:35.")
    audit = AuditEntry.objects.get(action="evaluation.dispute_decide")
    before = {row["criterion"]: row["value"] for row in audit.changes["answers"][0]}
    assert before["verify_identity"] == 0


def test_a_decided_dispute_is_not_decided_again(disputed, second_auditor, tree):
    from servicecharter.accounts.choices import Role
    from tests.conftest import make_user

    third = make_user("auditor3", Role.QUALITY_AUDITOR, tree["head"])
    services.dispute_decide(actor=second_auditor, evaluation=disputed, upheld=True, note="Stands")

    with pytest.raises(EvaluationRefused):
        services.dispute_decide(actor=third, evaluation=disputed, upheld=True, note="Again")


# Results ----------------------------------------------------------------------------------------


def test_an_employee_result_has_intervals_and_is_marked_when_the_sample_is_small(scored, bj_staff):
    for answers in (ALL_GOOD, PARTIAL, IDENTITY_MISSED):
        scored(bj_staff, answers)

    result = selectors.employee_result(staff=bj_staff)

    assert result.count == 3
    assert result.mean.estimate == pytest.approx((100 + 75 + 0) / 3)
    expected_mean = stats.mean_interval([100.0, 75.0, 0.0], bounds=(0.0, 100.0))
    assert (result.mean.low, result.mean.high) == (expected_mean.low, expected_mean.high)
    expected_rate = stats.wilson_interval(1, 3)
    assert result.pass_rate.estimate == pytest.approx(1 / 3)
    assert (result.pass_rate.low, result.pass_rate.high) == (expected_rate.low, expected_rate.high)
    assert result.auto_fails == 1
    assert result.insufficient
    assert "Insufficient sample" in result.adequacy.message


def test_a_result_is_adequate_from_the_minimum_sample(scored, bj_staff, settings):
    settings.QUALITY_MINIMUM_SAMPLE = 2
    scored(bj_staff)
    scored(bj_staff, PARTIAL)

    assert not selectors.employee_result(staff=bj_staff).insufficient


def test_results_count_only_scored_evaluations_in_the_period(scored, assign, bj_staff):
    assign(bj_staff)  # not scored yet
    with time_machine.travel(T0, tick=False):
        scored(bj_staff, IDENTITY_MISSED)
    scored(bj_staff)

    result = selectors.employee_result(staff=bj_staff, since=T0 + timedelta(days=1))

    assert (result.count, result.auto_fails) == (1, 0)


def test_team_results_are_scoped(scored, bj_staff, sh_staff, bj_supervisor):
    scored(bj_staff)
    scored(sh_staff)

    results = selectors.team_results(user=bj_supervisor, since=timezone.now() - timedelta(days=1))

    assert [result.staff for result in results] == [bj_staff]
