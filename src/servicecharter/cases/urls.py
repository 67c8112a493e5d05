from servicecharter.cases.views import case, intake, queue, rules

app_name = "cases"

urlpatterns = [*queue.urlpatterns, *case.urlpatterns, *intake.urlpatterns, *rules.urlpatterns]
