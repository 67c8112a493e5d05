from decimal import Decimal

import pytest
from django.urls import reverse

from servicecharter.org.services import staff_create


@pytest.fixture
def staffed(tree):
    for number, department in (
        ("B1", tree["bj_team"]),
        ("B2", tree["bj"]),
        ("S1", tree["sh_team"]),
    ):
        staff_create(
            employee_number=number,
            name=number,
            department=department,
            base_wage=Decimal("8000"),
            hire_date="2024-01-01",
        )
    return tree


def test_home_requires_sign_in(client):
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert reverse("accounts:login") in response["Location"]


def test_a_branch_supervisor_sees_figures_of_their_branch_only(client, staffed, bj_supervisor):
    client.force_login(bj_supervisor)
    response = client.get(reverse("home"))
    figures = {str(label): value for label, value in response.context["figures"]}
    assert figures["Active staff"] == 2
    assert figures["Departments in your scope"] == 2
    assert "Audit entries" not in figures


def test_the_chart_counts_staff_per_branch_for_head_office(client, staffed, compliance_officer):
    client.force_login(compliance_officer)
    chart = client.get(reverse("home")).context["staff_chart"]
    assert dict(zip(chart["labels"], chart["values"], strict=True)) == {
        "Beijing Branch": 2,
        "Shanghai Branch": 1,
    }


def test_a_user_without_roles_sees_no_figures(client, stranger):
    client.force_login(stranger)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert response.context["figures"] == []
    assert b"You hold no role yet" in response.content
