"""The deadline sweep: it reads due rows through the partial indexes, claims each case once even
with two workers at the same moment, honours the warn share, and tells the right people."""

import sqlite3
import threading
from contextlib import contextmanager
from datetime import datetime, timedelta

import pytest
import time_machine
from django.db import connection, connections
from django.utils import timezone

from servicecharter.accounts.choices import Role
from servicecharter.cases import services
from servicecharter.cases.choices import CaseState, Outcome, TimelineKind
from servicecharter.cases.models import Case, TimelineEntry
from servicecharter.cases.rules_services import case_settings_save
from servicecharter.core.events import subscriber, unsubscribe
from servicecharter.core.models import AuditEntry, Event
from servicecharter.core.services.events import deliver_due
from servicecharter.core.worker import periodic_jobs
from servicecharter.org.models import Staff
from tests.cases.conftest import explain
from tests.conftest import make_user


@pytest.mark.parametrize("kind", [services.SWEEP_WARNING, services.SWEEP_BREACH])
def test_the_sweep_reads_due_rows_through_the_partial_index(new_case, kind):
    new_case()
    now = timezone.now()
    plan = explain(*services.sweep_candidates_sql(kind, now, 1000))
    assert kind.index in plan
    # The claim itself (UPDATE … WHERE id IN (that SELECT) … RETURNING) reads through it too.
    assert kind.index in explain(*services.sweep_claim_sql(kind, now, 1000))


def test_the_periodic_job_runs_the_sweep_every_minute():
    job = next(job for job in periodic_jobs() if job.name == "cases.sweep_deadlines")
    assert job.every == timedelta(minutes=1)


# --- two workers at once --------------------------------------------------------------------


@contextmanager
def _own_connection(sqlite_path: str):
    """This thread's own database connection. SQLite's in-memory test database cannot show
    locking between connections, so there every connection opens one shared file instead
    (with the project's IMMEDIATE transactions and busy timeout)."""
    original = connections["default"]
    if original.vendor != "sqlite":
        try:
            yield
        finally:
            connections["default"].close()
        return
    connections["default"] = original.__class__(
        {**original.settings_dict, "NAME": sqlite_path}, alias="default"
    )
    try:
        yield
    finally:
        connections["default"].close()
        connections["default"] = original


def _copy_sqlite_database(path: str) -> None:
    """The committed test data, copied into a file every thread can open."""
    connection.ensure_connection()
    target = sqlite3.connect(path)
    try:
        connection.connection.backup(target)
    finally:
        target.close()


@pytest.mark.django_db(transaction=True)
def test_two_workers_sweeping_at_once_breach_each_case_exactly_once(
    tmp_path, new_case, bj_supervisor
):
    cases = [new_case(subject=f"Complaint {n}") for n in range(24)]
    later = max(case.due_at for case in cases) + timedelta(minutes=1)
    path = str(tmp_path / "sweep.sqlite3")
    if connection.vendor == "sqlite":
        _copy_sqlite_database(path)
    start = threading.Barrier(2)
    counts, errors = [], []

    def worker() -> None:
        with _own_connection(path):
            try:
                start.wait()
                # Small batches, so the two workers interleave many short transactions.
                counts.append(services.sweep_deadlines(now=later, batch_size=3))
            except Exception as error:  # reported by the assertion below
                errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sum(count["breached"] for count in counts) == len(cases)
    assert sum(count["warned"] for count in counts) == len(cases)
    with _own_connection(path):
        ids = sorted(case.pk for case in cases)
        events = Event.objects.filter(name="case.deadline_breached")
        assert sorted(event.payload["case_id"] for event in events) == ids
        breaches = TimelineEntry.objects.filter(kind=TimelineKind.BREACHED)
        assert sorted(breaches.values_list("case_id", flat=True)) == ids
        warnings = TimelineEntry.objects.filter(kind=TimelineKind.WARNED)
        assert sorted(warnings.values_list("case_id", flat=True)) == ids
        assert AuditEntry.objects.filter(action="case.deadline_breached").count() == len(ids)
        told = bj_supervisor.notifications.filter(kind="cases.deadline_breached")
        assert sorted(_cases_named(told)) == sorted(case.reference for case in cases)
        assert not Case.objects.filter(pk__in=ids, breached_at__isnull=True).exists()


def _cases_named(notifications) -> list[str]:
    """The references a person was told about: one per notification, or a list in its body
    when a batch had several cases for them."""
    by_url = {services._case_url(case): case.reference for case in Case.objects.all()}
    named = []
    for notification in notifications:
        named += notification.body.splitlines() if notification.body else [by_url[notification.url]]
    return named


def test_several_cases_of_one_batch_make_one_notification_per_person(new_case, bj_supervisor):
    cases = [new_case(subject=f"Complaint {n}") for n in range(4)]
    services.sweep_deadlines(now=max(case.due_at for case in cases) + timedelta(seconds=1))
    told = bj_supervisor.notifications.filter(kind="cases.deadline_breached")
    assert told.count() == 1
    assert told.get().subject == "4 cases breached their deadline"
    assert sorted(_cases_named(told)) == sorted(case.reference for case in cases)


# --- what one sweep does ------------------------------------------------------------------------


def test_the_sweep_takes_at_most_its_limit_and_the_next_run_takes_the_rest(new_case):
    cases = [new_case(subject=f"Complaint {n}") for n in range(5)]
    later = max(case.due_at for case in cases) + timedelta(minutes=1)
    assert services.sweep_deadlines(now=later, limit=3, batch_size=2) == {
        "warned": 3,
        "breached": 3,
    }
    assert services.sweep_deadlines(now=later, limit=3, batch_size=2) == {
        "warned": 2,
        "breached": 2,
    }
    assert services.sweep_deadlines(now=later) == {"warned": 0, "breached": 0}
    first_due = min(cases, key=lambda case: case.due_at)
    assert Case.objects.get(pk=first_due.pk).breached_at == later


def test_the_warning_comes_at_the_configured_share_of_the_time(new_case):
    case_settings_save(
        warn_share=50, duplicate_window_days=30, reopen_window_days=30, repeat_window_days=90
    )
    case = new_case()
    halfway = case.received_at + (case.due_at - case.received_at) / 2
    assert abs(case.warn_at - halfway) < timedelta(days=1)
    assert services.sweep_deadlines(now=case.warn_at - timedelta(seconds=1))["warned"] == 0
    assert services.sweep_deadlines(now=case.warn_at + timedelta(seconds=1))["warned"] == 1


def test_a_new_warn_share_moves_the_warning_of_open_cases(new_case):
    case = new_case()
    at_75 = case.warn_at
    case_settings_save(
        warn_share=90, duplicate_window_days=30, reopen_window_days=30, repeat_window_days=90
    )
    deliver_due(worker_id="test")
    case.refresh_from_db()
    assert case.warn_at > at_75
    assert AuditEntry.objects.filter(action="case.deadline_recomputed").exists()
    assert services.sweep_deadlines(now=at_75 + timedelta(seconds=1))["warned"] == 0


def test_the_handler_is_warned_and_the_warning_is_recorded(new_case, bj_agent):
    case = new_case()
    services.sweep_deadlines(now=case.warn_at + timedelta(seconds=1))
    assert bj_agent.notifications.filter(kind="cases.deadline_warning").count() == 1
    assert case.timeline.filter(kind=TimelineKind.WARNED).count() == 1
    assert AuditEntry.objects.filter(
        action="case.deadline_warning", object_id=str(case.pk)
    ).exists()


def test_an_unassigned_case_warns_the_queues_supervisors(new_case, bj_supervisor, sh_supervisor):
    case = new_case(handler=None)
    services.sweep_deadlines(now=case.warn_at + timedelta(seconds=1))
    assert bj_supervisor.notifications.filter(kind="cases.deadline_warning").count() == 1
    assert not sh_supervisor.notifications.exists()


def test_a_breach_tells_the_handler_the_supervisors_and_the_complaints_officers_once_each(
    tree, new_case, bj_agent, bj_supervisor, sh_supervisor, complaints_officer
):
    team_lead = make_user("bj.team.lead", Role.SUPERVISOR, tree["bj_team"])
    # Holding two roles over the queue still gives one notification.
    make_user("bj.both", Role.SUPERVISOR, tree["bj"]).role_grants.create(
        role=Role.COMPLAINTS_OFFICER, department=tree["bj"]
    )
    case = new_case()
    services.sweep_deadlines(now=case.due_at + timedelta(seconds=1))
    told = {
        user.username: user.notifications.filter(kind="cases.deadline_breached").count()
        for user in type(bj_agent).objects.all()
    }
    assert told == {
        "bj.agent": 1,
        "bj.supervisor": 1,
        "bj.team.lead": 1,
        "bj.both": 1,
        "complaints": 1,
        "sh.supervisor": 0,
    }
    assert team_lead.notifications.get().url.endswith(f"/{case.pk}/")


def test_the_breach_event_names_the_accountable_handler(tree, new_case, bj_agent):
    staff = Staff.objects.create(
        employee_number="E7",
        name="Li Na",
        department=tree["bj_team"],
        base_wage=8000,
        hire_date="2021-03-01",
    )
    bj_agent.staff = staff
    bj_agent.save(update_fields=["staff"])
    case = new_case()
    services.sweep_deadlines(now=case.due_at + timedelta(seconds=1))
    event = Event.objects.get(name="case.deadline_breached")
    assert event.payload["case_id"] == case.pk
    assert event.payload["handler_user_id"] == bj_agent.pk
    assert event.payload["handler_staff_id"] == staff.pk
    assert event.payload["department_id"] == tree["bj_team"].pk
    assert datetime.fromisoformat(event.payload["due_at"]) == case.due_at


def test_an_answered_or_paused_case_is_not_breached(new_case, bj_agent):
    answered = services.case_start(actor=bj_agent, case=new_case(subject="answered"))
    services.case_respond(
        actor=bj_agent, case=answered, outcome=Outcome.NOT_UPHELD, response_text="No error."
    )
    paused = new_case(subject="paused")
    services.case_pause_clock(
        actor=bj_agent, case=paused, reason="external_appraisal", note="Sent to the lab"
    )
    paused.refresh_from_db()
    assert paused.due_at is None
    later = answered.received_at + timedelta(days=90)
    assert services.sweep_deadlines(now=later)["breached"] == 0
    assert not Event.objects.filter(name="case.deadline_breached").exists()


def test_a_reopened_case_can_breach_again_with_its_new_deadline(new_case, bj_agent):
    case = new_case()
    with time_machine.travel(case.due_at + timedelta(hours=1), tick=False):
        services.sweep_deadlines()
        case = services.case_start(actor=bj_agent, case=Case.objects.get(pk=case.pk))
        case = services.case_respond(
            actor=bj_agent, case=case, outcome=Outcome.UPHELD, response_text="Refunded late."
        )
        case = services.case_reopen(actor=bj_agent, case=case, reason="The refund never arrived")
    assert case.state == CaseState.REOPENED and case.breached_at is None
    with time_machine.travel(case.due_at + timedelta(hours=1), tick=False):
        assert services.sweep_deadlines()["breached"] == 1
    breaches = Event.objects.filter(name="case.deadline_breached", payload__case_id=case.pk)
    assert breaches.count() == 2


def test_breach_events_reach_their_subscribers(new_case):
    delivered = []
    subscriber("case.deadline_breached", name="test.breach_listener")(
        lambda event: delivered.append(event.payload["case_id"])
    )
    try:
        cases = [new_case(subject=f"Complaint {n}") for n in range(3)]
        services.sweep_deadlines(now=max(case.due_at for case in cases) + timedelta(seconds=1))
        deliver_due(worker_id="test")
    finally:
        unsubscribe("test.breach_listener")
    assert sorted(delivered) == sorted(case.pk for case in cases)
