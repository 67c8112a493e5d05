"""The institution over JSON: departments, staff, customers and products.

Reads go through ``org.selectors`` (scoped to the caller, one fixed number of queries per page
whatever its length); writes through ``org.services`` (validated, audited). A row outside the
caller's scope answers 404 exactly like a row that does not exist. Customers' personal data is
always masked; ``POST /customers/{id}/reveal`` shows it in full to a caller whose role needs it,
and records every reveal in the audit trail.
"""

from datetime import date
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from ninja.responses import Status

from servicecharter.accounts import permissions as perms
from servicecharter.accounts.api import ErrorOut
from servicecharter.accounts.scoping import has_capability
from servicecharter.accounts.tokens import TokenScope, require_scope
from servicecharter.org import selectors, services
from servicecharter.org.choices import (
    Channel,
    CustomerSegment,
    CustomerTier,
    DepartmentKind,
    Language,
    StaffStatus,
)
from servicecharter.org.models import BusinessType, Customer, Department, Product, Staff

router = Router()

MAX_LIMIT = 200
READ_ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}
WRITE_ERRORS = {**READ_ERRORS, 409: ErrorOut}


def _limit():
    return Query(50, ge=1, le=MAX_LIMIT, description="Rows per page.")


def _offset():
    return Query(0, ge=0, description="Rows to skip.")


def _page(queryset, limit: int, offset: int, render) -> dict:
    """One COUNT and one SELECT, whatever the number of rows."""
    rows = list(queryset[offset : offset + limit])
    return {
        "count": queryset.count(),
        "limit": limit,
        "offset": offset,
        "items": [render(row) for row in rows],
    }


def _not_a_choice(field: str) -> ValidationError:
    return ValidationError(
        {field: _("Select a valid choice. That choice is not one of the available choices.")}
    )


def _department_filter(pk: int | None) -> Department | None:
    """The department a list is narrowed to. It needs no scope check: the list is already
    limited to the caller's scope, so an outside department only narrows it to nothing."""
    if pk is None:
        return None
    return Department.objects.filter(pk=pk).first() or Department(path="-")


def _department_for_write(user, pk: int | None, capability: str, field: str) -> Department:
    """A department the caller may write to; unknown and out-of-scope ids look alike."""
    department = Department.objects.filter(pk=pk).first() if pk is not None else None
    if department is None or not has_capability(user, capability, department):
        raise _not_a_choice(field)
    return department


def _require_change(user, capability: str, department: Department) -> None:
    if not has_capability(user, capability, department):
        raise PermissionDenied


# Departments --------------------------------------------------------------------------------


class DepartmentOut(Schema):
    id: int
    code: str
    name: str
    name_en: str
    name_zh: str
    kind: DepartmentKind
    parent_id: int | None
    depth: int
    calendar_code: str
    is_active: bool


class DepartmentPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[DepartmentOut]


class DepartmentIn(Schema):
    code: str = Field(max_length=32)
    name_en: str = Field(max_length=200)
    name_zh: str = Field(max_length=200)
    kind: DepartmentKind
    parent: int
    calendar_code: str = Field("CN", max_length=20)


class DepartmentPatch(Schema):
    code: str | None = Field(None, max_length=32)
    name_en: str | None = Field(None, max_length=200)
    name_zh: str | None = Field(None, max_length=200)
    kind: DepartmentKind | None = None
    parent: int | None = None
    calendar_code: str | None = Field(None, max_length=20)
    is_active: bool | None = None


def _department_out(department: Department) -> dict:
    return {
        "id": department.pk,
        "code": department.code,
        "name": department.name,
        "name_en": department.name_en,
        "name_zh": department.name_zh,
        "kind": department.kind,
        "parent_id": department.parent_id,
        "depth": department.depth,
        "calendar_code": department.calendar_code,
        "is_active": department.is_active,
    }


@router.get("/departments", response={200: DepartmentPage, **READ_ERRORS}, tags=["departments"])
def department_list(
    request,
    q: str = "",
    kind: DepartmentKind | None = None,
    limit: int = _limit(),
    offset: int = _offset(),
):
    require_scope(request, TokenScope.ORG_READ)
    selectors.require_capability(request.auth, perms.VIEW_ORG)
    departments = selectors.department_list(user=request.auth, q=q, kind=kind or "")
    return _page(departments, limit, offset, _department_out)


@router.get("/departments/{pk}", response={200: DepartmentOut, **READ_ERRORS}, tags=["departments"])
def department_get(request, pk: int):
    require_scope(request, TokenScope.ORG_READ)
    return _department_out(selectors.department_get(user=request.auth, pk=pk))


@router.post("/departments", response={201: DepartmentOut, **WRITE_ERRORS}, tags=["departments"])
def department_create(request, payload: DepartmentIn):
    require_scope(request, TokenScope.ORG_WRITE)
    selectors.require_capability(request.auth, perms.CHANGE_ORG)
    data = payload.model_dump()
    data["parent"] = _department_for_write(request.auth, data["parent"], perms.CHANGE_ORG, "parent")
    return Status(201, _department_out(services.department_create(**data)))


@router.patch(
    "/departments/{pk}", response={200: DepartmentOut, **WRITE_ERRORS}, tags=["departments"]
)
def department_update(request, pk: int, payload: DepartmentPatch):
    require_scope(request, TokenScope.ORG_WRITE)
    department = selectors.department_get(user=request.auth, pk=pk)
    _require_change(request.auth, perms.CHANGE_ORG, department)
    changes = payload.model_dump(exclude_unset=True)
    if "parent" in changes:
        changes["parent"] = _department_for_write(
            request.auth, changes["parent"], perms.CHANGE_ORG, "parent"
        )
    department = services.department_update(department=department, **changes)
    return _department_out(department)


# Staff --------------------------------------------------------------------------------------


class StaffOut(Schema):
    id: int
    employee_number: str
    name: str
    name_latin: str
    email: str
    department_id: int
    department_code: str
    position: str
    grade: int
    base_wage: Decimal | None = Field(description="Only for callers allowed to see wages.")
    currency: str
    hire_date: date
    status: StaffStatus


class StaffPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[StaffOut]


class StaffIn(Schema):
    employee_number: str = Field(max_length=32)
    name: str = Field(max_length=100)
    name_latin: str = Field("", max_length=100)
    email: str = Field("", max_length=254)
    department: int
    position: str = Field("", max_length=100)
    grade: int = Field(1, ge=0, le=99)
    base_wage: Decimal = Field(ge=0, max_digits=12, decimal_places=2)
    currency: str = Field("CNY", max_length=3)
    hire_date: date
    status: StaffStatus = StaffStatus.ACTIVE


class StaffPatch(Schema):
    employee_number: str | None = Field(None, max_length=32)
    name: str | None = Field(None, max_length=100)
    name_latin: str | None = Field(None, max_length=100)
    email: str | None = Field(None, max_length=254)
    department: int | None = None
    position: str | None = Field(None, max_length=100)
    grade: int | None = Field(None, ge=0, le=99)
    base_wage: Decimal | None = Field(None, ge=0, max_digits=12, decimal_places=2)
    currency: str | None = Field(None, max_length=3)
    hire_date: date | None = None
    status: StaffStatus | None = None


def _staff_renderer(user):
    def render(staff: Staff) -> dict:
        return {
            "id": staff.pk,
            "employee_number": staff.employee_number,
            "name": staff.name,
            "name_latin": staff.name_latin,
            "email": staff.email,
            "department_id": staff.department_id,
            "department_code": staff.department.code,
            "position": staff.position,
            "grade": staff.grade,
            "base_wage": staff.base_wage if selectors.can_view_wage(user, staff) else None,
            "currency": staff.currency,
            "hire_date": staff.hire_date,
            "status": staff.status,
        }

    return render


@router.get("/staff", response={200: StaffPage, **READ_ERRORS}, tags=["staff"])
def staff_list(
    request,
    q: str = "",
    department: int | None = None,
    status: StaffStatus | None = None,
    limit: int = _limit(),
    offset: int = _offset(),
):
    require_scope(request, TokenScope.ORG_READ)
    selectors.require_capability(request.auth, perms.VIEW_ORG)
    staff = selectors.staff_list(
        user=request.auth, q=q, department=_department_filter(department), status=status or ""
    )
    return _page(staff, limit, offset, _staff_renderer(request.auth))


@router.get("/staff/{pk}", response={200: StaffOut, **READ_ERRORS}, tags=["staff"])
def staff_get(request, pk: int):
    require_scope(request, TokenScope.ORG_READ)
    return _staff_renderer(request.auth)(selectors.staff_get(user=request.auth, pk=pk))


@router.post("/staff", response={201: StaffOut, **WRITE_ERRORS}, tags=["staff"])
def staff_create(request, payload: StaffIn):
    require_scope(request, TokenScope.ORG_WRITE)
    selectors.require_capability(request.auth, perms.CHANGE_ORG)
    data = payload.model_dump()
    data["department"] = _department_for_write(
        request.auth, data["department"], perms.CHANGE_ORG, "department"
    )
    staff = services.staff_create(**data)
    return Status(201, _staff_renderer(request.auth)(staff))


@router.patch("/staff/{pk}", response={200: StaffOut, **WRITE_ERRORS}, tags=["staff"])
def staff_update(request, pk: int, payload: StaffPatch):
    require_scope(request, TokenScope.ORG_WRITE)
    staff = selectors.staff_get(user=request.auth, pk=pk)
    _require_change(request.auth, perms.CHANGE_ORG, staff.department)
    changes = payload.model_dump(exclude_unset=True)
    if "department" in changes:
        changes["department"] = _department_for_write(
            request.auth, changes["department"], perms.CHANGE_ORG, "department"
        )
    staff = services.staff_update(staff=staff, **changes)
    return _staff_renderer(request.auth)(selectors.staff_get(user=request.auth, pk=staff.pk))


# Customers ----------------------------------------------------------------------------------


class CustomerOut(Schema):
    id: int
    customer_number: str
    name: str
    home_department_id: int
    home_department_code: str
    segment: CustomerSegment
    tier: CustomerTier
    is_vulnerable: bool
    vulnerability_note: str
    preferred_language: Language
    preferred_channel: Channel
    email: str
    id_number: str = Field(description="Masked, e.g. 110***********1234.")
    phone: str = Field(description="Masked, e.g. 138****5678.")
    address: str = Field(description="Masked.")


class CustomerPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[CustomerOut]


class CustomerIn(Schema):
    customer_number: str = Field(max_length=32)
    name: str = Field(max_length=100)
    home_department: int
    segment: CustomerSegment
    tier: CustomerTier = CustomerTier.STANDARD
    is_vulnerable: bool = False
    vulnerability_note: str = Field("", max_length=200)
    preferred_language: Language = Language.ZH_HANS
    preferred_channel: Channel = Channel.PHONE
    email: str = Field("", max_length=254)
    id_number: str = Field("", max_length=40)
    phone: str = Field("", max_length=40)
    address: str = Field("", max_length=300)


class CustomerPatch(Schema):
    customer_number: str | None = Field(None, max_length=32)
    name: str | None = Field(None, max_length=100)
    home_department: int | None = None
    segment: CustomerSegment | None = None
    tier: CustomerTier | None = None
    is_vulnerable: bool | None = None
    vulnerability_note: str | None = Field(None, max_length=200)
    preferred_language: Language | None = None
    preferred_channel: Channel | None = None
    email: str | None = Field(None, max_length=254)
    id_number: str | None = Field(None, max_length=40)
    phone: str | None = Field(None, max_length=40)
    address: str | None = Field(None, max_length=300)


class RevealIn(Schema):
    fields: list[str] = Field(
        default_factory=lambda: list(services.PII_FIELDS),
        description="Any of id_number, phone, address; all three when omitted.",
    )


class RevealOut(Schema):
    id: int
    fields: dict[str, str]


def _customer_out(customer: Customer) -> dict:
    return {
        "id": customer.pk,
        "customer_number": customer.customer_number,
        "name": customer.name,
        "home_department_id": customer.home_department_id,
        "home_department_code": customer.home_department.code,
        "segment": customer.segment,
        "tier": customer.tier,
        "is_vulnerable": customer.is_vulnerable,
        "vulnerability_note": customer.vulnerability_note,
        "preferred_language": customer.preferred_language,
        "preferred_channel": customer.preferred_channel,
        "email": customer.email,
        **selectors.customer_masked_pii(customer),
    }


@router.get("/customers", response={200: CustomerPage, **READ_ERRORS}, tags=["customers"])
def customer_list(
    request,
    q: str = Query("", description="Name, customer number, or an exact id number or phone."),
    department: int | None = None,
    segment: CustomerSegment | None = None,
    tier: CustomerTier | None = None,
    vulnerable: bool | None = None,
    limit: int = _limit(),
    offset: int = _offset(),
):
    require_scope(request, TokenScope.CUSTOMERS_READ)
    selectors.require_capability(request.auth, perms.VIEW_CUSTOMERS)
    customers = selectors.customer_list(
        user=request.auth, q=q, segment=segment or "", tier=tier or "", vulnerable=vulnerable
    )
    branch = _department_filter(department)
    if branch is not None:
        customers = customers.filter(home_department__path__startswith=branch.path)
    return _page(customers, limit, offset, _customer_out)


@router.get("/customers/{pk}", response={200: CustomerOut, **READ_ERRORS}, tags=["customers"])
def customer_get(request, pk: int):
    require_scope(request, TokenScope.CUSTOMERS_READ)
    return _customer_out(selectors.customer_get(user=request.auth, pk=pk))


@router.post("/customers", response={201: CustomerOut, **WRITE_ERRORS}, tags=["customers"])
def customer_create(request, payload: CustomerIn):
    require_scope(request, TokenScope.CUSTOMERS_WRITE)
    selectors.require_capability(request.auth, perms.CHANGE_CUSTOMERS)
    data = payload.model_dump()
    data["home_department"] = _department_for_write(
        request.auth, data["home_department"], perms.CHANGE_CUSTOMERS, "home_department"
    )
    customer = services.customer_create(**data)
    return Status(201, _customer_out(customer))


@router.patch("/customers/{pk}", response={200: CustomerOut, **WRITE_ERRORS}, tags=["customers"])
def customer_update(request, pk: int, payload: CustomerPatch):
    require_scope(request, TokenScope.CUSTOMERS_WRITE)
    customer = selectors.customer_get(user=request.auth, pk=pk)
    _require_change(request.auth, perms.CHANGE_CUSTOMERS, customer.home_department)
    changes = payload.model_dump(exclude_unset=True)
    if "home_department" in changes:
        changes["home_department"] = _department_for_write(
            request.auth, changes["home_department"], perms.CHANGE_CUSTOMERS, "home_department"
        )
    customer = services.customer_update(customer=customer, **changes)
    return _customer_out(selectors.customer_get(user=request.auth, pk=customer.pk))


@router.post("/customers/{pk}/reveal", response={200: RevealOut, **READ_ERRORS}, tags=["customers"])
def customer_reveal(request, pk: int, payload: RevealIn | None = None):
    """The full personal data, for a caller whose role needs it. Each field revealed is
    recorded in the audit trail (``pii.reveal``)."""
    require_scope(request, TokenScope.CUSTOMERS_READ)
    require_scope(request, TokenScope.PII_REVEAL)
    customer = selectors.customer_get(user=request.auth, pk=pk)
    if not selectors.can_reveal_pii(request.auth, customer):
        raise PermissionDenied
    fields = (payload or RevealIn()).fields
    if not fields or set(fields) - set(services.PII_FIELDS):
        raise _not_a_choice("fields")
    revealed = {
        field: services.customer_pii_reveal(customer=customer, field=field)
        for field in dict.fromkeys(fields)
    }
    return {"id": customer.pk, "fields": revealed}


# Products -----------------------------------------------------------------------------------


class ProductOut(Schema):
    id: int
    code: str
    name: str
    name_en: str
    name_zh: str
    business_type_id: int
    business_type_code: str
    is_active: bool


class ProductPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[ProductOut]


class ProductIn(Schema):
    code: str = Field(max_length=32)
    name_en: str = Field(max_length=200)
    name_zh: str = Field(max_length=200)
    business_type: int


class ProductPatch(Schema):
    code: str | None = Field(None, max_length=32)
    name_en: str | None = Field(None, max_length=200)
    name_zh: str | None = Field(None, max_length=200)
    business_type: int | None = None
    is_active: bool | None = None


def _product_out(product: Product) -> dict:
    return {
        "id": product.pk,
        "code": product.code,
        "name": product.name,
        "name_en": product.name_en,
        "name_zh": product.name_zh,
        "business_type_id": product.business_type_id,
        "business_type_code": product.business_type.code,
        "is_active": product.is_active,
    }


def _business_type(pk: int) -> BusinessType:
    business_type = BusinessType.objects.filter(pk=pk).first()
    if business_type is None:
        raise _not_a_choice("business_type")
    return business_type


def _require_catalogue_change(user) -> None:
    """The catalogue belongs to the whole institution: only an institution-wide role changes it."""
    if not selectors.holds_institution_wide(user, perms.CHANGE_ORG):
        raise PermissionDenied


@router.get("/products", response={200: ProductPage, **READ_ERRORS}, tags=["products"])
def product_list(
    request,
    q: str = "",
    business_type: int | None = None,
    active: bool | None = None,
    limit: int = _limit(),
    offset: int = _offset(),
):
    require_scope(request, TokenScope.ORG_READ)
    products = selectors.product_list(user=request.auth, q=q)
    if business_type is not None:
        products = products.filter(business_type_id=business_type)
    if active is not None:
        products = products.filter(is_active=active)
    return _page(products, limit, offset, _product_out)


@router.get("/products/{pk}", response={200: ProductOut, **READ_ERRORS}, tags=["products"])
def product_get(request, pk: int):
    require_scope(request, TokenScope.ORG_READ)
    return _product_out(selectors.product_get(user=request.auth, pk=pk))


@router.post("/products", response={201: ProductOut, **WRITE_ERRORS}, tags=["products"])
def product_create(request, payload: ProductIn):
    require_scope(request, TokenScope.ORG_WRITE)
    _require_catalogue_change(request.auth)
    data = payload.model_dump()
    data["business_type"] = _business_type(data["business_type"])
    return Status(201, _product_out(services.product_create(**data)))


@router.patch("/products/{pk}", response={200: ProductOut, **WRITE_ERRORS}, tags=["products"])
def product_update(request, pk: int, payload: ProductPatch):
    require_scope(request, TokenScope.ORG_WRITE)
    product = selectors.product_get(user=request.auth, pk=pk)
    _require_catalogue_change(request.auth)
    changes = payload.model_dump(exclude_unset=True)
    if "business_type" in changes:
        changes["business_type"] = _business_type(changes["business_type"])
    product = services.product_update(product=product, **changes)
    return _product_out(selectors.product_get(user=request.auth, pk=product.pk))
