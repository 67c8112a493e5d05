"""The demo complaints: both public data sets loaded into the demo institution, re-dated into
the last twelve months, spread over teams and handlers, with histories the workflow allows."""

from collections import Counter
from datetime import UTC, datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.db.models import Count

from servicecharter.accounts import permissions as perms
from servicecharter.accounts.models import User
from servicecharter.accounts.scoping import has_capability
from servicecharter.cases import services
from servicecharter.cases.choices import OPEN_STATES, CaseState, TimelineKind
from servicecharter.cases.deadlines import ClockState
from servicecharter.cases.models import Case, Message, TimelineEntry
from servicecharter.core.models import Event
from servicecharter.demo import cases as demo_cases
from servicecharter.demo.services import institution_seed
from servicecharter.org.models import Department

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Half past midnight in Beijing: the demo decides everything as of the start of this day.
SEED_TIME = datetime(2026, 3, 10, 0, 30, tzinfo=SHANGHAI)
START_OF_DAY = datetime(2026, 3, 10, tzinfo=SHANGHAI)


def fingerprint() -> list[tuple]:
    return list(
        Case.objects.order_by("external_system", "external_id").values_list(
            "external_system", "external_id", "state", "outcome", "received_at", "breached_at",
            "department__code", "handler__username", "severity", "channel", "redress_amount",
        )
    )  # fmt: skip


@pytest.fixture
def demo(db):
    """The demo institution with the first 1,500 rows of each data set."""
    with time_machine.travel(SEED_TIME, tick=False):
        institution_seed(seed=1, customers=300)
        return demo_cases.cases_seed(seed=1, limit=1_500)


def test_charter_seed_loads_both_data_sets_whole(db):
    with time_machine.travel(SEED_TIME, tick=False):
        out = StringIO()
        call_command("seed", seed=1, customers=300, stdout=out)

    assert "Demo cases: 7166 in English (CFPB) and 4592 in Chinese" in out.getvalue()
    languages = Counter(Case.objects.values_list("language", "external_system", "jurisdiction"))
    assert languages == {("en", "cfpb", "US"): 7_166, ("zh-hans", "heimao", "CN"): 4_592}
    assert set(Case.objects.filter(language="en").values_list("profile_key", flat=True)) == {
        "us_cfpb"
    }
    assert set(Case.objects.filter(language="zh-hans").values_list("profile_key", flat=True)) == {
        "cn_banking_insurance",
        "cn_pboc_referral",  # the complaints the central bank referred
    }
    # The last twelve months before the day of the seed.
    earliest = Case.objects.order_by("received_at").first().received_at
    assert earliest >= START_OF_DAY - timedelta(days=366)
    assert Case.objects.order_by("-received_at").first().received_at < START_OF_DAY
    # Chinese complaints link demo customers and carry the amounts they name.
    chinese = Case.objects.filter(language="zh-hans")
    assert chinese.exclude(customer=None).count() == chinese.count()
    assert chinese.exclude(money_at_stake=None).count() > 500
    assert chinese.exclude(product=None).count() > 1_000


def test_demo_cases_are_complaints_of_both_languages_with_their_profiles(demo):
    assert (demo.english, demo.chinese) == (1_500, 1_500)
    assert set(Case.objects.values_list("language", flat=True)) == {"en", "zh-hans"}


def test_demo_cases_are_spread_over_teams_and_handled_by_someone_who_may(demo):
    teams = Department.objects.filter(kind="team")
    per_team = dict(Case.objects.values_list("department").annotate(n=Count("pk")))
    assert all(per_team.get(team.pk, 0) > 5 for team in teams)
    pairs = Case.objects.exclude(handler=None).values_list("handler", "department").distinct()
    users = User.objects.in_bulk()
    departments = Department.objects.in_bulk()
    for handler_id, department_id in pairs:
        assert has_capability(users[handler_id], perms.HANDLE_CASES, departments[department_id])
    assert len({handler for handler, _ in pairs}) == teams.count()


def test_demo_cases_have_realistic_states_some_open_some_breached_some_reopened(demo):
    states = Counter(Case.objects.values_list("state", flat=True))
    total = sum(states.values())
    assert states[CaseState.CLOSED] > 0.9 * total
    open_cases = sum(states[state] for state in OPEN_STATES)
    assert 20 < open_cases < 0.1 * total
    assert states[CaseState.RESPONDED] > 0
    assert not Case.objects.filter(state=CaseState.CLOSED, outcome="").exists()
    assert not Case.objects.filter(state__in=OPEN_STATES).exclude(outcome="").exists()
    breached = Case.objects.exclude(breached_at=None)
    assert breached.filter(state__in=OPEN_STATES).exists()
    assert breached.filter(state=CaseState.CLOSED).count() > 50
    reopened = TimelineEntry.objects.filter(to_state=CaseState.REOPENED)
    assert reopened.count() > 20
    assert set(reopened.values_list("case__language", flat=True)) == {"zh-hans"}
    # Each breach and warning is on the timeline, as the sweep writes them; nothing emitted.
    assert TimelineEntry.objects.filter(kind=TimelineKind.BREACHED).count() >= breached.count()
    assert not Event.objects.exists()
    assert services.sweep_deadlines(now=START_OF_DAY) == {"warned": 0, "breached": 0}


def test_each_demo_history_follows_the_workflow_and_its_clocks(demo):
    for case in Case.objects.order_by("pk")[::97]:
        rows = list(case.timeline.order_by("at", "pk"))
        assert rows[0].kind == TimelineKind.CREATED and rows[0].at == case.received_at
        moves = [row for row in rows if row.kind == TimelineKind.TRANSITION]
        state = CaseState.RECEIVED
        for move in moves:
            assert move.from_state == state
            state = move.to_state
        assert state == case.state
        statuses = services.case_clocks(case, as_of=START_OF_DAY)
        if case.is_open:
            first = services._duty_due(statuses)
            assert case.due_at == first.due.at
            assert (case.breached_at is not None) == (first.state == ClockState.BREACHED)
        else:
            assert case.due_at is None
            assert all(status.stopped_at is not None for status in statuses)
        if case.state in (CaseState.RESPONDED, CaseState.CLOSED) and case.outcome != "withdrawn":
            letter = Message.objects.filter(case=case).latest("at").body
            assert case.reference in letter and letter == case.response_text


def test_the_same_seed_gives_the_same_cases_and_another_seed_others(db):
    with time_machine.travel(SEED_TIME, tick=False):
        institution_seed(seed=1, customers=100)
        demo_cases.cases_seed(seed=1, limit=300)
        first = fingerprint()
        Case.objects.all().delete()
        demo_cases.cases_seed(seed=1, limit=300)
        assert fingerprint() == first
        Case.objects.all().delete()
        demo_cases.cases_seed(seed=2, limit=300)
        assert fingerprint() != first
    assert len(first) == 600


def test_a_missing_data_file_is_skipped_with_a_note(db, tmp_path, monkeypatch):
    (tmp_path / demo_cases.HEIMAO_FILE).write_text(
        "text,label_id,label_zh,label_en,split\n"
        "信用卡年费被重复扣收了两次，共计600元，要求退还。,3,定价收费类,pricing and fees,train\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(demo_cases, "DATA_FOLDERS", (tmp_path,))
    with time_machine.travel(SEED_TIME, tick=False):
        institution_seed(seed=1, customers=20)
        summary = demo_cases.cases_seed(seed=1)

    assert summary.notes == ["cfpb_complaints_sample.csv not found: no English demo cases."]
    assert (summary.english, summary.chinese) == (0, 1)
    case = Case.objects.get()
    assert (case.product.code, case.money_at_stake) == ("CARD-CRD", 600)
    assert case.received_at < START_OF_DAY.astimezone(UTC)
