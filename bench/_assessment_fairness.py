"""Assessment benchmark, part 3: the fairness report and the executive summary over a year of
decisions (issue 5, "Fairness report"; no target is set: the figure shows the grouped queries
stay well under a second at this size).

Made here: 5,000 staff in 100 teams of 10 branches with five positions, 50,000 approved
decisions (four in five sanctions, one in ten of those deviating) by 40 proposers over 2026,
and 3,000 appeals. Timed (warm): ``fairness.fairness_report`` and ``fairness.summary_report``
for a reader holding VIEW_FAIRNESS over the whole tree. ``--scale`` multiplies staff,
decisions and appeals.
"""

import random
import time
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from servicecharter.accounts.choices import Role
from servicecharter.accounts.models import RoleGrant, User
from servicecharter.discipline import fairness
from servicecharter.discipline.choices import AppealState, DecisionKind, DecisionState, Measure
from servicecharter.discipline.models import Appeal, Decision
from servicecharter.org.choices import DepartmentKind
from servicecharter.org.models import Staff
from servicecharter.org.services import department_create

STAFF, DECISIONS, APPEALS = 5_000, 50_000, 3_000
POSITIONS = ("teller", "manager", "advisor", "agent", "clerk")
YEAR = (date(2026, 1, 1), date(2026, 12, 31))


def _tree():
    head = department_create(
        code="FB-HO", name_en="Fairness HO", name_zh="公平总行", kind=DepartmentKind.HEAD_OFFICE
    )
    teams = []
    for b in range(10):
        branch = department_create(
            code=f"FB-B{b}",
            name_en=f"B{b}",
            name_zh=f"B{b}",
            kind=DepartmentKind.BRANCH,
            parent=head,
        )
        for t in range(10):
            teams.append(
                department_create(
                    code=f"FB-B{b}T{t}",
                    name_en="T",
                    name_zh="T",
                    kind=DepartmentKind.TEAM,
                    parent=branch,
                )
            )
    return head, teams


def _facts(rng, teams, staff_count: int, decision_count: int, appeal_count: int) -> User:
    Staff.objects.bulk_create(
        (
            Staff(
                employee_number=f"FB{i:07d}",
                name=f"S{i}",
                department=teams[i % len(teams)],
                position=POSITIONS[i % len(POSITIONS)],
                base_wage=Decimal(8000),
                hire_date=date(2020, 1, 1),
            )
            for i in range(staff_count)
        ),
        batch_size=5000,
    )
    staff = list(
        Staff.objects.filter(employee_number__startswith="FB").values_list("pk", "department_id")
    )
    deciders = [User.objects.create_user(username=f"fb.decider{i}") for i in range(40)]
    start = timezone.make_aware(datetime(2026, 1, 1))
    rows = []
    for _ in range(decision_count):
        pk, department = rng.choice(staff)
        proposed = start + timedelta(hours=rng.randrange(0, 24 * 330))
        kind = DecisionKind.SANCTION if rng.random() < 0.8 else DecisionKind.REWARD
        deviation = kind == DecisionKind.SANCTION and rng.random() < 0.1
        rows.append(
            Decision(
                kind=kind,
                state=DecisionState.APPROVED,
                staff_id=pk,
                department_id=department,
                measure=Measure.WRITTEN_WARNING
                if kind == DecisionKind.SANCTION
                else Measure.COMMENDATION,
                is_deviation=deviation,
                deviation_reason="bench" if deviation else "",
                proposed_by=rng.choice(deciders),
                proposed_at=proposed,
                decided_at=proposed + timedelta(hours=rng.randrange(1, 200)),
            )
        )
    Decision.objects.bulk_create(rows, batch_size=5000)
    reader = User.objects.create_user(username="fb.reader")
    sanctions = Decision.objects.filter(
        kind=DecisionKind.SANCTION, staff__employee_number__startswith="FB"
    ).values_list("pk", flat=True)[:appeal_count]
    outcomes = (AppealState.UPHELD, AppealState.REDUCED, AppealState.OVERTURNED, AppealState.OPEN)
    Appeal.objects.bulk_create(
        Appeal(
            decision_id=pk,
            filed_by=reader,
            filed_at=start + timedelta(days=40),
            grounds="bench",
            state=rng.choice(outcomes),
            decided_at=start + timedelta(days=50),
        )
        for pk in sanctions
    )
    return reader


def run(*, stdout, scale: float, state: dict) -> None:
    rng = random.Random(5)
    head, teams = _tree()
    counts = [max(1, int(n * scale)) for n in (STAFF, DECISIONS, APPEALS)]
    reader = _facts(rng, teams, *counts)
    RoleGrant.objects.create(user=reader, role=Role.COMPLIANCE, department=head)
    stdout.write(f"fairness: {counts[0]:,} staff, {counts[1]:,} decisions, {counts[2]:,} appeals\n")
    for label, report in (
        ("fairness report", fairness.fairness_report),
        ("executive summary", fairness.summary_report),
    ):
        report(user=reader, start=YEAR[0], end=YEAR[1])  # warm the caches
        started = time.perf_counter()
        report(user=reader, start=YEAR[0], end=YEAR[1])
        stdout.write(f"  {label}: {time.perf_counter() - started:.3f} s\n")
