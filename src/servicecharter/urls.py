from django.urls import include, path

from servicecharter.accounts import views as accounts_views
from servicecharter.core.views import dashboard, health

urlpatterns = [
    path("", dashboard.home, name="home"),
    path("healthz", health.healthz, name="healthz"),
    # Before Django's own: the same URL and name, but the choice is remembered per user.
    path("i18n/setlang/", accounts_views.set_language, name="set_language"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("servicecharter.accounts.urls")),
    path("org/", include("servicecharter.org.urls")),
    path("core/", include("servicecharter.core.urls")),
    path("cases/", include("servicecharter.cases.urls")),
    path("feedback/", include("servicecharter.cases.public_urls")),
    path("api/", include("servicecharter.api_urls")),
    path("standards/", include("servicecharter.standards.urls")),
    path("interactions/", include("servicecharter.interactions.urls")),
    path("quality/", include("servicecharter.quality.urls")),
    path("surveys/", include("servicecharter.surveys.urls")),
    path("survey/", include("servicecharter.surveys.public_urls")),
    path("assessment/", include("servicecharter.assessment.urls")),
    path("discipline/", include("servicecharter.discipline.urls")),
]
