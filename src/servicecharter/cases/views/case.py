"""(Filled in by the case-page work.)"""

from django.http import HttpResponse
from django.urls import path


def case_detail(request, pk: int):
    return HttpResponse(status=501)


urlpatterns: list = [path("<int:pk>/", case_detail, name="case_detail")]
