"""Quality pages (namespace ``quality``): each views module keeps its own ``urlpatterns``."""

from servicecharter.quality.views import (
    calibration,
    mine,
    reviews,
    sampling,
    scorecards,
    scoring,
    team,
    workspace,
)

app_name = "quality"

urlpatterns = [
    *workspace.urlpatterns,
    *scoring.urlpatterns,
    *scorecards.urlpatterns,
    *mine.urlpatterns,
    *team.urlpatterns,
    *sampling.urlpatterns,
    *calibration.urlpatterns,
    *reviews.urlpatterns,
]
