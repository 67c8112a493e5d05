"""Discipline pages (namespace ``discipline``): each views module keeps its own ``urlpatterns``."""

from servicecharter.discipline.views import appeals as appeal_views
from servicecharter.discipline.views import decisions as decision_views
from servicecharter.discipline.views import mine as mine_views

app_name = "discipline"

urlpatterns: list = []
urlpatterns += decision_views.urlpatterns
urlpatterns += appeal_views.urlpatterns
urlpatterns += mine_views.urlpatterns
