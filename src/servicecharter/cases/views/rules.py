"""(Filled in by the rules work.)"""

urlpatterns: list = []
