"""Quality benchmark, part 3: the survey results page for a department over 1,000,000 responses.

The institution is the one the earlier parts built (the demo's departments and the 5,000 bench
agents of the ingest part); run alone, this part builds the same. One year of survey
answers is bulk-loaded: 1,250,000 invitations (80% answered) spread over the agents, channels
and the last twelve months, each answer attributed to its agent, department and channel as
``survey_respond`` would. The rollups are built the way the services build them: the counts of
each batch go through ``rollup_add`` (the upsert ``survey_respond`` and dispatch call); then
``rollup_rebuild`` recomputes one month from the invitations and responses and must give the
same rows (its time is reported).

Timed (median of 10 requests after one warm-up, through Django's test client and the whole
middleware stack): the department page ``/surveys/departments/<id>/`` of a branch, of a team,
and the head office's (every answer); and the results page ``/surveys/``. Each row says how
many queries the page made and how many rollup rows it read.
"""

import hashlib
import importlib.util
import random
import statistics
import time
from datetime import UTC, date, timedelta
from pathlib import Path

from django.db import connection, transaction
from django.db.models import Count, Sum
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from servicecharter.accounts.choices import ROLES_REQUIRING_TOTP, Role
from servicecharter.accounts.models import RoleGrant, User
from servicecharter.core import pii
from servicecharter.core.context import Actor, reset_actor, set_actor
from servicecharter.core.ids import allocate_ids
from servicecharter.core.imports import bulk_insert
from servicecharter.demo.services import institution_seed
from servicecharter.org.choices import Channel, CustomerSegment, Language
from servicecharter.org.models import Customer, Department, Staff
from servicecharter.surveys import services
from servicecharter.surveys.choices import InvitationState, SurveyTrigger
from servicecharter.surveys.models import (
    DailyRollup,
    Invitation,
    MonthlyRollup,
    MonthlyStaffRollup,
    Response,
    SurveyRule,
)
from servicecharter.surveys.selectors import default_period

RESPONSES = 1_000_000
ANSWERED_SHARE = 0.8
CUSTOMERS = 20_000
BATCH = 25_000
RUNS = 10
TARGET_MS = 300
CHANNELS = (
    (Channel.PHONE, 60),
    (Channel.CHAT, 15),
    (Channel.BRANCH, 10),
    (Channel.APP, 6),
    (Channel.EMAIL, 5),
    (Channel.SOCIAL, 4),
)
COMMENTS = ("很满意，谢谢！", "等待时间太长。", "Helpful and quick.", "问题没有解决。")


def _sibling(name: str):
    """Another file of bench/ (foundation.py's result table, the ingest part's agents)."""
    spec = importlib.util.spec_from_file_location(
        f"bench_{name}_for_surveys", Path(__file__).with_name(f"{name}.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(*, stdout, scale: float, state: dict) -> list:
    foundation = _sibling("foundation")
    answers = max(10_000, int(RESPONSES * scale))
    invitations = int(answers / ANSWERED_SHARE)
    token = set_actor(Actor(label="charter bench"))
    try:
        institution_seed(seed=1, customers=0, interactions=False)
        agents = _agents(state, scale)
        customers = _customers(max(1_000, int(CUSTOMERS * scale)))
        rule = _rule()
        stdout.write(
            f"Loading {invitations:,} survey invitations and {answers:,} answers over "
            f"{len(agents):,} agents, with their rollups ({connection.vendor})…"
        )
        started = time.perf_counter()
        _load(invitations, agents, customers, rule)
        loaded = time.perf_counter() - started
        _analyze()
        rebuild = _time_rebuild()
        pages = _time_pages()
    finally:
        reset_actor(token)
    results = _report(foundation, answers, invitations, loaded, rebuild, pages)
    state["surveys"] = {"responses": answers, "pages": pages}
    stdout.write("")
    stdout.write("Quality, part 3: survey results over the rollups")
    foundation.print_table(stdout, results)
    return results


# --- the institution -----------------------------------------------------------------------------


def _agents(state: dict, scale: float) -> list[tuple[int, int]]:
    """(staff id, department id) of the agents who served: the ingest part's 5,000, or as
    many added here the same way when this part runs alone."""
    ids = state.get("agents")
    if not ids:
        ingest = _sibling("_quality_ingest")
        pools = ingest.add_agents(max(100, int(ingest.AGENTS * scale)))
        ids = [pk for pool in pools.values() for pk, _number in pool]
    return list(Staff.objects.filter(pk__in=ids).order_by("pk").values_list("pk", "department_id"))


def _customers(count: int) -> list[int]:
    existing = list(Customer.objects.order_by("pk").values_list("pk", flat=True)[:count])
    if len(existing) >= count:
        return existing
    branches = list(Department.objects.filter(kind="branch").values_list("pk", flat=True))
    records = [
        Customer(
            customer_number=f"SV{number:07d}",
            name=f"Survey customer {number}",
            home_department_id=branches[number % len(branches)],
            segment=CustomerSegment.RETAIL,
            preferred_language=Language.ZH_HANS if number % 4 else Language.EN,
            email=f"customer{number}@example.com",
        )
        for number in range(count - len(existing))
    ]
    with transaction.atomic():
        bulk_insert(Customer, records, batch_size=BATCH)
    return [*existing, *(record.pk for record in records)]


def _rule() -> SurveyRule:
    rule = SurveyRule.objects.filter(name="Bench: after every interaction").first()
    if rule is None:
        with transaction.atomic():
            rule = services.survey_rule_create(
                actor=None,
                name="Bench: after every interaction",
                trigger=SurveyTrigger.INTERACTION,
                sampling_rate=20,
                ask_effort=True,
            )
    return rule


# --- the answers ---------------------------------------------------------------------------------


def _draw_scores(rng: random.Random, care: float) -> tuple[int, int, int]:
    """CSAT, NPS and effort of one answer, better for a more careful agent."""
    csat = min(5, max(1, round(rng.gauss(3.2 + 1.4 * care, 1.0))))
    nps = min(10, max(0, round(rng.gauss(5.0 + 4.0 * care, 2.2))))
    effort = min(5, max(1, round(rng.gauss(3.4 - 1.6 * care, 0.9))))
    return csat, nps, effort


INVITATION_COLUMNS = (
    "id", "rule_id", "token_digest", "customer_id", "interaction_id", "case_id", "staff_id",
    "department_id", "channel", "language", "state", "created_at", "expires_at", "answered_at",
)  # fmt: skip
RESPONSE_COLUMNS = (
    "id", "invitation_id", "csat", "nps", "effort", "comment", "staff_id", "department_id",
    "channel", "answered_at",
)  # fmt: skip


def _stamp(moment):
    """What the database takes: an aware datetime for COPY, Django's text on SQLite."""
    if moment is None or connection.vendor == "postgresql":
        return moment
    return str(moment.astimezone(UTC).replace(tzinfo=None))


def _write(model, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """COPY on PostgreSQL, one executemany on SQLite: the way a bulk import writes."""
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    names = ", ".join(quote(column) for column in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        marks = ", ".join(["%s"] * len(columns))
        cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)


def _channels_of(agents: list, rng: random.Random) -> dict[int, list[str]]:
    """The channels each agent serves: a main one (branch staff at the counter, the others
    by phone, chat, app, email or social media) and now and then another."""
    remote = [channel for channel, weight in CHANNELS if channel != Channel.BRANCH]
    counters = set(
        Department.objects.filter(code__regex=r"-(RET|WLT|LN)$").values_list("pk", flat=True)
    )
    weights = dict(CHANNELS)
    channels = {}
    for staff, department in agents:
        if department in counters:
            main = Channel.BRANCH
        else:
            main = rng.choices(remote, weights=[weights[c] for c in remote])[0]
        channels[staff] = [main] * 9 + [rng.choice(remote)]
    return channels


# One transaction: on SQLite, ids taken ahead need the write lock held until their rows are in.
@transaction.atomic
def _load(count: int, agents: list, customers: list[int], rule: SurveyRule) -> None:
    rng = random.Random("bench:surveys")
    care = {pk: rng.random() for pk, _department in agents}
    channels = _channels_of(agents, rng)
    now = timezone.now()
    seconds = 365 * 86_400
    valid = timedelta(days=rule.valid_days)
    number = 0
    while number < count:
        size = min(BATCH, count - number)
        invitation_ids = allocate_ids(Invitation, size)
        response_ids = iter(allocate_ids(Response, size))
        invitations, answers, deltas = [], [], {}
        for pk in invitation_ids:
            number += 1
            staff, department = agents[rng.randrange(len(agents))]
            created = now - timedelta(seconds=rng.randrange(seconds))
            channel = rng.choice(channels[staff])
            digest = hashlib.sha256(f"bench-survey-{number}".encode()).hexdigest()
            customer = customers[number % len(customers)]
            counters = {"invited": 1}
            state, answered = InvitationState.SENT, None
            if rng.random() < ANSWERED_SHARE:
                csat, nps, effort = _draw_scores(rng, care[staff])
                answered = created + timedelta(minutes=rng.randrange(5, 3 * 24 * 60))
                state = InvitationState.ANSWERED
                comment = rng.choice(COMMENTS) if rng.random() < 0.1 else ""
                answers.append(
                    (next(response_ids), pk, csat, nps, effort, comment, staff, department,
                     channel, _stamp(answered))
                )  # fmt: skip
                counters.update(services.response_counters(csat, nps, effort))
            invitations.append(
                (pk, rule.pk, digest, customer, None, None, staff, department, channel,
                 Language.ZH_HANS, state, _stamp(created), _stamp(created + valid),
                 _stamp(answered))
            )  # fmt: skip
            key = (services.rollup_day(created), department, staff, channel)
            row = deltas.setdefault(key, {})
            for name, value in counters.items():
                row[name] = row.get(name, 0) + value
        with transaction.atomic():
            _write(Invitation, INVITATION_COLUMNS, invitations)
            _write(Response, RESPONSE_COLUMNS, answers)
            services.rollup_add(deltas)


def _analyze() -> None:
    """As autovacuum would after a bulk load, so the pages are planned on real statistics."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for model in (Invitation, Response, DailyRollup, MonthlyRollup, MonthlyStaffRollup):
                cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")
        else:
            cursor.execute("ANALYZE")


def _rollup_snapshot(first_day: date, last_day: date) -> dict:
    rows = DailyRollup.objects.filter(day__gte=first_day, day__lte=last_day)
    return {
        (r.day, r.department_id, r.staff_key, r.channel): tuple(
            getattr(r, name) for name in services.ROLLUP_COUNTERS
        )
        for r in rows
    }


def _time_rebuild() -> dict:
    """Rebuild last month's rollups from the invitations and answers; they must not change."""
    first = (timezone.localdate().replace(day=1) - timedelta(days=1)).replace(day=1)
    last = timezone.localdate().replace(day=1) - timedelta(days=1)
    before = _rollup_snapshot(first, last)
    monthly_before = _monthly_totals(first)
    started = time.perf_counter()
    rows = services.rollup_rebuild(first_day=first, last_day=last)
    seconds = time.perf_counter() - started
    same = _rollup_snapshot(first, last) == before and _monthly_totals(first) == monthly_before
    return {"seconds": seconds, "rows": rows, "same": same, "days": (last - first).days + 1}


def _monthly_totals(month: date) -> dict:
    return {
        model.__name__: model.objects.filter(month=month).aggregate(rows=Count("pk"))["rows"]
        for model in (MonthlyRollup, MonthlyStaffRollup)
    }


# --- the pages -----------------------------------------------------------------------------------


def _viewer(username: str, role: str, department: Department) -> User:
    user = User.objects.filter(username=username).first()
    if user is None:
        user = User.objects.create_user(username=username, password=None)
        RoleGrant.objects.create(user=user, role=role, department=department)
        if role in ROLES_REQUIRING_TOTP:
            user.totp_secret_cipher = pii.encrypt("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
            user.totp_confirmed_at = timezone.now()
            user.save(update_fields=["totp_secret_cipher", "totp_confirmed_at"])
    return user


def _busiest(kind: str) -> Department:
    """The department of this kind with the most answers in its subtree."""
    departments = list(Department.objects.filter(kind=kind))
    answered = dict(
        MonthlyRollup.objects.values_list("department_id").annotate(n=Sum("answered")).order_by()
    )
    paths = dict(Department.objects.values_list("pk", "path"))

    def weight(department):
        return sum(n for pk, n in answered.items() if paths[pk].startswith(department.path))

    return max(departments, key=weight)


def _time_page(client: Client, url: str) -> dict:
    response = client.get(url)  # warm-up: templates compiled, connection open
    assert response.status_code == 200, (url, response.status_code)
    timings = []
    for _ in range(RUNS):
        started = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    return {
        "median_ms": statistics.median(timings),
        "max_ms": max(timings),
        "queries": len(queries),
    }


def _rows_read(department: Department) -> dict:
    """The answers a page over the last twelve months shows, and the rollup rows it reads."""
    ids = list(
        Department.objects.filter(path__startswith=department.path).values_list("pk", flat=True)
    )
    first, _last = default_period()
    monthly = MonthlyRollup.objects.filter(department_id__in=ids, month__gte=first)
    staff = MonthlyStaffRollup.objects.filter(department_id__in=ids, month__gte=first)
    return {
        "answered": monthly.aggregate(n=Sum("answered"))["n"] or 0,
        "monthly_rows": monthly.count(),
        "staff_rows": staff.count(),
    }


def _time_pages() -> list[dict]:
    head = Department.objects.filter(parent__isnull=True).order_by("pk").first()
    branch, team = _busiest("branch"), _busiest("team")
    pages = []
    for label, department, viewer in (
        ("a branch", branch, _viewer("bench.surveys.branch", Role.SUPERVISOR, branch)),
        ("a team", team, _viewer("bench.surveys.team", Role.SUPERVISOR, team)),
        ("the head office", head, _viewer("bench.surveys.exec", Role.EXECUTIVE, head)),
    ):
        client = Client()
        client.force_login(viewer)
        timing = _time_page(client, f"/surveys/departments/{department.pk}/")
        label = f"department page of {label} ({department.code})"
        pages.append({"label": label, **timing, **_rows_read(department)})
    client = Client()
    client.force_login(_viewer("bench.surveys.exec", Role.EXECUTIVE, head))
    timing = _time_page(client, "/surveys/")
    pages.append({"label": "results page, whole institution", **timing, **_rows_read(head)})
    return pages


# --- the figures ---------------------------------------------------------------------------------


def _report(foundation, answers, invitations, loaded, rebuild, pages) -> list:
    Result = foundation.Result
    results = [
        Result(
            "answers loaded with their rollups (rollup_add per batch)",
            f"{answers:,} answers, {invitations:,} invitations in {loaded:.1f} s "
            f"({answers / loaded:,.0f} answers/s)",
            "",
            None,
        ),
        Result(
            "rollups in the database",
            f"{DailyRollup.objects.count():,} daily, {MonthlyRollup.objects.count():,} monthly, "
            f"{MonthlyStaffRollup.objects.count():,} monthly by employee",
            "",
            None,
        ),
        Result(
            f"rollup_rebuild of last month ({rebuild['days']} days) from the answers",
            f"{rebuild['seconds']:.1f} s, {rebuild['rows']:,} daily rows, "
            + ("same rows as built incrementally" if rebuild["same"] else "ROWS DIFFER"),
            "same rows",
            rebuild["same"],
        ),
    ]
    for page in pages:
        results.append(
            Result(
                page["label"],
                f"{page['median_ms']:.0f} ms median, {page['max_ms']:.0f} ms max; "
                f"{page['answered']:,} answers; {page['queries']} queries; "
                f"{page['monthly_rows']:,} + {page['staff_rows']:,} rollup rows",
                f"< {TARGET_MS} ms",
                page["median_ms"] < TARGET_MS,
            )
        )
    return results
