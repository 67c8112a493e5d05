"""Decision and appeal pages: the proposal form pre-filled with the recommendation (the reason
field appears through HTMX when the proposal deviates, with the lawful-limit check), the
approval queue without one's own proposals, a decision's page with its ledger and the limit
breach spelled out, the employee's "my decisions" (rule, steps, acknowledge, appeal with its
deadline), the appeal page, and the wrong person refused on every page."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from servicecharter.discipline import decisions as services
from servicecharter.discipline.choices import (
    AppealState,
    DecisionState,
    Measure,
    ViolationState,
)
from servicecharter.discipline.models import Decision
from tests.discipline.conftest import confirmed_priors, make_violation

pytestmark = pytest.mark.django_db


def sign_in(client, user):
    if user.totp_confirmed_at is None:
        user.totp_confirmed_at = timezone.now()
        user.save(update_fields=["totp_confirmed_at"])
    client.force_login(user)


@pytest.fixture
def proposed(bj_supervisor, bj_confirmed):
    return services.decision_propose(actor=bj_supervisor, violation=bj_confirmed)


@pytest.fixture
def approved(proposed, compliance_officer):
    return services.decision_approve(actor=compliance_officer, decision=proposed)


# Proposing ------------------------------------------------------------------------------------


def test_the_form_is_prefilled_with_the_recommendation(client, bj_supervisor, bj_confirmed):
    sign_in(client, bj_supervisor)
    response = client.get(reverse("discipline:decision_propose", args=[bj_confirmed.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert '<option value="verbal_warning" selected>' in html
    assert "Rule FIRST applies" in html
    assert 'name="deviation_reason"' not in html  # no deviation yet
    assert "self_reported" in html  # the version's factors to tick


def test_changing_the_measure_shows_the_reason_field_through_htmx(
    client, bj_supervisor, bj_confirmed
):
    sign_in(client, bj_supervisor)
    url = reverse("discipline:decision_preview", args=[bj_confirmed.pk])
    same = client.get(url, {"measure": "verbal_warning"}, headers={"HX-Request": "true"})
    assert 'name="deviation_reason"' not in same.content.decode()
    changed = client.get(url, {"measure": "written_warning"}, headers={"HX-Request": "true"})
    html = changed.content.decode()
    assert changed.status_code == 200 and "<html" not in html
    assert 'name="deviation_reason"' in html and "Deviates from the rulebook" in html


def test_the_limit_check_shows_at_proposal(client, bj_supervisor, bj_confirmed):
    sign_in(client, bj_supervisor)
    url = reverse("discipline:decision_preview", args=[bj_confirmed.pk])
    html = client.get(url, {"measure": "pay_reduction", "amount": "2000"}).content.decode()
    assert 'id="limit-breaches"' in html and "CN¥400.00" in html


def test_a_deviation_without_a_reason_is_refused_beside_the_field(
    client, bj_supervisor, bj_confirmed
):
    sign_in(client, bj_supervisor)
    url = reverse("discipline:decision_propose", args=[bj_confirmed.pk])
    response = client.post(url, {"measure": "written_warning"})
    assert response.status_code == 200
    assert "write why you deviate" in response.content.decode()
    assert not Decision.objects.exists()
    response = client.post(url, {"measure": "written_warning", "deviation_reason": "Repeated."})
    decision = Decision.objects.get()
    assert response.status_code == 302 and decision.is_deviation
    assert response["Location"] == reverse("discipline:decision_detail", args=[decision.pk])


def test_proposing_is_refused_to_the_wrong_people(
    client, bj_confirmed, sh_supervisor, bj_agent, executive
):
    url = reverse("discipline:decision_propose", args=[bj_confirmed.pk])
    sign_in(client, sh_supervisor)
    assert client.get(url).status_code == 404
    for someone in (bj_agent, executive):
        sign_in(client, someone)
        assert client.get(url).status_code == 403
    client.logout()
    assert client.get(url).status_code == 302


def test_an_open_violation_cannot_be_proposed(client, bj_supervisor, bj_staff, attitude_type):
    violation = make_violation(bj_staff, attitude_type)
    sign_in(client, bj_supervisor)
    url = reverse("discipline:decision_propose", args=[violation.pk])
    assert client.get(url).status_code == 403


def test_a_reward_by_hand(client, bj_supervisor, bj_staff, sh_staff):
    sign_in(client, bj_supervisor)
    url = reverse("discipline:decision_propose_direct")
    assert client.get(url).status_code == 200
    response = client.post(
        url, {"employee_number": sh_staff.employee_number, "measure": "commendation", "reason": "x"}
    )
    assert "No employee with this number" in response.content.decode()
    response = client.post(
        url,
        {
            "employee_number": bj_staff.employee_number,
            "measure": "bonus",
            "amount": "300",
            "reason": "Praised.",
        },
    )
    assert response.status_code == 302
    assert Decision.objects.get().measure == Measure.BONUS


# Approving ------------------------------------------------------------------------------------


def test_the_queue_leaves_out_my_own_proposals(
    client, proposed, compliance_officer, bj_confirmed, second_compliance
):
    sign_in(client, compliance_officer)
    html = client.get(reverse("discipline:decision_queue")).content.decode()
    assert f'id="decision-row-{proposed.pk}"' in html
    mine = services.decision_propose(
        actor=compliance_officer,
        violation=make_violation(proposed.staff, bj_confirmed.type, state=ViolationState.CONFIRMED),
    )
    html = client.get(reverse("discipline:decision_queue")).content.decode()
    assert f'id="decision-row-{mine.pk}"' not in html
    sign_in(client, second_compliance)
    html = client.get(reverse("discipline:decision_queue")).content.decode()
    assert f'id="decision-row-{mine.pk}"' in html


def test_approve_on_the_page(client, proposed, compliance_officer, bj_supervisor):
    sign_in(client, bj_supervisor)
    html = client.get(reverse("discipline:decision_detail", args=[proposed.pk])).content.decode()
    assert "Withdraw my proposal" in html and 'action="/discipline/decisions/' in html
    assert reverse("discipline:decision_approve", args=[proposed.pk]) not in html
    sign_in(client, compliance_officer)
    page = client.get(reverse("discipline:decision_detail", args=[proposed.pk])).content.decode()
    assert reverse("discipline:decision_approve", args=[proposed.pk]) in page
    response = client.post(
        reverse("discipline:decision_approve", args=[proposed.pk]), {"note": "Agreed."}
    )
    assert response.status_code == 302
    proposed.refresh_from_db()
    assert proposed.state == DecisionState.APPROVED
    html = client.get(reverse("discipline:decision_detail", args=[proposed.pk])).content.decode()
    assert "Decision approved" in html and "Approval given" in html  # the ledger


def test_the_proposer_posting_an_approval_is_refused_with_the_reason(
    client, compliance_officer, bj_confirmed
):
    decision = services.decision_propose(actor=compliance_officer, violation=bj_confirmed)
    sign_in(client, compliance_officer)
    response = client.post(reverse("discipline:decision_approve", args=[decision.pk]), follow=True)
    assert "cannot approve their own proposal" in response.content.decode()
    decision.refresh_from_db()
    assert decision.state == DecisionState.PROPOSED


def test_the_page_says_which_limit_and_by_how_much(
    client, bj_supervisor, compliance_officer, bj_staff, attitude_type, test_version
):
    confirmed_priors(bj_staff, attitude_type, 2)
    first = services.decision_propose(
        actor=bj_supervisor,
        violation=make_violation(bj_staff, attitude_type, state=ViolationState.CONFIRMED),
    )
    second = services.decision_propose(
        actor=bj_supervisor,
        violation=make_violation(bj_staff, attitude_type, state=ViolationState.CONFIRMED),
        measure="pay_reduction",
        amount="900",
        deviation_reason="Bigger loss.",
    )
    services.decision_approve(actor=compliance_officer, decision=first)
    sign_in(client, compliance_officer)
    html = client.get(reverse("discipline:decision_detail", args=[second.pk])).content.decode()
    assert 'id="limit-breaches"' in html
    assert "20%" in html and "CN¥1,600.00" in html and "CN¥100.00" in html


def test_decision_pages_are_refused_to_the_wrong_people(
    client, proposed, sh_supervisor, sh_employee, bj_agent, stranger
):
    detail = reverse("discipline:decision_detail", args=[proposed.pk])
    for someone in (sh_supervisor, sh_employee, stranger):
        sign_in(client, someone)
        assert client.get(detail).status_code == 404
    # The employee does not see a proposal still being weighed.
    sign_in(client, bj_agent)
    assert client.get(detail).status_code == 404
    for name in ("decision_approve", "decision_reject"):
        sign_in(client, sh_supervisor)
        assert client.post(reverse(f"discipline:{name}", args=[proposed.pk])).status_code == 403
    sign_in(client, bj_agent)
    for name in ("decision_list", "decision_queue", "appeal_queue", "decision_propose_direct"):
        assert client.get(reverse(f"discipline:{name}")).status_code == 403
    proposed.refresh_from_db()
    assert proposed.state == DecisionState.PROPOSED and not proposed.approvals.exists()


# The employee ---------------------------------------------------------------------------------


def test_my_decisions_shows_the_rule_steps_and_deadline(client, approved, bj_employee):
    sign_in(client, bj_employee)
    html = client.get(reverse("discipline:my_decisions")).content.decode()
    assert f'id="decision-{approved.pk}"' in html
    assert "Rule FIRST applies" in html and "Verbal warning" in html
    assert reverse("discipline:decision_acknowledge", args=[approved.pk]) in html
    assert reverse("discipline:appeal_file", args=[approved.pk]) in html
    # The employee opening the decision's page lands on their own view.
    response = client.get(reverse("discipline:decision_detail", args=[approved.pk]))
    assert response.status_code == 302 and "/discipline/mine/" in response["Location"]


def test_acknowledge_and_appeal_on_the_page(client, approved, bj_employee):
    sign_in(client, bj_employee)
    client.post(reverse("discipline:decision_acknowledge", args=[approved.pk]))
    client.post(reverse("discipline:appeal_file", args=[approved.pk]), {"grounds": "Unfair."})
    approved.refresh_from_db()
    assert approved.acknowledged_at is not None
    assert approved.appeal.state == AppealState.OPEN
    html = client.get(reverse("discipline:my_decisions")).content.decode()
    assert "My appeal" in html and "Unfair." in html


def test_nobody_else_acknowledges_or_appeals_on_the_page(
    client, approved, bj_supervisor, sh_employee, compliance_officer
):
    for someone in (bj_supervisor, sh_employee, compliance_officer):
        sign_in(client, someone)
        assert (
            client.post(reverse("discipline:decision_acknowledge", args=[approved.pk])).status_code
            == 404
        )
        assert (
            client.post(
                reverse("discipline:appeal_file", args=[approved.pk]), {"grounds": "x"}
            ).status_code
            == 404
        )
    approved.refresh_from_db()
    assert approved.acknowledged_at is None and not hasattr(approved, "appeal")


def test_an_appeal_after_the_deadline_is_refused_on_the_page(client, approved, bj_employee):
    import time_machine

    with time_machine.travel(approved.appeal_until + timedelta(hours=1)):
        sign_in(client, bj_employee)  # a session 15 days old would have expired
        html = client.get(reverse("discipline:my_decisions")).content.decode()
        assert "The time to appeal ended" in html
        response = client.post(
            reverse("discipline:appeal_file", args=[approved.pk]), {"grounds": "Late"}, follow=True
        )
    assert "The time to appeal this decision has passed." in response.content.decode()


# Appeals --------------------------------------------------------------------------------------


@pytest.fixture
def appeal(approved, bj_employee):
    return services.appeal_file(actor=bj_employee, decision=approved, grounds="Unfair.")


def test_the_appeal_queue_and_decision_by_someone_independent(
    client, appeal, hr_user, compliance_officer
):
    sign_in(client, compliance_officer)  # the approver
    html = client.get(reverse("discipline:appeal_queue")).content.decode()
    assert reverse("discipline:appeal_decide", args=[appeal.pk]) not in html
    page = client.get(reverse("discipline:appeal_decide", args=[appeal.pk])).content.decode()
    assert "You cannot decide this appeal" in page
    sign_in(client, hr_user)
    html = client.get(reverse("discipline:appeal_queue")).content.decode()
    assert reverse("discipline:appeal_decide", args=[appeal.pk]) in html
    response = client.post(
        reverse("discipline:appeal_decide", args=[appeal.pk]),
        {"outcome": "reduced", "reduced_measure": "none", "reason": "First offence."},
    )
    assert response.status_code == 302
    appeal.refresh_from_db()
    assert appeal.state == AppealState.REDUCED
    assert Decision.objects.get(pk=appeal.decision_id).measure == Measure.NONE


def test_the_appeal_page_is_refused_to_the_wrong_people(client, appeal, sh_hr, bj_supervisor):
    url = reverse("discipline:appeal_decide", args=[appeal.pk])
    sign_in(client, sh_hr)
    assert client.get(url).status_code == 404
    sign_in(client, bj_supervisor)
    assert client.get(url).status_code == 403


def test_the_check_and_withdraw_are_refused_to_the_wrong_people(
    client, proposed, bj_confirmed, sh_supervisor, bj_agent, compliance_officer
):
    check = reverse("discipline:decision_preview", args=[bj_confirmed.pk])
    sign_in(client, sh_supervisor)
    assert client.get(check).status_code == 404
    sign_in(client, bj_agent)
    assert client.get(check).status_code == 403
    withdraw = reverse("discipline:decision_withdraw", args=[proposed.pk])
    sign_in(client, sh_supervisor)
    assert client.post(withdraw).status_code == 404
    sign_in(client, compliance_officer)  # in scope, not the proposer
    response = client.post(withdraw)
    assert response.status_code == 403
    proposed.refresh_from_db()
    assert proposed.state == DecisionState.PROPOSED


def test_a_department_reward_resting_on_its_scorecard(client, tree, bj_supervisor):
    from datetime import date

    from servicecharter.assessment.defaults import DEFAULT_SCHEME_CODE
    from servicecharter.assessment.models import DepartmentScorecard, Period, Scheme

    period = Period.objects.create(
        kind="month",
        start=date(2026, 3, 1),
        end=date(2026, 3, 31),
        state="closed",
        scheme=Scheme.objects.get(code=DEFAULT_SCHEME_CODE),
    )
    ours, theirs = (
        DepartmentScorecard.objects.create(period=period, department=tree[code], tier="excellent")
        for code in ("bj_team", "sh_team")
    )
    sign_in(client, bj_supervisor)
    url = reverse("discipline:decision_propose_direct")
    html = client.get(url, {"basis": f"department_scorecard:{theirs.pk}"}).content.decode()
    assert 'id="decision-basis"' not in html  # outside the scope: not offered
    html = client.get(url, {"basis": f"department_scorecard:{ours.pk}"}).content.decode()
    assert 'id="decision-basis"' in html and "BJ-T1" in html
    response = client.post(
        url,
        {
            "basis": f"department_scorecard:{ours.pk}",
            "department": tree["bj_team"].pk,
            "measure": "commendation",
            "reason": "Excellent in March.",
        },
    )
    assert response.status_code == 302
    decision = Decision.objects.get()
    assert decision.staff is None and decision.department == tree["bj_team"]
    assert decision.basis[0]["kind"] == "department_scorecard"
    assert decision.basis[0]["id"] == ours.pk
