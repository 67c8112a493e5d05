"""Reads of the institution structure, always limited to what the caller may see.

Every list selector returns a queryset with its foreign keys joined (``select_related``) so a
page of rows costs the same number of queries whatever its length. Every single-row selector
raises 404 for a row outside the caller's scope, exactly as for a row that does not exist.
"""

from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.shortcuts import get_object_or_404

from servicecharter.accounts import permissions as perms
from servicecharter.accounts.scoping import (
    get_in_scope_or_404,
    has_capability,
    restrict,
    scope_paths,
)
from servicecharter.core import pii
from servicecharter.org.models import BusinessType, Customer, Department, Product, Staff


def require_capability(user, capability: str) -> None:
    """403 for a user who holds ``capability`` nowhere at all."""
    if not has_capability(user, capability):
        raise PermissionDenied


def holds_institution_wide(user, capability: str) -> bool:
    """True when one of the user's scopes for ``capability`` is a whole tree (a root
    department). The product catalogue belongs to the whole institution, so only such
    users may change it."""
    return any(path.count(".") == 1 for path in scope_paths(user, capability))


# Departments ---------------------------------------------------------------------------


def department_list(*, user, capability: str = perms.VIEW_ORG, q: str = "", kind: str = ""):
    departments = restrict(Department.objects.all(), user, capability, "").select_related("parent")
    if q:
        departments = departments.filter(
            Q(code__icontains=q) | Q(name_en__icontains=q) | Q(name_zh__icontains=q)
        )
    if kind:
        departments = departments.filter(kind=kind)
    return departments.order_by("path")


def department_list_with_counts(*, user, q: str = "", kind: str = ""):
    return department_list(user=user, q=q, kind=kind).annotate(staff_count=Count("staff"))


def department_tree(*, user) -> list[dict]:
    """The departments in scope as nested nodes ``{"department": d, "children": [...]}``,
    built from one query. A department whose parent is outside the scope becomes a root."""
    nodes: dict[int, dict] = {}
    roots: list[dict] = []
    for department in department_list(user=user):
        node = {"department": department, "children": []}
        nodes[department.pk] = node
        parent = nodes.get(department.parent_id)
        (parent["children"] if parent else roots).append(node)
    return roots


def department_children(*, user, department: Department) -> QuerySet:
    return department_list(user=user).filter(parent=department)


def department_get(*, user, pk: int, capability: str = perms.VIEW_ORG) -> Department:
    return get_in_scope_or_404(
        Department.objects.select_related("parent"), user, capability, "", pk=pk
    )


# Staff ---------------------------------------------------------------------------------


def staff_list(
    *,
    user,
    q: str = "",
    department: Department | None = None,
    status: str = "",
    grade: int | None = None,
) -> QuerySet:
    staff = restrict(Staff.objects.all(), user, perms.VIEW_ORG).select_related("department")
    if q:
        staff = staff.filter(
            Q(name__icontains=q) | Q(name_latin__icontains=q) | Q(employee_number__istartswith=q)
        )
    if department is not None:
        staff = staff.filter(department__path__startswith=department.path)
    if status:
        staff = staff.filter(status=status)
    if grade is not None:
        staff = staff.filter(grade=grade)
    return staff.order_by("employee_number")


def staff_get(*, user, pk: int, capability: str = perms.VIEW_ORG) -> Staff:
    return get_in_scope_or_404(Staff.objects.select_related("department"), user, capability, pk=pk)


def can_view_wage(user, staff: Staff) -> bool:
    return has_capability(user, perms.VIEW_WAGES, staff.department)


# Customers -----------------------------------------------------------------------------


def customer_list(
    *,
    user,
    q: str = "",
    segment: str = "",
    tier: str = "",
    vulnerable: bool | None = None,
) -> QuerySet:
    """Customers in scope. ``q`` matches a name (substring), a customer number, or an
    identity number or phone by EXACT value through the keyed digest — the table is never
    decrypted, and part of a number matches nothing."""
    customers = restrict(
        Customer.objects.all(), user, perms.VIEW_CUSTOMERS, "home_department"
    ).select_related("home_department")
    if q:
        condition = Q(name__icontains=q) | Q(customer_number__iexact=q)
        key = pii.digest(q)
        if key:
            condition |= Q(id_number_digest=key) | Q(phone_digest=key)
        customers = customers.filter(condition)
    if segment:
        customers = customers.filter(segment=segment)
    if tier:
        customers = customers.filter(tier=tier)
    if vulnerable is not None:
        customers = customers.filter(is_vulnerable=vulnerable)
    return customers.order_by("customer_number")


def customer_get(*, user, pk: int, capability: str = perms.VIEW_CUSTOMERS) -> Customer:
    return get_in_scope_or_404(
        Customer.objects.select_related("home_department"),
        user,
        capability,
        "home_department",
        pk=pk,
    )


def can_reveal_pii(user, customer: Customer) -> bool:
    return has_capability(user, perms.REVEAL_PII, customer.home_department)


def customer_masked_pii(customer: Customer) -> dict[str, str]:
    """What every page shows: the masked forms of the personal data."""
    return {
        "id_number": pii.mask_id_number(pii.decrypt(customer.id_number_cipher)),
        "phone": pii.mask_phone(pii.decrypt(customer.phone_cipher)),
        "address": pii.mask_address(pii.decrypt(customer.address_cipher)),
    }


# Products and business types -----------------------------------------------------------


def business_type_list(*, user, q: str = "") -> QuerySet:
    require_capability(user, perms.VIEW_ORG)
    business_types = BusinessType.objects.select_related("parent").annotate(
        product_count=Count("products")
    )
    if q:
        business_types = business_types.filter(
            Q(code__icontains=q) | Q(name_en__icontains=q) | Q(name_zh__icontains=q)
        )
    return business_types.order_by("code")


def business_type_get(*, user, pk: int) -> BusinessType:
    require_capability(user, perms.VIEW_ORG)
    return get_object_or_404(BusinessType.objects.select_related("parent"), pk=pk)


def product_list(*, user, q: str = "", business_type: BusinessType | None = None) -> QuerySet:
    require_capability(user, perms.VIEW_ORG)
    products = Product.objects.select_related("business_type")
    if q:
        products = products.filter(
            Q(code__icontains=q) | Q(name_en__icontains=q) | Q(name_zh__icontains=q)
        )
    if business_type is not None:
        products = products.filter(business_type=business_type)
    return products.order_by("code")


def product_get(*, user, pk: int) -> Product:
    require_capability(user, perms.VIEW_ORG)
    return get_object_or_404(Product.objects.select_related("business_type"), pk=pk)
