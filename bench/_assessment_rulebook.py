"""Assessment benchmark, part 2: the rulebook decides 100,000 violations (issue 5, "Speed":
under 10 s).

Staff: 20,000 made here in the demo's teams (five violations each on average). Violations:
100,000 spread over this year (the default rulebook is in force from 2026-01-01, at most the
last 330 days) across the catalogue's types, with
severities and impact scopes drawn from a fixed seed; three in five confirmed, so employees
have priors inside the look-back window. The default CN rulebook (migration 0002) decides.

Timed: ``rulebook_services.decide_many`` over all of them — the published versions and their
rules loaded once, the violations read in one query, the confirmed priors counted set-based
(one query over the window, then bisection per employee), then the pure ``recommend`` for
each — run twice (cold, then warm), with the time of each step of the first run.
``--scale`` multiplies the violations and the staff.
"""

import importlib.util
import random
import time
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from django.db import connection, transaction
from django.utils import timezone

from servicecharter.core.context import Actor, reset_actor, set_actor
from servicecharter.discipline import rulebook_services
from servicecharter.discipline.choices import (
    ImpactScope,
    Severity,
    ViolationSource,
    ViolationState,
)
from servicecharter.discipline.models import Violation, ViolationType
from servicecharter.org.choices import DepartmentKind
from servicecharter.org.models import Department, Staff

VIOLATIONS = 100_000
STAFF = 20_000
TARGET_S = 10
DAYS = 330
SEVERITY_WEIGHTS = (
    (Severity.MINOR, 60),
    (Severity.MODERATE, 28),
    (Severity.SERIOUS, 10),
    (Severity.SEVERE, 2),
)
IMPACT_WEIGHTS = (
    (ImpactScope.ONE_CUSTOMER, 70),
    (ImpactScope.SEVERAL_CUSTOMERS, 18),
    (ImpactScope.DEPARTMENT, 8),
    (ImpactScope.INSTITUTION, 3),
    (ImpactScope.PUBLIC, 1),
)


def _sibling(name: str):
    spec = importlib.util.spec_from_file_location(
        f"bench_{name}_for_rulebook", Path(__file__).with_name(f"{name}.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(*, stdout, scale: float, state: dict) -> list:
    foundation = _sibling("foundation")
    count = max(1_000, int(VIOLATIONS * scale))
    token = set_actor(Actor(label="charter bench"))
    try:
        staff_ids = _staff(max(50, int(STAFF * scale)))
        stdout.write(
            f"Generating {count:,} violations for {len(staff_ids):,} staff ({connection.vendor})…"
        )
        started = time.perf_counter()
        _violations(count, staff_ids)
        generated = time.perf_counter() - started
        _analyze()
        rows = Violation.objects.all()
        steps: dict[str, float] = {}
        first, decided = _timed(rows, steps)
        second, _again = _timed(rows, None)
    finally:
        reset_actor(token)
    measures = Counter(recommendation.measure for _version, recommendation in decided.values())
    best = min(first, second)
    results = [
        foundation.Result("violations generated", f"{count:,} in {generated:.1f} s", "", None),
        foundation.Result(
            f"rulebook decides {count:,} violations (cold)",
            f"{first:.2f} s",
            f"< {TARGET_S} s",
            first < TARGET_S,
        ),
        foundation.Result(
            f"rulebook decides {count:,} violations (warm)",
            f"{second:.2f} s",
            f"< {TARGET_S} s",
            second < TARGET_S,
        ),
        *[
            foundation.Result(f"  step: {name}", f"{seconds:.2f} s", "", None)
            for name, seconds in steps.items()
        ],
        foundation.Result(
            "recommendations",
            ", ".join(f"{measure} {n:,}" for measure, n in measures.most_common()),
            "",
            None,
        ),
    ]
    state["assessment_rulebook"] = {"violations": count, "seconds": best}
    stdout.write("")
    stdout.write("Assessment, part 2: the rulebook decides violations")
    foundation.print_table(stdout, results)
    return results


def _staff(count: int) -> list[int]:
    """``count`` bench staff in the demo's teams (or one bench team when there is none)."""
    teams = list(Department.objects.filter(kind=DepartmentKind.TEAM).values_list("pk", flat=True))
    if not teams:
        from servicecharter.org.services import department_create

        teams = [
            department_create(
                code="BENCH-RB", name_en="Bench team", name_zh="测试组", kind=DepartmentKind.TEAM
            ).pk
        ]
    with transaction.atomic():
        made = Staff.objects.bulk_create(
            [
                Staff(
                    employee_number=f"RB{k:06d}",
                    name=f"Rulebook bench {k}",
                    department_id=teams[k % len(teams)],
                    base_wage=Decimal(6000 + (k % 7) * 1000),
                    hire_date=date(2020, 1, 1),
                )
                for k in range(count)
            ],
            batch_size=5_000,
        )
    return [member.pk for member in made]


def _violations(count: int, staff_ids: list[int]) -> None:
    rng = random.Random(5)
    types = list(ViolationType.objects.values_list("pk", flat=True))
    departments = dict(Staff.objects.filter(pk__in=staff_ids).values_list("pk", "department_id"))
    severities, severity_weights = zip(*SEVERITY_WEIGHTS, strict=True)
    impacts, impact_weights = zip(*IMPACT_WEIGHTS, strict=True)
    now = timezone.now()
    # Inside the default rulebook's validity, so every violation has a version in force.
    days = max(1, min(DAYS, (timezone.localdate() - date(2026, 1, 1)).days))
    batch = []
    for k in range(count):
        staff_id = staff_ids[rng.randrange(len(staff_ids))]
        batch.append(
            Violation(
                staff_id=staff_id,
                department_id=departments[staff_id],
                type_id=types[rng.randrange(len(types))],
                source=ViolationSource.MANUAL,
                state=ViolationState.CONFIRMED if rng.random() < 0.6 else ViolationState.OPEN,
                occurred_at=now - timedelta(seconds=rng.randrange(days * 86_400)),
                severity=rng.choices(severities, severity_weights)[0],
                impact_scope=rng.choices(impacts, impact_weights)[0],
                summary=f"bench {k}",
            )
        )
        if len(batch) == 10_000:
            _insert(batch)
            batch = []
    _insert(batch)


def _insert(batch: list[Violation]) -> None:
    with transaction.atomic():
        Violation.objects.bulk_create(batch, batch_size=5_000)


def _analyze() -> None:
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def _timed(rows, steps: dict | None) -> tuple[float, dict]:
    """``decide_many`` timed; with ``steps``, the same work also timed step by step."""
    started = time.perf_counter()
    decided = rulebook_services.decide_many(rows)
    total = time.perf_counter() - started
    if steps is not None:
        steps.update(_step_times(rows))
    return total, decided


def _step_times(rows) -> dict[str, float]:
    times = {}
    mark = time.perf_counter()
    versions = rulebook_services.published_versions()
    times["load the rulebook versions and rules"] = time.perf_counter() - mark
    mark = time.perf_counter()
    targets = rulebook_services.targets_of(rows)
    times["read the violations (one query)"] = time.perf_counter() - mark
    mark = time.perf_counter()
    chosen = {
        target.pk: rulebook_services._in_force(versions.get(target.jurisdiction, []), target.on)
        for target in targets
    }
    priors = rulebook_services.count_priors(
        targets, lookback_days=rulebook_services.DEFAULT_LOOKBACK_DAYS
    )
    times["version in force and confirmed priors (set-based)"] = time.perf_counter() - mark
    mark = time.perf_counter()
    rulebook_services.recommend_targets(targets, chosen, priors)
    times["recommend (pure; once per distinct facts)"] = time.perf_counter() - mark
    return times
