"""Department pages: the tree and list of the caller's scope, detail, create, edit and move."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from servicecharter.accounts.choices import Role
from servicecharter.core.models import AuditEntry
from servicecharter.org.choices import DepartmentKind
from servicecharter.org.models import Department
from servicecharter.org.services import department_create
from tests.conftest import make_user


def _sign_in(client, user) -> None:
    """Sign in as ``user``; roles that need a second factor count as enrolled."""
    if user.totp_confirmed_at is None:
        user.totp_confirmed_at = timezone.now()
        user.save(update_fields=["totp_confirmed_at"])
    client.force_login(user)


@pytest.fixture
def bj_hr(tree):
    return make_user("bj.hr", Role.HR, tree["bj"])


def _codes(response) -> set[str]:
    return {d.code for d in response.context["page"]}


def test_the_tree_shows_only_the_supervisors_branch(client, tree, bj_supervisor):
    _sign_in(client, bj_supervisor)
    response = client.get(reverse("org:department_tree"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Beijing Team 1" in html
    assert "Shanghai" not in html
    assert [node["department"].code for node in response.context["roots"]] == ["BJ"]
    assert [c["department"].code for c in response.context["roots"][0]["children"]] == ["BJ-T1"]


def test_the_list_shows_only_the_scope(client, tree, bj_supervisor):
    _sign_in(client, bj_supervisor)
    response = client.get(reverse("org:department_list"))
    assert _codes(response) == {"BJ", "BJ-T1"}


def test_another_branchs_department_is_not_found_by_guessing_its_id(client, tree, bj_supervisor):
    _sign_in(client, bj_supervisor)
    assert client.get(reverse("org:department_detail", args=[tree["sh"].pk])).status_code == 404
    assert client.get(reverse("org:department_detail", args=[tree["bj"].pk])).status_code == 200
    assert client.get(reverse("org:department_detail", args=[999999])).status_code == 404


def test_someone_without_any_role_is_refused(client, stranger):
    _sign_in(client, stranger)
    assert client.get(reverse("org:department_list")).status_code == 403
    assert client.get(reverse("org:department_tree")).status_code == 403


def test_anonymous_visitors_are_sent_to_sign_in(client, tree):
    response = client.get(reverse("org:department_list"))
    assert response.status_code == 302
    assert reverse("accounts:login") in response["Location"]


def test_a_supervisor_cannot_create_or_edit_departments(client, tree, bj_supervisor):
    _sign_in(client, bj_supervisor)
    assert client.get(reverse("org:department_create")).status_code == 403
    response = client.post(
        reverse("org:department_edit", args=[tree["bj_team"].pk]), {"code": "HACK"}
    )
    assert response.status_code == 403
    assert Department.objects.filter(code="HACK").count() == 0


def test_hr_creates_a_team_under_their_branch(client, tree, bj_hr):
    _sign_in(client, bj_hr)
    response = client.post(
        reverse("org:department_create"),
        {
            "code": "BJ-T2",
            "name_en": "Beijing Team 2",
            "name_zh": "北京二组",
            "kind": DepartmentKind.TEAM,
            "parent": tree["bj"].pk,
            "calendar_code": "CN",
        },
    )
    team = Department.objects.get(code="BJ-T2")
    assert response.status_code == 302
    assert team.parent == tree["bj"]
    assert team.path.startswith(tree["bj"].path)
    assert AuditEntry.objects.filter(action="department.create", object_id=str(team.pk)).exists()


def test_hr_cannot_create_under_another_branch(client, tree, bj_hr):
    _sign_in(client, bj_hr)
    response = client.post(
        reverse("org:department_create"),
        {
            "code": "SH-T9",
            "name_en": "Sneaky",
            "name_zh": "偷偷",
            "kind": DepartmentKind.TEAM,
            "parent": tree["sh"].pk,
            "calendar_code": "CN",
        },
    )
    assert response.status_code == 200
    assert "parent" in response.context["form"].errors
    assert not Department.objects.filter(code="SH-T9").exists()


def test_a_branch_hr_cannot_create_a_root_department(client, tree, bj_hr):
    _sign_in(client, bj_hr)
    response = client.post(
        reverse("org:department_create"),
        {
            "code": "ROOT2",
            "name_en": "Another root",
            "name_zh": "另一个总行",
            "kind": DepartmentKind.HEAD_OFFICE,
            "parent": "",
            "calendar_code": "CN",
        },
    )
    assert response.status_code == 200
    assert response.context["form"].errors["parent"]
    assert not Department.objects.filter(code="ROOT2").exists()


def test_a_duplicate_code_is_shown_beside_the_field_and_nothing_changes(client, tree, admin_user):
    _sign_in(client, admin_user)
    before = Department.objects.count()
    response = client.post(
        reverse("org:department_create"),
        {
            "code": "BJ",
            "name_en": "Copy",
            "name_zh": "复制",
            "kind": DepartmentKind.BRANCH,
            "parent": tree["head"].pk,
            "calendar_code": "CN",
        },
    )
    assert response.status_code == 200
    assert response.context["form"].errors["code"]
    assert 'id="id_code_error"' in response.content.decode()
    assert Department.objects.count() == before


def _edit_data(department, **overrides):
    data = {
        "code": department.code,
        "name_en": department.name_en,
        "name_zh": department.name_zh,
        "kind": department.kind,
        "parent": department.parent_id or "",
        "calendar_code": department.calendar_code,
        "is_active": "on" if department.is_active else "",
    }
    data.update(overrides)
    return data


def test_moving_a_department_under_its_own_team_is_refused_beside_the_field(
    client, tree, admin_user
):
    _sign_in(client, admin_user)
    bj = tree["bj"]
    response = client.post(
        reverse("org:department_edit", args=[bj.pk]),
        _edit_data(bj, parent=tree["bj_team"].pk, name_en="Renamed"),
    )
    assert response.status_code == 200
    errors = response.context["form"].errors["parent"]
    assert "cannot be moved under itself" in errors[0]
    assert 'id="id_parent_error"' in response.content.decode()
    bj.refresh_from_db()
    assert bj.parent == tree["head"]
    assert bj.name_en == "Beijing Branch"


def test_moving_a_team_to_another_branch_moves_its_subtree(client, tree, admin_user):
    _sign_in(client, admin_user)
    desk = department_create(
        code="BJ-T1-D",
        name_en="Desk",
        name_zh="柜台",
        kind=DepartmentKind.TEAM,
        parent=tree["bj_team"],
    )
    team = tree["bj_team"]
    response = client.post(
        reverse("org:department_edit", args=[team.pk]), _edit_data(team, parent=tree["sh"].pk)
    )
    assert response.status_code == 302
    desk.refresh_from_db()
    assert desk.path.startswith(tree["sh"].path)


def test_hr_may_rename_their_own_branch_without_moving_it(client, tree, bj_hr):
    _sign_in(client, bj_hr)
    bj = tree["bj"]
    response = client.post(
        reverse("org:department_edit", args=[bj.pk]), _edit_data(bj, name_en="Beijing Main")
    )
    assert response.status_code == 302
    bj.refresh_from_db()
    assert bj.name_en == "Beijing Main"
    assert bj.parent == tree["head"]


def test_hr_cannot_edit_another_branch(client, tree, bj_hr):
    _sign_in(client, bj_hr)
    response = client.post(
        reverse("org:department_edit", args=[tree["sh"].pk]),
        _edit_data(tree["sh"], name_en="Taken"),
    )
    assert response.status_code == 404
    tree["sh"].refresh_from_db()
    assert tree["sh"].name_en == "Shanghai Branch"


def test_htmx_filtering_returns_only_the_results(client, tree, admin_user):
    _sign_in(client, admin_user)
    response = client.get(
        reverse("org:department_list"), {"q": "Shanghai"}, headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert "<html" not in html
    assert "SH-T1" in html
    assert "BJ-T1" not in html


def _add_teams(parent, count):
    for i in range(count):
        department_create(
            code=f"{parent.code}-X{i}",
            name_en=f"Extra {i}",
            name_zh=f"附加{i}",
            kind=DepartmentKind.TEAM,
            parent=parent,
        )


def test_the_list_runs_a_fixed_number_of_queries(
    client, tree, admin_user, django_assert_num_queries
):
    _sign_in(client, admin_user)
    url = reverse("org:department_list")
    _add_teams(tree["bj"], 5)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    _add_teams(tree["sh"], 45)
    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get(url)
    assert len(response.context["page"]) == 25


def test_the_tree_is_built_from_a_fixed_number_of_queries(
    client, tree, admin_user, django_assert_num_queries
):
    _sign_in(client, admin_user)
    url = reverse("org:department_tree")
    _add_teams(tree["bj"], 5)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    _add_teams(tree["sh_team"], 45)
    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get(url)
    assert "SH-T1-X44" in response.content.decode()


def test_a_history_restore_gets_the_whole_page(client, tree, admin_user):
    _sign_in(client, admin_user)
    response = client.get(
        reverse("org:department_list"),
        headers={"HX-Request": "true", "HX-History-Restore-Request": "true"},
    )
    assert "<html" in response.content.decode()
