from servicecharter.interactions.views import detail, lists

app_name = "interactions"

urlpatterns = [*lists.urlpatterns, *detail.urlpatterns]
