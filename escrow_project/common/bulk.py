"""Set-based writes of many rows with per-row values, one array parameter per column.

Measured on this machine (PostgreSQL 15, psycopg 3 with Django's client-side binding), 500 rows x
6 columns: `UPDATE ... FROM (VALUES (%s, ...), ...)` 26 ms, the same through `UNNEST(%s::type[], ...)`
7.5 ms. A VALUES list has one placeholder per value, so psycopg parses a new query text of
thousands of placeholders every call (too long for its query cache) and PostgreSQL plans a
thousand-row VALUES list; with UNNEST the text is short, constant (cached) and cheap to plan.
Django's `bulk_update` is slower still: one `CASE WHEN` per row and column built in Python.

`array_cursor` sends those arrays with server-side binding, in binary: Django's psycopg cursors bind
on the client, quoting every array element in Python (a regular-expression test each); 500 holds
spent a third of their Python time there.

SQLite (the embedded default) has no arrays: callers fall back to the plain ORM there.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast

from django.db import connection, models
from django.db.models import Field, Model
from django_fsm import FSMField


def array_type(field: Field[Any, Any]) -> str:
    """The element type for a column's array parameter, without length or precision (`varchar`, not
    `varchar(100)`), so no value is truncated or rounded by the cast."""
    db_type = (cast(Any, field).target_field if field.is_relation else field).db_type(connection)
    assert db_type is not None
    return db_type.split("(")[0]


# Django's own field classes whose Python values psycopg adapts exactly as `get_db_prep_save` would
# have prepared them (exact classes: a subclass such as an encrypted field must take the slow path).
# Skipping `get_db_prep_save` was a third of a 500-row update's Python time.
_AS_IS = frozenset(
    {
        models.CharField,
        models.TextField,
        models.BooleanField,
        models.IntegerField,
        models.BigIntegerField,
        models.PositiveIntegerField,
        models.PositiveSmallIntegerField,
        models.SmallIntegerField,
        models.DateField,
        models.UUIDField,
        models.ForeignKey,
        models.OneToOneField,
        models.AutoField,
        models.BigAutoField,
        FSMField,
    }
)


def db_values(field: Field[Any, Any], values: Iterable[Any]) -> list[Any]:
    """The database values of one column, prepared as `field.get_db_prep_save` would."""
    if connection.vendor == "postgresql":
        if type(field) in _AS_IS:
            return list(values)
        if type(field) is models.DateTimeField:
            # Aware datetimes pass unchanged; a naive one gets Django's handling (time zone, warning).
            return [
                v if v is None or getattr(v, "tzinfo", None) is not None else field.get_db_prep_save(v, connection)
                for v in values
            ]
    return [field.get_db_prep_save(v, connection) for v in values]


@contextmanager
def array_cursor() -> Iterator[Any]:
    """A PostgreSQL cursor that binds parameters on the server, inside Django's error translation
    (an IntegrityError is still `django.db.IntegrityError`) and transaction."""
    import psycopg

    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        yield cursor


def unnest(types: Sequence[str]) -> str:
    """`UNNEST(%b::t1[], %b::t2[], ...)` for an `array_cursor`: one list per column, all of the same
    length, sent in binary (the text format escapes every element in Python)."""
    return "UNNEST(" + ", ".join(f"%b::{t}[]" for t in types) + ")"


def columns_of(rows: Sequence[Sequence[Any]], width: int) -> list[list[Any]]:
    """Rows to one list per column (the parameters of `unnest`)."""
    if not rows:
        return [[] for _ in range(width)]
    return [list(column) for column in zip(*rows, strict=True)]


def rows_update(model: type[Model], objs: Sequence[Model], fields: Iterable[str]) -> None:
    """Write the given fields of each object (by primary key) in one statement."""
    if not objs:
        return
    meta = model._meta
    targets: list[Field[Any, Any]] = [cast(Field, meta.get_field(name)) for name in fields]
    if connection.vendor != "postgresql":
        model._default_manager.bulk_update(objs, [f.name for f in targets], batch_size=500)
        return
    pk = meta.pk
    assert pk is not None
    quote = connection.ops.quote_name
    names = ["pk_", *(f"v{i}" for i in range(len(targets)))]
    assignments = ", ".join(f"{quote(str(f.column))} = v.v{i}" for i, f in enumerate(targets))
    table = quote(meta.db_table)
    params: list[list[Any]] = [[obj.pk for obj in objs]]
    for f in targets:
        params.append(db_values(f, (getattr(obj, f.attname) for obj in objs)))
    sql = (
        f"UPDATE {table} SET {assignments} "  # noqa: S608 -- identifiers from model metadata, values bound
        f"FROM {unnest([array_type(pk), *map(array_type, targets)])} AS v({', '.join(names)}) "
        f"WHERE {table}.{quote(str(pk.column))} = v.pk_"
    )
    with array_cursor() as cursor:
        cursor.execute(sql, params)


def insert_unnest(model: type[Model], fields: Sequence[Field[Any, Any]]) -> str:
    """`INSERT INTO <table> (<columns>) SELECT * FROM UNNEST(...)` for an `array_cursor`, one list
    per field in this order; the caller appends any ON CONFLICT / RETURNING clause."""
    quote = connection.ops.quote_name
    return (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(str(f.column)) for f in fields)}) "  # noqa: S608 -- identifiers from model metadata, values bound
        f"SELECT * FROM {unnest([array_type(f) for f in fields])}"
    )


def rows_insert(model: type[Model], objs: Sequence[Model]) -> None:
    """Insert new objects in one statement and set their primary keys, like `bulk_create`.

    Django's `bulk_create` prepares each value through its field and, on PostgreSQL, sends UNNEST
    arrays bound on the client (every element quoted in Python); for the 500-row chunks of a file
    that was the largest part of writing members, requests and row results. Values here go through
    `db_values` (fields with their own preparation, such as encrypted ones, still use it) and
    `auto_now`/`auto_now_add` fields get their timestamp as in `save()`.
    """
    if not objs:
        return
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create(objs, batch_size=500)
        return
    meta = model._meta
    pk = meta.pk
    assert pk is not None
    fields = [f for f in meta.concrete_fields if f is not pk or getattr(objs[0], pk.attname) is not None]
    columns: list[list[Any]] = []
    for f in fields:
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            raw = [f.pre_save(obj, add=True) for obj in objs]
        else:
            raw = [getattr(obj, f.attname) for obj in objs]
        columns.append(db_values(f, raw))
    sql = insert_unnest(model, fields) + f" RETURNING {connection.ops.quote_name(str(pk.column))}"
    with array_cursor() as cursor:
        cursor.execute(sql, columns)
        # PostgreSQL returns the rows of INSERT ... SELECT in the order inserted (bulk_create relies on it too).
        ids = [row[0] for row in cursor.fetchall()]
    for obj, new_id in zip(objs, ids, strict=True):
        setattr(obj, pk.attname, new_id)
        obj._state.adding = False
        obj._state.db = connection.alias
