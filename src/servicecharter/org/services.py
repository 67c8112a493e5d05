"""Every write to the institution structure. One transaction per use case, each audited.

Validation that needs the database (unknown parent, a department that would become its own
ancestor) raises ``ValidationError`` with a translated message; nothing is written then.
"""

from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Concat, Substr
from django.utils.translation import gettext as _

from servicecharter.core import pii
from servicecharter.core.audit import audit_record
from servicecharter.org.models import BusinessType, Customer, Department, Product, Staff

PII_FIELDS = ("id_number", "phone", "address")


def _diff(obj, changes: dict) -> dict:
    """{field: [old, new]} for the fields whose value really changes; JSON-safe."""
    diff = {}
    for field, new in changes.items():
        old = getattr(obj, field)
        if old != new:
            diff[field] = [_jsonable(old), _jsonable(new)]
    return diff


def _assign(obj, changes: dict) -> dict:
    """Set ``changes`` on ``obj``; return what really changed, for the audit trail."""
    diff = _diff(obj, changes)
    for field, value in changes.items():
        setattr(obj, field, value)
    return diff


def _jsonable(value):
    if isinstance(value, (Decimal, date)):
        return str(value)
    if hasattr(value, "pk"):
        return value.pk
    return value


def _path_for(pk: int, parent: Department | None) -> str:
    return f"{parent.path if parent else ''}{pk:06d}."


@transaction.atomic
def department_create(
    *,
    code: str,
    name_en: str,
    name_zh: str,
    kind: str,
    parent: Department | None = None,
    calendar_code: str = "CN",
) -> Department:
    department = Department(
        code=code,
        name_en=name_en,
        name_zh=name_zh,
        kind=kind,
        parent=parent,
        calendar_code=calendar_code,
        path="",
        depth=(parent.depth + 1) if parent else 0,
    )
    department.full_clean(exclude=["path"])
    department.save()
    department.path = _path_for(department.pk, parent)
    department.save(update_fields=["path"])
    audit_record(
        action="department.create",
        obj=department,
        changes={"code": [None, code], "parent": [None, parent.code if parent else None]},
    )
    return department


@transaction.atomic
def department_update(*, department: Department, **changes) -> Department:
    """Change a department's fields; a new ``parent`` moves the whole subtree."""
    department = Department.objects.select_for_update().get(pk=department.pk)
    new_parent = changes.pop("parent", department.parent)
    diff = _assign(department, changes)
    department.full_clean(exclude=["path", "parent"])
    if (new_parent.pk if new_parent else None) != department.parent_id:
        diff["parent"] = [
            department.parent.code if department.parent else None,
            new_parent.code if new_parent else None,
        ]
        _move_subtree(department, new_parent)
    department.save()
    if diff:
        audit_record(action="department.update", obj=department, changes=diff)
    return department


def _move_subtree(department: Department, new_parent: Department | None) -> None:
    if new_parent is not None and new_parent.path.startswith(department.path):
        raise ValidationError(
            {"parent": _("A department cannot be moved under itself or one of its own teams.")}
        )
    old_path = department.path
    new_path = _path_for(department.pk, new_parent)
    depth_shift = ((new_parent.depth + 1) if new_parent else 0) - department.depth
    # One UPDATE rewrites the prefix of every descendant's path.
    Department.objects.filter(path__startswith=old_path).exclude(pk=department.pk).update(
        path=Concat(Value(new_path), Substr("path", len(old_path) + 1)),
        depth=F("depth") + depth_shift,
    )
    department.parent = new_parent
    department.path = new_path
    department.depth += depth_shift


@transaction.atomic
def business_type_create(
    *, code: str, name_en: str, name_zh: str, parent: BusinessType | None = None
) -> BusinessType:
    business_type = BusinessType(code=code, name_en=name_en, name_zh=name_zh, parent=parent)
    business_type.full_clean()
    business_type.save()
    audit_record(action="business_type.create", obj=business_type, changes={"code": [None, code]})
    return business_type


@transaction.atomic
def product_create(
    *, code: str, name_en: str, name_zh: str, business_type: BusinessType
) -> Product:
    product = Product(code=code, name_en=name_en, name_zh=name_zh, business_type=business_type)
    product.full_clean()
    product.save()
    audit_record(action="product.create", obj=product, changes={"code": [None, code]})
    return product


@transaction.atomic
def product_update(*, product: Product, **changes) -> Product:
    product = Product.objects.select_for_update().get(pk=product.pk)
    diff = _assign(product, changes)
    product.full_clean()
    product.save()
    if diff:
        audit_record(action="product.update", obj=product, changes=diff)
    return product


@transaction.atomic
def staff_create(
    *,
    employee_number: str,
    name: str,
    department: Department,
    base_wage: Decimal,
    hire_date: date,
    **fields,
) -> Staff:
    staff = Staff(
        employee_number=employee_number,
        name=name,
        department=department,
        base_wage=base_wage,
        hire_date=hire_date,
        **fields,
    )
    staff.full_clean()
    staff.save()
    audit_record(
        action="staff.create",
        obj=staff,
        changes={"employee_number": [None, employee_number], "department": [None, department.code]},
    )
    return staff


@transaction.atomic
def staff_update(*, staff: Staff, **changes) -> Staff:
    staff = Staff.objects.select_for_update().get(pk=staff.pk)
    diff = _assign(staff, changes)
    staff.full_clean()
    staff.save()
    if diff:
        audit_record(action="staff.update", obj=staff, changes=diff)
    return staff


def _set_pii(customer: Customer, field: str, value: str) -> None:
    setattr(customer, f"{field}_cipher", pii.encrypt(value))
    if hasattr(customer, f"{field}_digest"):
        setattr(customer, f"{field}_digest", pii.digest(value))


@transaction.atomic
def customer_create(
    *,
    customer_number: str,
    name: str,
    home_department: Department,
    segment: str,
    id_number: str = "",
    phone: str = "",
    address: str = "",
    **fields,
) -> Customer:
    customer = Customer(
        customer_number=customer_number,
        name=name,
        home_department=home_department,
        segment=segment,
        **fields,
    )
    for field, value in (("id_number", id_number), ("phone", phone), ("address", address)):
        _set_pii(customer, field, value)
    customer.full_clean()
    customer.save()
    # Personal data never enters the audit trail in clear: only that it was set.
    audit_record(
        action="customer.create",
        obj=customer,
        changes={"customer_number": [None, customer_number], "personal_data_set": [None, True]},
    )
    return customer


@transaction.atomic
def customer_update(*, customer: Customer, **changes) -> Customer:
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    personal = {field: changes.pop(field) for field in PII_FIELDS if field in changes}
    diff = _assign(customer, changes)
    for field, value in personal.items():
        if pii.decrypt(getattr(customer, f"{field}_cipher")) != value:
            _set_pii(customer, field, value)
            diff[field] = ["***", "***"]
    customer.full_clean()
    customer.save()
    if diff:
        audit_record(action="customer.update", obj=customer, changes=diff)
    return customer


@transaction.atomic
def business_type_update(*, business_type: BusinessType, **changes) -> BusinessType:
    business_type = BusinessType.objects.select_for_update().get(pk=business_type.pk)
    if "parent" in changes and changes["parent"] is not None:
        _refuse_business_type_cycle(business_type, changes["parent"])
    diff = _assign(business_type, changes)
    business_type.full_clean()
    business_type.save()
    if diff:
        audit_record(action="business_type.update", obj=business_type, changes=diff)
    return business_type


def _refuse_business_type_cycle(business_type: BusinessType, parent: BusinessType) -> None:
    ancestor = parent
    while ancestor is not None:
        if ancestor.pk == business_type.pk:
            raise ValidationError(
                {"parent": _("A business type cannot be placed under itself or its own subtypes.")}
            )
        ancestor = ancestor.parent


@transaction.atomic
def customer_pii_reveal(*, customer: Customer, field: str) -> str:
    """The full value of one personal-data field, for a viewer whose role needs it. The
    caller checks the capability; this records the reveal (naming field and customer, never
    the value) in the same transaction as it is read."""
    if field not in PII_FIELDS:
        raise ValidationError(_("Unknown personal-data field."))
    value = pii.decrypt(getattr(customer, f"{field}_cipher"))
    audit_record(action="pii.reveal", obj=customer, changes={"field": field})
    return value


def customer_pii_rotate(*, batch_size: int = 500) -> int:
    """Re-encrypt every customer's personal data with the newest key and recompute the search
    digests with the current hash key, in short transactions of ``batch_size`` rows so a large
    table never holds a long lock. Safe to run again (and to interrupt): each batch is whole.
    Returns the number of customers rewritten."""
    rewritten = 0
    last_pk = 0
    while True:
        with transaction.atomic():
            batch = list(
                Customer.objects.select_for_update()
                .filter(pk__gt=last_pk)
                .order_by("pk")
                .only("pk", *(f"{field}_cipher" for field in PII_FIELDS))[:batch_size]
            )
            if not batch:
                break
            for customer in batch:
                for field in PII_FIELDS:
                    _set_pii(customer, field, pii.decrypt(getattr(customer, f"{field}_cipher")))
            Customer.objects.bulk_update(
                batch,
                [
                    "id_number_cipher",
                    "id_number_digest",
                    "phone_cipher",
                    "phone_digest",
                    "address_cipher",
                ],
            )
            last_pk = batch[-1].pk
            rewritten += len(batch)
    with transaction.atomic():
        audit_record(
            action="pii.rotate",
            object_type="org.customer",
            object_repr="all customers",
            changes={"customers": [None, rewritten]},
        )
    return rewritten
