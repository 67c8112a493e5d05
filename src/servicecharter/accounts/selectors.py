"""Reads about accounts, each limited to what the caller may see.

Which users an administrator manages: those with at least one grant (or a staff record) inside
the administrator's ``MANAGE_USERS`` scope and nothing outside it. A user who also holds a role
elsewhere is out of reach, so a branch administrator can never reset the password or second
factor of someone who works above the branch. Users with neither grant nor staff record are
managed by administrators of a whole institution (a root department).
"""

from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404

from servicecharter.accounts import permissions as perms
from servicecharter.accounts.choices import ROLES_REQUIRING_TOTP
from servicecharter.accounts.models import RoleGrant, User
from servicecharter.accounts.scoping import restrict, roles_of, scope_paths
from servicecharter.org.models import Department, Staff


def _manageable_q(actor) -> Q:
    roots = scope_paths(actor, perms.MANAGE_USERS)
    if not roots:
        return Q(pk__in=[])
    grants_in = restrict(RoleGrant.objects.all(), actor, perms.MANAGE_USERS)
    grants_out = RoleGrant.objects.exclude(pk__in=grants_in.values("pk"))
    staff_in = restrict(Staff.objects.all(), actor, perms.MANAGE_USERS)
    reachable = Q(pk__in=grants_in.values("user_id")) | Q(staff__in=staff_in.values("pk"))
    # A root path has a single segment ("000001."): its holder runs the whole institution.
    if any(root.count(".") == 1 for root in roots):
        orphan = Q(staff__isnull=True) & ~Q(pk__in=RoleGrant.objects.values("user_id"))
        reachable |= orphan
    nothing_outside = ~Q(pk__in=grants_out.values("user_id")) & (
        Q(staff__isnull=True) | Q(staff__in=staff_in.values("pk"))
    )
    return reachable & nothing_outside & ~Q(pk=actor.pk)


def users_manageable_by(*, actor) -> QuerySet[User]:
    return User.objects.filter(_manageable_q(actor))


def user_is_manageable_by(*, actor, user) -> bool:
    return users_manageable_by(actor=actor).filter(pk=user.pk).exists()


def user_list_for_admin(*, actor, search: str = "") -> QuerySet[User]:
    """The users page: a fixed number of queries whatever the number of rows."""
    users = (
        users_manageable_by(actor=actor)
        .select_related("staff__department")
        .prefetch_related(
            Prefetch(
                "role_grants",
                queryset=RoleGrant.objects.select_related("department").order_by("role"),
            )
        )
        .order_by("username")
    )
    search = (search or "").strip()
    if search:
        users = users.filter(
            Q(username__icontains=search)
            | Q(first_name__icontains=search)
            | Q(last_name__icontains=search)
            | Q(email__icontains=search)
            | Q(staff__name__icontains=search)
            | Q(staff__employee_number__iexact=search)
        )
    return users


def user_get_for_admin(*, actor, user_id: int) -> User:
    """One user the actor manages; anyone else is a 404, so ids cannot be probed."""
    try:
        return (
            users_manageable_by(actor=actor)
            .select_related("staff__department")
            .prefetch_related(
                Prefetch(
                    "role_grants",
                    queryset=RoleGrant.objects.select_related("department").order_by("role"),
                )
            )
            .get(pk=user_id)
        )
    except User.DoesNotExist as exc:
        raise Http404 from exc


def grant_get_for_admin(*, actor, user: User, grant_id: int) -> RoleGrant:
    grants = restrict(RoleGrant.objects.filter(user=user), actor, perms.MANAGE_USERS)
    try:
        return grants.select_related("department").get(pk=grant_id)
    except RoleGrant.DoesNotExist as exc:
        raise Http404 from exc


def departments_grantable_by(*, actor) -> QuerySet[Department]:
    return restrict(Department.objects.filter(is_active=True), actor, perms.MANAGE_USERS, "")


def staff_linkable_by(*, actor) -> QuerySet[Staff]:
    """Staff in scope who have no user yet."""
    return restrict(Staff.objects.filter(user__isnull=True), actor, perms.MANAGE_USERS)


def grants_of(*, user) -> QuerySet[RoleGrant]:
    return RoleGrant.objects.filter(user=user).select_related("department").order_by("role")


def totp_required_for(user) -> bool:
    """Does one of the user's roles demand a second factor?"""
    return bool(roles_of(user) & ROLES_REQUIRING_TOTP)
