"""Database settings that depend on the backend."""

from __future__ import annotations

import functools
import time
from typing import Any

from flask import Flask
from sqlalchemy import Select, event
from sqlalchemy.engine import Connection, Dialect, Engine

from app.extensions import db

DEFAULT_BUSY_TIMEOUT_MS = 10_000


def _sqlite_pragmas(
    dbapi_connection, connection_record, *, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS
) -> None:
    # SQLAlchemy's pysqlite recipe: the driver never opens or commits a transaction on its own (its
    # legacy mode let a SAVEPOINT opened before any write commit by itself); see _sqlite_begin.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL lets readers work while the import or the worker writes; foreign keys are off by default.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # A writer waits this long for the one write lock (enrollment and jobs commit in short chunks).
    cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA cache_size=-32768")
    cursor.close()


_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "SAVEPOINT")


def _sqlite_begin(conn, cursor, statement, parameters, context, executemany) -> None:
    """Emit BEGIN IMMEDIATE before the first write (or savepoint) of a SQLAlchemy transaction.

    The documented recipe emits BEGIN when SQLAlchemy begins, i.e. before the first SELECT. In WAL
    mode such a read transaction cannot become a write transaction once another connection has
    committed (SQLITE_BUSY_SNAPSHOT, "database is locked" at once, the busy timeout never waited):
    every read-then-write request would fail while the worker writes. Beginning IMMEDIATE at the
    first write takes the write lock through the busy timeout, as pysqlite's legacy mode did, and
    a savepoint now always lives inside that transaction, so a rollback undoes it.
    """
    dbapi_connection = conn.connection.dbapi_connection
    if dbapi_connection.in_transaction or not statement.lstrip()[:9].upper().startswith(_WRITES):
        return
    if conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT" or not conn.in_transaction():
        return
    if dbapi_connection.isolation_level is not None:  # a connection reset by an AUTOCOMMIT checkout
        dbapi_connection.isolation_level = None
    dbapi_connection.execute("BEGIN IMMEDIATE")


def engine_options_for_backend(app: Flask) -> None:
    """No pre-ping on SQLite: a file's connection cannot go stale, and the ping cost a query per request."""
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
        options.pop("pool_pre_ping", None)
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def configure_sqlite(app: Flask) -> None:
    """Turn on WAL and foreign keys for every SQLite connection of this app."""
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if not uri.startswith("sqlite"):
        return
    if uri.startswith("sqlite:///") and ":memory:" not in uri:
        from pathlib import Path

        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    with app.app_context():
        engine: Engine = db.engine
        if not getattr(engine, "_winback_sqlite", False):
            engine._winback_sqlite = True  # type: ignore[attr-defined]
            timeout = int(app.config.get("SQLITE_BUSY_TIMEOUT_MS") or DEFAULT_BUSY_TIMEOUT_MS)
            event.listen(engine, "connect", functools.partial(_sqlite_pragmas, busy_timeout_ms=timeout))
        if not event.contains(engine, "before_cursor_execute", _sqlite_begin):
            event.listen(engine, "before_cursor_execute", _sqlite_begin)


CHECKPOINT_PAUSE_SECONDS = 0.1


def commit_checkpoint() -> None:
    """Commit a chunk of long work (enrollment, periodic jobs); on SQLite, then let waiting writers in.

    SQLite's busy handler polls: a job that takes the write lock again at once would starve survey
    pages that wait for it. The pause costs a tenth of a second per chunk of a few thousand rows.
    """
    db.session.commit()
    if db.engine.dialect.name == "sqlite":
        time.sleep(CHECKPOINT_PAUSE_SECONDS)


def is_postgresql() -> bool:
    return db.engine.dialect.name == "postgresql"


class DriverQuery:
    """A Core SELECT for a hot path, run on the database driver's own cursor.

    SQLAlchemy's execution context costs four times the query itself on a one-row read (the survey
    page's). The statement is compiled once per dialect, its parameters bound in the dialect's style,
    and each column converted by its type's own result processor: the rows are those
    `connection.execute(statement).all()` returns, as plain tuples. For statements whose parameters need
    no conversion (strings, numbers).
    """

    def __init__(self, statement: Select) -> None:
        self.statement = statement
        self._compiled: dict[str, tuple[str, tuple[str, ...] | None, list]] = {}

    def rows(self, connection: Connection | Engine, **params: Any) -> list[tuple]:
        """The rows, read on the connection's driver connection; an engine lends one from its pool."""
        if isinstance(connection, Engine):
            pooled = connection.raw_connection()
            try:
                return self._rows(connection.dialect, pooled.dbapi_connection, params)
            finally:
                pooled.close()  # back to the pool, rolled back
        return self._rows(connection.dialect, connection.connection.dbapi_connection, params)

    def _rows(self, dialect: Dialect, dbapi_connection: Any, params: dict[str, Any]) -> list[tuple]:
        sql, positions, processors = self._compiled.get(dialect.name) or self._compile(dialect)
        bound = tuple(params[name] for name in positions) if positions is not None else params
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(sql, bound)
            found = cursor.fetchall()
        finally:
            cursor.close()
        if not any(processors):
            return found
        return [tuple(p(v) if p else v for p, v in zip(processors, row, strict=True)) for row in found]

    def _compile(self, dialect: Dialect) -> tuple[str, tuple[str, ...] | None, list]:
        compiled = self.statement.compile(dialect=dialect)
        for name, bind in compiled.binds.items():
            if bind.type.dialect_impl(dialect).bind_processor(dialect) is not None:
                raise TypeError(f"DriverQuery binds only plain values; {name} needs converting")
        processors = [
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in self.statement.selected_columns
        ]
        positions = tuple(compiled.positiontup) if compiled.positional else None
        self._compiled[dialect.name] = (compiled.string, positions, processors)
        return self._compiled[dialect.name]
