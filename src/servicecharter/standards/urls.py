from servicecharter.standards.views import editor, library, service_levels

app_name = "standards"

urlpatterns = [*library.urlpatterns, *editor.urlpatterns, *service_levels.urlpatterns]
