"""The customer's pages: no sign-in. Kept apart from the staff's ``cases`` namespace."""

from servicecharter.cases.views import public

app_name = "public"

urlpatterns = public.urlpatterns
