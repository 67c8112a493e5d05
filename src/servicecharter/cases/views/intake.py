"""The staff's fast intake form: a case received by phone, at the counter or on paper.

The agent finds the customer by name, customer number, or the complete phone or identity
number (the keyed digests of ``org.selectors.customer_list``; results masked), live as they
type through HTMX, or types the name and contacts of someone who is not a customer. The
queue defaults to the agent's own department; routing rules may send the case elsewhere.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from servicecharter.accounts import permissions as perms
from servicecharter.accounts.models import RoleGrant
from servicecharter.cases import selectors, services
from servicecharter.cases.forms import IntakeForm
from servicecharter.cases.views.public import mail_receipt
from servicecharter.org import selectors as org_selectors
from servicecharter.org.forms import apply_service_errors
from servicecharter.org.models import Department
from servicecharter.org.views import capability_required

SEARCH_RESULTS = 10
SEARCH_MIN_LENGTH = 2


def home_queue(user) -> Department | None:
    """The department of the user's own grant that lets them handle cases (the most specific
    one when they hold several)."""
    grant = (
        RoleGrant.objects.filter(user=user, role__in=perms.roles_with(perms.HANDLE_CASES))
        .select_related("department")
        .order_by("-department__depth", "pk")
        .first()
    )
    return grant.department if grant else None


def customer_matches(user, q: str, selected: str = "") -> tuple[list[tuple], bool]:
    """(customer, masked personal data) of the first customers in scope matching ``q``, with
    the one already chosen kept on top, and whether more match than are shown. At most two
    queries whatever the number of matches."""
    q = (q or "").strip()
    customers = org_selectors.customer_list(user=user)
    found = list(customers.filter(pk=selected)) if selected.isdigit() else []
    more = False
    if len(q) >= SEARCH_MIN_LENGTH:
        matches = org_selectors.customer_list(user=user, q=q).exclude(pk__in=[c.pk for c in found])
        matches = list(matches[: SEARCH_RESULTS + 1])
        more = len(matches) > SEARCH_RESULTS
        found += matches[:SEARCH_RESULTS]
    return [(customer, org_selectors.customer_masked_pii(customer)) for customer in found], more


def _search_context(user, q: str, selected: str) -> dict:
    rows, more = customer_matches(user, q, selected)
    if not selected and len(rows) == 1:
        selected = str(rows[0][0].pk)  # one match (a complete phone number): take it
    return {
        "customer_q": (q or "").strip(),
        "selected_customer": selected,
        "customer_rows": rows,
        "more_customers": more,
        "search_min_length": SEARCH_MIN_LENGTH,
        "search_limit": SEARCH_RESULTS,
    }


def _record(request, form: IntakeForm) -> services.Intake | None:
    """Create the case and store its attachments in one transaction; a rule the services
    refuse is shown beside its field and nothing is kept."""
    try:
        with transaction.atomic():
            intake = services.case_create(actor=request.user, **form.case_fields())
            for upload in form.cleaned_data["attachments"]:
                services.case_add_attachment(actor=request.user, case=intake.case, upload=upload)
            if intake.case.contact_email:
                mail_receipt(request, case=intake.case, code=intake.tracking_code)
    except ValidationError as error:
        apply_service_errors(form, error)
        return None
    return intake


def _after_intake(request, intake: services.Intake):
    case = intake.case
    receipt = {"ref": case.reference, "code": intake.tracking_code}
    if selectors.can(request.user, "view", case):
        messages.success(
            request,
            _(
                "Case %(ref)s recorded. Give the customer the reference and the tracking code "
                "%(code)s (shown only now)."
            )
            % receipt,
        )
        return redirect("cases:case_detail", pk=case.pk)
    # Routing rules sent it to a queue this user does not see: say so, and stay here.
    messages.success(
        request,
        _(
            "Case %(ref)s recorded and sent to the queue %(queue)s. Give the customer the "
            "reference and the tracking code %(code)s (shown only now)."
        )
        % {**receipt, "queue": case.department.name},
    )
    return redirect("cases:intake")


@capability_required(perms.HANDLE_CASES)
@never_cache
@require_http_methods(["GET", "POST"])
def intake(request):
    """The form. A GET may carry the form's own fields: that is how the customer search works
    without JavaScript (its button submits the form by GET, and the page comes back filled)."""
    queue = home_queue(request.user)
    if request.method == "POST":
        form = IntakeForm(request.POST, request.FILES, user=request.user, home_queue=queue)
        if form.is_valid():
            recorded = _record(request, form)
            if recorded is not None:
                return _after_intake(request, recorded)
        source = request.POST
    else:
        form = IntakeForm(user=request.user, home_queue=queue, initial=request.GET.dict())
        source = request.GET
    context = {
        "form": form,
        **_search_context(request.user, source.get("customer_q", ""), source.get("customer", "")),
    }
    return render(request, "cases/intake.html", context)


@capability_required(perms.HANDLE_CASES)
@require_GET
def customer_search(request):
    """The live search's results: radio buttons that choose the customer inside the form."""
    context = _search_context(
        request.user, request.GET.get("customer_q", ""), request.GET.get("customer", "")
    )
    return render(request, "cases/intake.html#customer_results", context)


urlpatterns: list = [
    path("new/", intake, name="intake"),
    path("new/customers/", customer_search, name="customer_search"),
]
