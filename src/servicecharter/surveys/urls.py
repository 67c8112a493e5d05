from servicecharter.surveys.views import results, rules

app_name = "surveys"

urlpatterns = [*results.urlpatterns, *rules.urlpatterns]
