"""Discipline pages (namespace ``discipline``): each views module keeps its own ``urlpatterns``."""

app_name = "discipline"

urlpatterns: list = []
