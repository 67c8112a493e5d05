"""Staff pages: scoped list with search, filters and pagination; detail; create; edit; wages
shown only to those who may see them."""

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from servicecharter.accounts.choices import Role
from servicecharter.core.models import AuditEntry
from servicecharter.org.choices import StaffStatus
from servicecharter.org.models import Staff
from servicecharter.org.services import staff_create
from tests.conftest import make_user


def _sign_in(client, user) -> None:
    """Sign in as ``user``; roles that need a second factor count as enrolled."""
    if user.totp_confirmed_at is None:
        user.totp_confirmed_at = timezone.now()
        user.save(update_fields=["totp_confirmed_at"])
    client.force_login(user)


def _staff(department, number, name="张三", **fields):
    fields.setdefault("base_wage", Decimal("12345.00"))
    fields.setdefault("hire_date", date(2020, 3, 1))
    return staff_create(employee_number=number, name=name, department=department, **fields)


@pytest.fixture
def people(tree):
    return {
        "bj": _staff(tree["bj_team"], "E001", "王芳", name_latin="Wang Fang", grade=3),
        "bj2": _staff(tree["bj"], "E002", "李雷", grade=5, status=StaffStatus.SUSPENDED),
        "sh": _staff(tree["sh_team"], "E100", "陈静", name_latin="Chen Jing"),
    }


@pytest.fixture
def bj_hr(tree):
    return make_user("bj.hr", Role.HR, tree["bj"])


def _numbers(response) -> set[str]:
    return {member.employee_number for member, _ in response.context["rows"]}


def test_a_supervisor_lists_only_their_branchs_staff(client, people, bj_supervisor):
    _sign_in(client, bj_supervisor)
    response = client.get(reverse("org:staff_list"))
    assert _numbers(response) == {"E001", "E002"}
    assert "陈静" not in response.content.decode()


def test_search_by_name_latin_name_and_employee_number(client, people, admin_user):
    _sign_in(client, admin_user)
    url = reverse("org:staff_list")
    assert _numbers(client.get(url, {"q": "王"})) == {"E001"}
    assert _numbers(client.get(url, {"q": "chen"})) == {"E100"}
    assert _numbers(client.get(url, {"q": "e002"})) == {"E002"}


def test_filters_by_department_subtree_status_and_grade(client, tree, people, admin_user):
    _sign_in(client, admin_user)
    url = reverse("org:staff_list")
    assert _numbers(client.get(url, {"department": tree["bj"].pk})) == {"E001", "E002"}
    assert _numbers(client.get(url, {"status": StaffStatus.SUSPENDED})) == {"E002"}
    assert _numbers(client.get(url, {"grade": 3})) == {"E001"}


def test_filtering_by_another_branch_shows_nothing_of_it(client, tree, people, bj_supervisor):
    _sign_in(client, bj_supervisor)
    response = client.get(reverse("org:staff_list"), {"department": tree["sh"].pk})
    assert response.status_code == 200
    assert "department" in response.context["form"].errors
    assert "E100" not in _numbers(response)


def test_another_branchs_staff_member_is_not_found(client, people, bj_supervisor):
    _sign_in(client, bj_supervisor)
    assert client.get(reverse("org:staff_detail", args=[people["sh"].pk])).status_code == 404
    assert client.get(reverse("org:staff_detail", args=[people["bj"].pk])).status_code == 200


def test_the_wage_is_hidden_from_a_supervisor_and_shown_to_hr(client, people, bj_supervisor, bj_hr):
    url = reverse("org:staff_detail", args=[people["bj"].pk])
    _sign_in(client, bj_supervisor)
    assert "12,345.00" not in client.get(url).content.decode()
    assert "12,345.00" not in client.get(reverse("org:staff_list")).content.decode()
    _sign_in(client, bj_hr)
    assert "CN¥12,345.00" in client.get(url).content.decode()
    assert "CN¥12,345.00" in client.get(reverse("org:staff_list")).content.decode()


def test_the_agent_cannot_create_or_edit_staff(client, people, bj_agent):
    _sign_in(client, bj_agent)
    assert client.get(reverse("org:staff_create")).status_code == 403
    response = client.post(reverse("org:staff_edit", args=[people["bj"].pk]), {"name": "X"})
    assert response.status_code == 403
    people["bj"].refresh_from_db()
    assert people["bj"].name == "王芳"


def _form_data(tree, **overrides):
    data = {
        "employee_number": "E200",
        "name": "赵敏",
        "name_latin": "Zhao Min",
        "email": "",
        "department": tree["bj_team"].pk,
        "position": "Teller",
        "grade": 2,
        "base_wage": "8800.50",
        "currency": "CNY",
        "hire_date": "2024-05-06",
        "status": StaffStatus.ACTIVE,
    }
    data.update(overrides)
    return data


def test_hr_creates_a_staff_member_in_their_branch(client, tree, bj_hr):
    _sign_in(client, bj_hr)
    response = client.post(reverse("org:staff_create"), _form_data(tree))
    assert response.status_code == 302
    member = Staff.objects.get(employee_number="E200")
    assert member.base_wage == Decimal("8800.50")
    assert AuditEntry.objects.filter(action="staff.create", object_id=str(member.pk)).exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("base_wage", "a lot"),
        ("base_wage", "-5"),
        ("hire_date", "31/31/2024"),
        ("grade", "0"),
        ("currency", "yuan"),
        ("employee_number", "E001"),
    ],
)
def test_bad_input_is_shown_beside_the_field_and_nothing_is_created(
    client, tree, people, bj_hr, field, value
):
    _sign_in(client, bj_hr)
    before = Staff.objects.count()
    response = client.post(reverse("org:staff_create"), _form_data(tree, **{field: value}))
    assert response.status_code == 200
    assert response.context["form"].errors[field]
    assert f'id="id_{field}_error"' in response.content.decode()
    assert Staff.objects.count() == before


def test_hr_cannot_put_staff_into_another_branch(client, tree, people, bj_hr):
    _sign_in(client, bj_hr)
    response = client.post(
        reverse("org:staff_edit", args=[people["bj"].pk]),
        _form_data(tree, employee_number="E001", department=tree["sh"].pk),
    )
    assert response.status_code == 200
    assert response.context["form"].errors["department"]
    people["bj"].refresh_from_db()
    assert people["bj"].department == tree["bj_team"]


def test_hr_edits_a_staff_member(client, tree, people, bj_hr):
    _sign_in(client, bj_hr)
    response = client.post(
        reverse("org:staff_edit", args=[people["bj"].pk]),
        _form_data(tree, employee_number="E001", name="王芳芳", base_wage="13000"),
    )
    assert response.status_code == 302
    people["bj"].refresh_from_db()
    assert people["bj"].name == "王芳芳"
    assert people["bj"].base_wage == Decimal("13000")


def test_an_editor_without_wage_access_keeps_the_wage_unseen_and_unchanged(
    client, tree, people, admin_user
):
    _sign_in(client, admin_user)
    url = reverse("org:staff_edit", args=[people["bj"].pk])
    page = client.get(url)
    assert "base_wage" not in page.context["form"].fields
    assert "12345" not in page.content.decode()
    response = client.post(
        url, _form_data(tree, employee_number="E001", name="王芳", base_wage="1")
    )
    assert response.status_code == 302
    people["bj"].refresh_from_db()
    assert people["bj"].base_wage == Decimal("12345.00")


def test_hr_cannot_edit_another_branchs_staff(client, tree, people, bj_hr):
    _sign_in(client, bj_hr)
    response = client.post(
        reverse("org:staff_edit", args=[people["sh"].pk]),
        _form_data(tree, employee_number="E100", name="X"),
    )
    assert response.status_code == 404


def test_htmx_search_returns_the_results_partial(client, people, admin_user):
    _sign_in(client, admin_user)
    response = client.get(reverse("org:staff_list"), {"q": "E100"}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert "<html" not in html and "E100" in html and "E001" not in html


def test_pagination_splits_long_lists(client, tree, admin_user):
    for i in range(30):
        _staff(tree["bj_team"], f"P{i:03d}")
    _sign_in(client, admin_user)
    first = client.get(reverse("org:staff_list"))
    second = client.get(reverse("org:staff_list"), {"page": 2})
    assert len(first.context["rows"]) == 25
    assert len(second.context["rows"]) == 5


def test_the_list_runs_a_fixed_number_of_queries(
    client, tree, compliance_officer, django_assert_num_queries
):
    for i in range(5):
        _staff(tree["bj_team"], f"Q{i:03d}")
    _sign_in(client, compliance_officer)
    url = reverse("org:staff_list")
    with CaptureQueriesContext(connection) as few:
        assert client.get(url, {"status": StaffStatus.ACTIVE}).status_code == 200
    for i in range(5, 50):
        _staff(tree["sh_team"], f"Q{i:03d}")
    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get(url, {"status": StaffStatus.ACTIVE})
    assert len(response.context["rows"]) == 25


def test_pages_link_onwards_only_while_rows_remain_and_never_count_the_table(
    client, tree, admin_user
):
    for i in range(26):
        _staff(tree["bj_team"], f"N{i:03d}")
    _sign_in(client, admin_user)
    url = reverse("org:staff_list")
    with CaptureQueriesContext(connection) as queries:
        first = client.get(url, {"q": "N0"})
    assert not any("COUNT(" in q["sql"] and "org_staff" in q["sql"] for q in queries)
    assert first.context["page"].has_next() and "page=2" in first.content.decode()
    last = client.get(url, {"q": "N0", "page": 2})
    assert [m.employee_number for m, _show in last.context["rows"]] == ["N025"]
    assert not last.context["page"].has_next() and "page=3" not in last.content.decode()
    assert len(client.get(url, {"page": "not-a-number"}).context["rows"]) == 25
