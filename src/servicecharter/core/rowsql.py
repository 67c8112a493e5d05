"""Model objects read with SQL written once per process.

The busiest reads (an API token with its user, a case with its queue, a calendar's freshness)
cost more to compile through the ORM on every call than to run. ``select_objects`` builds the
``SELECT`` once per shape and turns the rows into model objects the way the ORM does
(``from_db`` and the fields' own value converters), so the rest of the code cannot tell them
apart. Use it only where a measurement showed the compiling mattered."""

import functools

from django.db import connection

# A joined relation: (attribute on the main object, its model, SQL alias, column names, join).
Join = tuple[str, type, str, tuple[str, ...], str]


@functools.lru_cache(maxsize=64)
def _select_sql(vendor: str, model, joins: tuple, where: str, order: tuple):
    """``SELECT`` of every column of ``model`` (alias ``m``) and the named columns of each
    joined relation. Returns the SQL, the attnames per model and the converters by position."""
    quote = connection.ops.quote_name
    parts = [(model, "m", list(model._meta.concrete_fields))]
    parts += [
        (rel, alias, [rel._meta.get_field(n) for n in names]) for _a, rel, alias, names, _j in joins
    ]
    columns, converters, attnames = [], [], []
    for _model, alias, fields in parts:
        attnames.append([field.attname for field in fields])
        for field in fields:
            col = field.get_col(alias)
            found = connection.ops.get_db_converters(col) + field.get_db_converters(connection)
            if found:
                converters.append((len(columns), found, col))
            columns.append(f"{alias}.{quote(field.column)}")
    tables = [f"{quote(model._meta.db_table)} m"]
    tables += [
        f"{join} {quote(rel._meta.db_table)} {alias} ON {alias}.{quote(rel._meta.pk.column)}"
        f" = m.{quote(model._meta.get_field(relation).column)}"
        for relation, rel, alias, _names, join in joins
    ]
    order_by = ", ".join(f"m.{quote(model._meta.get_field(name).column)}" for name in order)
    sql = f"SELECT {', '.join(columns)} FROM {' '.join(tables)} WHERE {where}"
    return (sql + f" ORDER BY {order_by}" if order_by else sql), attnames, converters


def select_objects(
    model, where: str, params: list, joins: tuple[Join, ...] = (), order: tuple = ()
) -> list:
    """Objects of ``model`` (alias ``m`` in ``where``) with their joined relations set (None
    where a LEFT JOIN found nothing), ordered by the fields named in ``order``."""
    sql, attnames, converters = _select_sql(connection.vendor, model, joins, where, order)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    objects = []
    for row in rows:
        values = list(row)
        for position, found, col in converters:
            for convert in found:
                values[position] = convert(values[position], col, connection)
        start = len(attnames[0])
        obj = model.from_db(connection.alias, attnames[0], values[:start])
        for (relation, rel, _alias, _names, _join), fields in zip(joins, attnames[1:], strict=True):
            part = values[start : start + len(fields)]
            start += len(fields)
            related = rel.from_db(connection.alias, fields, part) if part[0] is not None else None
            setattr(obj, relation, related)
        objects.append(obj)
    return objects


def column(model, name: str) -> str:
    """The quoted column of field ``name``, for ``where`` clauses."""
    field = model._meta.pk if name == "pk" else model._meta.get_field(name)
    return connection.ops.quote_name(field.column)
