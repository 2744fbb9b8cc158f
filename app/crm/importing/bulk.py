"""Bulk writes for the import: thousands of rows per statement, without SQLAlchemy's per-row work.

Core's executemany builds a parameter dictionary for every row and runs every value through its
type's bind processor; for 100,000 opportunities that took longer than the rest of the import. Here:

- PostgreSQL gets a whole batch as ONE JSON parameter read by json_to_recordset. insertmanyvalues would
  send a VALUES list with a parameter per cell (18,000 for 1,000 opportunities), which psycopg,
  caching only short queries, re-parses in Python on every page.
- SQLite gets the driver's own executemany with values converted only where the column's type says so.
  (Reading the batch from one JSON parameter with json_each is twice as slow there: SQLite re-parses
  the row for every column it extracts.)

Both insert with ON CONFLICT DO NOTHING, so an import running at the same time never duplicates a row.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import repeat
from operator import itemgetter

import orjson
from sqlalchemy import ARRAY, JSON, Boolean, Date, any_, bindparam, func, literal, select, text
from sqlalchemy import column as sql_column

from app.database import is_postgresql
from app.extensions import db


def insert_ignoring_duplicates(table, *, index_elements=None, dialect_name: str | None = None):
    """INSERT .. ON CONFLICT DO NOTHING on either database (the app's, unless `dialect_name` says)."""
    if dialect_name == "postgresql" if dialect_name else is_postgresql():
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    return dialect_insert(table).on_conflict_do_nothing(index_elements=index_elements)


def among(column, values):
    """column IN values, as `column = ANY(:array)` with ONE bound array on PostgreSQL.

    psycopg prepares a statement run five times, and PostgreSQL then plans it generically: an IN list
    of 2,000 separate parameters is checked by a linear search on every row the index on crm_source
    returns, so each batch cost grew with the table (1.6 s per lookup at 30k rows). With one array
    parameter the whole key goes to the unique index, whatever the statistics say (3 ms).
    """
    values = list(values)
    if is_postgresql():
        return column == any_(bindparam(None, values, type_=ARRAY(column.type), unique=True))
    # SQLite: the values as one JSON parameter read by json_each, rather than a parameter per value
    # that SQLAlchemy would render into the statement on every call (a third of each lookup's time).
    return column.in_(select(sql_column("value")).select_from(func.json_each(orjson.dumps(values).decode())))


def insert_new(table, rows: list[dict], *, key: str, scope: dict, ids: bool = True) -> dict[str, int | None]:
    """Insert the rows whose key is not taken yet; return {key: id} of the rows THIS call inserted.

    Every row gets the same `scope` values (the rest of the unique constraint, e.g. the CRM source)
    and has its own `key`. A row missing from the answer was inserted meanwhile by a concurrent
    import: the caller reads it like any existing row. With ids=False the caller only wants to know
    which rows went in: SQLite then skips reading their ids back, and answers None for them.
    """
    index = [*scope, key]
    if is_postgresql():
        statement = _from_json(table, rows, scope, index_elements=index)
        result = db.session.execute(statement.returning(table.c.id, table.c[key]))
        return {found: row_id for row_id, found in result}
    # SQLite has no RETURNING for executemany. The usual case: every row goes in, and the row count
    # says so. Otherwise the savepoint undoes the batch, and RETURNING names exactly the rows inserted
    # now. (On PostgreSQL the same savepoint-and-count made the insert twice as slow as RETURNING.)
    savepoint = db.session.begin_nested()
    if _executemany(table, rows, scope) == len(rows):
        savepoint.commit()
        return _ids_of(table, rows, key, scope) if ids else dict.fromkeys(row[key] for row in rows)
    savepoint.rollback()
    statement = insert_ignoring_duplicates(table, index_elements=index).returning(table.c.id, table.c[key])
    result = db.session.execute(statement, [{**scope, **row} for row in rows])
    return {found: row_id for row_id, found in result}


def _ids_of(table, rows: list[dict], key: str, scope: dict) -> dict[str, int]:
    query = select(table.c.id, table.c[key]).where(
        *(table.c[name] == value for name, value in scope.items()),
        among(table.c[key], [row[key] for row in rows]),
    )
    return {found: row_id for row_id, found in db.session.execute(query)}


def insert_many(table, rows: list[dict]) -> None:
    """Insert the rows, skipping any that would break a unique constraint."""
    if is_postgresql():
        db.session.execute(_from_json(table, rows, {}, index_elements=None))
    else:
        _executemany(table, rows, {})


def _from_json(table, rows: list[dict], constants: dict, *, index_elements):
    """INSERT .. SELECT from the rows sent as one JSON parameter, in the rows' order (PostgreSQL).

    The order is kept (WITH ORDINALITY) so that concurrent imports lock keys in one order. The
    constants are bound once; columns left out get their Python-side defaults, evaluated once.
    """
    dialect = db.engine.dialect
    names = list(rows[0])
    quoted = [dialect.identifier_preparer.quote(name) for name in names]
    definition = ", ".join(
        f"{q} {table.c[name].type.compile(dialect=dialect)}" for q, name in zip(quoted, names, strict=True)
    )
    source = text(
        f"ROWS FROM (json_to_recordset(CAST(:rows AS json)) AS ({definition}))"
        f" WITH ORDINALITY AS new_rows({', '.join(quoted)}, ordinality)"
    ).bindparams(rows=orjson.dumps(rows, default=str).decode())  # decimals as the text they read back from
    query = (
        select(
            *(sql_column(name) for name in names),
            *(literal(value, table.c[name].type).label(name) for name, value in constants.items()),
        )
        .select_from(source)
        .order_by(text("ordinality"))
    )
    statement = insert_ignoring_duplicates(table, index_elements=index_elements)
    return statement.from_select([*names, *constants], query)


def _executemany(table, rows: list[dict], constants: dict) -> int:
    """INSERT .. ON CONFLICT DO NOTHING by the SQLite driver's own executemany; the number of rows inserted.

    Each value goes through its column's bind processor only where the type has one (dates, decimals,
    JSON, booleans); the constants, and the Python-side defaults of the columns left out, are
    converted once for the whole batch.
    """
    dialect = db.engine.dialect
    names = list(rows[0])
    fixed = dict(constants)
    for column in table.columns:
        if column.name not in rows[0] and column.name not in fixed and _python_default(column):
            fixed[column.name] = _default_value(column)
    sql, order = _compiled_insert(table, (*names, *fixed), dialect)
    # Column by column: map() and zip() do the per-row work in C.
    sources = {}
    for name in names:
        process = _bind_processor(table.c[name].type, dialect)
        cells = list(map(itemgetter(name), rows))
        sources[name] = cells if process is None else list(map(process, cells))
    for name, value in fixed.items():
        process = _bind_processor(table.c[name].type, dialect)
        sources[name] = repeat(value if process is None else process(value))
    # The ? marks are in the table's column order, whatever the order of the rows' keys; the zip ends
    # with the row columns (repeat() never does).
    parameters = list(zip(*(sources[name] for name in order), strict=False))
    cursor = db.session.connection().exec_driver_sql(sql, parameters)
    return cursor.rowcount


@lru_cache(maxsize=64)
def _compiled_insert(table, columns: tuple[str, ...], dialect) -> tuple[str, tuple[str, ...]]:
    """The SQLite INSERT .. ON CONFLICT DO NOTHING for these columns: its text and its ? marks' order.

    Keyed by the dialect (the engine's own object) as well as the column set: two apps of one
    process never share a statement compiled for the other's database.
    """
    statement = insert_ignoring_duplicates(table, dialect_name=dialect.name).values(
        {name: bindparam(name) for name in columns}
    )
    compiled = statement.compile(dialect=dialect)
    return compiled.string, tuple(compiled.positiontup or columns)


def _bind_processor(column_type, dialect):
    if isinstance(column_type, JSON):
        # orjson writes the same JSON as the standard library, 7 times faster (raw rows are most of it).
        return _json_text
    if isinstance(column_type, Boolean):
        return None  # sqlite3 binds True and False as 1 and 0, which is all SQLAlchemy's processor does
    process = column_type.dialect_impl(dialect).bind_processor(dialect)
    if isinstance(column_type, Date) and process is not None:
        return lru_cache(maxsize=4096)(process)  # a file has a few hundred distinct dates, not 100,000
    return process


def _json_text(value) -> str:
    return orjson.dumps(value).decode()


def _python_default(column) -> bool:
    return column.default is not None and not column.default.is_sequence


def _default_value(column):
    default = column.default
    return default.arg(None) if default.is_callable else default.arg


def refresh_statistics() -> None:
    """ANALYZE the accounts and contacts an import fills, so the planner knows their size (PostgreSQL).

    The foreign-key checks of every inserted opportunity look its account and contact up with plans
    made when the tables were nearly empty: sequential scans, until statistics say otherwise (without
    this, a 100k-row import took twice as long). The opportunities' own lookups go by their unique index
    whatever the statistics say (see among), so that table is left to autovacuum: analyzing it too
    cost a tenth of the import.

    Called after a checkpoint commit, on a connection of its own in autocommit: the ANALYZE lock is
    held for a moment only, and SKIP_LOCKED never waits for a concurrent import doing the same.
    """
    if not is_postgresql():
        return
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("ANALYZE (SKIP_LOCKED) accounts, contacts"))
