"""Violation pages: the queue (scope, filters, pagination, a fixed number of queries), the
detail with evidence and the rulebook's reasoning, review forms, raising by hand, and the
employee's own list — and who is refused."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from servicecharter.discipline.choices import ViolationSource, ViolationState
from servicecharter.discipline.models import Violation, ViolationType
from tests.discipline.conftest import T0, make_violation

QUEUE = reverse("discipline:violation_queue")


@pytest.fixture
def late(db):
    return ViolationType.objects.get(code="late_handling")


@pytest.fixture
def bj_violation(bj_staff, late):
    violation = make_violation(
        bj_staff, late, source=ViolationSource.CASE_DEADLINE_BREACHED, summary="C-2026-1"
    )
    violation.evidence = [
        {"kind": "case", "id": 1, "label": "C-2026-1", "url": "/cases/1/"},
        {"kind": "note", "label": "bad", "url": "javascript:alert(1)"},
    ]
    violation.save()
    return violation


@pytest.fixture
def sh_violation(sh_staff, late):
    return make_violation(sh_staff, late, summary="C-2026-2")


def test_queue_shows_only_the_scope(client, bj_supervisor, bj_violation, sh_violation):
    client.force_login(bj_supervisor)
    page = client.get(QUEUE).content.decode()
    assert f"violation-row-{bj_violation.pk}" in page
    assert f"violation-row-{sh_violation.pk}" not in page


def test_queue_filters(client, compliance_officer, bj_violation, sh_violation, tree):
    client.force_login(compliance_officer)
    page = client.get(QUEUE, {"department": tree["sh"].pk}).content.decode()
    assert f"violation-row-{sh_violation.pk}" in page
    assert f"violation-row-{bj_violation.pk}" not in page
    page = client.get(QUEUE, {"source": "case.deadline_breached"}).content.decode()
    assert f"violation-row-{bj_violation.pk}" in page
    assert f"violation-row-{sh_violation.pk}" not in page
    page = client.get(QUEUE, {"state": "confirmed"}).content.decode()
    assert "violation-row-" not in page
    # HTMX asks for the rows only.
    rows = client.get(
        QUEUE, {"type": "late_handling"}, headers={"HX-Request": "true", "HX-Target": "results"}
    )
    assert b"<html" not in rows.content and f"violation-row-{bj_violation.pk}".encode() in (
        rows.content
    )


def test_queue_pages_and_costs_the_same_queries_for_many(
    client, compliance_officer, bj_staff, sh_staff, late, django_assert_max_num_queries
):
    for day in range(30):
        make_violation(bj_staff if day % 2 else sh_staff, late, at=T0 - timedelta(days=day))
    client.force_login(compliance_officer)
    with django_assert_max_num_queries(12):
        first = client.get(QUEUE).content.decode()
    assert first.count("violation-row-") == 25 and "page=2" in first
    second = client.get(QUEUE, {"page": 2}).content.decode()
    assert second.count("violation-row-") == 5


def test_agent_and_stranger_are_refused(client, bj_agent, stranger, bj_violation):
    for user in (bj_agent, stranger):
        client.force_login(user)
        assert client.get(QUEUE).status_code == 403
        assert client.get(reverse("discipline:violation_raise")).status_code == 403


def test_detail_out_of_scope_is_404(client, sh_supervisor, bj_violation):
    client.force_login(sh_supervisor)
    assert (
        client.get(reverse("discipline:violation_detail", args=[bj_violation.pk])).status_code
        == 404
    )


def test_detail_shows_evidence_recommendation_and_review_forms(
    client, compliance_officer, bj_violation
):
    client.force_login(compliance_officer)
    page = client.get(
        reverse("discipline:violation_detail", args=[bj_violation.pk])
    ).content.decode()
    assert 'href="/cases/1/"' in page
    assert "javascript:" not in page
    assert "Rule FIRST applies" in page  # the default CN rulebook, first minor breach
    assert reverse("discipline:violation_confirm", args=[bj_violation.pk]) in page


def test_supervisor_sees_but_cannot_review(client, bj_supervisor, bj_violation):
    client.force_login(bj_supervisor)
    page = client.get(
        reverse("discipline:violation_detail", args=[bj_violation.pk])
    ).content.decode()
    assert reverse("discipline:violation_confirm", args=[bj_violation.pk]) not in page
    response = client.post(reverse("discipline:violation_confirm", args=[bj_violation.pk]))
    assert response.status_code == 403
    bj_violation.refresh_from_db()
    assert bj_violation.state == ViolationState.OPEN


def test_confirm_dismiss_and_adjust_through_the_pages(
    client, compliance_officer, bj_violation, sh_violation
):
    client.force_login(compliance_officer)
    response = client.post(
        reverse("discipline:violation_dismiss", args=[sh_violation.pk]), {"note": ""}
    )
    assert response.status_code == 400 and "Say why the violation is dismissed" in (
        response.content.decode()
    )
    response = client.post(
        reverse("discipline:violation_adjust", args=[bj_violation.pk]),
        {"severity": "serious", "reason": ""},
    )
    assert response.status_code == 400
    bj_violation.refresh_from_db()
    assert bj_violation.severity == "minor"
    client.post(
        reverse("discipline:violation_adjust", args=[bj_violation.pk]),
        {"severity": "serious", "reason": "Vulnerable customer lost money"},
    )
    bj_violation.refresh_from_db()
    assert bj_violation.severity == "serious"
    response = client.post(
        reverse("discipline:violation_confirm", args=[bj_violation.pk]),
        {"note": "Checked the case"},
    )
    assert response.status_code == 302
    bj_violation.refresh_from_db()
    assert bj_violation.state == ViolationState.CONFIRMED


def test_raise_by_hand(client, bj_supervisor, bj_staff, sh_staff):
    rude = ViolationType.objects.get(code="rude_conduct")
    client.force_login(bj_supervisor)
    url = reverse("discipline:violation_raise")
    data = {
        "employee_number": "E20001",
        "vtype": rude.pk,
        "occurred_at": (timezone.localtime() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        "summary": "Shouted at a customer",
        "details": "",
        "evidence": "Call recording 12:03 | /interactions/5/",
    }
    response = client.post(url, data)
    assert response.status_code == 400  # Shanghai staff: not in the Beijing supervisor's scope
    assert not Violation.objects.exists()
    response = client.post(url, {**data, "employee_number": "E10001"})
    violation = Violation.objects.get()
    assert response.url == reverse("discipline:violation_detail", args=[violation.pk])
    assert violation.evidence == [
        {"kind": "note", "label": "Call recording 12:03", "url": "/interactions/5/"}
    ]
    assert violation.raised_by == bj_supervisor


def test_my_violations_only_my_own(client, bj_employee, bj_violation, sh_violation):
    client.force_login(bj_employee)
    page = client.get(reverse("discipline:my_violations")).content.decode()
    assert f"violation-{bj_violation.pk}" in page and "C-2026-1" in page
    assert "C-2026-2" not in page
    # The employee cannot open the reviewers' page for their own violation either.
    assert (
        client.get(reverse("discipline:violation_detail", args=[bj_violation.pk])).status_code
        == 403
    )
