"""The list of interactions in the caller's scope (VIEW_INTERACTIONS), with filters by channel,
member of staff, outcome, deviations, department and period.

A page never counts the table (millions of rows): it fetches one row more than it shows to know
whether there is a next page (``OpenEndedPage``), so the number of queries is fixed whatever
the number of rows. HTMX filter requests get only the results block.
"""

from django.shortcuts import render
from django.urls import path

from servicecharter.accounts import permissions as perms
from servicecharter.interactions import selectors
from servicecharter.interactions.forms import InteractionFilterForm
from servicecharter.org.models import Department
from servicecharter.org.views import OpenEndedPage, capability_required

PAGE_SIZE = 25


@capability_required(perms.VIEW_INTERACTIONS)
def interaction_list(request):
    departments = Department.objects.filter(
        pk__in=selectors.department_ids_in_scope(request.user)
    ).order_by("path")
    form = InteractionFilterForm(request.GET or None, departments=departments)
    interactions = selectors.interaction_filter(
        selectors.interaction_list_for_user(user=request.user), **form.filters()
    )
    page = OpenEndedPage(interactions, request.GET.get("page"), size=PAGE_SIZE)
    # The whole page, or only its results block for an HTMX filter request (the whole page
    # when HTMX restores history it has not cached).
    partial = request.htmx and not request.htmx.history_restore_request
    template = "interactions/list.html#results" if partial else "interactions/list.html"
    return render(request, template, {"form": form, "page": page})


urlpatterns = [path("", interaction_list, name="list")]
