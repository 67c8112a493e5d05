"""Periodic quality reviews (定期服务质量审查): the figures and score computed from known facts of
the period (spot-check evaluations, survey rollups, deviations) with the Shanghai branch's and
July's facts left out, the proposed findings, concluding (a failed review emits one
``review.failed`` naming the department and the staff), rectification (整改) from owner to a
verifier who is not the owner, overdue actions, and scope (a Shanghai supervisor gets 404 on a
Beijing review by page and API)."""

from datetime import date, timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from servicecharter.accounts.tokens import token_create
from servicecharter.core.models import AuditEntry, Event
from servicecharter.interactions.models import Deviation
from servicecharter.quality import reviews
from servicecharter.quality.choices import FindingSeverity, RectificationState, ReviewState
from servicecharter.surveys.models import DailyRollup
from tests.quality.conftest import IDENTITY_MISSED, T0, make_interaction

JUNE = (date(2025, 6, 1), date(2025, 6, 30))
NOW = T0 + timedelta(days=40)  # mid-July: the June facts are all in


def rollup(department, day, *, answered, satisfied):
    """A day's survey counts: ``answered`` CSAT answers of which ``satisfied`` were 4–5."""
    return DailyRollup.objects.create(
        day=day,
        department=department,
        channel="phone",
        invited=answered,
        answered=answered,
        csat_n=answered,
        csat_sum=4 * satisfied + 2 * (answered - satisfied),
        csat_satisfied=satisfied,
    )


@pytest.fixture
def june_facts(tree, scored, bj_staff, sh_staff):
    """Beijing in June: three evaluations (100, 100 and an auto-fail on the identity check),
    four interactions with two deviations (one a missed identity check), and ten survey
    answers of which six satisfied. Shanghai's and July's facts must not count."""
    scored(bj_staff)
    scored(bj_staff)
    scored(bj_staff, IDENTITY_MISSED)
    extra = make_interaction(bj_staff, 500, deviation_count=2)
    for kind, step in (("missed_step", "verify_identity"), ("step_late", "greeting")):
        Deviation.objects.create(
            interaction=extra,
            kind=kind,
            step_code=step,
            staff_id_at=bj_staff.pk,
            department_id_at=bj_staff.department_id,
            at=extra.started_at,
        )
    rollup(tree["bj_team"], date(2025, 6, 10), answered=10, satisfied=6)
    # Not counted: another branch, and another month.
    scored(sh_staff, IDENTITY_MISSED)
    make_interaction(sh_staff, 501, deviation_count=5)
    rollup(tree["sh_team"], date(2025, 6, 10), answered=50, satisfied=0)
    make_interaction(bj_staff, 502, started_at=T0 + timedelta(days=35), deviation_count=9)
    rollup(tree["bj_team"], date(2025, 7, 3), answered=40, satisfied=0)
    return tree


@pytest.fixture
def review(june_facts, auditor):
    return reviews.review_plan(
        actor=auditor,
        department=june_facts["bj"],
        period_start=JUNE[0],
        period_end=JUNE[1],
        threshold=80,
        reviewer=auditor,
    )


@pytest.fixture
def computed(review, auditor):
    with time_machine.travel(NOW, tick=False):
        return reviews.review_compute(actor=auditor, review=review)


# Planning -----------------------------------------------------------------------------------------


def test_planning_needs_a_reviewer_who_manages_quality_for_the_department(
    tree, auditor, sh_auditor, bj_supervisor
):
    with pytest.raises(ValidationError) as refused:
        reviews.review_plan(
            actor=auditor,
            department=tree["bj"],
            period_start=JUNE[1],
            period_end=JUNE[0],
            threshold=120,
            reviewer=sh_auditor,
        )

    assert set(refused.value.message_dict) == {"period_end", "threshold", "reviewer"}
    with pytest.raises(PermissionDenied):
        reviews.review_plan(
            actor=bj_supervisor,
            department=tree["bj"],
            period_start=JUNE[0],
            period_end=JUNE[1],
            threshold=80,
            reviewer=auditor,
        )
    assert not AuditEntry.objects.filter(action="review.plan").exists()


def test_planning_is_audited(review):
    assert review.state == ReviewState.PLANNED
    assert AuditEntry.objects.filter(action="review.plan", object_id=str(review.pk)).exists()


# Computing ----------------------------------------------------------------------------------------


def test_compute_reads_the_periods_facts_of_the_department_subtree_only(computed):
    figures = computed.figures

    assert figures["qa"]["n"] == 3
    assert figures["qa"]["mean"]["estimate"] == pytest.approx(200 / 3, abs=0.01)
    assert figures["qa"]["pass_rate"]["estimate"] == pytest.approx(200 / 3, abs=0.01)
    assert figures["qa"]["mean"]["low"] is not None  # with its interval
    assert figures["qa"]["auto_fails"] == 1
    assert figures["survey"]["answered"] == 10
    assert figures["survey"]["csat"]["estimate"] == pytest.approx(60)
    assert figures["standards"]["interactions"] == 4
    assert figures["standards"]["deviations"] == 2
    assert figures["standards"]["per_100"] == 50


def test_the_score_is_the_weighted_mean_of_qa_csat_and_100_minus_the_deviation_rate(computed):
    # (50 × 66.67 + 30 × 60 + 20 × (100 − 50)) / 100
    assert float(computed.score) == pytest.approx(61.33, abs=0.01)
    assert computed.state == ReviewState.IN_PROGRESS
    assert computed.figures["weights"] == {"qa": 50.0, "csat": 30.0, "standards": 20.0}


def test_a_component_without_data_drops_out_and_the_weights_renormalise():
    components = {"qa": 90.0, "csat": None, "standards": 70.0}

    score = reviews.review_score(components, {"qa": 50, "csat": 30, "standards": 20})

    assert score == pytest.approx((50 * 90 + 20 * 70) / 70, abs=0.01)
    assert reviews.review_score({"qa": None, "csat": None, "standards": None}, {"qa": 1}) is None


def test_compute_proposes_findings_with_their_severity(computed, bj_staff):
    findings = {(f.source, f.severity): f for f in computed.findings.all()}
    auto_fail = [f for f in computed.findings.all() if f.staff.exists()]

    assert (("sample", FindingSeverity.SERIOUS)) in findings  # pass rate under 80%
    assert [list(f.staff.all()) for f in auto_fail] == [[bj_staff]]
    assert "verify_identity" in auto_fail[0].text
    assert "CSAT" in findings[("survey", FindingSeverity.MODERATE)].text
    assert "verify_identity" in findings[("standards", FindingSeverity.MODERATE)].text
    assert computed.findings.filter(severity=FindingSeverity.MINOR).exists()  # 3 < 8 evaluations


def test_computing_again_replaces_proposals_but_keeps_those_with_rectifications_and_manual_ones(
    computed, auditor, second_auditor
):
    manual = reviews.finding_add(
        actor=auditor, review=computed, severity=FindingSeverity.MINOR, text="Queue board broken"
    )
    serious = computed.findings.filter(severity=FindingSeverity.SERIOUS).first()
    with time_machine.travel(NOW, tick=False):
        reviews.rectification_add(
            actor=auditor,
            finding=serious,
            action="Retrain",
            owner=second_auditor,
            due_on=NOW.date() + timedelta(days=14),
        )
        count = computed.findings.count()
        again = reviews.review_compute(actor=auditor, review=computed)

    assert again.findings.count() == count
    assert again.findings.filter(pk__in=[manual.pk, serious.pk]).count() == 2


def test_compute_takes_a_fixed_number_of_queries(computed, auditor, scored, bj_staff):
    def queries() -> int:
        with time_machine.travel(NOW, tick=False), CaptureQueriesContext(connection) as seen:
            reviews.review_compute(actor=auditor, review=computed)
        return len(seen)

    first = queries()
    for _ in range(5):
        scored(bj_staff)
    assert queries() == first


# Concluding ---------------------------------------------------------------------------------------


def test_a_failed_review_emits_one_review_failed_naming_the_department_and_staff(
    computed, auditor, bj_staff
):
    concluded = reviews.review_conclude(actor=auditor, review=computed)
    with pytest.raises(reviews.ReviewRefused):
        reviews.review_conclude(actor=auditor, review=concluded)

    events = Event.objects.filter(name="review.failed")
    assert concluded.state == ReviewState.FAILED
    assert events.count() == 1
    payload = events.get().payload
    assert payload["department_id"] == computed.department_id
    assert payload["department_code"] == "BJ"
    assert payload["staff_ids"] == [bj_staff.pk]
    assert payload["score"] == "61.33" and payload["threshold"] == 80
    assert AuditEntry.objects.filter(action="review.conclude").count() == 1


def test_a_review_at_its_threshold_passes_silently(computed, auditor):
    computed.threshold = 60
    computed.save(update_fields=["threshold"])

    concluded = reviews.review_conclude(actor=auditor, review=computed)

    assert concluded.state == ReviewState.PASSED
    assert not Event.objects.filter(name="review.failed").exists()


def test_a_review_is_not_concluded_before_its_figures_are_computed(review, auditor):
    with pytest.raises(reviews.ReviewRefused):
        reviews.review_conclude(actor=auditor, review=review)


def test_a_concluded_review_takes_no_new_finding_nor_recompute(computed, auditor):
    reviews.review_conclude(actor=auditor, review=computed)

    with pytest.raises(reviews.ReviewRefused):
        reviews.finding_add(actor=auditor, review=computed, severity="minor", text="Late")
    with pytest.raises(reviews.ReviewRefused):
        reviews.review_compute(actor=auditor, review=computed)


def test_a_finding_by_hand_names_only_staff_of_the_department(computed, auditor, sh_staff):
    with pytest.raises(ValidationError) as refused:
        reviews.finding_add(
            actor=auditor, review=computed, severity="serious", text="Rude", staff=[sh_staff]
        )

    assert "staff" in refused.value.message_dict


# Rectification ------------------------------------------------------------------------------------


@pytest.fixture
def rectification(computed, auditor, second_auditor):
    finding = computed.findings.filter(severity=FindingSeverity.SERIOUS).first()
    with time_machine.travel(NOW, tick=False):
        return reviews.rectification_add(
            actor=auditor,
            finding=finding,
            action="Retrain the team on identity checks",
            owner=second_auditor,
            due_on=NOW.date() + timedelta(days=14),
        )


def test_a_rectification_needs_an_action_and_a_due_date_not_in_the_past(
    computed, auditor, second_auditor
):
    finding = computed.findings.first()
    with time_machine.travel(NOW, tick=False), pytest.raises(ValidationError) as refused:
        reviews.rectification_add(
            actor=auditor,
            finding=finding,
            action=" ",
            owner=second_auditor,
            due_on=NOW.date() - timedelta(days=1),
        )

    assert set(refused.value.message_dict) == {"action", "due_on"}


def test_the_owner_marks_it_done_and_someone_else_verifies_it(
    rectification, auditor, second_auditor, bj_supervisor
):
    with pytest.raises(PermissionDenied):
        reviews.rectification_done(actor=bj_supervisor, rectification=rectification, note="x")
    done = reviews.rectification_done(
        actor=second_auditor, rectification=rectification, note="Two sessions held"
    )
    with pytest.raises(reviews.ReviewRefused):
        reviews.rectification_verify(actor=second_auditor, rectification=done, accepted=True)

    verified = reviews.rectification_verify(actor=auditor, rectification=done, accepted=True)

    assert verified.state == RectificationState.VERIFIED
    assert verified.verified_by == auditor
    actions = AuditEntry.objects.filter(object_id=str(rectification.pk)).values_list(
        "action", flat=True
    )
    assert set(actions) >= {"rectification.add", "rectification.done", "rectification.verify"}


def test_work_not_accepted_goes_back_to_the_owner_with_the_reason(
    rectification, auditor, second_auditor
):
    done = reviews.rectification_done(actor=second_auditor, rectification=rectification, note="ok")
    with pytest.raises(ValidationError):
        reviews.rectification_verify(actor=auditor, rectification=done, accepted=False)

    rejected = reviews.rectification_verify(
        actor=auditor, rectification=done, accepted=False, note="No attendance list"
    )
    again = reviews.rectification_done(
        actor=second_auditor, rectification=rejected, note="List attached"
    )

    assert rejected.state == RectificationState.REJECTED
    assert rejected.verification_note == "No attendance list"
    assert again.state == RectificationState.DONE


def test_an_open_rectification_past_its_due_date_is_overdue(rectification, auditor, sh_supervisor):
    later = NOW + timedelta(days=15)
    with time_machine.travel(later, tick=False):
        overdue = list(reviews.overdue_rectifications(user=auditor))
        hidden = list(reviews.overdue_rectifications(user=sh_supervisor))
        flagged = reviews.is_overdue(rectification)

    assert overdue == [rectification] and flagged
    assert hidden == []


# Scope: pages and API -----------------------------------------------------------------------------


def bearer(user) -> dict:
    issued = token_create(
        actor=user, owner=user, name="t", scopes=["quality:read"], lifetime_days=30
    )
    return {"Authorization": f"Bearer {issued.secret}"}


def test_a_shanghai_supervisor_gets_404_on_a_beijing_review_by_page_and_api(
    client, computed, sh_supervisor, bj_supervisor
):
    page = reverse("quality:review_detail", args=[computed.pk])
    api = f"/api/quality/reviews/{computed.pk}"

    client.force_login(sh_supervisor)
    assert client.get(page).status_code == 404
    assert client.get(api, headers=bearer(sh_supervisor)).status_code == 404
    listed = client.get("/api/quality/reviews", headers=bearer(sh_supervisor)).json()
    assert listed["items"] == []

    client.force_login(bj_supervisor)
    assert client.get(page).status_code == 200
    got = client.get(api, headers=bearer(bj_supervisor))
    assert got.status_code == 200 and got.json()["score"] == "61.33"


def test_supervisors_read_reviews_but_only_quality_managers_change_them(
    client, computed, bj_supervisor
):
    client.force_login(bj_supervisor)

    response = client.post(reverse("quality:review_conclude", args=[computed.pk]))

    assert response.status_code == 403
    computed.refresh_from_db()
    assert computed.state == ReviewState.IN_PROGRESS


def test_the_review_pages_show_figures_findings_and_the_managers_actions(client, computed, auditor):
    client.force_login(auditor)

    listed = client.get(reverse("quality:review_list"))
    page = client.get(reverse("quality:review_detail", args=[computed.pk]))

    assert listed.status_code == 200 and "Beijing Branch" in listed.text
    assert page.status_code == 200
    assert "61.33%" in page.text and "QA pass rate" in page.text
    assert "verify_identity" in page.text and "李娜" in page.text
    assert reverse("quality:review_conclude", args=[computed.pk]) in page.text


def test_the_review_list_takes_a_fixed_number_of_queries(client, computed, auditor, tree):
    client.force_login(auditor)

    def queries() -> int:
        with CaptureQueriesContext(connection) as seen:
            assert client.get(reverse("quality:review_list")).status_code == 200
        return len(seen)

    first = queries()
    for _ in range(3):
        reviews.review_plan(
            actor=auditor,
            department=tree["sh"],
            period_start=JUNE[0],
            period_end=JUNE[1],
            threshold=80,
            reviewer=auditor,
        )
    assert queries() == first


def test_the_plan_form_shows_a_bad_period_beside_its_field_and_saves_nothing(client, tree, auditor):
    client.force_login(auditor)

    response = client.post(
        reverse("quality:review_create"),
        {
            "department": tree["bj"].pk,
            "period_start": "2025-06-30",
            "period_end": "2025-06-01",
            "threshold": 80,
            "reviewer": auditor.pk,
        },
    )

    assert response.status_code == 200
    assert "The period cannot end before it starts." in response.text
    assert not reviews.QualityReview.objects.exists()


def test_a_review_concluded_by_page_fails_and_the_owner_works_the_action_from_my_rectifications(
    client, rectification, auditor, second_auditor
):
    client.force_login(auditor)
    client.post(reverse("quality:review_conclude", args=[rectification.finding.review_id]))
    client.force_login(second_auditor)
    mine = client.get(reverse("quality:my_rectifications"))
    client.post(
        reverse("quality:rectification_done", args=[rectification.pk]),
        {"note": "Trained", "next": "mine"},
    )
    own_verify = client.post(
        reverse("quality:rectification_verify", args=[rectification.pk]), {"accepted": "1"}
    )

    rectification.refresh_from_db()
    assert "Retrain the team on identity checks" in mine.text
    assert rectification.state == RectificationState.DONE  # the owner's verify was refused
    assert own_verify.status_code == 302
    assert Event.objects.filter(name="review.failed").count() == 1


def test_the_api_walks_the_reviews_in_scope_by_cursor(client, computed, auditor, tree):
    shanghai = reviews.review_plan(
        actor=auditor,
        department=tree["sh"],
        period_start=JUNE[0],
        period_end=JUNE[1],
        threshold=80,
        reviewer=auditor,
    )
    headers = bearer(auditor)

    first = client.get("/api/quality/reviews?limit=1", headers=headers).json()
    second = client.get(first["next"], headers=headers).json()
    detail = client.get(f"/api/quality/reviews/{computed.pk}", headers=headers).json()

    assert len(first["items"]) == len(second["items"]) == 1
    assert second["cursor"] is None
    assert [first["items"][0]["id"], second["items"][0]["id"]] == [shanghai.pk, computed.pk]
    assert detail["figures"]["qa"]["n"] == 3
    assert any(finding["staff_ids"] for finding in detail["findings"])
