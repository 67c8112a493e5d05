"""The fairness report and the executive summary on a crafted data set whose figures are
worked out by hand: rates per 100 staff by department and position, deviation rate per
decider, median days to decision, appeal overturn rate, sanctions on thin evidence (small QA
sample; an auditor with low calibration agreement); and who may see the pages."""

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from servicecharter.core.models import Event
from servicecharter.discipline import fairness
from servicecharter.discipline.choices import (
    AppealState,
    DecisionKind,
    DecisionState,
    Measure,
    ViolationState,
)
from servicecharter.discipline.models import Appeal, Decision
from servicecharter.quality.choices import EvaluationState
from servicecharter.quality.models import CalibrationSession, Evaluation
from tests.discipline.conftest import make_violation
from tests.quality.conftest import build_scorecard, make_interaction
from tests.standards.conftest import make_staff

pytestmark = pytest.mark.django_db

START, END = date(2026, 4, 1), date(2026, 6, 30)
MAY = timezone.make_aware(datetime(2026, 5, 4, 10, 0))


def _at(days: float) -> datetime:
    return MAY + timedelta(days=days)


def _decision(staff, proposer, *, kind=DecisionKind.SANCTION, proposed=0.0, decided=1.0, **extra):
    fields = {
        "kind": kind,
        "state": DecisionState.APPROVED,
        "staff": staff,
        "department": staff.department,
        "measure": Measure.WRITTEN_WARNING if kind == DecisionKind.SANCTION else Measure.BONUS,
        "proposed_by": proposer,
        "proposed_at": _at(proposed),
        "decided_at": _at(decided) if decided is not None else None,
        **extra,
    }
    if fields.get("is_deviation"):
        fields.setdefault("deviation_reason", "Because.")
    return Decision.objects.create(**fields)


@pytest.fixture
def people(tree):
    def staff(department, number, position):
        member = make_staff(department, number, f"S{number}")
        member.position = position
        member.save(update_fields=["position"])
        return member

    return {
        "teller_a": staff(tree["bj_team"], "B1", "teller"),
        "teller_b": staff(tree["bj_team"], "B2", "teller"),
        "teller_c": staff(tree["bj_team"], "B3", "teller"),
        "manager": staff(tree["bj_team"], "B4", "manager"),
        "sh_teller": staff(tree["sh_team"], "S1", "teller"),
        "sh_manager": staff(tree["sh_team"], "S2", "manager"),
    }


@pytest.fixture
def data(people, bj_supervisor, compliance_officer):
    """bj: 4 staff, 2 sanctions and 1 reward in force; sh: 2 staff, 1 sanction. Outside the
    period or not in force: ignored. Proposals: the supervisor 3 sanctions with 1 deviation,
    compliance 2 with 1 deviation. Days to decision 1, 2, 2.5, 4 and (rejected) 10."""
    p = people
    a = _decision(p["teller_a"], bj_supervisor, decided=1)
    b = _decision(p["teller_b"], bj_supervisor, decided=2, is_deviation=True)
    _decision(p["manager"], bj_supervisor, kind=DecisionKind.REWARD, decided=4)
    c = _decision(p["sh_teller"], compliance_officer, is_deviation=True, decided=None)
    c.decided_at = _at(2.5)
    c.save(update_fields=["decided_at"])
    _decision(p["teller_c"], bj_supervisor, state=DecisionState.REJECTED, decided=10)
    # Outside the period, and still awaiting approval: neither counts in the rates.
    _decision(p["teller_c"], bj_supervisor, proposed=-400, decided=-399)
    _decision(p["sh_manager"], compliance_officer, proposed=5, decided=None, state="proposed")
    for decision, state in ((a, AppealState.OVERTURNED), (b, AppealState.UPHELD)):
        Appeal.objects.create(
            decision=decision,
            filed_by=bj_supervisor,
            filed_at=_at(3),
            grounds="g",
            state=state,
            decided_at=_at(6),
        )
    Appeal.objects.create(decision=c, filed_by=compliance_officer, filed_at=_at(4), grounds="g")
    return {"a": a, "b": b, "c": c}


def _rows(rows):
    return {row.label: (row.staff, row.sanctions, row.rewards) for row in rows}


def test_rates_per_100_staff_by_department_and_position(data, compliance_officer):
    report = fairness.fairness_report(user=compliance_officer, start=START, end=END)
    departments = {row.label.split(" · ")[0]: row for row in report.by_department}
    bj, sh = departments["BJ-T1"], departments["SH-T1"]
    assert (bj.staff, bj.sanctions, bj.rewards) == (4, 2, 1)
    assert (bj.sanctions_per_100, bj.rewards_per_100) == (50.0, 25.0)
    assert (sh.staff, sh.sanctions, sh.sanctions_per_100) == (2, 1, 50.0)
    positions = _rows(report.by_position)
    assert positions["teller"] == (4, 3, 0)
    assert positions["manager"] == (2, 0, 1)
    teller = next(row for row in report.by_position if row.label == "teller")
    assert teller.sanctions_per_100 == 75.0


def test_deviation_rate_per_decider_time_to_decision_and_appeals(
    data, compliance_officer, bj_supervisor
):
    report = fairness.fairness_report(user=compliance_officer, start=START, end=END)
    deciders = {
        row.user_id: (row.proposals, row.deviations, row.deviation_rate) for row in report.deciders
    }
    # The supervisor: a, b, the rejected one (the reward is not a sanction proposal).
    assert deciders[bj_supervisor.pk] == (3, 1, 33.3)
    assert deciders[compliance_officer.pk] == (2, 1, 50.0)
    # Days from proposal to approval or rejection: 1, 2, 2.5, 4 (the reward) and 10.
    assert report.decided_count == 5
    assert report.median_days_to_decision == 2.5
    assert report.appeals_decided == 2
    assert report.overturn_rate == 50.0
    assert report.appeals[AppealState.OPEN] == 1


def test_a_branch_reader_sees_only_their_branch(data, tree):
    from servicecharter.accounts.choices import Role
    from tests.conftest import make_user

    sh_hr = make_user("sh.hr", Role.HR, tree["sh"])
    report = fairness.fairness_report(user=sh_hr, start=START, end=END)
    assert [row.label.split(" · ")[0] for row in report.by_department] == ["SH-T1"]
    assert [row.user_id for row in report.deciders] == [data["c"].proposed_by_id]


# Thin evidence -------------------------------------------------------------------------------


@pytest.fixture
def evaluations(tree, people):
    from servicecharter.accounts.choices import Role
    from tests.conftest import make_user

    auditor = make_user("auditor", Role.QUALITY_AUDITOR, tree["head"])
    shaky = make_user("shaky", Role.QUALITY_AUDITOR, tree["head"])
    version = build_scorecard(auditor)
    counter = iter(range(1, 1000))

    def scored(staff, count, by=auditor):
        made = []
        for _ in range(count):
            number = next(counter)
            interaction = make_interaction(staff, number, started_at=_at(-3))
            made.append(
                Evaluation.objects.create(
                    interaction=interaction,
                    scorecard_version=version,
                    auditor=by,
                    staff=staff,
                    department=staff.department,
                    state=EvaluationState.COMPLETED,
                    score=Decimal("60"),
                    completed_at=_at(-2),
                )
            )
        return made

    return {"auditor": auditor, "shaky": shaky, "scored": scored, "version": version}


def _sanction_on(staff, evaluation_ids, proposer, attitude_type):
    violation = make_violation(staff, attitude_type, at=_at(-1), state=ViolationState.CONFIRMED)
    violation.evidence = [{"kind": "evaluation", "id": pk, "label": "QA"} for pk in evaluation_ids]
    violation.save(update_fields=["evidence"])
    return _decision(staff, proposer, violation=violation)


def test_thin_evidence_small_sample_and_low_calibration(
    people, evaluations, bj_supervisor, compliance_officer, attitude_type
):
    p, scored = people, evaluations["scored"]
    few = scored(p["teller_a"], 3)  # 3 of the 8 needed
    plenty = scored(p["teller_b"], 7) + scored(p["teller_b"], 1, by=evaluations["shaky"])
    enough = scored(p["teller_c"], 8)
    small = _sanction_on(p["teller_a"], [few[0].pk], bj_supervisor, attitude_type)
    shaky = _sanction_on(p["teller_b"], [plenty[-1].pk], bj_supervisor, attitude_type)
    solid = _sanction_on(p["teller_c"], [enough[0].pk], bj_supervisor, attitude_type)
    session = CalibrationSession.objects.create(
        name="May",
        scorecard_version=evaluations["version"],
        created_by=evaluations["auditor"],
        closed_at=_at(-5),
    )
    Event.objects.create(
        name="calibration.closed",
        payload={
            "session_id": session.pk,
            "alpha": 0.91,
            "flagged_auditor_ids": [evaluations["shaky"].pk],
        },
    )
    report = fairness.fairness_report(user=compliance_officer, start=START, end=END)
    flagged = {row.decision.pk: row.reasons for row in report.thin_evidence}
    assert flagged[small.pk] == [("sample", 3, 8)]
    assert flagged[shaky.pk] == [("calibration", None, None)]
    assert solid.pk not in flagged


def test_a_session_below_its_tolerance_flags_all_its_auditors(
    people, evaluations, bj_supervisor, compliance_officer, attitude_type
):
    made = evaluations["scored"](people["teller_a"], 8)
    decision = _sanction_on(people["teller_a"], [made[0].pk], bj_supervisor, attitude_type)
    session = CalibrationSession.objects.create(
        name="Weak", scorecard_version=evaluations["version"], created_by=evaluations["auditor"]
    )
    session.auditors.add(evaluations["auditor"])
    Event.objects.create(
        name="calibration.closed",
        payload={"session_id": session.pk, "alpha": 0.42, "flagged_auditor_ids": []},
    )
    report = fairness.fairness_report(user=compliance_officer, start=START, end=END)
    assert [row.decision.pk for row in report.thin_evidence] == [decision.pk]


# Summary and pages ---------------------------------------------------------------------------


def test_the_summary_by_measure_unit_and_appeals(data, compliance_officer):
    summary = fairness.summary_report(user=compliance_officer, start=START, end=END)
    assert (DecisionKind.SANCTION, Measure.WRITTEN_WARNING, 3) in summary.by_measure
    assert (DecisionKind.REWARD, Measure.BONUS, 1) in summary.by_measure
    units = {
        row.label.split(" · ")[0]: (row.staff, row.sanctions, row.rewards)
        for row in summary.by_unit
    }
    assert units == {"BJ": (4, 2, 1), "SH": (2, 1, 0)}
    assert summary.proposed_open == 1


def _sign_in(client, user):
    if user.totp_confirmed_at is None:
        user.totp_confirmed_at = timezone.now()
        user.save(update_fields=["totp_confirmed_at"])
    client.force_login(user)


@pytest.mark.parametrize("page", ["discipline:fairness", "discipline:summary"])
def test_the_pages_show_the_figures_and_charts(client, data, compliance_officer, page):
    from django.urls import reverse

    _sign_in(client, compliance_officer)
    response = client.get(reverse(page), {"start": "2026-04-01", "end": "2026-06-30"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "<svg" in html and "<rect" in html
    if page == "discipline:fairness":
        assert 'id="overturn-rate">50.0%' in html
        assert 'id="median-days">2.5' in html


@pytest.mark.parametrize("page", ["discipline:fairness", "discipline:summary"])
def test_the_pages_are_refused_without_the_capability(client, data, bj_supervisor, bj_agent, page):
    from django.urls import reverse

    for someone in (bj_supervisor, bj_agent):
        _sign_in(client, someone)
        assert client.get(reverse(page)).status_code == 403


def test_the_report_costs_the_same_queries_whatever_the_number_of_decisions(
    people,
    evaluations,
    bj_supervisor,
    compliance_officer,
    attitude_type,
    django_assert_max_num_queries,
):
    """Set-based: grouped queries, not one per decision."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def cost():
        with CaptureQueriesContext(connection) as queries:
            fairness.fairness_report(user=compliance_officer, start=START, end=END)
        return len(queries)

    made = evaluations["scored"](people["teller_a"], 2)
    _sanction_on(people["teller_a"], [made[0].pk], bj_supervisor, attitude_type)
    cost()  # the reader's grants are loaded once per user object
    few = cost()
    for member in ("teller_b", "teller_c", "manager", "sh_teller"):
        made = evaluations["scored"](people[member], 2)
        _sanction_on(people[member], [made[0].pk], bj_supervisor, attitude_type)
        _decision(people[member], compliance_officer, kind=DecisionKind.REWARD)
    assert cost() == few
    with django_assert_max_num_queries(few):
        report = fairness.fairness_report(user=compliance_officer, start=START, end=END)
    assert len(report.thin_evidence) == 5


def test_the_decision_page_warns_of_thin_evidence(
    client, people, evaluations, bj_supervisor, compliance_officer, attitude_type
):
    from django.urls import reverse

    made = evaluations["scored"](people["teller_a"], 3)
    decision = _sanction_on(people["teller_a"], [made[0].pk], bj_supervisor, attitude_type)
    _sign_in(client, compliance_officer)
    html = client.get(reverse("discipline:decision_detail", args=[decision.pk])).content.decode()
    assert 'id="thin-evidence"' in html and "QA sample of 3, fewer than the 8 needed" in html
