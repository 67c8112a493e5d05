from servicecharter.accounts import permissions as perms
from servicecharter.accounts.scoping import has_capability, restrict, scope_paths
from servicecharter.org.models import Department


def test_a_branch_supervisor_sees_their_subtree_only(tree, bj_supervisor):
    visible = set(
        restrict(Department.objects.all(), bj_supervisor, perms.VIEW_ORG, "").values_list(
            "code", flat=True
        )
    )
    assert visible == {"BJ", "BJ-T1"}


def test_a_user_without_roles_sees_nothing(tree, stranger):
    assert not restrict(Department.objects.all(), stranger, perms.VIEW_ORG, "").exists()
    assert not has_capability(stranger, perms.VIEW_ORG)


def test_nested_grants_collapse_to_the_outer_subtree(tree, bj_supervisor):
    from servicecharter.accounts.models import RoleGrant

    RoleGrant.objects.create(user=bj_supervisor, role="supervisor", department=tree["bj_team"])
    bj_supervisor.__dict__.pop("_scope_grants", None)
    assert scope_paths(bj_supervisor, perms.VIEW_ORG) == [tree["bj"].path]


def test_capability_is_checked_per_department(tree, bj_supervisor):
    assert has_capability(bj_supervisor, perms.VIEW_ORG, tree["bj_team"])
    assert not has_capability(bj_supervisor, perms.VIEW_ORG, tree["sh_team"])
    assert not has_capability(bj_supervisor, perms.MANAGE_USERS)
