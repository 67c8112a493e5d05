"""Interaction pages, one module per concern; each keeps its own ``urlpatterns``:
lists (the filtered list of interactions in scope), detail (one interaction: its steps on a time
line beside the judging version, and its deviations)."""
