"""The one scoping helper. Every page and every API call asks it what the caller may see.

A user holds roles for department subtrees. For a capability, the user's scope is the union
of the subtrees of the grants whose role carries that capability. Because departments store
their materialised ``path``, "inside the scope" is a prefix match on an indexed column.
"""

from django.db.models import Q, QuerySet
from django.http import Http404

from servicecharter.accounts.permissions import ROLE_CAPABILITIES
from servicecharter.core.audit import audit_refusal


def _grants(user) -> list[tuple[str, str]]:
    """(role, department path) of the user's grants, loaded once per user object."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return []
    cached = getattr(user, "_scope_grants", None)
    if cached is None:
        cached = [
            (role, path) for role, path in user.role_grants.values_list("role", "department__path")
        ]
        user._scope_grants = cached
    return cached


def forget_grants(user) -> None:
    """Drop the per-object cache after grants change."""
    user.__dict__.pop("_scope_grants", None)


def roles_of(user) -> set[str]:
    return {role for role, _ in _grants(user)}


def scope_paths(user, capability: str) -> list[str]:
    """The department paths whose subtrees the user may act on with ``capability``.
    Nested paths are collapsed so a query never repeats the same subtree."""
    paths = sorted(
        {path for role, path in _grants(user) if capability in ROLE_CAPABILITIES.get(role, ())}
    )
    roots: list[str] = []
    for path in paths:
        if not any(path.startswith(root) for root in roots):
            roots.append(path)
    return roots


def has_capability(user, capability: str, department=None) -> bool:
    """May ``user`` use ``capability`` at all, or for ``department`` in particular?"""
    roots = scope_paths(user, capability)
    if department is None:
        return bool(roots)
    return any(department.path.startswith(root) for root in roots)


def scope_q(user, capability: str, department_field: str = "department") -> Q:
    """A filter that keeps only rows whose department lies in the user's scope.
    ``department_field`` is the lookup path to a Department from the filtered model
    (``""`` when filtering departments themselves)."""
    roots = scope_paths(user, capability)
    if not roots:
        return Q(pk__in=[])
    lookup = f"{department_field}__path__startswith" if department_field else "path__startswith"
    condition = Q()
    for root in roots:
        condition |= Q(**{lookup: root})
    return condition


def restrict(queryset: QuerySet, user, capability: str, department_field: str = "department"):
    return queryset.filter(scope_q(user, capability, department_field))


def get_in_scope_or_404(
    queryset: QuerySet, user, capability: str, department_field="department", **lookup
):
    """Fetch one row the user may act on. A row outside the scope is indistinguishable from a
    row that does not exist, so ids cannot be probed; but the attempt is recorded."""
    try:
        return restrict(queryset, user, capability, department_field).get(**lookup)
    except queryset.model.DoesNotExist as exc:
        if queryset.filter(**lookup).exists():
            audit_refusal(
                reason="out_of_scope",
                object_type=queryset.model._meta.label_lower,
                object_id=",".join(str(value) for value in lookup.values()),
                details={"capability": capability},
            )
        raise Http404 from exc
