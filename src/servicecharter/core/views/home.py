from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render


@login_required
def home(request):
    return render(request, "core/home.html", {})


def healthz(request):
    """Liveness for load balancers: the database answers."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        database = "ok"
    except Exception:
        database = "error"
    status = 200 if database == "ok" else 503
    return JsonResponse({"database": database}, status=status)
