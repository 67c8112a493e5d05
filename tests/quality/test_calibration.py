"""Calibration sessions: blind scoring, the agreement statistics on a small set worked by hand,
auditors flagged outside tolerance, and who may create, score, close and read."""

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from servicecharter.accounts.choices import Role
from servicecharter.core.models import AuditEntry, Event
from servicecharter.quality import calibration, stats
from servicecharter.quality.models import CalibrationScore
from servicecharter.quality.selectors import version_criteria
from tests.conftest import make_user
from tests.quality.conftest import build_scorecard, make_interaction

# The three auditors' answers to three calls (yes/no: 1 yes, 0 no; 1–5 as given).
#                greeting (yes/no)   accuracy (1–5)   courtesy (1–5)
ANSWERS = {
    "a": {"greeting": [1, 1, 0], "accuracy": [5, 3, 4], "courtesy": [4, 4, 4]},
    "b": {"greeting": [1, 1, 0], "accuracy": [5, 3, 4], "courtesy": [4, 4, 4]},
    "c": {"greeting": [1, 0, 0], "accuracy": [4, 2, 3], "courtesy": [4, 4, 4]},
}
CARD = (
    (
        ("Opening", "开场", 20),
        (("greeting", "yes_no", "attitude", 1, False),),
    ),
    (
        ("Handling", "办理", 80),
        (
            ("accuracy", "one_to_five", "accuracy", 3, False),
            ("courtesy", "one_to_five", "attitude", 1, False),
        ),
    ),
)


@pytest.fixture
def third_auditor(tree):
    return make_user("auditor3", Role.QUALITY_AUDITOR, tree["head"])


@pytest.fixture
def card(auditor):
    return build_scorecard(auditor, code="CAL", sections=CARD)


@pytest.fixture
def three_calls(bj_staff):
    return [make_interaction(bj_staff, n) for n in (1, 2, 3)]


@pytest.fixture
def session(auditor, second_auditor, third_auditor, card, three_calls):
    return calibration.calibration_session_create(
        actor=auditor,
        name="June calibration",
        scorecard_version=card,
        interactions=three_calls,
        auditors=[auditor, second_auditor, third_auditor],
    )


def submit(session, user, interaction, index, answers, card):
    by_code = {c.code: c.pk for c in version_criteria(card)}
    return calibration.calibration_score_submit(
        actor=user,
        session=session,
        interaction=interaction,
        answers={by_code[code]: values[index] for code, values in answers.items()},
    )


@pytest.fixture
def all_scored(session, auditor, second_auditor, third_auditor, three_calls, card):
    people = {"a": auditor, "b": second_auditor, "c": third_auditor}
    for key, user in people.items():
        for index, call in enumerate(three_calls):
            submit(session, user, call, index, ANSWERS[key], card)
    return session


# Blind while open -----------------------------------------------------------------------------


def test_an_auditor_sees_only_their_own_scores_while_the_session_is_open(
    all_scored, second_auditor, three_calls
):
    mine = calibration.my_calibration_scores(all_scored, second_auditor)

    assert len(mine) == 9
    own_rows = CalibrationScore.objects.filter(session=all_scored, auditor=second_auditor)
    assert mine == {(s.interaction_id, s.criterion_id): s.value for s in own_rows}


def test_the_manager_sees_progress_counts_but_no_values(
    all_scored, auditor, second_auditor, third_auditor
):
    progress = calibration.calibration_progress(all_scored)

    assert progress == {auditor.pk: 3, second_auditor.pk: 3, third_auditor.pk: 3}


def test_scores_stay_out_of_the_audit_trail_while_they_are_blind(all_scored):
    entries = AuditEntry.objects.filter(action="calibration.score")

    assert entries.count() == 9
    assert all(set(entry.changes) == {"interaction", "answers"} for entry in entries)


def test_rescoring_replaces_only_the_auditors_own_answers(
    all_scored, auditor, second_auditor, three_calls, card
):
    changed = {**ANSWERS["a"], "courtesy": [1, 4, 4]}
    submit(all_scored, auditor, three_calls[0], 0, changed, card)

    assert CalibrationScore.objects.filter(session=all_scored).count() == 27
    courtesy = version_criteria(card)[2]
    values = dict(
        CalibrationScore.objects.filter(
            session=all_scored, interaction=three_calls[0], criterion=courtesy
        ).values_list("auditor_id", "value")
    )
    assert values[auditor.pk] == 1 and values[second_auditor.pk] == 4


def test_someone_not_in_the_session_cannot_score(session, tree, three_calls, card):
    outsider = make_user("auditor9", Role.QUALITY_AUDITOR, tree["head"])

    with pytest.raises(PermissionDenied):
        submit(session, outsider, three_calls[0], 0, ANSWERS["a"], card)


def test_every_criterion_needs_an_answer_on_its_scale(session, auditor, three_calls, card):
    criteria = version_criteria(card)
    with pytest.raises(ValidationError, match="missing"):
        calibration.calibration_score_submit(
            actor=auditor, session=session, interaction=three_calls[0], answers={}
        )
    with pytest.raises(ValidationError, match="1 to 5"):
        calibration.calibration_score_submit(
            actor=auditor,
            session=session,
            interaction=three_calls[0],
            answers={criteria[0].pk: 1, criteria[1].pk: 6, criteria[2].pk: None},
        )
    assert not CalibrationScore.objects.exists()


# The statistics, worked by hand --------------------------------------------------------------


@pytest.fixture
def results(all_scored, auditor):
    return calibration.calibration_session_close(actor=auditor, session=all_scored)


def by_code(results):
    return {row.criterion.code: row for row in results.criteria}


def test_nominal_alpha_for_a_yes_no_criterion(results):
    # Units (1,1,1) (1,1,0) (0,0,0): o11 = 4, o10 = o01 = 1, o00 = 3; n1 = 5, n0 = 4, n = 9.
    # alpha = 1 − (n − 1)·D_o / D_e = 1 − 8·2 / (2·5·4) = 0.6
    greeting = by_code(results)["greeting"]

    assert greeting.level == stats.Level.NOMINAL
    assert greeting.alpha.alpha == pytest.approx(0.6)
    assert greeting.agreement.exact == pytest.approx(2 / 3)
    assert greeting.agreement.within_one is None


def test_ordinal_alpha_for_a_one_to_five_criterion(results):
    # Units (5,5,4) (3,3,2) (4,4,3): marginals n5 = 2, n4 = 3, n3 = 3, n2 = 1; n = 9.
    # Ordinal δ²: (5,4) 6.25, (4,3) 9, (3,2) 4, (5,3) 30.25, (5,2) 56.25, (4,2) 25.
    # D_o = 2·(6.25 + 9 + 4) = 38.5; D_e = 2·(6·6.25 + 6·30.25 + 2·56.25 + 9·9 + 3·25 + 3·4)
    # = 999; alpha = 1 − 8·38.5 / 999 = 691 / 999.
    accuracy = by_code(results)["accuracy"]

    assert accuracy.level == stats.Level.ORDINAL
    assert accuracy.alpha.alpha == pytest.approx(691 / 999)
    assert accuracy.agreement.exact == 0
    assert accuracy.agreement.within_one == 1


def test_a_criterion_everyone_answered_alike_has_no_alpha_and_says_why(results):
    courtesy = by_code(results)["courtesy"]

    assert courtesy.alpha.alpha is None
    assert "no variation" in courtesy.alpha.reason
    assert courtesy.agreement.exact == 1


def test_the_overall_alpha_covers_every_criterion_as_a_share_met(results):
    def fractions(key):
        answers = ANSWERS[key]
        return [
            float(answers["greeting"][i]) if code == "greeting" else (answers[code][i] - 1) / 4
            for i in range(3)
            for code in ("greeting", "accuracy", "courtesy")
        ]

    expected = stats.krippendorff_alpha(
        [fractions("a"), fractions("b"), fractions("c")], stats.Level.ORDINAL
    )

    assert results.overall.alpha == pytest.approx(expected.alpha)
    assert results.overall.pairable_units == 9


def test_each_auditors_bias_against_the_others_on_the_one_to_five_criteria(results):
    # c is one point below a and b on every accuracy answer and equal on courtesy:
    # against the median of the others: (−1 −1 −1 + 0 + 0 + 0) / 6 = −0.5.
    # a against the median of b and c: (+0.5 · 3 + 0 · 3) / 6 = +0.25.
    bias = {row.user.username: row.bias.bias for row in results.auditors}

    assert bias == {
        "auditor": pytest.approx(0.25),
        "auditor2": pytest.approx(0.25),
        "auditor3": pytest.approx(-0.5),
    }


def test_auditors_outside_tolerance_are_flagged(all_scored, auditor):
    all_scored.bias_tolerance = Decimal("0.40")
    all_scored.alpha_tolerance = Decimal("0.000")
    all_scored.save()

    results = calibration.calibration_session_close(actor=auditor, session=all_scored)

    flagged = {row.user.username: row.flagged for row in results.auditors}
    assert flagged == {"auditor": False, "auditor2": False, "auditor3": True}
    harsh = next(row for row in results.auditors if row.flagged)
    assert "harsher" in harsh.reasons[0]
    event = Event.objects.get(name="calibration.closed")
    assert event.payload["flagged_auditor_ids"] == [harsh.user.pk]


def test_low_agreement_with_the_others_flags_an_auditor(all_scored, auditor):
    all_scored.bias_tolerance = Decimal("4")
    all_scored.alpha_tolerance = Decimal("1.000")
    all_scored.save()

    results = calibration.calibration_session_close(actor=auditor, session=all_scored)

    assert all(row.flagged for row in results.auditors)
    assert all("Agreement with the others" in row.reasons[0] for row in results.auditors)
    assert results.overall_below_tolerance


def test_the_chart_data_follow_the_results(results):
    assert results.chart_bias()["values"] == [0.25, 0.25, -0.5]
    assert results.chart_agreement() == {
        "labels": ["greeting", "accuracy", "courtesy"],
        "values": [66.7, 0.0, 100.0],
    }


# Closing ---------------------------------------------------------------------------------------


def test_a_closed_session_takes_no_more_scores_and_cannot_close_again(
    results, auditor, three_calls, card
):
    session = results.session
    with pytest.raises(ValidationError, match="closed"):
        submit(session, auditor, three_calls[0], 0, ANSWERS["a"], card)
    with pytest.raises(ValidationError, match="closed"):
        calibration.calibration_session_close(actor=auditor, session=session)


def test_a_session_closes_only_when_two_auditors_have_scored(session, auditor, three_calls, card):
    submit(session, auditor, three_calls[0], 0, ANSWERS["a"], card)

    with pytest.raises(ValidationError, match="two auditors"):
        calibration.calibration_session_close(actor=auditor, session=session)


# Creating a session: its rules and its scope -----------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"interactions": 2}, "interactions"),
        ({"auditors": 1}, "auditors"),
        ({"alpha_tolerance": Decimal("1.5")}, "alpha_tolerance"),
        ({"bias_tolerance": Decimal("-1")}, "bias_tolerance"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_sessions_are_refused_beside_the_field(
    auditor, second_auditor, card, three_calls, change, field
):
    fields = {
        "actor": auditor,
        "name": "Calibration",
        "scorecard_version": card,
        "interactions": three_calls,
        "auditors": [auditor, second_auditor],
    }
    for key, value in change.items():
        fields[key] = fields[key][:value] if key in ("interactions", "auditors") else value

    with pytest.raises(ValidationError) as error:
        calibration.calibration_session_create(**fields)

    assert field in error.value.message_dict


def test_interactions_outside_the_managers_scope_are_refused_like_unknown_ones(
    sh_auditor, tree, card, sh_staff, bj_staff
):
    other = make_user("sh.auditor2", Role.QUALITY_AUDITOR, tree["sh"])
    calls = [make_interaction(sh_staff, 1), make_interaction(sh_staff, 2)]
    calls.append(make_interaction(bj_staff, 3))

    with pytest.raises(ValidationError) as error:
        calibration.calibration_session_create(
            actor=sh_auditor,
            name="Mixed",
            scorecard_version=card,
            interactions=calls,
            auditors=[sh_auditor, other],
        )

    assert "among those you manage" in str(error.value.message_dict["interactions"])


def test_an_auditor_who_cannot_evaluate_every_interaction_is_refused(
    auditor, sh_auditor, card, three_calls
):
    with pytest.raises(ValidationError) as error:
        calibration.calibration_session_create(
            actor=auditor,
            name="Calibration",
            scorecard_version=card,
            interactions=three_calls,
            auditors=[auditor, sh_auditor],
        )

    assert "sh.auditor" in str(error.value.message_dict["auditors"])


def test_only_its_auditors_and_its_managers_can_open_a_session(
    session, sh_auditor, second_auditor, tree
):
    bj_manager = make_user("bj.auditor", Role.QUALITY_AUDITOR, tree["bj"])
    pk = session.pk

    assert calibration.calibration_session_get_for_user(user=second_auditor, pk=pk, action="score")
    assert calibration.calibration_session_get_for_user(user=bj_manager, pk=pk, action="manage")
    with pytest.raises(Http404):
        calibration.calibration_session_get_for_user(user=bj_manager, pk=pk, action="score")
    with pytest.raises(Http404):
        calibration.calibration_session_get_for_user(user=sh_auditor, pk=pk)
    assert list(calibration.calibration_session_list_for_user(user=sh_auditor)) == []
    assert list(calibration.calibration_session_list_for_user(user=bj_manager)) == [session]
