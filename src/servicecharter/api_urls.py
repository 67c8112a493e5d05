"""The JSON API: one NinjaAPI, each module adds its router. OpenAPI at /api/docs.

Every operation needs a caller: a Bearer token or the browser session (CSRF for unsafe
methods); see ``accounts.tokens``. Errors share one JSON shape; see ``accounts.api``.
A module adds its router below: ``api.add_router("/cases/", cases_router)``.
"""

from django.urls import path
from ninja import NinjaAPI

from servicecharter.accounts.api import install_error_handlers
from servicecharter.accounts.api import router as me_router
from servicecharter.accounts.tokens import api_auth
from servicecharter.assessment.api import router as assessment_router
from servicecharter.cases.api import router as cases_router
from servicecharter.discipline.api import router as discipline_router
from servicecharter.discipline.decisions_api import router as decisions_router
from servicecharter.interactions.api import router as interactions_router
from servicecharter.org.api import router as org_router
from servicecharter.quality.api import router as quality_router
from servicecharter.quality.reviews_api import router as quality_reviews_router
from servicecharter.surveys.api import router as surveys_router

api = NinjaAPI(
    title="Service Charter API",
    version="1",
    docs_url="/docs",
    urls_namespace="api",
    auth=api_auth(),
    description=(
        "Authenticate with `Authorization: Bearer <token>` (create one under API tokens) or the "
        "browser session. Errors: `{code, message, fields}`."
    ),
)
install_error_handlers(api)

api.add_router("/", me_router)
api.add_router("/", org_router)
api.add_router("/cases/", cases_router)
api.add_router("/interactions/", interactions_router)
api.add_router("/quality/", quality_router)
api.add_router("/quality/", quality_reviews_router)
api.add_router("/surveys/", surveys_router)
api.add_router("/assessment/", assessment_router)
api.add_router("/discipline/", discipline_router)
api.add_router("/discipline/", decisions_router)

urlpatterns = [path("", api.urls)]
