"""Quality pages (namespace ``quality``): each views module keeps its own ``urlpatterns``."""

app_name = "quality"

urlpatterns: list = []
