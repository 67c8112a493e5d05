"""The JSON API: one NinjaAPI, each module adds its router. OpenAPI at /api/docs."""

from django.urls import path
from ninja import NinjaAPI

api = NinjaAPI(title="Service Charter API", version="1", docs_url="/docs", urls_namespace="api")

urlpatterns = [path("", api.urls)]
