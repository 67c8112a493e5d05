"""The customer's survey page: no sign-in. Kept apart from the staff's ``surveys`` namespace."""

from servicecharter.surveys.views import public

app_name = "survey_public"

urlpatterns = public.urlpatterns
