"""Each role's home page: real figures of what exists so far, within the caller's scope."""

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from servicecharter.accounts import permissions as perms
from servicecharter.accounts.choices import Role
from servicecharter.accounts.scoping import has_capability, restrict, roles_of
from servicecharter.cases.choices import OPEN_STATES
from servicecharter.cases.models import Case
from servicecharter.core.choices import DeliveryState
from servicecharter.core.models import AuditEntry, EventDelivery
from servicecharter.org.choices import StaffStatus
from servicecharter.org.models import Customer, Department, Staff


def _org_figures(user) -> list[tuple]:
    departments = restrict(Department.objects.all(), user, perms.VIEW_ORG, "")
    staff = restrict(Staff.objects.all(), user, perms.VIEW_ORG)
    counts = staff.aggregate(
        active=Count("pk", filter=Q(status=StaffStatus.ACTIVE)),
        suspended=Count("pk", filter=Q(status=StaffStatus.SUSPENDED)),
    )
    return [
        (_("Departments in your scope"), departments.count()),
        (_("Active staff"), counts["active"]),
        (_("Suspended staff"), counts["suspended"]),
    ]


def _customer_figures(user) -> list[tuple]:
    customers = restrict(Customer.objects.all(), user, perms.VIEW_CUSTOMERS, "home_department")
    counts = customers.aggregate(
        total=Count("pk"), vulnerable=Count("pk", filter=Q(is_vulnerable=True))
    )
    return [(_("Customers"), counts["total"]), (_("Vulnerable customers"), counts["vulnerable"])]


def _staff_chart(user) -> dict:
    """Active staff per top unit of the caller's scope (branches under a head office)."""
    departments = list(
        restrict(Department.objects.all(), user, perms.VIEW_ORG, "").only(
            "path", "depth", "name_en", "name_zh"
        )
    )
    if not departments:
        return {}
    top_depth = min(d.depth for d in departments)
    units = [d for d in departments if d.depth == top_depth + 1] or [
        d for d in departments if d.depth == top_depth
    ]
    active = restrict(Staff.objects.filter(status=StaffStatus.ACTIVE), user, perms.VIEW_ORG)
    by_path = dict(
        active.values("department__path")
        .annotate(n=Count("pk"))
        .values_list("department__path", "n")
    )
    values = [sum(n for path, n in by_path.items() if path.startswith(unit.path)) for unit in units]
    return {"labels": [unit.name for unit in units], "values": values}


def _case_figures(user) -> list[tuple]:
    """Open cases, due today, breached and still open, and the caller's own: each a link to
    the list that shows them. One aggregate over the open cases of the queues in scope (the
    state filter first, so closed cases, most of the table, are not read)."""
    cases = restrict(Case.objects.filter(state__in=sorted(OPEN_STATES)), user, perms.VIEW_CASES)
    end_of_day = timezone.localtime().replace(hour=23, minute=59, second=59)
    counts = cases.aggregate(
        open=Count("pk"),
        due_today=Count("pk", filter=Q(due_at__lte=end_of_day)),
        breached=Count("pk", filter=Q(breached_at__isnull=False)),
        mine=Count("pk", filter=Q(handler=user)),
    )
    queue = reverse("cases:queue")
    figures = [
        (_("Open cases"), counts["open"], f"{queue}?state=open"),
        (_("Cases due today"), counts["due_today"], f"{queue}?due=today"),
        (_("Breached cases still open"), counts["breached"], f"{queue}?state=open&due=breached"),
    ]
    if has_capability(user, perms.HANDLE_CASES):
        figures.append(
            (_("My open cases"), counts["mine"], f"{reverse('cases:my_cases')}?state=open")
        )
    return figures


@login_required
def home(request):
    user = request.user
    figures = []
    if has_capability(user, perms.VIEW_ORG):
        figures += _org_figures(user)
    if has_capability(user, perms.VIEW_CUSTOMERS):
        figures += _customer_figures(user)
    if has_capability(user, perms.MANAGE_EVENTS):
        figures.append(
            (
                _("Events that failed delivery"),
                EventDelivery.objects.filter(state=DeliveryState.DEAD).count(),
            )
        )
    if has_capability(user, perms.VIEW_AUDIT):
        figures.append((_("Audit entries"), AuditEntry.objects.count()))
    case_figures = _case_figures(user) if has_capability(user, perms.VIEW_CASES) else []
    staff_chart = _staff_chart(user) if has_capability(user, perms.VIEW_ORG) else {}
    context = {
        "figures": figures,
        "case_figures": case_figures,
        "roles": [Role(role).label for role in sorted(roles_of(user))],
        "staff_chart": staff_chart,
        "staff_rows": list(
            zip(staff_chart.get("labels", []), staff_chart.get("values", []), strict=True)
        ),
    }
    return render(request, "core/dashboard.html", context)
