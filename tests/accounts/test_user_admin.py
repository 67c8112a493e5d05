"""User administration, scoped: an administrator of a branch manages only that branch's people
and grants only inside it."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from servicecharter.accounts.choices import Role
from servicecharter.accounts.models import RoleGrant, User
from servicecharter.accounts.services import role_grant, user_create, user_deactivate
from servicecharter.core.models import AuditEntry
from servicecharter.org.services import staff_create
from tests.conftest import make_user


@pytest.fixture
def bj_admin(tree):
    return make_user("bj.admin", Role.ADMIN, tree["bj"])


def listed(client, **params) -> set[str]:
    response = client.get(reverse("accounts:user_list"), params)
    assert response.status_code == 200
    return {person.username for person in response.context["page"].object_list}


def make_staff(number, department):
    return staff_create(
        employee_number=number,
        name=f"Staff {number}",
        department=department,
        base_wage=Decimal("8000"),
        hire_date=date(2024, 3, 1),
    )


def test_a_branch_administrator_sees_only_their_branchs_users(
    client, bj_admin, bj_supervisor, bj_agent, sh_supervisor, admin_user
):
    client.force_login(bj_admin)
    assert listed(client) == {"bj.supervisor", "bj.agent"}


def test_the_head_office_administrator_sees_everyone_but_themselves(
    client, bj_admin, bj_supervisor, sh_supervisor, admin_user, stranger
):
    client.force_login(admin_user)
    assert listed(client) == {"bj.admin", "bj.supervisor", "sh.supervisor", "stranger"}


def test_search_narrows_the_list(client, admin_user, bj_supervisor, sh_supervisor):
    client.force_login(admin_user)
    assert listed(client, q="sh.") == {"sh.supervisor"}


def test_someone_who_also_works_above_the_branch_is_out_of_reach(client, tree, bj_admin):
    mixed = make_user("mixed", Role.SUPERVISOR, tree["bj"])
    RoleGrant.objects.create(user=mixed, role=Role.EXECUTIVE, department=tree["head"])
    client.force_login(bj_admin)
    assert "mixed" not in listed(client)
    assert client.get(reverse("accounts:user_detail", args=[mixed.pk])).status_code == 404
    response = client.post(reverse("accounts:user_set_password", args=[mixed.pk]))
    assert response.status_code == 404


def test_another_branchs_user_is_a_404_for_every_action(client, bj_admin, sh_supervisor):
    client.force_login(bj_admin)
    grant = sh_supervisor.role_grants.get()
    urls = [
        reverse("accounts:user_detail", args=[sh_supervisor.pk]),
        reverse("accounts:user_grant", args=[sh_supervisor.pk]),
        reverse("accounts:user_revoke", args=[sh_supervisor.pk, grant.pk]),
        reverse("accounts:user_deactivate", args=[sh_supervisor.pk]),
        reverse("accounts:user_totp_reset", args=[sh_supervisor.pk]),
        reverse("accounts:user_set_password", args=[sh_supervisor.pk]),
    ]
    for url in urls:
        assert client.post(url, {"role": "agent"}).status_code == 404, url
    sh_supervisor.refresh_from_db()
    assert sh_supervisor.is_active
    assert sh_supervisor.role_grants.count() == 1


def test_a_branch_administrator_cannot_grant_outside_their_branch(client, tree, bj_admin, bj_agent):
    client.force_login(bj_admin)
    response = client.post(
        reverse("accounts:user_grant", args=[bj_agent.pk]),
        {"role": Role.SUPERVISOR, "department": tree["sh"].pk},
    )
    assert response.status_code == 400
    assert response.context["grant_form"].errors["department"]
    assert not RoleGrant.objects.filter(user=bj_agent, department=tree["sh"]).exists()
    # The service refuses too, whatever page or command calls it.
    with pytest.raises(PermissionDenied):
        role_grant(actor=bj_admin, user=bj_agent, role=Role.SUPERVISOR, department=tree["sh"])


def test_a_branch_administrator_grants_and_revokes_inside_the_branch(
    client, tree, bj_admin, bj_agent
):
    client.force_login(bj_admin)
    response = client.post(
        reverse("accounts:user_grant", args=[bj_agent.pk]),
        {"role": Role.SUPERVISOR, "department": tree["bj_team"].pk},
    )
    assert response.status_code == 302
    grant = RoleGrant.objects.get(user=bj_agent, role=Role.SUPERVISOR)
    again = client.post(
        reverse("accounts:user_grant", args=[bj_agent.pk]),
        {"role": Role.SUPERVISOR, "department": tree["bj_team"].pk},
    )
    assert again.status_code == 400
    assert RoleGrant.objects.filter(user=bj_agent, role=Role.SUPERVISOR).count() == 1

    client.post(reverse("accounts:user_revoke", args=[bj_agent.pk, grant.pk]))
    assert not RoleGrant.objects.filter(pk=grant.pk).exists()
    actions = list(
        AuditEntry.objects.filter(object_id=str(bj_agent.pk)).values_list("action", flat=True)
    )
    assert "role.grant" in actions
    assert "role.revoke" in actions


def test_people_without_the_capability_are_refused(client, bj_supervisor, bj_agent):
    client.force_login(bj_supervisor)
    assert client.get(reverse("accounts:user_list")).status_code == 403
    assert client.get(reverse("accounts:user_detail", args=[bj_agent.pk])).status_code == 403
    assert client.post(reverse("accounts:user_deactivate", args=[bj_agent.pk])).status_code == 403
    bj_agent.refresh_from_db()
    assert bj_agent.is_active


def test_an_administrator_cannot_change_their_own_account_here(client, admin_user):
    client.force_login(admin_user)
    assert client.get(reverse("accounts:user_detail", args=[admin_user.pk])).status_code == 404
    with pytest.raises(PermissionDenied):
        user_deactivate(actor=admin_user, user=admin_user)


def test_creating_a_user_linked_to_a_staff_record_in_scope(client, tree, bj_admin):
    staff = make_staff("E1001", tree["bj_team"])
    client.force_login(bj_admin)
    response = client.post(
        reverse("accounts:user_create"),
        {
            "username": "li.lei",
            "first_name": "Lei",
            "last_name": "Li",
            "email": "li.lei@example.com",
            "language": "zh-hans",
            "password": "a long enough passphrase",
            "employee_number": "E1001",
            "role": Role.AGENT,
            "department": tree["bj_team"].pk,
        },
    )
    user = User.objects.get(username="li.lei")
    assert response.url == reverse("accounts:user_detail", args=[user.pk])
    assert user.staff == staff
    assert user.check_password("a long enough passphrase")
    assert list(user.role_grants.values_list("role", "department__code")) == [("agent", "BJ-T1")]
    assert AuditEntry.objects.filter(action="user.create", object_id=str(user.pk)).exists()


def test_a_staff_record_of_another_branch_cannot_be_linked(client, tree, bj_admin):
    make_staff("S2001", tree["sh_team"])
    client.force_login(bj_admin)
    response = client.post(
        reverse("accounts:user_create"),
        {"username": "wang.fang", "language": "en", "employee_number": "S2001"},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["employee_number"]
    assert not User.objects.filter(username="wang.fang").exists()


def test_a_common_password_is_refused_beside_the_field(client, tree, bj_admin):
    client.force_login(bj_admin)
    response = client.post(
        reverse("accounts:user_create"),
        {
            "username": "weak",
            "language": "en",
            "password": "password",
            "role": Role.AGENT,
            "department": tree["bj"].pk,
        },
    )
    assert response.status_code == 200
    assert response.context["form"].errors["password"]
    assert not User.objects.filter(username="weak").exists()


def test_a_taken_user_name_is_refused(client, tree, bj_admin, bj_agent):
    client.force_login(bj_admin)
    response = client.post(
        reverse("accounts:user_create"),
        {"username": "BJ.Agent", "language": "en", "role": Role.AGENT, "department": tree["bj"].pk},
    )
    assert response.context["form"].errors["username"]
    assert User.objects.filter(username__iexact="bj.agent").count() == 1


def test_a_user_nobody_could_manage_is_not_created(tree, bj_admin):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        user_create(actor=bj_admin, username="floating")
    assert not User.objects.filter(username="floating").exists()


def test_setting_a_password_for_someone_in_scope(client, bj_admin, bj_agent):
    client.force_login(bj_admin)
    url = reverse("accounts:user_set_password", args=[bj_agent.pk])
    weak = client.post(url, {"new_password1": "12345678", "new_password2": "12345678"})
    assert weak.status_code == 200
    bj_agent.refresh_from_db()
    assert bj_agent.check_password("correct horse battery")

    done = client.post(
        url, {"new_password1": "river stone lantern", "new_password2": "river stone lantern"}
    )
    assert done.status_code == 302
    bj_agent.refresh_from_db()
    assert bj_agent.check_password("river stone lantern")
    assert AuditEntry.objects.filter(
        action="user.set_password", object_id=str(bj_agent.pk)
    ).exists()


def test_an_administrator_lifts_a_lock(client, bj_admin, bj_agent):
    from django.utils import timezone

    User.objects.filter(pk=bj_agent.pk).update(
        locked_until=timezone.now() + timezone.timedelta(minutes=10)
    )
    client.force_login(bj_admin)
    detail = client.get(reverse("accounts:user_detail", args=[bj_agent.pk]))
    assert detail.context["is_locked"]
    client.post(reverse("accounts:user_unlock", args=[bj_agent.pk]))
    bj_agent.refresh_from_db()
    assert bj_agent.locked_until is None


def test_the_list_runs_a_fixed_number_of_queries(client, tree, admin_user):
    def count_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("accounts:user_list")).status_code == 200
        return len(queries)

    client.force_login(admin_user)
    for number in range(3):
        make_user(f"few.{number}", Role.AGENT, tree["bj_team"])
    few = count_queries()
    for number in range(20):
        user = make_user(f"many.{number}", Role.AGENT, tree["sh_team"])
        RoleGrant.objects.create(user=user, role=Role.SUPERVISOR, department=tree["sh"])
    assert count_queries() == few
