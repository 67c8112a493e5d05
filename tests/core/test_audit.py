"""The audit trail's hash chain: how it is built, and how ``verify_chain`` names the first break."""

import threading
from contextlib import contextmanager
from datetime import date
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, connections, transaction

from servicecharter.core.audit import (
    GENESIS_HASH,
    audit_record,
    audit_record_many,
    entry_hash,
    verify_chain,
)
from servicecharter.core.context import Actor, reset_actor, set_actor
from servicecharter.core.models import AuditEntry

TABLE = AuditEntry._meta.db_table
PG = "postgresql"


def _record(n: int) -> list[AuditEntry]:
    return [
        audit_record(
            action="staff.update",
            object_type="org.staff",
            object_id=str(i),
            changes={"grade": [i, i + 1]},
        )
        for i in range(1, n + 1)
    ]


def _raw(sql: str, params=()) -> None:
    """Tamper as someone with database access would. On PostgreSQL the append-only trigger is
    switched off first (the test user is a superuser; the change is rolled back with the test)."""
    with connection.cursor() as cursor:
        if connection.vendor == PG:
            cursor.execute(f"ALTER TABLE {TABLE} DISABLE TRIGGER USER")
        cursor.execute(sql, params)
        if connection.vendor == PG:
            cursor.execute(f"ALTER TABLE {TABLE} ENABLE TRIGGER USER")


def _stored_hash(entry: AuditEntry) -> str:
    fields = {
        name: getattr(entry, name)
        for name in (
            "seq",
            "at",
            "actor_id",
            "actor_label",
            "action",
            "object_type",
            "object_id",
            "object_repr",
            "changes",
            "ip",
            "request_id",
        )
    }
    return entry_hash(prev_hash=entry.prev_hash, **fields)


@pytest.mark.django_db
class TestChain:
    def test_an_empty_trail_is_intact(self):
        report = verify_chain()
        assert report.intact and report.entries == 0 and report.head_hash == GENESIS_HASH

    def test_each_entry_links_to_the_one_before(self):
        first, second, third = _record(3)
        assert [first.seq, second.seq, third.seq] == [1, 2, 3]
        assert first.prev_hash == GENESIS_HASH
        assert second.prev_hash == first.hash and third.prev_hash == second.hash
        for entry in AuditEntry.objects.all():
            assert _stored_hash(entry) == entry.hash
        report = verify_chain()
        assert report.intact and report.entries == 3
        assert (report.head_seq, report.head_hash) == (3, third.hash)

    def test_who_and_from_where_come_from_the_request_context(self):
        token = set_actor(Actor(7, "li.lei", "2001:db8:0:0::1", "req-123"))
        try:
            entry = audit_record(action="staff.update", object_type="org.staff", object_id=5)
        finally:
            reset_actor(token)
        entry.refresh_from_db()
        assert (entry.actor_id, entry.actor_label, entry.request_id) == (7, "li.lei", "req-123")
        assert entry.ip == "2001:db8::1"
        assert entry.object_id == "5"

    def test_values_survive_the_database_round_trip(self, tree):
        """Decimals, dates, floats, nested and Chinese text, odd IPs and overlong text all hash
        the same after being stored and read back."""
        token = set_actor(Actor(None, "x" * 500, "::ffff:10.0.0.1", "r" * 100))
        try:
            stored = audit_record(
                action="staff.update",
                obj=tree["bj"],
                object_repr="名" * 400,
                changes={
                    "base_wage": [Decimal("8000.50"), Decimal("9000")],
                    "hire_date": [None, date(2024, 2, 29)],
                    "score": [1e20, 0.1],
                    "nested": {"b": [1, 2], "a": True, "名称": "北京分行"},
                },
            )
        finally:
            reset_actor(token)
        token = set_actor(Actor(None, "anonymous", "not-an-address", ""))
        try:
            unknown_ip = audit_record(action="sign_in.failed")
        finally:
            reset_actor(token)
        assert AuditEntry.objects.get(pk=unknown_ip.pk).ip is None
        entry = AuditEntry.objects.get(pk=stored.pk)
        assert entry.ip == "::ffff:10.0.0.1" or entry.ip == "::ffff:a00:1"
        assert entry.object_type == "org.department" and entry.object_id == str(tree["bj"].pk)
        assert len(entry.object_repr) == 300 and len(entry.actor_label) == 200
        assert entry.changes["base_wage"] == ["8000.50", "9000"]
        assert entry.changes["score"] == ["1e+20", "0.1"]
        assert verify_chain().intact

    def test_many_entries_continue_the_chain_in_one_insert(
        self, tree, django_assert_max_num_queries
    ):
        head = _record(1)[0]
        with django_assert_max_num_queries(4):
            rows = audit_record_many(
                [
                    {
                        "action": "department.import",
                        "obj": tree["bj"],
                        "changes": {"code": [None, "BJ"]},
                    },
                    {"action": "staff.import", "object_type": "org.staff", "object_id": "E1"},
                    {"action": "staff.import", "object_type": "org.staff", "object_id": "E2"},
                ]
            )
        assert [row.seq for row in rows] == [head.seq + 1, head.seq + 2, head.seq + 3]
        assert rows[0].prev_hash == head.hash
        assert AuditEntry.objects.get(seq=head.seq + 1).object_repr == str(tree["bj"])
        report = verify_chain()
        assert report.intact and report.head_hash == rows[-1].hash
        assert audit_record_many([]) == []


@pytest.mark.django_db
class TestTampering:
    def test_an_edited_row_is_named(self):
        _record(5)
        _raw(f"UPDATE {TABLE} SET changes = %s WHERE seq = 3", ['{"grade": [3, 9]}'])
        report = verify_chain()
        assert not report.intact
        assert (report.broken.seq, report.broken.kind) == (3, "altered")
        assert report.entries == 2

    def test_an_edited_row_with_a_recomputed_hash_breaks_the_next_link(self):
        _record(5)
        forged = AuditEntry.objects.get(seq=3)
        forged.changes = {"grade": [3, 9]}
        _raw(
            f"UPDATE {TABLE} SET changes = %s, hash = %s WHERE seq = 3",
            ['{"grade": [3, 9]}', _stored_hash(forged)],
        )
        report = verify_chain()
        assert (report.broken.seq, report.broken.kind) == (4, "unlinked")

    def test_a_deleted_middle_row_is_named(self):
        _record(5)
        _raw(f"DELETE FROM {TABLE} WHERE seq = 3")
        report = verify_chain()
        assert (report.broken.seq, report.broken.kind) == (3, "missing")
        assert "#3" in report.broken.message

    def test_a_deleted_first_row_is_named(self):
        _record(3)
        _raw(f"DELETE FROM {TABLE} WHERE seq = 1")
        assert (verify_chain().broken.seq, verify_chain().broken.kind) == (1, "missing")

    def test_a_row_inserted_out_of_chain_is_named(self):
        entries = _record(5)
        forged = AuditEntry(
            seq=6,
            at=entries[-1].at,
            action="sanction.approve",
            object_type="discipline.sanction",
            object_id="1",
            changes={},
            request_id="",
            prev_hash=entries[1].hash,  # links to #2, not to the head
        )
        forged.hash = _stored_hash(forged)  # its own hash is right: only the link is wrong
        _raw(
            f"INSERT INTO {TABLE} (seq, at, actor_label, action, object_type, object_id, "
            "object_repr, changes, request_id, prev_hash, hash) "
            "VALUES (%s, %s, '', %s, %s, %s, '', '{}', '', %s, %s)",
            [6, forged.at, forged.action, forged.object_type, "1", forged.prev_hash, forged.hash],
        )
        report = verify_chain()
        assert (report.broken.seq, report.broken.kind) == (6, "unlinked")
        assert report.entries == 5

    def test_a_row_before_the_start_is_named(self):
        _record(2)
        _raw(
            f"INSERT INTO {TABLE} (seq, at, actor_label, action, object_type, object_id, "
            "object_repr, changes, request_id, prev_hash, hash) "
            "VALUES (0, %s, '', 'x', '', '', '', '{}', '', %s, %s)",
            [AuditEntry.objects.get(seq=1).at, GENESIS_HASH, "f" * 64],
        )
        assert (verify_chain().broken.seq, verify_chain().broken.kind) == (0, "outside")

    def test_the_break_is_found_beyond_the_first_batch(self):
        _record(7)
        _raw(f"UPDATE {TABLE} SET action = 'forged' WHERE seq = 6")
        report = verify_chain(batch_size=2)
        assert (report.broken.seq, report.broken.kind) == (6, "altered")
        assert verify_chain(batch_size=3).broken.seq == 6


@pytest.mark.django_db
class TestAppendOnly:
    """PostgreSQL refuses changes to the trail outright; elsewhere the chain shows them."""

    def test_an_update_is_refused_or_caught(self):
        _record(3)
        statement = f"UPDATE {TABLE} SET action = 'forged' WHERE seq = 2"
        if connection.vendor == PG:
            with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
                connection.cursor().execute(statement)
            assert AuditEntry.objects.get(seq=2).action == "staff.update"
            assert verify_chain().intact
        else:
            connection.cursor().execute(statement)
            assert verify_chain().broken.seq == 2

    def test_a_delete_is_refused_or_caught(self):
        _record(3)
        if connection.vendor == PG:
            with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
                AuditEntry.objects.filter(seq=2).delete()
            assert AuditEntry.objects.count() == 3
        else:
            AuditEntry.objects.filter(seq=2).delete()
            assert verify_chain().broken.seq == 2

    def test_truncate_is_refused_on_postgresql(self):
        _record(2)
        if connection.vendor == PG:
            # The test database allows TRUNCATE for Django's flush; production does not.
            with (
                pytest.raises(DatabaseError, match="append-only"),
                transaction.atomic(),
                connection.cursor() as cursor,
            ):
                cursor.execute("SET LOCAL charter.allow_audit_truncate = off")
                cursor.execute(f"TRUNCATE {TABLE}")
            assert AuditEntry.objects.count() == 2
        else:
            AuditEntry.objects.all().delete()
            assert verify_chain().entries == 0  # an emptied trail: anchor the head outside


@pytest.mark.django_db
class TestVerifyCommand:
    def test_it_reports_an_intact_chain(self, capsys):
        entries = _record(4)
        call_command("audit", "verify")
        out = capsys.readouterr().out
        assert "chain intact: 4 entries" in out
        assert entries[-1].hash in out

    def test_it_fails_naming_the_first_broken_link(self):
        _record(4)
        _raw(f"DELETE FROM {TABLE} WHERE seq = 2")
        _raw(f"UPDATE {TABLE} SET action = 'forged' WHERE seq = 4")
        with pytest.raises(CommandError, match="#2") as failure:
            call_command("audit", "verify", "--batch-size", "1")
        assert failure.value.returncode == 1

    def test_it_refuses_a_useless_batch_size(self):
        with pytest.raises(CommandError, match="batch-size"):
            call_command("audit", "verify", "--batch-size", "0")

    def test_its_help_names_the_subcommand(self):
        from servicecharter.core.management.commands.audit import Command

        assert "verify" in Command().create_parser("charter", "audit").format_help()

    def test_it_needs_a_subcommand(self):
        with pytest.raises(CommandError):
            call_command("audit")


@contextmanager
def _own_connection():
    """This thread's default connection. SQLite's in-memory test database cannot show real
    locking between connections, so there each connection opens one shared file instead
    (with the project's IMMEDIATE transactions and busy timeout)."""
    original = connections["default"]
    if original.vendor != "sqlite":
        yield
        original.close()
        return
    settings_dict = {**original.settings_dict, "NAME": _SQLITE_FILE["path"]}
    connections["default"] = original.__class__(settings_dict, alias="default")
    try:
        yield
    finally:
        connections["default"].close()
        connections["default"] = original


_SQLITE_FILE = {"path": ""}


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_never_fork_the_chain(tmp_path):
    """Threads with their own connections append at once; every seq is used once, in one chain."""
    _SQLITE_FILE["path"] = str(tmp_path / "chain.sqlite3")
    if connection.vendor == "sqlite":
        with _own_connection(), connection.schema_editor() as editor:
            editor.create_model(AuditEntry)
    errors = []
    start = threading.Barrier(4)

    def writer(n: int) -> None:
        with _own_connection():
            try:
                start.wait()
                for i in range(15):
                    with transaction.atomic():
                        audit_record(action="staff.update", object_id=f"{n}-{i}")
            except Exception as exc:  # reported by the assertion below
                errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with _own_connection():
        seqs = list(AuditEntry.objects.order_by("seq").values_list("seq", flat=True))
        report = verify_chain()
    assert seqs == list(range(1, 61))
    assert report.intact and report.entries == 60
