from servicecharter.core.context import Actor, new_request_id, reset_actor, set_actor


def client_ip(request) -> str | None:
    # Behind a proxy, only REMOTE_ADDR as set by the proxy layer is trusted (no X-Forwarded-For
    # parsing here: a client could forge it).
    return request.META.get("REMOTE_ADDR") or None


class RequestContextMiddleware:
    """Gives each request an id and records the caller's address for the audit trail.
    The user is attached later, once authentication has run (see ``actor_for_request``)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = request.headers.get("X-Request-ID", "")[:64] or new_request_id()
        token = set_actor(
            Actor(ip=client_ip(request), request_id=request.request_id, label="anonymous")
        )
        try:
            response = self.get_response(request)
        finally:
            reset_actor(token)
        response["X-Request-ID"] = request.request_id
        return response
