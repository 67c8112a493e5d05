"""Foreign keys of rows written in bulk on PostgreSQL, checked once per batch instead of once
per row.

PostgreSQL checks a foreign key with a trigger that runs one query for each row inserted: over
half of the database's time in a bulk import. A writer allowed to switch triggers off for its
COPY (``session_replication_role``: a superuser, or since PostgreSQL 15 a role granted SET on
it) checks a batch's keys itself instead, with one query per referenced table. The query takes
the lock the trigger would take (FOR KEY SHARE: until the transaction ends, no one can delete
the referenced row or change its key) and a key it does not find refuses the batch. Only
triggers are off, and only during the COPY: NOT NULL, CHECK and unique constraints still hold
(a deferrable unique constraint is checked by a trigger, and a trigger added to a bulk-written
table would not fire for those rows either: check here first). A writer without that
permission leaves the triggers on.
"""

from django.db import DatabaseError, IntegrityError, connection, transaction


def may_switch_off_triggers() -> bool:
    """Whether this connection may set ``session_replication_role`` (asked inside a savepoint:
    a refused SET would abort the caller's transaction)."""
    if connection.vendor != "postgresql":
        return False
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = origin")
    except DatabaseError:
        return False
    return True


def set_triggers(cursor, *, on: bool) -> None:
    """Switch this connection's triggers on or off, until the transaction ends at the latest."""
    role = "origin" if on else "replica"
    cursor.execute(f"SET LOCAL session_replication_role = {role}")


class BatchKeys:
    """The foreign keys among ``fields`` (the columns of a table's rows, in order)."""

    def __init__(self, fields: list):
        self.keys = [
            (position, field)
            for position, field in enumerate(fields)
            if field.is_relation and getattr(field, "db_constraint", False)
        ]

    def check(self, cursor, rows: list[tuple], written: dict) -> None:
        """Lock the rows ``rows`` refer to and refuse a key that refers to nothing. ``written``
        maps a model to the primary keys of its rows that the same batch writes before these:
        no one else can see those, so they need neither a look nor a lock."""
        for position, field in self.keys:
            wanted = {row[position] for row in rows} - {None}
            target = field.target_field
            if target.primary_key:
                wanted -= written.get(target.model, set())
            if wanted:
                self._lock(cursor, field, wanted)

    @staticmethod
    def _lock(cursor, field, wanted: set) -> None:
        target = field.target_field
        quote = connection.ops.quote_name
        table, column = quote(target.model._meta.db_table), quote(target.column)
        cursor.execute(
            f"SELECT {column} FROM {table} WHERE {column} = ANY(%s) FOR KEY SHARE",
            [list(wanted)],
        )
        missing = wanted - {row[0] for row in cursor.fetchall()}
        if missing:
            raise IntegrityError(
                f"{field.model._meta.db_table}.{field.column} = {min(missing)!r} refers to no "
                f"row of {target.model._meta.db_table} (foreign key checked by the bulk writer)"
            )
