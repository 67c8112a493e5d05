"""The daily rollups the result pages read: kept up to date as invitations go out and answers
come in, equal to a direct computation from the invitations and responses, and rebuilt to the
same rows by ``rollup_rebuild``."""

import random
from collections import Counter
from datetime import timedelta

import time_machine
from django.utils import timezone

from servicecharter.org.choices import Channel
from servicecharter.surveys import services
from servicecharter.surveys.models import (
    DailyRollup,
    Invitation,
    MonthlyRollup,
    MonthlyStaffRollup,
    Response,
)
from tests.surveys.conftest import make_customer


def direct_rollups() -> dict:
    """The rollups computed straight from the invitations and their responses."""
    rows: dict[tuple, Counter] = {}
    for invitation in Invitation.objects.all():
        key = (
            timezone.localdate(invitation.created_at),
            invitation.department_id,
            invitation.staff_id or 0,
            invitation.channel,
        )
        rows.setdefault(key, Counter())["invited"] += 1
    for response in Response.objects.select_related("invitation"):
        invitation = response.invitation
        key = (
            timezone.localdate(invitation.created_at),
            response.department_id,
            response.staff_id or 0,
            response.channel,
        )
        row = rows[key]
        row["answered"] += 1
        if response.csat is not None:
            row["csat_n"] += 1
            row["csat_sum"] += response.csat
            row["csat_satisfied"] += response.csat >= 4
        if response.nps is not None:
            row["nps_n"] += 1
            row["nps_promoters"] += response.nps >= 9
            row["nps_detractors"] += response.nps <= 6
        if response.effort is not None:
            row["effort_n"] += 1
            row["effort_sum"] += response.effort
    return {
        key: {name: counter[name] for name in services.ROLLUP_COUNTERS}
        for key, counter in rows.items()
    }


def stored_rollups() -> dict:
    return {
        (row.day, row.department_id, row.staff_key, row.channel): {
            name: getattr(row, name) for name in services.ROLLUP_COUNTERS
        }
        for row in DailyRollup.objects.all()
    }


def monthly_of(daily: dict) -> tuple[dict, dict]:
    """The monthly rollups (by department, and by employee) summed from daily ones."""
    by_department: dict[tuple, Counter] = {}
    by_staff: dict[tuple, Counter] = {}
    for (day, department, staff_key, channel), counters in daily.items():
        month = day.replace(day=1)
        by_department.setdefault((month, department, channel), Counter()).update(counters)
        if staff_key:
            key = (month, department, staff_key, channel)
            by_staff.setdefault(key, Counter()).update(counters)

    def plain(rows):
        return {
            key: {name: counter[name] for name in services.ROLLUP_COUNTERS}
            for key, counter in rows.items()
        }

    return plain(by_department), plain(by_staff)


def stored_monthly() -> tuple[dict, dict]:
    def counters(row):
        return {name: getattr(row, name) for name in services.ROLLUP_COUNTERS}

    by_department = {
        (row.month, row.department_id, row.channel): counters(row)
        for row in MonthlyRollup.objects.all()
    }
    by_staff = {
        (row.month, row.department_id, row.staff_key, row.channel): counters(row)
        for row in MonthlyStaffRollup.objects.all()
    }
    return by_department, by_staff


def test_rollups_equal_a_direct_computation_and_a_rebuild(
    make_rule, make_interaction, bj_staff, sh_staff, tree
):
    rng = random.Random(7)
    make_rule(fatigue_days=0, sampling_rate=100)
    start = timezone.now() - timedelta(days=6)
    invitations = []
    for number in range(60):
        staff = rng.choice([bj_staff, sh_staff, None])
        customer = make_customer(f"R{number}", tree["bj"], email=f"r{number}@example.com")
        at = start + timedelta(days=rng.randrange(6), hours=rng.randrange(24))
        fields = {"channel": rng.choice([Channel.PHONE, Channel.CHAT])}
        if staff is None:
            fields["department"] = tree["sh_team"]
        with time_machine.travel(at):
            interaction = make_interaction(staff, customer, started_at=at, **fields)
            services.survey_dispatch_interactions(first_id=interaction.pk, last_id=interaction.pk)
        invitations.append(Invitation.objects.get(interaction=interaction))
    for invitation in invitations:
        if rng.random() < 0.7:
            with time_machine.travel(invitation.created_at + timedelta(hours=rng.randrange(48))):
                services.survey_respond(
                    invitation=invitation,
                    csat=rng.randint(1, 5),
                    nps=rng.randint(0, 10),
                    effort=rng.randint(1, 5),
                )

    expected = direct_rollups()
    assert stored_rollups() == expected
    assert stored_monthly() == monthly_of(expected)
    assert any(key[2] == 0 for key in expected)  # answers about no one: staff key 0

    first = min(key[0] for key in expected)
    last = max(key[0] for key in expected)
    for model in (DailyRollup, MonthlyRollup, MonthlyStaffRollup):
        model.objects.update(invited=999)  # spoil them
    written = services.rollup_rebuild(first_day=first, last_day=last)

    assert written == len(expected)
    assert stored_rollups() == expected
    assert stored_monthly() == monthly_of(expected)


def test_a_rebuild_leaves_days_outside_its_range_alone(invite, bj_staff, bj_customer):
    invitation, _token = invite(bj_staff, bj_customer)
    day = timezone.localdate(invitation.created_at)

    services.rollup_rebuild(first_day=day + timedelta(days=1), last_day=day + timedelta(days=3))

    assert DailyRollup.objects.get().invited == 1
    assert MonthlyRollup.objects.get().invited == 1
