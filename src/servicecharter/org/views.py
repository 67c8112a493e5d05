"""Pages of the institution structure: departments, staff, customers, products, business types.

Each view asks a selector for what the caller may see (no capability at all → 403; a row
outside the caller's scope → 404, as if it did not exist) and writes only through services.
List pages return just the results block when HTMX asks, so filtering happens in place.
"""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from servicecharter.accounts import permissions as perms
from servicecharter.org import selectors, services
from servicecharter.org.forms import (
    BusinessTypeForm,
    CustomerFilterForm,
    CustomerForm,
    DepartmentFilterForm,
    DepartmentForm,
    ProductFilterForm,
    ProductForm,
    StaffFilterForm,
    StaffForm,
    apply_service_errors,
)

PAGE_SIZE = 25


def capability_required(capability: str):
    """Signed in, and holding ``capability`` somewhere; otherwise 403."""

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            selectors.require_capability(request.user, capability)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def _page(request, queryset):
    return Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))


class OpenEndedPage:
    """One page of a list too long to count on every request (100,000 staff): it fetches one
    row more than it shows to know whether a next page exists, so a page costs one indexed
    query with LIMIT instead of a COUNT over the whole table."""

    def __init__(self, queryset, number: str | None, size: int = PAGE_SIZE):
        try:
            self.number = max(1, int(number or 1))
        except (TypeError, ValueError):
            self.number = 1
        offset = (self.number - 1) * size
        rows = list(queryset[offset : offset + size + 1])
        self.object_list = rows[:size]
        self._more = len(rows) > size

    def __iter__(self):
        return iter(self.object_list)

    def __len__(self) -> int:
        return len(self.object_list)

    def has_next(self) -> bool:
        return self._more

    def has_previous(self) -> bool:
        return self.number > 1

    def has_other_pages(self) -> bool:
        return self.has_next() or self.has_previous()

    def next_page_number(self) -> int:
        return self.number + 1

    def previous_page_number(self) -> int:
        return self.number - 1


def _list_response(request, template: str, context: dict):
    """The whole page, or only its ``results`` partial for an HTMX filter request (but the
    whole page when HTMX restores history it has not cached)."""
    partial = request.htmx and not request.htmx.history_restore_request
    return render(request, f"{template}#results" if partial else template, context)


def _form_page(request, template: str, form, **context):
    return render(request, template, {"form": form, **context})


def _save(request, form, write, success_message: str):
    """Run the service ``write``; on a rule it refuses, show the message beside the field.
    Returns the saved object, or None when the form has to be shown again."""
    try:
        obj = write()
    except ValidationError as error:
        apply_service_errors(form, error)
        return None
    messages.success(request, success_message)
    return obj


# Departments ---------------------------------------------------------------------------


@capability_required(perms.VIEW_ORG)
def department_list(request):
    form = DepartmentFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    departments = selectors.department_list_with_counts(
        user=request.user, q=filters.get("q", ""), kind=filters.get("kind", "")
    )
    return _list_response(
        request,
        "org/department_list.html",
        {
            "form": form,
            "page": _page(request, departments),
            "can_change": selectors.has_capability(request.user, perms.CHANGE_ORG),
        },
    )


@capability_required(perms.VIEW_ORG)
def department_tree(request):
    return render(
        request, "org/department_tree.html", {"roots": selectors.department_tree(user=request.user)}
    )


@capability_required(perms.VIEW_ORG)
def department_detail(request, pk: int):
    department = selectors.department_get(user=request.user, pk=pk)
    return render(
        request,
        "org/department_detail.html",
        {
            "department": department,
            "children": selectors.department_children(user=request.user, department=department),
            "staff_count": selectors.staff_list(user=request.user, department=department).count(),
            "can_change": selectors.has_capability(request.user, perms.CHANGE_ORG, department),
        },
    )


@capability_required(perms.CHANGE_ORG)
def department_create(request):
    form = DepartmentForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        department = _save(
            request,
            form,
            lambda: services.department_create(
                code=data["code"],
                name_en=data["name_en"],
                name_zh=data["name_zh"],
                kind=data["kind"],
                parent=data["parent"],
                calendar_code=data["calendar_code"],
            ),
            _("Department created."),
        )
        if department:
            return redirect("org:department_detail", pk=department.pk)
    return _form_page(request, "org/form.html", form, title=_("New department"))


@capability_required(perms.CHANGE_ORG)
def department_edit(request, pk: int):
    department = selectors.department_get(user=request.user, pk=pk, capability=perms.CHANGE_ORG)
    title = _("Edit department %(name)s") % {"name": department.name}
    form = DepartmentForm(request.POST or None, instance=department, user=request.user)
    if request.method == "POST" and form.is_valid():
        changes = {name: form.cleaned_data[name] for name in form.fields}
        saved = _save(
            request,
            form,
            lambda: services.department_update(department=department, **changes),
            _("Department saved."),
        )
        if saved:
            return redirect("org:department_detail", pk=saved.pk)
    return _form_page(request, "org/form.html", form, title=title)


# Staff ---------------------------------------------------------------------------------


@capability_required(perms.VIEW_ORG)
def staff_list(request):
    form = StaffFilterForm(request.GET or None, user=request.user)
    filters = form.cleaned_data if form.is_valid() else {}
    staff = selectors.staff_list(
        user=request.user,
        q=filters.get("q", ""),
        department=filters.get("department"),
        status=filters.get("status", ""),
        grade=filters.get("grade"),
    )
    page = OpenEndedPage(staff, request.GET.get("page"))
    return _list_response(
        request,
        "org/staff_list.html",
        {
            "form": form,
            "page": page,
            "rows": [(member, selectors.can_view_wage(request.user, member)) for member in page],
            "can_change": selectors.has_capability(request.user, perms.CHANGE_ORG),
        },
    )


@capability_required(perms.VIEW_ORG)
def staff_detail(request, pk: int):
    member = selectors.staff_get(user=request.user, pk=pk)
    return render(
        request,
        "org/staff_detail.html",
        {
            "member": member,
            "show_wage": selectors.can_view_wage(request.user, member),
            "can_change": selectors.has_capability(
                request.user, perms.CHANGE_ORG, member.department
            ),
        },
    )


@capability_required(perms.CHANGE_ORG)
def staff_create(request):
    form = StaffForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        member = _save(
            request, form, lambda: services.staff_create(**data), _("Staff member created.")
        )
        if member:
            return redirect("org:staff_detail", pk=member.pk)
    return _form_page(request, "org/form.html", form, title=_("New staff member"))


@capability_required(perms.CHANGE_ORG)
def staff_edit(request, pk: int):
    member = selectors.staff_get(user=request.user, pk=pk, capability=perms.CHANGE_ORG)
    title = _("Edit %(name)s") % {"name": member}
    form = StaffForm(
        request.POST or None,
        instance=member,
        user=request.user,
        show_wage=selectors.can_view_wage(request.user, member),
    )
    if request.method == "POST" and form.is_valid():
        changes = dict(form.cleaned_data)
        saved = _save(
            request,
            form,
            lambda: services.staff_update(staff=member, **changes),
            _("Staff member saved."),
        )
        if saved:
            return redirect("org:staff_detail", pk=saved.pk)
    return _form_page(request, "org/form.html", form, title=title)


# Customers -----------------------------------------------------------------------------


@capability_required(perms.VIEW_CUSTOMERS)
def customer_list(request):
    form = CustomerFilterForm(request.GET or None)
    valid = form.is_valid()
    filters = form.cleaned_data if valid else {}
    customers = selectors.customer_list(
        user=request.user,
        q=filters.get("q", ""),
        segment=filters.get("segment", ""),
        tier=filters.get("tier", ""),
        vulnerable=form.vulnerable_value() if valid else None,
    )
    page = _page(request, customers)
    return _list_response(
        request,
        "org/customer_list.html",
        {
            "form": form,
            "page": page,
            "rows": [(customer, selectors.customer_masked_pii(customer)) for customer in page],
            "can_change": selectors.has_capability(request.user, perms.CHANGE_CUSTOMERS),
        },
    )


@capability_required(perms.VIEW_CUSTOMERS)
def customer_detail(request, pk: int):
    customer = selectors.customer_get(user=request.user, pk=pk)
    return render(request, "org/customer_detail.html", _customer_context(request, customer))


def _customer_context(request, customer, revealed: dict | None = None) -> dict:
    masked = selectors.customer_masked_pii(customer)
    revealed = revealed or {}
    return {
        "customer": customer,
        "personal_data": [
            {
                "field": field,
                "label": label,
                "value": revealed.get(field, masked[field]),
                "revealed": field in revealed,
            }
            for field, label in (
                ("id_number", _("Identity number")),
                ("phone", _("Phone")),
                ("address", _("Address")),
            )
        ],
        "can_reveal": selectors.can_reveal_pii(request.user, customer),
        "can_change": selectors.has_capability(
            request.user, perms.CHANGE_CUSTOMERS, customer.home_department
        ),
    }


@never_cache
@require_POST
@capability_required(perms.VIEW_CUSTOMERS)
def customer_reveal(request, pk: int, field: str):
    """Show one personal-data field in full, once, on an explicit request; recorded."""
    if field not in services.PII_FIELDS:
        raise Http404
    customer = selectors.customer_get(user=request.user, pk=pk)
    if not selectors.can_reveal_pii(request.user, customer):
        raise PermissionDenied
    value = services.customer_pii_reveal(customer=customer, field=field)
    context = _customer_context(request, customer, revealed={field: value})
    if request.htmx:
        item = next(item for item in context["personal_data"] if item["field"] == field)
        return render(
            request, "org/_pii_value.html", {"item": item, "customer": customer, "can_reveal": True}
        )
    return render(request, "org/customer_detail.html", context)


@capability_required(perms.CHANGE_CUSTOMERS)
def customer_create(request):
    form = CustomerForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = {**form.plain_data(), **form.personal_data()}
        customer = _save(
            request, form, lambda: services.customer_create(**data), _("Customer created.")
        )
        if customer:
            return redirect("org:customer_detail", pk=customer.pk)
    return _form_page(request, "org/form.html", form, title=_("New customer"))


@capability_required(perms.CHANGE_CUSTOMERS)
def customer_edit(request, pk: int):
    customer = selectors.customer_get(user=request.user, pk=pk, capability=perms.CHANGE_CUSTOMERS)
    title = _("Edit %(name)s") % {"name": customer}
    form = CustomerForm(request.POST or None, instance=customer, user=request.user)
    if request.method == "POST" and form.is_valid():
        changes = {**form.plain_data(), **form.personal_data()}
        saved = _save(
            request,
            form,
            lambda: services.customer_update(customer=customer, **changes),
            _("Customer saved."),
        )
        if saved:
            return redirect("org:customer_detail", pk=saved.pk)
    return _form_page(request, "org/form.html", form, title=title)


# Products and business types -----------------------------------------------------------


def _require_catalogue_editor(user) -> None:
    """The catalogue is the whole institution's: editing it needs an institution-wide grant."""
    if not selectors.holds_institution_wide(user, perms.CHANGE_ORG):
        raise PermissionDenied


@capability_required(perms.VIEW_ORG)
def product_list(request):
    form = ProductFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    products = selectors.product_list(
        user=request.user, q=filters.get("q", ""), business_type=filters.get("business_type")
    )
    return _list_response(
        request,
        "org/product_list.html",
        {
            "form": form,
            "page": _page(request, products),
            "can_change": selectors.holds_institution_wide(request.user, perms.CHANGE_ORG),
        },
    )


@capability_required(perms.VIEW_ORG)
def product_detail(request, pk: int):
    return render(
        request,
        "org/product_detail.html",
        {
            "product": selectors.product_get(user=request.user, pk=pk),
            "can_change": selectors.holds_institution_wide(request.user, perms.CHANGE_ORG),
        },
    )


@capability_required(perms.CHANGE_ORG)
def product_create(request):
    _require_catalogue_editor(request.user)
    form = ProductForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        product = _save(
            request, form, lambda: services.product_create(**data), _("Product created.")
        )
        if product:
            return redirect("org:product_detail", pk=product.pk)
    return _form_page(request, "org/form.html", form, title=_("New product"))


@capability_required(perms.CHANGE_ORG)
def product_edit(request, pk: int):
    _require_catalogue_editor(request.user)
    product = selectors.product_get(user=request.user, pk=pk)
    title = _("Edit %(name)s") % {"name": product}
    form = ProductForm(request.POST or None, instance=product)
    if request.method == "POST" and form.is_valid():
        changes = dict(form.cleaned_data)
        saved = _save(
            request,
            form,
            lambda: services.product_update(product=product, **changes),
            _("Product saved."),
        )
        if saved:
            return redirect("org:product_detail", pk=saved.pk)
    return _form_page(request, "org/form.html", form, title=title)


@capability_required(perms.VIEW_ORG)
def business_type_list(request):
    form = DepartmentFilterForm(request.GET or None)
    query = form.cleaned_data.get("q", "") if form.is_valid() else ""
    return _list_response(
        request,
        "org/business_type_list.html",
        {
            "form": form,
            "page": _page(request, selectors.business_type_list(user=request.user, q=query)),
            "can_change": selectors.holds_institution_wide(request.user, perms.CHANGE_ORG),
        },
    )


@capability_required(perms.VIEW_ORG)
def business_type_detail(request, pk: int):
    business_type = selectors.business_type_get(user=request.user, pk=pk)
    return render(
        request,
        "org/business_type_detail.html",
        {
            "business_type": business_type,
            "products": selectors.product_list(user=request.user, business_type=business_type),
            "can_change": selectors.holds_institution_wide(request.user, perms.CHANGE_ORG),
        },
    )


@capability_required(perms.CHANGE_ORG)
def business_type_create(request):
    _require_catalogue_editor(request.user)
    form = BusinessTypeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        business_type = _save(
            request,
            form,
            lambda: services.business_type_create(**data),
            _("Business type created."),
        )
        if business_type:
            return redirect("org:business_type_detail", pk=business_type.pk)
    return _form_page(request, "org/form.html", form, title=_("New business type"))


@capability_required(perms.CHANGE_ORG)
def business_type_edit(request, pk: int):
    _require_catalogue_editor(request.user)
    business_type = selectors.business_type_get(user=request.user, pk=pk)
    title = _("Edit %(name)s") % {"name": business_type}
    form = BusinessTypeForm(request.POST or None, instance=business_type)
    if request.method == "POST" and form.is_valid():
        changes = dict(form.cleaned_data)
        saved = _save(
            request,
            form,
            lambda: services.business_type_update(business_type=business_type, **changes),
            _("Business type saved."),
        )
        if saved:
            return redirect("org:business_type_detail", pk=saved.pk)
    return _form_page(request, "org/form.html", form, title=title)
