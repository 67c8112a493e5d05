"""Standards pages, one module per concern; each keeps its own ``urlpatterns``:
library (the library, a standard, a version, acknowledgement), editor (create, draft, steps,
publish: MANAGE_STANDARDS on a whole tree), service_levels (the channel service levels)."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied

from servicecharter.standards.selectors import can_manage


def manager_required(view):
    """Signed in and allowed to change standards (institution-wide); otherwise 403."""

    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not can_manage(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped
