"""Survey results in the caller's scope (VIEW_SURVEYS), a department's results, and an
employee's own feedback (no capability needed: it is about themselves).

Every figure comes from the monthly rollups (``selectors.survey_results_for_user``): a fixed
number of queries whatever the number of responses. HTMX filter requests get only the results
block; the charts draw themselves again in it.
"""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import path

from servicecharter.accounts import permissions as perms
from servicecharter.org.views import capability_required
from servicecharter.surveys import selectors
from servicecharter.surveys.forms import ResultsFilterForm


def _respond(request, template: str, context: dict):
    partial = request.htmx and not request.htmx.history_restore_request
    return render(request, f"{template}#results" if partial else template, context)


@capability_required(perms.VIEW_SURVEYS)
def results(request):
    departments = selectors.departments_in_scope(request.user)
    form = ResultsFilterForm(request.GET or None, departments=departments)
    summary = selectors.survey_results_for_user(user=request.user, **form.filters())
    return _respond(request, "surveys/results.html", {"form": form, "results": summary})


@capability_required(perms.VIEW_SURVEYS)
def department_results(request, pk: int):
    """One department's page: its results (subtree), its teams and staff, recent comments."""
    department = selectors.survey_department_get_for_user(user=request.user, pk=pk)
    form = ResultsFilterForm(request.GET or None, departments=None, with_department=False)
    filters = {**form.filters(), "department": department}
    summary = selectors.survey_results_for_user(user=request.user, **filters)
    comments = selectors.recent_comments(user=request.user, department=department)
    context = {"form": form, "results": summary, "department": department, "comments": comments}
    return _respond(request, "surveys/department.html", context)


@login_required
def my_feedback(request):
    feedback = selectors.survey_feedback_for_user(user=request.user)
    return render(request, "surveys/mine.html", {"feedback": feedback})


urlpatterns = [
    path("", results, name="results"),
    path("departments/<int:pk>/", department_results, name="department"),
    path("mine/", my_feedback, name="mine"),
]
