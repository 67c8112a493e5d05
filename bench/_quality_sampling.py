"""Quality benchmark, part 2: a sampling plan for 5,000 agents over the 1,000,000 interactions
of a month, drawn in under 5 s — the population query, the picks and the bulk creation of the
evaluations, all of ``quality.sampling.sampling_plan_draw``.

Uses what part 1 left in ``state`` (the agents, the month, the interactions it ingested); run
alone, it builds the demo institution and bulk-creates the agents and interactions itself.
Then, as a month of a real contact centre would have: customers on one interaction in twenty,
complaints from a tenth of those customers within the week after their call, and survey answers
to one interaction in fifty, so the complaint and low-score picks read real tables.

The plan: the whole institution, 8 random picks per agent, plus every interaction with a
complaint, up to 2 with a low survey score, 1 abandoned and 1 very long per agent, spread over
50 auditors. Timed as a whole; then its parts are timed apart (population read, picks) and the
check that recomputes the draw from its seed.
"""

import gc
import importlib.util
import math
import os
import random
import time
from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from django.db import connection, transaction
from django.utils import timezone

from servicecharter.accounts.choices import Role
from servicecharter.accounts.models import RoleGrant, User
from servicecharter.cases.choices import CaseKind
from servicecharter.cases.models import Case
from servicecharter.core.context import Actor, reset_actor, set_actor
from servicecharter.core.imports import bulk_insert
from servicecharter.demo.services import institution_seed
from servicecharter.interactions.models import Interaction
from servicecharter.org.choices import Channel
from servicecharter.org.models import Customer, Department, Staff
from servicecharter.quality import sampling, services, stats
from servicecharter.quality.choices import CriterionCategory, SampleReason, Scale
from servicecharter.quality.models import Evaluation
from servicecharter.surveys.models import Invitation, Response, SurveyRule

ROWS = 1_000_000
AGENTS = 5_000
AUDITORS = 50
PER_AGENT = 8
TARGET_SECONDS = 5.0
BATCH = 50_000
CUSTOMER_EVERY = 20  # one interaction in twenty names its customer
COMPLAINT_EVERY = 10  # a tenth of those customers complain within the week
SURVEY_EVERY = 50  # one interaction in fifty gets a survey answer
TARGETED = {
    SampleReason.COMPLAINT: None,
    SampleReason.LOW_SURVEY: 2,
    SampleReason.ABANDONED: 1,
    SampleReason.LONG: 1,
}
HASH = "(id * 2654435761) %% 4294967296"  # Knuth's multiplicative hash, 64-bit safe
MIX = ((Channel.PHONE, 60), (Channel.CHAT, 15), (Channel.BRANCH, 10), (Channel.EMAIL, 5))
MIX += ((Channel.SOCIAL, 4), (Channel.APP, 6))


def _foundation():
    spec = importlib.util.spec_from_file_location(
        "bench_foundation_for_sampling", Path(__file__).with_name("foundation.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(*, stdout, scale: float, state: dict) -> list:
    foundation = _foundation()
    token = set_actor(Actor(label="charter bench"))
    try:
        if "period" not in state:
            _build_month(stdout, scale, state)
        start, end = state["period"]
        root = Department.objects.get(depth=0, parent__isnull=True)
        lead, auditors = _auditors(root, max(5, int(AUDITORS * min(1.0, scale * 10))))
        card = _scorecard(lead)
        stdout.write("Adding customers, complaints and survey answers…")
        extras = _targets_data(start, end, scale)
        _analyze()
        served = Interaction.objects.filter(
            started_at__gte=start, started_at__lt=end, staff_id__isnull=False
        )
        population = served.count()
        agents = served.values("staff_id").distinct().count()
        plan = sampling.sampling_plan_create(
            actor=lead,
            name="Bench month",
            department=root,
            period_start=start.date(),
            period_end=(end - timedelta(days=1)).date(),
            scorecard_version=card,
            auditors=auditors,
            per_agent=PER_AGENT,
            targeted=TARGETED,
            seed=2025,
        )
        stdout.write(
            f"Drawing a plan for {agents:,} agents over {population:,} interactions "
            f"on {connection.vendor}…"
        )
        gc.collect()
        server_before = backend_cpu_seconds()
        cpu_before = time.process_time()
        started = time.perf_counter()
        draw = sampling.sampling_plan_draw(actor=lead, plan=plan)
        seconds = time.perf_counter() - started
        cpu = {
            "here": time.process_time() - cpu_before,
            "database": backend_cpu_seconds() - server_before,
        }
        plan.refresh_from_db()
        parts = _parts(plan)
        started = time.perf_counter()
        check = sampling.sampling_plan_check(plan=plan)
        check_seconds = time.perf_counter() - started
        results = _report(
            foundation, draw, seconds, cpu, parts, check, check_seconds, agents, population, extras
        )
        _remove_targets_data(start, end)
    finally:
        reset_actor(token)
    stdout.write("")
    stdout.write("Quality, part 2: sampling plan")
    foundation.print_table(stdout, results)
    return results


# Alone: the month built here ------------------------------------------------------------------


def _last_month(today: date) -> tuple[datetime, datetime]:
    first_this = today.replace(day=1)
    first_last = (first_this - timedelta(days=1)).replace(day=1)
    zone = timezone.get_current_timezone()
    return (
        datetime.combine(first_last, datetime.min.time(), tzinfo=zone),
        datetime.combine(first_this, datetime.min.time(), tzinfo=zone),
    )


def _build_month(stdout, scale: float, state: dict) -> None:
    """The institution, the agents and a month of interactions, bulk-created (no ingest)."""
    rows = max(10_000, int(ROWS * scale))
    count = max(100, int(AGENTS * scale))
    stdout.write(f"Building the institution, {count:,} agents and {rows:,} interactions…")
    institution_seed(seed=1, customers=0, interactions=False)
    teams = list(Department.objects.filter(kind="team").values_list("pk", flat=True))
    staff = [
        Staff(
            employee_number=f"S{number + 1:06d}",
            name=f"Sampling agent {number + 1}",
            department_id=teams[number % len(teams)],
            grade=2,
            base_wage=Decimal("8000"),
            hire_date=date(2020, 1, 1),
        )
        for number in range(count)
    ]
    with transaction.atomic():
        bulk_insert(Staff, staff, batch_size=BATCH)
    start, end = _last_month(timezone.localdate())
    span = int((end - start).total_seconds())
    rng = random.Random("bench:quality:sampling")
    channels = [channel for channel, _share in MIX]
    weights = [share for _channel, share in MIX]
    for first in range(0, rows, BATCH):
        batch = []
        for index in range(first, min(rows, first + BATCH)):
            agent = staff[rng.randrange(count)]
            abandoned = rng.random() < 0.06
            batch.append(
                Interaction(
                    external_system="bench-sampling",
                    external_id=str(index),
                    channel=rng.choices(channels, weights)[0],
                    staff_id=agent.pk,
                    department_id=agent.department_id,
                    started_at=start + timedelta(seconds=(index * 2_654_435_761) % span),
                    wait_seconds=int(rng.lognormvariate(math.log(20), 1)),
                    handle_seconds=None
                    if abandoned
                    else int(rng.lognormvariate(math.log(240), 0.6)),
                    outcome="abandoned" if abandoned else "served",
                )
            )
        with transaction.atomic():
            bulk_insert(Interaction, batch, batch_size=BATCH)
    state.update(agents=[member.pk for member in staff], period=(start, end), interactions=rows)


# Common to both: auditors, a scorecard, the targeted picks' tables ------------------------------


def _auditors(root: Department, count: int) -> tuple[User, list[User]]:
    users = [User(username=f"bench.auditor{n}", is_active=True) for n in range(count)]
    User.objects.bulk_create(users)
    users = list(User.objects.filter(username__startswith="bench.auditor").order_by("pk"))
    RoleGrant.objects.bulk_create(
        [RoleGrant(user=user, role=Role.QUALITY_AUDITOR, department=root) for user in users]
    )
    return users[0], users


def _scorecard(actor):
    scorecard = services.scorecard_create(
        actor=actor, code="BENCH", name_en="Bench calls", name_zh="基准通话"
    )
    version = scorecard.versions.get()
    section = services.section_add(
        actor=actor, version=version, name_en="Call", name_zh="通话", weight=1
    )
    for code, scale, critical in (
        ("greeting", Scale.YES_NO, False),
        ("verify_identity", Scale.YES_NO, True),
        ("accuracy", Scale.ONE_TO_FIVE, False),
    ):
        services.criterion_add(
            actor=actor,
            section=section,
            code=code,
            text_en=code,
            text_zh=code,
            weight=1,
            scale=scale,
            category=CriterionCategory.PROCESS,
            critical=critical,
        )
    return services.scorecard_version_activate(actor=actor, version=version)


def _targets_data(start: datetime, end: datetime, scale: float) -> dict:
    """Customers on one interaction in twenty, complaints and survey answers, bulk-created."""
    in_month = Interaction.objects.filter(started_at__gte=start, started_at__lt=end)
    total = in_month.count()
    customers_needed = max(100, total // CUSTOMER_EVERY // 4)  # about four calls each
    home = Department.objects.filter(kind="branch").values_list("pk", flat=True).first()
    customers = [
        Customer(
            customer_number=f"BS{number:08d}",
            name=f"Bench customer {number}",
            home_department_id=home,
            segment="retail",
        )
        for number in range(customers_needed)
    ]
    with transaction.atomic():
        bulk_insert(Customer, customers, batch_size=BATCH)
        first_customer = customers[0].pk
        table = Interaction._meta.db_table
        with connection.cursor() as cursor:
            # A multiplicative hash of the id picks the calls and their customers: a plain
            # "id % 20" would follow the order the agents were dealt in and pick few agents.
            cursor.execute(
                f"UPDATE {table} SET customer_id = %s + (({HASH}) / %s %% %s) "
                f"WHERE ({HASH}) %% %s = 0 AND started_at >= %s AND started_at < %s",
                [first_customer, CUSTOMER_EVERY, customers_needed, CUSTOMER_EVERY, start, end],
            )
    linked = list(
        in_month.filter(customer_id__isnull=False)
        .order_by("pk")
        .values_list("pk", "customer_id", "started_at", "department_id", "staff_id", "channel")
    )
    complaints = _complaints(linked[::COMPLAINT_EVERY])
    answers = _survey_answers(linked[1 :: max(1, SURVEY_EVERY // CUSTOMER_EVERY)])
    return {"customers": len(linked), "complaints": complaints, "answers": answers}


def _complaints(rows) -> int:
    cases = [
        Case(
            reference=f"BENCH-{number:07d}",
            kind=CaseKind.COMPLAINT,
            channel=Channel.PHONE,
            customer_id=customer_id,
            subject="Bench complaint",
            description="Complained after the call.",
            profile_key="cn_general",
            department_id=department_id,
            received_at=started_at + timedelta(days=1 + number % 5),
        )
        for number, (_pk, customer_id, started_at, department_id, _staff, _ch) in enumerate(rows)
    ]
    with transaction.atomic():
        bulk_insert(Case, cases, batch_size=BATCH)
    return len(cases)


def _survey_answers(rows) -> int:
    rule = SurveyRule.objects.create(name="Bench", trigger="interaction")
    rng = random.Random("bench:quality:surveys")
    invitations = [
        Invitation(
            rule_id=rule.pk,
            token_digest=f"bench-{pk}",
            customer_id=customer_id,
            interaction_id=pk,
            staff_id=staff_id,
            department_id=department_id,
            channel=channel,
            language="zh-hans",
            state="answered",
            created_at=started_at,
            expires_at=started_at + timedelta(days=14),
            answered_at=started_at + timedelta(hours=2),
        )
        for pk, customer_id, started_at, department_id, staff_id, channel in rows
    ]
    with transaction.atomic():
        bulk_insert(Invitation, invitations, batch_size=BATCH)
        responses = [
            Response(
                invitation_id=invitation.pk,
                csat=rng.randint(1, 5),
                nps=rng.randint(0, 10),
                staff_id=invitation.staff_id,
                department_id=invitation.department_id,
                channel=invitation.channel,
                answered_at=invitation.answered_at,
            )
            for invitation in invitations
        ]
        bulk_insert(Response, responses, batch_size=BATCH)
    return len(responses)


def _remove_targets_data(start: datetime, end: datetime) -> None:
    """Take the customers, complaints and survey answers added here away again: the parts
    after this one measure the survey pages over their own answers and rollups."""
    with transaction.atomic():
        rules = SurveyRule.objects.filter(name="Bench")
        Response.objects.filter(invitation__rule__in=rules).delete()
        Invitation.objects.filter(rule__in=rules).delete()
        rules.delete()
        Case.objects.filter(reference__startswith="BENCH-").delete()
        added = Customer.objects.filter(customer_number__startswith="BS")
        Interaction.objects.filter(
            started_at__gte=start, started_at__lt=end, customer_id__in=added.values("pk")
        ).update(customer_id=None)
        added.delete()


def _analyze() -> None:
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


# The parts, timed apart after the draw -----------------------------------------------------------


def _parts(plan) -> dict:
    """The draw's two big steps again, each timed: reading the population (every query) and
    the picks (``stats.sample_plan`` with the auditors); with the garbage collector paused,
    as the draw pauses it."""
    as_of = plan.drawn_at
    gc.disable()
    try:
        started = time.perf_counter()
        rows, _thresholds = sampling.plan_population(plan, as_of=as_of, targets=TARGETED)
        read = time.perf_counter() - started
        keys = list(sampling._auditor_keys(plan))
        started = time.perf_counter()
        stats.sample_plan(
            rows, seed=plan.seed, per_agent=plan.per_agent, targeted=TARGETED, auditors=keys
        )
        picks = time.perf_counter() - started
    finally:
        gc.enable()
    return {"read": read, "picks": picks, "rows": len(rows)}


def backend_cpu_seconds() -> float:
    """CPU time of the PostgreSQL backend serving this connection (0 elsewhere, or when the
    database runs on another machine), as bench/_cases_import.py reads it."""
    if connection.vendor != "postgresql":
        return 0.0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _report(
    foundation, draw, seconds, cpu, parts, check, check_seconds, agents, population, extras
):
    Result = foundation.Result
    picks = len(draw.sample.picks)
    reasons = ", ".join(f"{n:,} {reason}" for reason, n in sorted(draw.by_reason.items()))
    stored = Evaluation.objects.filter(plan=draw.plan).count()
    loads = Counter(
        Evaluation.objects.filter(plan=draw.plan).values_list("auditor_id", flat=True)
    ).values()
    rest = seconds - parts["read"] - parts["picks"]
    return [
        Result(
            f"sampling plan draw: {agents:,} agents, {population:,} interactions "
            f"({connection.vendor})",
            f"{seconds:.2f} s ({picks:,} picks: {reasons})",
            f"< {TARGET_SECONDS:.0f} s",
            seconds < TARGET_SECONDS and stored == picks,
        ),
        Result(
            "  CPU used by the draw (what it takes on an idle machine)",
            f"{cpu['here'] + cpu['database']:.2f} s ({cpu['here']:.2f} s in this process"
            + (f", {cpu['database']:.2f} s in the database" if cpu["database"] else "")
            + ")",
            "",
            None,
        ),
        Result(
            "  of which: reading the population (all its queries)",
            f"{parts['read']:.2f} s ({parts['rows']:,} rows; {extras['customers']:,} with a "
            f"customer, {extras['complaints']:,} complaints, {extras['answers']:,} survey answers)",
            "",
            None,
        ),
        Result("  of which: the picks (stats.sample_plan)", f"{parts['picks']:.2f} s", "", None),
        Result(
            "  of which: the rest (bulk creation of the evaluations, audit)",
            f"{max(0.0, rest):.2f} s ({stored:,} evaluations; {min(loads):,}–{max(loads):,} per "
            "auditor)",
            "",
            None,
        ),
        Result(
            "check the draw (recomputed from the recorded seed)",
            f"{check_seconds:.2f} s, {'identical' if check.identical else 'DIFFERENT'}",
            "identical",
            check.identical,
        ),
    ]
