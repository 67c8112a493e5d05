"""Case pages, one module per concern; each keeps its own ``urlpatterns``:
queue (my cases, department queue, saved views, bulk assign, export), case (the case page and
its actions), intake (the staff's fast form), public (the customer's form and follow-up, no
sign-in), rules (routing, profile rules, custom profiles, response letters)."""
