"""(Filled in by the queue work.)"""

urlpatterns: list = []
