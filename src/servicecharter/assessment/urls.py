"""Assessment pages (namespace ``assessment``): each views module keeps its own ``urlpatterns``."""

app_name = "assessment"

urlpatterns: list = []
