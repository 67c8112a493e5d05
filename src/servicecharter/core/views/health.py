from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

from servicecharter.core.worker import worker_health


@never_cache
def healthz(request):
    """Health for load balancers and monitoring, as JSON:

    - ``status``: "ok" (database up and a worker alive), "degraded" (database up, no live
      worker: events and periodic jobs wait), "error" (database down);
    - ``database``: "ok" or "error";
    - ``worker.status``: "ok", "stale" (the freshest heartbeat is older than
      ``WORKER_HEARTBEAT_STALE_SECONDS``), "missing" (no worker ever beat, or all stopped
      cleanly) or "unknown" (the database is down);
    - ``worker.last_seen_seconds``: age of the freshest heartbeat, null when there is none;
    - ``worker.active``: how many workers beat within the stale limit;
    - ``worker.stale_after_seconds``: that limit.

    HTTP 200 whenever the database answers (a stopped worker must not take the web servers out
    of the load balancer), 503 when it does not."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        worker = worker_health()
    except Exception:
        worker = {"status": "unknown", "last_seen_seconds": None, "active": 0}
        status, database, http_status = "error", "error", 503
    else:
        status = "ok" if worker["status"] == "ok" else "degraded"
        database, http_status = "ok", 200
    worker["stale_after_seconds"] = settings.WORKER_HEARTBEAT_STALE_SECONDS
    body = {"status": status, "database": database, "worker": worker}
    return JsonResponse(body, status=http_status)
