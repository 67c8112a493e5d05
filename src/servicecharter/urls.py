from django.urls import include, path

from servicecharter.core.views import dashboard
from servicecharter.core.views import home as core_views

urlpatterns = [
    path("", dashboard.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("servicecharter.accounts.urls")),
    path("org/", include("servicecharter.org.urls")),
    path("core/", include("servicecharter.core.urls")),
    path("api/", include("servicecharter.api_urls")),
]
