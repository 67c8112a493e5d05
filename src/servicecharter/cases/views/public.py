"""(Filled in by the public work.)"""

urlpatterns: list = []
