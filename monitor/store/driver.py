"""Statements run for every item of a poll, compiled once and handed to the database driver.

SQLAlchemy prepares the parameters of each execution in Python: it looks up the compiled form
in its cache, then processes every value of every row (~3 us a row of an executemany, ~50 us
a statement), and even a statement handed over as SQL costs ~10 us of bookkeeping (a lookup
that SQLite answers in 2 us). A first poll of 1,000 feeds runs some 20,000 statements and
writes 50,000 seen items and 160,000 LSH bands, so for those the statement is compiled once
per dialect and set of keys, only the values that need it are converted, as SQLAlchemy would
(a timestamp on SQLite, once per distinct value), and a cursor of the connection's own driver
connection runs it, in the connection's transaction; the columns of the rows it returns are
converted as a SQLAlchemy result would. Driver errors come out as SQLAlchemy's exceptions, as
from any other statement. A dropped PostgreSQL connection is not marked invalid here; the
pool's pre-ping replaces it when it is next taken. Everything else goes through SQLAlchemy as
usual.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, Dialect
from sqlalchemy.exc import DBAPIError

from monitor.store.db import READ_ONLY

Converter = Callable[[Any], Any]


def execute(
    connection: Connection, statement: Any, values: dict[str, Any]
) -> list[tuple[Any, ...]]:
    """``connection.execute(statement, values).all()``, as plain tuples: each column converted
    as SQLAlchemy would (a timestamp on SQLite), and only the columns whose type needs it."""
    dialect = connection.dialect
    plan = _compiled(dialect, statement, tuple(values), many=False)
    if plan.fixed:
        values = {**plan.fixed, **values}
    row = [values[name] for name in plan.names]
    for index, convert in plan.converters:
        if row[index] is not None:
            row[index] = convert(row[index])
    if dialect.positional:
        rows = _run(connection, plan.sql, tuple(row), many=False)
    else:
        rows = _run(connection, plan.sql, dict(zip(plan.params, row, strict=True)), many=False)
    if not plan.results or not rows:
        return rows
    out = []
    for found in rows:
        converted = list(found)
        for index, convert in plan.results:
            converted[index] = convert(converted[index])
        out.append(tuple(converted))
    return out


def execute_many(connection: Connection, statement: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Run ``statement`` once per row as one executemany of the driver (the rows must all
    have the keys of the first; one prepared statement serves them all)."""
    if not rows:
        return
    dialect = connection.dialect
    plan = _compiled(dialect, statement, tuple(rows[0]), many=True)
    if plan.fixed:
        rows = [{**plan.fixed, **row} for row in rows]
    take = operator.itemgetter(*plan.names)
    values: list[Any] = (
        [(take(row),) for row in rows] if len(plan.names) == 1 else list(map(take, rows))
    )
    if plan.converters:
        columns = list(zip(*values, strict=True))
        for index, convert in plan.converters:
            columns[index] = _convert_column(columns[index], convert)
        values = list(zip(*columns, strict=True))
    if dialect.positional:
        _run(connection, plan.sql, values, many=True)
    else:
        params = plan.params
        _run(connection, plan.sql, [dict(zip(params, v, strict=True)) for v in values], many=True)


def _run(connection: Connection, sql: str, params: Any, *, many: bool) -> list[tuple[Any, ...]]:
    """Run ``sql`` with a cursor of the driver connection under ``connection``, inside its
    transaction (begun here if it has none yet, as SQLAlchemy would). A read-only connection
    (see db.read_only) begins none: its statement runs alone, and never waits for the writer."""
    if not connection.in_transaction() and not connection.get_execution_options().get(READ_ONLY):
        connection.begin()
    dialect = connection.dialect
    error = dialect.loaded_dbapi.Error
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        if many:
            cursor.executemany(sql, params)
            return []
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []
    except error as exc:
        raise DBAPIError.instance(sql, params, exc, error, dialect=dialect) from exc
    finally:
        cursor.close()


def _convert_column(column: Sequence[Any], convert: Converter) -> tuple[Any, ...]:
    first = column[0]
    if isinstance(first, datetime) and column.count(first) == len(column):
        return (convert(first),) * len(column)  # one timestamp in every row: the usual case
    done: dict[datetime, Any] = {}  # the same timestamp is in many rows: convert it once
    out = []
    for raw in column:
        if raw is None:
            out.append(None)
        elif isinstance(raw, datetime):
            out.append(done[raw] if raw in done else done.setdefault(raw, convert(raw)))
        else:
            out.append(convert(raw))
    return tuple(out)


class _Plan(NamedTuple):
    """How to run one statement for one dialect and set of keys."""

    sql: str
    names: tuple[str, ...]  # the keys it takes, in the order of its parameters
    params: tuple[str, ...]  # the names of its parameters in the SQL (drivers taking names)
    converters: tuple[tuple[int, Converter], ...]  # (position, converter) of values to convert
    fixed: dict[str, Any]  # the values the statement itself holds (a LIMIT, a literal)
    results: tuple[tuple[int, Converter], ...]  # (column, converter) of the rows it returns


@functools.lru_cache(maxsize=256)
def _compiled(dialect: Dialect, statement: Any, keys: tuple[str, ...], *, many: bool) -> _Plan:
    """The plan of ``statement`` for ``dialect`` given values for ``keys``."""
    compiled = statement.compile(dialect=dialect, column_keys=list(keys), for_executemany=many)
    if compiled.insert_prefetch or compiled.update_prefetch or compiled.post_compile_params:
        # a column default computed in Python, or a parameter rendered at execution (an
        # expanding IN list): SQLAlchemy's own execution does those, so use it instead
        raise ValueError(f"give every column and no expanding parameter: {statement}")
    binds = compiled.positiontup if dialect.positional else list(compiled.binds)
    assert binds is not None
    names: list[str] = []
    converters: list[tuple[int, Converter]] = []
    fixed: dict[str, Any] = {}
    for index, bind_name in enumerate(binds):
        bind = compiled.binds[bind_name]
        names.append(bind.key)
        if bind.key not in keys:
            if bind.required or bind.callable is not None:
                raise KeyError(f"no value for the parameter {bind.key!r}")
            fixed[bind.key] = bind.value
        # the dialect's own form of the type, as SQLAlchemy uses it (on SQLite, a timestamp
        # becomes the text "YYYY-MM-DD HH:MM:SS.ffffff", microseconds always written)
        convert = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if convert is not None:
            converters.append((index, convert))
    results = []
    for index, column in enumerate(compiled._result_columns):  # what a Result would apply
        convert = column.type.dialect_impl(dialect).result_processor(dialect, None)
        if convert is not None:
            results.append((index, convert))
    return _Plan(
        compiled.string, tuple(names), tuple(binds), tuple(converters), fixed, tuple(results)
    )
