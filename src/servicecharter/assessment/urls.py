"""Assessment pages (namespace ``assessment``): each views module keeps its own ``urlpatterns``."""

from servicecharter.assessment.views import mine, periods, schemes

app_name = "assessment"

urlpatterns = [*periods.urlpatterns, *mine.urlpatterns, *schemes.urlpatterns]
