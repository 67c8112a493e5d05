"""Rulebook pages: every employee reads the version in force and acknowledges it; managers
see the rate; only institution-wide rulebook managers edit, approve, publish, simulate and set
the lawful limits."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from servicecharter.discipline.choices import Measure, RulebookState, ViolationState
from servicecharter.discipline.models import (
    LawfulLimits,
    Rulebook,
    RulebookAcknowledgement,
    ViolationType,
)
from tests.discipline.conftest import T0, make_violation

IN_FORCE = reverse("discipline:rulebook_in_force")


@pytest.fixture
def cn_rulebook(db):
    return Rulebook.objects.get(code="CN-DEFAULT")


@time_machine.travel("2026-03-01 09:00 +0800", tick=False)
def test_employee_reads_and_acknowledges_the_rulebook(client, bj_employee, cn_rulebook):
    v1 = cn_rulebook.versions.get(number=1)
    client.force_login(bj_employee)
    page = client.get(IN_FORCE).content.decode()
    assert "MISCONDUCT_SEVERE" in page and "I have read this rulebook" in page
    client.post(reverse("discipline:rulebook_acknowledge", args=[v1.pk]))
    assert RulebookAcknowledgement.objects.filter(version=v1, user=bj_employee).exists()
    page = client.get(IN_FORCE).content.decode()
    assert "You acknowledged this version." in page
    # Employees do not manage it.
    assert client.get(reverse("discipline:rulebook_versions")).status_code == 403


@time_machine.travel("2026-03-01 09:00 +0800", tick=False)
def test_supervisor_sees_the_acknowledgement_rate_of_the_scope(
    client, bj_supervisor, bj_employee, sh_employee, cn_rulebook
):
    v1 = cn_rulebook.versions.get(number=1)
    client.force_login(bj_employee)
    client.post(reverse("discipline:rulebook_acknowledge", args=[v1.pk]))
    client.force_login(bj_supervisor)
    page = client.get(IN_FORCE).content.decode()
    assert "Acknowledged by 1 of 1 employees in your scope." in page


def test_branch_level_manager_and_supervisor_cannot_manage(
    client, sh_compliance, bj_supervisor, cn_rulebook
):
    for user in (sh_compliance, bj_supervisor):
        client.force_login(user)
        assert client.get(reverse("discipline:rulebook_versions")).status_code == 403
        assert (
            client.post(reverse("discipline:rulebook_draft", args=[cn_rulebook.pk])).status_code
            == 403
        )
        assert client.get(reverse("discipline:limits_list")).status_code == 403
        assert client.get(reverse("discipline:rulebook_simulate")).status_code == 403


@time_machine.travel("2026-05-01 09:00 +0800", tick=False)
def test_draft_edit_approve_publish_through_the_pages(
    client, compliance_officer, second_compliance, cn_rulebook
):
    client.force_login(compliance_officer)
    response = client.post(reverse("discipline:rulebook_draft", args=[cn_rulebook.pk]))
    draft = cn_rulebook.versions.get(number=2)
    assert response.url == reverse("discipline:rulebook_version", args=[draft.pk])
    url = reverse("discipline:rule_add", args=[draft.pk])
    bad = client.post(
        url,
        {
            "order": 1,
            "code": "PAY",
            "measure": "pay_reduction",
            "min_priors": 0,
            "in_force_months": 12,
        },
    )
    assert bad.status_code == 400 and "needs a share of the wage" in bad.content.decode()
    client.post(
        url,
        {
            "order": 1,
            "code": "PAY",
            "measure": "pay_reduction",
            "min_priors": 5,
            "wage_percent": "4",
            "in_force_months": 12,
        },
    )
    assert draft.rules.filter(code="PAY", wage_percent=Decimal(4)).exists()
    rule = draft.rules.get(code="PAY")
    client.post(
        reverse("discipline:rule_edit", args=[rule.pk]),
        {
            "order": 2,
            "code": "PAY",
            "measure": "pay_reduction",
            "min_priors": 5,
            "wage_percent": "6",
            "in_force_months": 12,
        },
    )
    rule.refresh_from_db()
    assert rule.wage_percent == Decimal(6) and rule.order == 2
    client.post(
        reverse("discipline:rulebook_version_settings", args=[draft.pk]),
        {"effective_from": "2026-07-01", "lookback_days": 365, "appeal_days": 15},
    )
    page = client.get(reverse("discipline:rulebook_version", args=[draft.pk])).content.decode()
    assert reverse("discipline:rulebook_approve", args=[draft.pk]) not in page  # own draft
    client.force_login(second_compliance)
    client.post(
        reverse("discipline:rulebook_approve", args=[draft.pk]),
        {"note": "Staff congress resolution 4, 2026-04-29"},
    )
    client.post(reverse("discipline:rulebook_publish", args=[draft.pk]))
    draft.refresh_from_db()
    assert draft.state == RulebookState.PUBLISHED
    # Published: the editor is gone and edits are refused.
    response = client.post(
        reverse("discipline:rule_edit", args=[rule.pk]),
        {
            "order": 3,
            "code": "PAY",
            "measure": "verbal_warning",
            "min_priors": 0,
            "in_force_months": 6,
        },
    )
    assert response.status_code == 400
    rule.refresh_from_db()
    assert rule.measure == Measure.PAY_REDUCTION


def test_simulator_page(client, compliance_officer, cn_rulebook, bj_staff):
    from servicecharter.discipline import rulebook_services as rs

    late = ViolationType.objects.get(code="late_handling")
    make_violation(bj_staff, late, at=T0 - timedelta(days=5), state=ViolationState.CONFIRMED)
    changed = make_violation(bj_staff, late, at=T0)
    v1 = cn_rulebook.versions.get(number=1)
    draft = rs.rulebook_version_draft(actor=compliance_officer, rulebook=cn_rulebook)
    rs.rule_save(
        actor=compliance_officer,
        version=draft,
        rule=draft.rules.get(code="SECOND"),
        measure=Measure.VERBAL_WARNING,
    )
    client.force_login(compliance_officer)
    page = client.get(
        reverse("discipline:rulebook_simulate"),
        {"before": v1.pk, "after": draft.pk, "start": "2026-01-01", "end": "2026-12-31"},
    ).content.decode()
    assert f"sim-{changed.pk}" in page
    assert "2 violations replayed" in page
    assert "Rule SECOND applies: Written warning." in page
    assert "Rule SECOND applies: Verbal warning." in page
    bad = client.get(
        reverse("discipline:rulebook_simulate"),
        {"before": v1.pk, "after": draft.pk, "start": "2026-12-31", "end": "2026-01-01"},
    )
    assert "The period ends before it starts." in bad.content.decode()


def test_limits_editor(client, compliance_officer):
    client.force_login(compliance_officer)
    page = client.get(reverse("discipline:limits_list")).content.decode()
    assert "limits-CN" in page and "2,690.00" in page
    url = reverse("discipline:limits_edit", args=["CN"])
    response = client.post(
        url,
        {
            "fine_policy": "pay_reduction",
            "cap_percent": "150",
            "minimum_wage": "2690",
            "currency": "CNY",
            "note": "x",
        },
    )
    assert response.status_code == 400
    client.post(
        url,
        {
            "fine_policy": "pay_reduction",
            "cap_percent": "20",
            "minimum_wage": "2720",
            "currency": "CNY",
            "note": "Beijing 2026, checked",
        },
    )
    assert LawfulLimits.objects.get(jurisdiction="CN").minimum_wage == Decimal("2720")


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_every_page_renders_for_a_manager_in_both_languages(
    client, compliance_officer, cn_rulebook, bj_staff, language
):
    from django.utils import translation

    v1 = cn_rulebook.versions.get(number=1)
    late = ViolationType.objects.get(code="late_handling")
    violation = make_violation(bj_staff, late)
    client.force_login(compliance_officer)
    urls = [
        reverse("discipline:rulebook_in_force"),
        reverse("discipline:rulebook_versions"),
        reverse("discipline:rulebook_version", args=[v1.pk]),
        reverse("discipline:rule_edit", args=[v1.rules.first().pk]),
        reverse("discipline:rulebook_simulate"),
        reverse("discipline:limits_list"),
        reverse("discipline:limits_edit", args=["CN"]),
        reverse("discipline:violation_queue"),
        reverse("discipline:violation_raise"),
        reverse("discipline:violation_detail", args=[violation.pk]),
        reverse("discipline:my_violations"),
    ]
    with translation.override(language):
        for url in urls:
            response = client.get(url, HTTP_ACCEPT_LANGUAGE=language)
            assert response.status_code == 200, url
