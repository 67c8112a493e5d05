"""The bulk writer's foreign keys: on PostgreSQL it may check a batch's keys itself, with the
triggers off for its COPY (``core.foreign_keys``); a missing key is refused all the same and
a referenced row stays locked until the transaction ends, as the triggers would have it."""

import sqlite3
from datetime import UTC, datetime

import psycopg
import pytest
from django.db import IntegrityError, connection, transaction

from servicecharter.cases.bulk import CaseWriter
from servicecharter.cases.models import Case, TimelineEntry
from servicecharter.core import foreign_keys
from servicecharter.org.choices import DepartmentKind
from servicecharter.org.services import department_create
from tests.cases.conftest import bulk_case

# Real transactions: SQLite checks foreign keys when the outermost one commits.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(params=["own checks", "triggers"])
def key_checks(request, monkeypatch):
    """Both ways to check keys on PostgreSQL (SQLite checks them at the commit either way)."""
    if request.param == "triggers":
        monkeypatch.setattr(foreign_keys, "may_switch_off_triggers", lambda: False)
    return request.param


def _write_one_case(writer: CaseWriter, department_id: int, actor_id: int | None = None):
    now = datetime.now(UTC)
    [(case_id, _reference)] = writer.write_cases([bulk_case(department_id, now)], now)
    writer.write_timeline(
        [{"case_id": case_id, "at": now, "kind": "created", "actor_id": actor_id}]
    )
    writer.send()


def test_a_case_in_no_department_is_refused_and_nothing_stays(tree, key_checks):
    with pytest.raises(IntegrityError), transaction.atomic():
        writer = CaseWriter(background=True)
        _write_one_case(writer, tree["sh_team"].pk)
        _write_one_case(writer, 999_999)
        writer.finish()

    assert not Case.objects.exists()
    assert not TimelineEntry.objects.exists()


def test_a_timeline_row_by_no_user_is_refused(tree, key_checks):
    with pytest.raises(IntegrityError), transaction.atomic():
        writer = CaseWriter(background=True)
        _write_one_case(writer, tree["sh_team"].pk, actor_id=999_999)
        writer.finish()

    assert not Case.objects.exists()


def test_good_rows_go_in_and_the_triggers_are_back_on_for_the_next_query(tree, key_checks):
    with transaction.atomic():
        writer = CaseWriter(background=True)
        _write_one_case(writer, tree["sh_team"].pk)
        _write_one_case(writer, tree["bj_team"].pk)
        writer.wait()
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SHOW session_replication_role")
                assert cursor.fetchone()[0] == "origin"
        writer.finish()

    assert Case.objects.count() == TimelineEntry.objects.count() == 2


def _delete_from_another_connection(department_id: int) -> None:
    """Delete the department through a second connection that will not wait for locks."""
    if connection.vendor == "postgresql":
        with psycopg.connect(**connection.get_connection_params()) as other:
            other.execute("SET lock_timeout = '200ms'")
            other.execute("DELETE FROM org_department WHERE id = %s", [department_id])
        return
    # The in-memory test database is shared between connections of this process.
    other = sqlite3.connect(connection.settings_dict["NAME"], uri=True, timeout=0)
    try:
        other.execute("DELETE FROM org_department WHERE id = ?", [department_id])
        other.commit()
    finally:
        other.close()


def test_a_department_cases_go_into_cannot_be_deleted_before_they_are_committed(tree, key_checks):
    # A team nothing else points at: only the uncommitted case could keep it.
    team = department_create(
        code="SH-T9",
        name_en="Shanghai Team 9",
        name_zh="上海九组",
        kind=DepartmentKind.TEAM,
        parent=tree["sh"],
    )
    with transaction.atomic():
        writer = CaseWriter(background=True)
        _write_one_case(writer, team.pk)
        writer.wait()
        with pytest.raises((psycopg.errors.LockNotAvailable, sqlite3.OperationalError)):
            _delete_from_another_connection(team.pk)
        writer.finish()

    assert Case.objects.get().department_id == team.pk


@pytest.fixture
def role_without_privileges():
    """A PostgreSQL role that may not set session_replication_role (roles outlive databases:
    dropped again at the end)."""
    if connection.vendor != "postgresql":
        yield None
        return
    with connection.cursor() as cursor:
        cursor.execute("DROP ROLE IF EXISTS charter_test_plain")
        cursor.execute("CREATE ROLE charter_test_plain NOLOGIN")
    try:
        yield "charter_test_plain"
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP ROLE charter_test_plain")


def test_a_role_that_may_not_switch_triggers_off_keeps_them_and_its_transaction(
    role_without_privileges,
):
    with transaction.atomic(), connection.cursor() as cursor:
        if role_without_privileges:
            cursor.execute(f"SET LOCAL ROLE {role_without_privileges}")
        assert foreign_keys.may_switch_off_triggers() is False
        cursor.execute("SELECT 1")  # the refused SET did not abort the transaction
        assert cursor.fetchone() == (1,)
