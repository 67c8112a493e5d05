"""Survey pages, one module per concern; each keeps its own ``urlpatterns``:
rules (survey rules and the outbox, MANAGE_SURVEYS), results (results in scope, a department's
results, an employee's own feedback), public (the customer's answer page, no sign-in)."""
