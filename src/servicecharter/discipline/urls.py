"""Discipline pages (namespace ``discipline``): each views module keeps its own ``urlpatterns``."""

from servicecharter.discipline.views import appeals as appeal_views
from servicecharter.discipline.views import decisions as decision_views
from servicecharter.discipline.views import mine as mine_views

app_name = "discipline"

urlpatterns: list = []
urlpatterns += decision_views.urlpatterns
urlpatterns += appeal_views.urlpatterns
urlpatterns += mine_views.urlpatterns

from servicecharter.discipline.views import rulebook as rulebook_views  # noqa: E402
from servicecharter.discipline.views import violations as violation_views  # noqa: E402

urlpatterns += violation_views.urlpatterns
urlpatterns += rulebook_views.urlpatterns

from servicecharter.discipline.views import fairness as fairness_views  # noqa: E402
from servicecharter.discipline.views import summary as summary_views  # noqa: E402

urlpatterns += fairness_views.urlpatterns
urlpatterns += summary_views.urlpatterns
