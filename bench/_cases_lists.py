"""Cases benchmark, part 3: the queue page and the list API at the size the import left
(1,000,000 cases at scale 1), for a branch supervisor (a sixth of the cases in scope) and a
complaints officer at head office (all of them): median and 95th percentile of repeated
requests through Django's test client, in process, with the number of queries of one.

The filters are the queue's own: the first page and a later one, open cases, a channel, a
severity, due today, breached (none in the supervisor's branch, the worst case for a list that
stops after one page), a reference. A search for words of the subject reads every subject in
scope; it is shown for information.
"""

import importlib.util
import statistics
import time
from functools import cache
from pathlib import Path

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from servicecharter.accounts.models import User
from servicecharter.accounts.tokens import token_create
from servicecharter.cases.models import Case
from servicecharter.cases.selectors import case_list_for_user
from servicecharter.core.context import Actor, reset_actor, set_actor

REQUESTS = 20
WARM_UP = 3
TARGET_MS = 300


def run(*, stdout, scale: float, state: dict) -> list:
    import_part = _import_part()
    supervisor = state.get("supervisor") or User.objects.filter(username="supervisor").first()
    officer = state.get("complaints_officer") or User.objects.filter(username="complaints").first()
    if supervisor is None or officer is None:
        stdout.write("(3) no demo institution (the import part did not run): nothing to list.")
        return []
    total = Case.objects.count()
    stdout.write(f"(3) the queue page and the list API with {total:,} cases…")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    people = [("branch supervisor", supervisor), ("complaints officer, head office", officer)]
    _warm_up(supervisor)
    results = []
    for who, user in people:
        scenarios = _scenarios(user)
        results += _time_page(who, user, scenarios)
        results += _time_api(who, user, scenarios)
    state.setdefault("results", []).extend(results)
    import_part.print_table(stdout, f"Case lists with {total:,} cases", results)
    return results


@cache
def _import_part():
    """bench/_cases_import.py, for its result type and table."""
    spec = importlib.util.spec_from_file_location(
        "bench_cases_import_for_lists", Path(__file__).with_name("_cases_import.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _warm_up(user) -> None:
    """The first requests after a million-row load read the tables' pages from disk and fill
    the process's caches: not what a user's next request costs."""
    client = Client()
    client.force_login(user)
    for _ in range(10):
        client.get(reverse("cases:queue"))


def _scenarios(user) -> list[tuple[str, dict, bool]]:
    """(label, query parameters, counts against the target)."""
    cases = case_list_for_user(user=user)
    newest = cases.order_by("-pk").values_list("reference", flat=True).first() or "C0000-0000000"
    return [
        ("first page", {}, True),
        ("page 10", {"page": 10}, True),
        ("open cases", {"state": "open"}, True),
        ("one channel (letter)", {"channel": "letter"}, True),
        ("high severity", {"severity": "high"}, True),
        ("due today", {"due": "today"}, True),
        ("breached", {"due": "breached"}, True),
        ("a reference", {"q": newest}, True),
        ("words of the subject", {"q": "payment"}, False),
    ]


def _time_page(who: str, user, scenarios) -> list:
    client = Client()
    client.force_login(user)
    url = reverse("cases:queue")
    results = []
    for label, params, counted in scenarios:
        median, p95, queries, status = _time(lambda params=params: client.get(url, params))
        results.append(
            _result(f"queue page, {who}: {label}", median, p95, queries, status, counted)
        )
    return results


def _time_api(who: str, user, scenarios) -> list:
    token = set_actor(Actor(label="charter bench"))
    try:
        secret = token_create(
            actor=user, owner=user, name="bench lists", scopes=["cases:read"], lifetime_days=1
        ).secret
    finally:
        reset_actor(token)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    url = "/api/cases/"
    results = []
    for label, params, counted in scenarios:
        params = dict(params)
        if "page" in params:  # the API walks by cursor: ten pages down, as a client gets there
            params = {"cursor": _cursor_after_pages(client, url, 10)}
            label = "10 pages down (cursor)"
        median, p95, queries, status = _time(lambda params=params: client.get(url, params))
        results.append(_result(f"list API, {who}: {label}", median, p95, queries, status, counted))
    return results


def _cursor_after_pages(client: Client, url: str, pages: int) -> str:
    cursor = ""
    for _ in range(pages):
        answer = client.get(url, {"cursor": cursor} if cursor else {}).json()
        cursor = answer.get("cursor") or cursor
    return cursor


def _time(request) -> tuple[float, float, int, int]:
    for _ in range(WARM_UP):
        response = request()
    timings = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        response = request()
        timings.append((time.perf_counter() - started) * 1000)
    with CaptureQueriesContext(connection) as queries:
        request()
    p95 = statistics.quantiles(timings, n=20)[-1]
    return statistics.median(timings), p95, len(queries), response.status_code


def _result(measure: str, median: float, p95: float, queries: int, status: int, counted: bool):
    Result = _import_part().Result
    return Result(
        measure,
        f"{median:.0f} ms median, {p95:.0f} ms p95 ({queries} queries, HTTP {status})",
        f"< {TARGET_MS} ms" if counted else "info",
        status == 200 and p95 < TARGET_MS if counted else None,
    )
