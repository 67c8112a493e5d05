"""(Filled in by the intake work.)"""

urlpatterns: list = []
