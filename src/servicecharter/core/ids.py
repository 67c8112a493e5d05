"""Primary keys taken before the rows are written, so a row can carry what depends on its id
(a case's readable reference) in its first and only INSERT."""

from django.db import connection


def allocate_ids(model, count: int, *, after: int = 0) -> list[int]:
    """``count`` new primary keys of ``model``, before its rows are written. On SQLite the ids
    after the highest ever given (AUTOINCREMENT's own rule), and after ``after`` (the highest
    the caller holds unwritten); safe because the caller's transaction holds SQLite's write
    lock from its start (transaction_mode IMMEDIATE) until the rows are in."""
    if count == 0:
        return []
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The sequence is looked up once (materialized): beside nextval in the select list
            # it was looked up again for every id, 4 µs each of the database's time.
            cursor.execute(
                "WITH serial AS MATERIALIZED "
                "(SELECT pg_get_serial_sequence(%s, %s)::regclass AS sequence) "
                "SELECT nextval(sequence) FROM serial, generate_series(1, %s)",
                [table, model._meta.pk.column, count],
            )
            return [row[0] for row in cursor.fetchall()]
        if not connection.in_atomic_block:
            raise RuntimeError("allocate_ids on SQLite needs the write lock of a transaction")
        quote = connection.ops.quote_name
        cursor.execute(
            f"SELECT MAX(COALESCE((SELECT MAX({quote(model._meta.pk.column)}) "
            f"FROM {quote(table)}), 0), "
            "COALESCE((SELECT seq FROM sqlite_sequence WHERE name = %s), 0))",
            [table],
        )
        highest = max(cursor.fetchone()[0], after)
    return list(range(highest + 1, highest + 1 + count))


class IdPool:
    """New primary keys of ``model``, allocated ``ahead`` at a time (at least). The query that
    allocates them waits for the write in flight, so a writer in the background asks it once
    every few batches instead of before each, and builds the next batch's rows while the
    previous batch is written. Ids left over at the end are never used (a gap, as a rolled
    back insert leaves)."""

    def __init__(self, model, *, ahead: int = 0):
        self.model = model
        self.ahead = ahead
        self.ids: list[int] = []
        self.highest = 0

    def take(self, count: int) -> list[int]:
        if len(self.ids) < count:
            wanted = max(count - len(self.ids), self.ahead)
            more = allocate_ids(self.model, wanted, after=self.highest)
            self.ids.extend(more)
            self.highest = more[-1] if more else self.highest
        taken, self.ids = self.ids[:count], self.ids[count:]
        return taken
