"""The demo standards and interactions: the call-centre records loaded as phone interactions
(agents mapped to phone staff, abandoned calls kept, weekday and time of day kept), generated
interactions on the other channels, every one judged; the same seed gives the same rows."""

import csv
from collections import Counter
from datetime import date, datetime, timedelta

import pytest
from django.utils import timezone

from servicecharter.demo import interactions as demo
from servicecharter.demo.services import institution_seed
from servicecharter.demo.standards import standards_seed
from servicecharter.interactions.models import Deviation, Interaction
from servicecharter.org.choices import Channel
from servicecharter.standards.models import ServiceLevel, Standard, StandardStep

TODAY = date(2026, 3, 15)
LIMIT = 600


@pytest.fixture
def seeded(db):
    institution_seed(seed=3, customers=50)
    standards_seed(today=TODAY)
    return demo.interactions_seed(seed=3, today=TODAY, limit=LIMIT)


def test_the_demo_standards_cover_the_main_business_in_both_languages(db):
    institution_seed(seed=3, customers=0)
    summary = standards_seed(today=TODAY)

    assert (summary.standards, summary.versions, summary.levels) == (10, 11, 7)
    assert not Standard.objects.filter(name_zh="").exists()
    assert not StandardStep.objects.filter(description_zh="").exists()
    risk = StandardStep.objects.get(version__standard__code="WLT-SALE", code="risk_disclosure")
    assert risk.is_disclosure and risk.mandatory and risk.name_zh == "风险揭示"
    fee = StandardStep.objects.filter(version__standard__code="CARD-PHONE", code="fee_disclosure")
    assert fee.count() == 2 and all(step.is_disclosure for step in fee)
    in_force = {
        (level.channel, level.metric): (level.threshold, level.target_share)
        for level in ServiceLevel.objects.filter(effective_to__isnull=True)
    }
    assert in_force[(Channel.PHONE, "answer_within")] == (20, 80)
    assert in_force[(Channel.CHAT, "first_reply_within")][0] == 30
    assert in_force[(Channel.BRANCH, "wait_within")][0] == 15 * 60
    assert in_force[(Channel.EMAIL, "reply_within_bdays")][0] == 1


def test_the_calls_become_phone_interactions_of_phone_staff(seeded):
    phone = Interaction.objects.filter(external_system=demo.PHONE_SYSTEM)

    assert seeded.phone == phone.count() == LIMIT
    assert seeded.agents == 28
    served = phone.filter(outcome="served").exclude(staff=None)
    staff_teams = set(served.values_list("staff__department__code", flat=True))
    assert staff_teams and all(code.endswith("-TEL") for code in staff_teams)
    assert served.values("staff").distinct().count() <= seeded.agents
    assert all(code.endswith("-TEL") for code in phone.values_list("department__code", flat=True))
    assert phone.filter(outcome="abandoned", staff=None).exists()
    assert phone.exclude(standard_version=None).count() == phone.count()


def _first_calls(limit: int) -> list[dict]:
    with open(demo.data_file(demo.TECHNION_FILE), newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.DictReader(handle) if row["outcome"] != "PHANTOM"]
    return rows[:limit]


def test_each_call_keeps_its_weekday_time_of_day_outcome_and_wait(seeded):
    calls = {f"{c['vru+line']}-{c['call_id']}": c for c in _first_calls(LIMIT)}
    start = timezone.make_aware(datetime.combine(TODAY - timedelta(days=365), datetime.min.time()))
    end = timezone.make_aware(datetime.combine(TODAY, datetime.min.time()))

    for interaction in Interaction.objects.filter(external_system=demo.PHONE_SYSTEM):
        call = calls[interaction.external_id]
        local = timezone.localtime(interaction.started_at)
        original = date(1999, int(call["date"][2:4]), int(call["date"][4:6]))
        assert local.weekday() == original.weekday()
        assert local.strftime("%H:%M:%S").lstrip("0").lstrip(":") or "0" in call["vru_entry"]
        assert (
            local.time().isoformat()
            == datetime.strptime(call["vru_entry"], "%H:%M:%S").time().isoformat()
        )
        assert start <= interaction.started_at < end
        expected = "served" if call["outcome"] == "AGENT" else "abandoned"
        assert interaction.outcome == expected
        assert interaction.wait_seconds == int(call["q_time"])


def test_other_channels_are_generated_with_steps_and_some_deviations(seeded):
    channels = Counter(
        Interaction.objects.filter(external_system=demo.GENERATED_SYSTEM).values_list(
            "channel", flat=True
        )
    )

    assert set(channels) == {
        Channel.CHAT,
        Channel.SOCIAL,
        Channel.BRANCH,
        Channel.EMAIL,
        Channel.APP,
    }
    kinds = set(Deviation.objects.values_list("kind", flat=True))
    assert kinds == {"missed_step", "missed_disclosure", "step_late", "service_level"}
    served = Interaction.objects.filter(outcome="served", external_system=demo.GENERATED_SYSTEM)
    assert all(interaction.steps for interaction in served[:50])
    assert Interaction.objects.filter(deviation_count=0).exists()


def test_the_same_seed_gives_the_same_rows(db):
    institution_seed(seed=3, customers=50)
    standards_seed(today=TODAY)
    path = demo.data_file(demo.TECHNION_FILE)

    def rows():
        context = demo.Demo(3, TODAY)
        summary = demo.InteractionsSummary()
        phone = list(demo.phone_rows(context, path, summary, limit=200))
        chat = list(demo.generated_rows(context, Channel.CHAT, 200))
        return phone + chat

    first, second = rows(), rows()
    assert first == second
    other = demo.phone_rows(demo.Demo(4, TODAY), path, demo.InteractionsSummary(), limit=200)
    assert [row.staff_id for row in other] != [row.staff_id for row in first[:200]]
